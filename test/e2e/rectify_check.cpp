// Checks ReSA's dense rectification on a package compiled with
// --attention=resa: after sparse decode steps, the rectified window's KV
// must equal a dense recompute of the same tokens (1e-5, fp32), in every
// layer; the sparse KV before rectification is reported beside it.
//
// usage: resa-rectify-check PKG [--prompt N]   (N tokens of prompt, default 645)
#include "resa/runtime/KVDrift.h"

#include "plan.pb.h"

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
    resa::Tensor logits = gen.prefill(0, tokens);
    int64_t vocab = gen.vocabSize();
    int64_t next = std::max_element(logits.data<float>() + (prompt - 1) * vocab,
                                    logits.data<float>() + prompt * vocab) -
                   (logits.data<float>() + (prompt - 1) * vocab);
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
    return ok ? 0 : 1;
  } catch (const std::exception &e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
}
