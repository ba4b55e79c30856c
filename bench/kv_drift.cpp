// resa-kv-drift: how far sparse decoding drifts the KV cache from a dense
// recompute, with and without ReSA's rectification.
//
// usage: resa-kv-drift --json OUT.json [--prompt N] [--steps S] [--every E] PKG...
// Each package (compiled with --attention=sparse or =resa) prefills the same
// seeded random prompt, then decodes S teacher-forced tokens (the same for
// every package, so that the caches hold the same tokens); a package with a
// rectification schedule rectifies as generate() would. Every E steps the
// whole cache is compared with a dense prefill of the same tokens: the
// relative error ||cached - dense|| / ||dense|| over K and V of all layers.
#include "resa/runtime/KVDrift.h"

#include "plan.pb.h"

#include <cstdio>
#include <fstream>
#include <random>
#include <string>

namespace {

struct Series {
  std::string package, policy;
  std::vector<std::pair<int64_t, resa::KVDrift>> points; // (decode step, drift)
  int64_t selected = 0, blocks = 0;                       // at the end
};

Series measure(const std::string &path, int64_t promptLen, int64_t steps, int64_t every) {
  auto package = resa::Package::load(path);
  Series series;
  series.package = path;
  bool rectifies = package->plan().has_rectify();
  int64_t f = rectifies ? package->plan().rectify().interval() : 0;
  series.policy = rectifies ? "resa (rectify every " + std::to_string(f) + ")" : "sparse";
  std::mt19937 rng(2026);
  std::vector<int64_t> tokens;
  for (int64_t i = 0; i < promptLen + steps; ++i)
    tokens.push_back(rng() % 200 + 1);
  std::vector<std::vector<int64_t>> shape = {tokens};
  int64_t pages = resa::Generator::pagesFor(*package, shape, 0);
  resa::Generator gen(*package, pages), dense(*package, pages);
  gen.prefill(0, std::vector<int64_t>(tokens.begin(), tokens.begin() + promptLen));
  for (int64_t step = 1; step <= steps; ++step) {
    int64_t len = promptLen + step;
    gen.decode(0, tokens[len - 1]);
    if (rectifies && step % f == 0)
      gen.rectify(0, len - f, std::vector<int64_t>(tokens.begin() + len - f, tokens.begin() + len));
    if (step % every == 0 || step == steps) {
      std::vector<int64_t> prefix(tokens.begin(), tokens.begin() + len);
      series.points.push_back({step, resa::kvDrift(gen.cache(), 0, dense, 1, prefix, 0, len)});
      std::fprintf(stderr, "resa-kv-drift: %s step %lld: relative drift %.3e\n",
                   series.policy.c_str(), (long long)step, series.points.back().second.relative);
    }
  }
  int64_t blockSize = package->plan().kv_cache().block_size();
  series.blocks = (promptLen + steps + blockSize - 1) / blockSize;
  return series;
}

} // namespace

int main(int argc, char **argv) {
  std::string json;
  int64_t promptLen = 1200, steps = 512, every = 32;
  std::vector<std::string> packages;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--json") json = value();
    else if (a == "--prompt") promptLen = std::stoll(value());
    else if (a == "--steps") steps = std::stoll(value());
    else if (a == "--every") every = std::stoll(value());
    else packages.push_back(a);
  }
  if (packages.empty() || json.empty()) {
    std::fprintf(stderr, "usage: resa-kv-drift --json OUT.json [--prompt N] [--steps S] "
                         "[--every E] PKG...\n");
    return 2;
  }
  try {
    std::vector<Series> all;
    for (const std::string &p : packages)
      all.push_back(measure(p, promptLen, steps, every));
    std::ofstream out(json);
    out << "{\n  \"prompt_tokens\": " << promptLen << ",\n  \"decode_steps\": " << steps
        << ",\n  \"series\": [\n";
    std::printf("| decode step |");
    for (const Series &s : all)
      std::printf(" %s |", s.policy.c_str());
    std::printf("\n|---|");
    for (size_t i = 0; i < all.size(); ++i)
      std::printf("---|");
    std::printf("\n");
    for (size_t r = 0; r < all[0].points.size(); ++r) {
      std::printf("| %lld |", (long long)all[0].points[r].first);
      for (const Series &s : all)
        std::printf(" %.3e |", s.points[r].second.relative);
      std::printf("\n");
    }
    for (size_t i = 0; i < all.size(); ++i) {
      out << "    {\"policy\": \"" << all[i].policy << "\", \"points\": [";
      for (size_t r = 0; r < all[i].points.size(); ++r)
        out << (r ? ", " : "") << "{\"step\": " << all[i].points[r].first
            << ", \"relative\": " << all[i].points[r].second.relative
            << ", \"max_abs\": " << all[i].points[r].second.maxAbs << "}";
      out << "]}" << (i + 1 < all.size() ? "," : "") << "\n";
    }
    out << "  ]\n}\n";
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "resa-kv-drift: error: %s\n", e.what());
    return 1;
  }
}
