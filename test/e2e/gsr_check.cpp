// GSR on a compiled package (--pipeline=gsr) with a tokenizer:
// - the problem is prefilled once (P tokens, not N*P) and, while the N
//   candidates decode, the KV pages in use are ceil(P/b) + the candidates'
//   own pages, the problem's full pages held by all N;
// - with a fixed seed the whole pipeline is deterministic; another seed
//   gives other candidates.
//
// usage: resa-gsr-check PKG TOKENIZER
#include "resa/runtime/Gsr.h"

#include <cstdio>
#include <set>

namespace {

int failures = 0;

void check(bool ok, const std::string &what) {
  std::printf("%s: %s\n", ok ? "PASS" : "FAIL", what.c_str());
  failures += !ok;
}

std::string withoutTimings(const resa::GsrResult &r) {
  resa::GsrResult copy = r;
  copy.candidateSeconds = copy.refineSeconds = 0;
  return resa::gsrResultJson(copy);
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: resa-gsr-check PKG TOKENIZER\n");
    return 2;
  }
  try {
    auto package = resa::Package::load(argv[1]);
    auto tok = resa::loadTokenizer(argv[2]);
    resa::GsrConfig config = resa::gsrConfig(*package);
    const std::string problem =
        "Problem: a = 3, b = 4, c = 12. What is a + b + c? Work it out step by step.";
    std::vector<int64_t> prompt = tok->encode(problem, true);
    int64_t P = static_cast<int64_t>(prompt.size()), N = config.candidates;
    resa::Generator gen(*package, resa::gsrPagesFor(*package, config, P));
    int64_t b = gen.cache().config().pageSize;

    // Sharing, observed while every candidate is alive (after 5 tokens each).
    resa::GenerationOptions o = config.candidate;
    o.maxNewTokens = 12;
    bool looked = false, shared = true, accounted = true;
    std::string detail;
    o.stopWhen = [&](const std::vector<int64_t> &tokens) {
      if (looked || tokens.size() != 5)
        return false;
      looked = true;
      std::vector<int64_t> seqs = gen.cache().sequences();
      std::vector<int32_t> first = gen.cache().pagesOf(seqs.at(0));
      int64_t prefixPages = (P + b - 1) / b, fullPages = P / b;
      std::set<int32_t> prefix(first.begin(), first.begin() + prefixPages);
      int64_t own = 0;
      for (int64_t id : seqs) {
        std::vector<int32_t> pages = gen.cache().pagesOf(id);
        for (int64_t p = 0; p < fullPages; ++p)
          shared &= pages[p] == first[p] && gen.cache().refCount(pages[p]) == N;
        for (int32_t p : pages)
          own += !prefix.count(p);
      }
      accounted = gen.cache().usedPages() == prefixPages + own;
      detail = std::to_string(gen.cache().usedPages()) + " pages in use = ceil(" +
               std::to_string(P) + "/" + std::to_string(b) + ") + " + std::to_string(own) +
               " own";
      return false;
    };
    int64_t before = gen.prefillTokens();
    auto samples = gen.generateShared(prompt, N, o);
    check(gen.prefillTokens() - before == P,
          "the problem is prefilled once: " + std::to_string(gen.prefillTokens() - before) +
              " prefill tokens for " + std::to_string(N) + " candidates of a " +
              std::to_string(P) + "-token problem");
    check(looked && shared, "the problem's full pages are shared by all " + std::to_string(N) +
                                " candidates");
    check(looked && accounted, "KV pages in use while decoding: " + detail);
    check(gen.cache().usedPages() == 0, "every page is free again afterwards");

    // Determinism of the whole pipeline.
    resa::Generator g1(*package, resa::gsrPagesFor(*package, config, P));
    resa::Generator g2(*package, resa::gsrPagesFor(*package, config, P));
    resa::GsrResult r1 = resa::runGsr(g1, *tok, problem, config, 7);
    resa::GsrResult r2 = resa::runGsr(g2, *tok, problem, config, 7);
    resa::GsrResult r3 = resa::runGsr(g2, *tok, problem, config, 8);
    check(withoutTimings(r1) == withoutTimings(r2), "the same seed gives the same GSR run");
    check(r1.candidates[0].tokens != r3.candidates[0].tokens ||
              r1.candidates[1].tokens != r3.candidates[1].tokens,
          "another seed gives other candidates");
    check(r1.prefillTokens ==
              P + static_cast<int64_t>(tok->encode(r1.refinePrompt, true).size()),
          "GSR prefills the problem once and the refinement prompt once");
    return failures ? 1 : 0;
  } catch (const std::exception &e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
}
