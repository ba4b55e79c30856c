// Checks ReSA's dense rectification on a package compiled with
// --attention=resa: after sparse decode steps, the rectified window's KV
// must equal a dense recompute of the same tokens (1e-5, fp32), in every
// layer; the sparse KV before rectification is reported beside it.
//
// usage: resa-rectify-check PKG [--prompt N]   (N tokens of prompt, default 645)
#include "resa/runtime/KVDrift.h"

#include "plan.pb.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

int main(int argc, char **argv) {
  if (argc != 2 && !(argc == 4 && std::string(argv[2]) == "--prompt")) {
    std::fprintf(stderr, "usage: resa-rectify-check PKG [--prompt N]\n");
    return 2;
  }
  int64_t promptLen = argc == 4 ? std::stoll(argv[3]) : 40 * 16 + 5;
  try {
    auto package = resa::Package::load(argv[1]);
    if (!package->plan().has_rectify())
      throw resa::Error(std::string(argv[1]) + " has no rectification schedule");
    int64_t f = package->plan().rectify().window();
    // By default a prompt of 40 blocks, so that selection leaves blocks out.
    std::mt19937 rng(11);
    std::vector<int64_t> tokens;
    for (int64_t i = 0; i < promptLen; ++i)
      tokens.push_back(rng() % 200 + 1);
    int64_t prompt = static_cast<int64_t>(tokens.size());
    std::vector<std::vector<int64_t>> shape = {std::vector<int64_t>(prompt)};
    resa::Generator gen(*package, resa::Generator::pagesFor(*package, shape, 2 * f));
    resa::Generator dense(*package, resa::Generator::pagesFor(*package, shape, 2 * f));
    // ReSA selects blocks: its cache keeps their summaries.
    const bool summaries = gen.cache().config().summaries;
    std::printf("%s: %s: the KV cache %s block summaries\n", summaries ? "PASS" : "FAIL",
                argv[1], summaries ? "keeps" : "keeps no");
    resa::Tensor logits = gen.prefill(0, tokens);
    int64_t vocab = gen.vocabSize();
    const float *last = logits.data<float>() + (logits.dim(0) - 1) * vocab;
    int64_t next = std::max_element(last, last + vocab) - last;
    for (int64_t step = 0; step < f; ++step) {
      tokens.push_back(next);
      resa::Tensor l = gen.decode(0, next);
      next = std::max_element(l.data<float>(), l.data<float>() + vocab) - l.data<float>();
    }
    int64_t len = static_cast<int64_t>(tokens.size());
    resa::KVDrift before = resa::kvDrift(gen.cache(), 0, dense, 1, tokens, len - f, len);
    gen.rectify(0, len - f, std::vector<int64_t>(tokens.end() - f, tokens.end()));
    resa::KVDrift after = resa::kvDrift(gen.cache(), 0, dense, 1, tokens, 0, len);
    bool ok = after.maxAbs <= 1e-5;
    std::printf("%s: %s: window of %lld tokens after a %lld-token prompt: sparse KV max error "
                "%.2e (relative %.2e); after rectification %.2e (relative %.2e)\n",
                ok ? "PASS" : "FAIL", argv[1], (long long)f, (long long)prompt, before.maxAbs,
                before.relative, after.maxAbs, after.relative);

    // Three sequences rectified in one call give every layer the KV that
    // rectifying them one by one gives (exactly: rows are independent).
    std::vector<std::vector<int64_t>> three(3, std::vector<int64_t>(prompt));
    resa::Generator together(*package, resa::Generator::pagesFor(*package, three, 2 * f));
    resa::Generator alone(*package, resa::Generator::pagesFor(*package, three, 2 * f));
    std::vector<int64_t> ids = {0, 1, 2};
    std::vector<std::vector<int64_t>> seqs(3);
    for (auto &seq : seqs)
      for (int64_t i = 0; i < prompt; ++i)
        seq.push_back(rng() % 200 + 1);
    for (size_t b = 0; b < 3; ++b) {
      together.prefill(ids[b], seqs[b]);
      alone.prefill(ids[b], seqs[b]);
    }
    for (int64_t step = 0; step < f; ++step) {
      std::vector<int64_t> next;
      for (auto &seq : seqs) {
        seq.push_back(rng() % 200 + 1);
        next.push_back(seq.back());
      }
      together.decode(ids, next);
      alone.decode(ids, next);
    }
    std::vector<std::vector<int64_t>> windows;
    for (const auto &seq : seqs)
      windows.emplace_back(seq.end() - f, seq.end());
    together.rectify(ids, len - f, windows);
    for (size_t b = 0; b < 3; ++b)
      alone.rectify(ids[b], len - f, windows[b]);
    double worst = 0;
    const resa::KVCacheConfig &c = together.cache().config();
    const size_t n = static_cast<size_t>(len) * c.numKvHeads * c.headDim;
    std::vector<float> k1(n), v1(n), k2(n), v2(n);
    for (int64_t id : ids)
      for (int layer = 0; layer < c.numLayers; ++layer) {
        together.cache().readTokens(id, layer, 0, len, k1.data(), v1.data());
        alone.cache().readTokens(id, layer, 0, len, k2.data(), v2.data());
        for (size_t i = 0; i < n; ++i)
          worst = std::max({worst, std::abs(double(k1[i]) - k2[i]), std::abs(double(v1[i]) - v2[i])});
      }
    const bool batchOk = worst == 0.0;
    std::printf("%s: %s: 3 sequences rectified in one call vs one by one: KV max difference "
                "%.2e\n", batchOk ? "PASS" : "FAIL", argv[1], worst);
    return ok && batchOk && summaries ? 0 : 1;
  } catch (const std::exception &e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
}
