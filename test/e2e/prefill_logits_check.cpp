// Checks a package compiled with resa-compile --prefill-logits=last against
// the same model compiled with --prefill-logits=all, on the CPU: prefill
// returns one row there and every position here, and that row is exactly
// the last one here (the layers before the projection are the same program,
// and each logits row is computed on its own); generate() and
// generateShared(), greedy and sampled, give identical tokens and
// log-probabilities.
//
// usage: resa-prefill-logits-check ALL_PKG LAST_PKG
#include "CheckUtil.h"
#include "resa/runtime/Generator.h"

#include <cstdio>
#include <random>
#include <string>

namespace {

int failures = 0;

void check(bool ok, const std::string &what) {
  std::printf("%s: %s\n", ok ? "PASS" : "FAIL", what.c_str());
  failures += !ok;
}


} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: resa-prefill-logits-check ALL_PKG LAST_PKG\n");
    return 2;
  }
  try {
    auto allPkg = resa::Package::load(argv[1]);
    auto lastPkg = resa::Package::load(argv[2]);
    std::mt19937 rng(5);
    std::vector<std::vector<int64_t>> prompts =
        resa::check::randomPrompts(rng, {1, 5, 23, 40});
    const int64_t steps = 12;
    const int64_t pages = resa::Generator::pagesFor(*allPkg, prompts, steps);

    resa::Generator all(*allPkg, pages), last(*lastPkg, pages);
    for (size_t i = 0; i < prompts.size(); ++i) {
      const int64_t id = static_cast<int64_t>(i), len = static_cast<int64_t>(prompts[i].size());
      resa::Tensor a = all.prefill(id, prompts[i]);
      resa::Tensor l = last.prefill(id, prompts[i]);
      const std::string at = "prompt of " + std::to_string(len) + " tokens: ";
      all.cache().removeSequence(id);
      last.cache().removeSequence(id);
      check(a.dim(0) == len && l.dim(0) == 1 && a.dim(1) == l.dim(1),
            at + "prefill logits " + resa::shapeToString(a.shape()) + " (all) and " +
                resa::shapeToString(l.shape()) + " (last)");
      if (a.dim(1) != l.dim(1) || l.dim(0) != 1)
        continue;
      const int64_t vocab = a.dim(1);
      const float *want = a.data<float>() + (a.dim(0) - 1) * vocab;
      int64_t differ = 0;
      for (int64_t v = 0; v < vocab; ++v)
        differ += want[v] != l.data<float>()[v];
      check(differ == 0, at + "the last-only row equals the last row exactly (" +
                             std::to_string(differ) + " of " + std::to_string(vocab) +
                             " differ)");
    }

    resa::GenerationOptions greedy;
    greedy.maxNewTokens = steps;
    resa::GenerationOptions sampled = greedy;
    sampled.sampling.temperature = 0.8f;
    sampled.sampling.topP = 0.9f;
    sampled.sampling.seed = 3;
    for (const auto &[name, options] :
         {std::pair{"greedy", greedy}, std::pair{"sampled", sampled}}) {
      check(resa::check::sameGenerations(all.generate(prompts, options),
                                         last.generate(prompts, options)),
            std::string("generate(), ") + name + ": identical tokens and log-probabilities");
      check(resa::check::sameGenerations(all.generateShared(prompts[2], 3, options),
                                         last.generateShared(prompts[2], 3, options)),
            std::string("generateShared(), ") + name +
                ": identical tokens and log-probabilities");
    }
  } catch (const std::exception &e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
  std::printf("%s: %s vs %s\n", failures ? "FAIL" : "PASS", argv[1], argv[2]);
  return failures ? 1 : 0;
}
