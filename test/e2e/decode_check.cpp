// Checks a compiled package's KV-cache program against recomputing the whole
// sequence with its stateless @main, for 5 prompts (lengths 5, 1, 12, 12,
// 12): greedy tokens through prefill + decode must equal greedy tokens by
// recomputation, and every decode step's logits must match the recomputed
// last-position logits within 1e-4. generate() then decodes the prompts (the
// three of equal length as one batch, each step chained behind the one
// before; again with a stop token that ends one part way) and must give the
// same tokens; the pipelined steps' contract (Generator::enqueueDecode) is
// checked. The KV cache must keep block summaries exactly when the plan
// selects blocks.
//
// usage: resa-decode-check PKG [--steps 32]
#include "CheckUtil.h"
#include "resa/runtime/Generator.h"
#include "resa/runtime/ModelInputs.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <string>

namespace {

constexpr float kTolerance = 1e-4f;

// Logits of the last position of `seq`, recomputed from scratch.
std::vector<float> recompute(const resa::Executor &main, const std::vector<int64_t> &seq) {
  resa::Tensor ids(resa::DType::I64, {1, static_cast<int64_t>(seq.size())});
  std::copy(seq.begin(), seq.end(), ids.data<int64_t>());
  resa::Tensor logits = main.run(resa::makeModelInputs(main, ids))[0];
  int64_t vocab = logits.dim(2);
  const float *last = logits.data<float>() + (logits.dim(1) - 1) * vocab;
  return std::vector<float>(last, last + vocab);
}

int64_t argmax(const float *v, int64_t n) { return std::max_element(v, v + n) - v; }

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: resa-decode-check PKG [--steps N]\n");
    return 2;
  }
  int64_t steps = argc >= 4 && std::string(argv[2]) == "--steps" ? std::stoll(argv[3]) : 32;
  try {
    auto package = resa::Package::load(argv[1]);
    resa::Executor main(*package, "main");
    std::mt19937 rng(7);
    std::vector<std::vector<int64_t>> prompts =
        resa::check::randomPrompts(rng, {5, 1, 12, 12, 12});
    resa::Generator gen(*package, resa::Generator::pagesFor(*package, prompts, steps));
    int failures = 0;
    float worst = 0;
    // The cache keeps block summaries exactly when some step selects blocks
    // (a dense package: never, and nothing below may need them).
    const bool selects = package->selectsBlocks();
    if (gen.cache().config().summaries != selects) {
      std::printf("FAIL: the KV cache %s block summaries, but the package %s blocks\n",
                  selects ? "keeps no" : "keeps", selects ? "selects" : "selects no");
      ++failures;
    }
    for (size_t i = 0; i < prompts.size(); ++i) {
      std::vector<int64_t> seq = prompts[i];
      resa::Tensor logits = gen.prefill(static_cast<int64_t>(i), seq);
      int64_t vocab = gen.vocabSize();
      std::vector<float> cached(logits.data<float>() + (logits.dim(0) - 1) * vocab,
                                logits.data<float>() + logits.dim(0) * vocab);
      for (int64_t step = 0; step < steps; ++step) {
        std::vector<float> full = recompute(main, seq);
        float err = 0;
        for (int64_t v = 0; v < vocab; ++v)
          err = std::max(err, std::fabs(full[v] - cached[v]));
        worst = std::max(worst, err);
        int64_t tFull = argmax(full.data(), vocab), tCached = argmax(cached.data(), vocab);
        if (!(err <= kTolerance) || tFull != tCached) {
          std::printf("FAIL: prompt %zu step %lld: logits differ by %.2e, tokens %lld vs %lld\n",
                      i, (long long)step, err, (long long)tCached, (long long)tFull);
          ++failures;
          break;
        }
        seq.push_back(tCached);
        resa::Tensor next = gen.decode(static_cast<int64_t>(i), tCached);
        cached.assign(next.data<float>(), next.data<float>() + vocab);
      }
    }
    // The batched generate() path gives the same greedy tokens.
    resa::Generator batch(*package, resa::Generator::pagesFor(*package, prompts, steps));
    resa::GenerationOptions options;
    options.maxNewTokens = steps;
    auto results = batch.generate(prompts, options);
    for (size_t i = 0; i < prompts.size(); ++i) {
      std::vector<int64_t> seq = prompts[i];
      for (int64_t t : results[i].tokens) {
        int64_t want = argmax(recompute(main, seq).data(), batch.vocabSize());
        if (t != want) {
          std::printf("FAIL: batched generate, prompt %zu: token %lld, recompute says %lld\n",
                      i, (long long)t, (long long)want);
          ++failures;
          break;
        }
        seq.push_back(t);
      }
    }
    // Prompts of one length decode as one group, each step queued before
    // the host reads the step before (chained): the same tokens. With a stop
    // token that ends one of them part way, the step queued behind its stop
    // still decodes it, and the others go on from that step's rows.
    const std::vector<std::vector<int64_t>> same(prompts.begin() + 2, prompts.end());
    const std::vector<resa::Generation> want(results.begin() + 2, results.end());
    resa::GenerationOptions stopping = options;
    if (steps > 4)
      stopping.stopTokens = {want[1].tokens[3]};
    for (const resa::GenerationOptions &o : {options, stopping}) {
      const auto got = batch.generate(same, o);
      for (size_t i = 0; i < same.size(); ++i) {
        std::vector<int64_t> expect;
        for (int64_t t : want[i].tokens) {
          expect.push_back(t);
          if (o.stopTokens.size() && t == o.stopTokens[0])
            break;
        }
        if (got[i].tokens != expect) {
          std::printf("FAIL: generate of one group%s, prompt %zu: %zu tokens, %zu expected, or "
                      "other tokens\n", o.stopTokens.empty() ? "" : " with a stop token", i + 2,
                      got[i].tokens.size(), expect.size());
          ++failures;
        }
      }
    }
    // The pipelined steps' contract: a chained step follows a step of the
    // same sequences in the same order; decodeAndChoose needs none in flight;
    // a chained step decodes what the step before chose.
    {
      const std::vector<int64_t> ids = {70, 71};
      std::vector<int64_t> firsts;
      for (size_t b = 0; b < ids.size(); ++b)
        firsts.push_back(argmax(batch.prefill(ids[b], same[b]).data<float>() +
                                    (same[b].size() - 1) * batch.vocabSize(),
                                batch.vocabSize()));
      resa::TokenRequest greedy;
      greedy.draws.assign(ids.size(), 0.0);
      auto expect = [&](bool ok, const char *what) {
        if (!ok) {
          std::printf("FAIL: pipelined decode: %s\n", what);
          ++failures;
        }
      };
      expect(!resa::check::errorOf([&] { batch.enqueueChainedDecode(ids, greedy); }).empty(),
             "a chained step with no step of its sequences before it is refused");
      batch.enqueueDecode(ids, firsts, greedy);
      expect(!resa::check::errorOf([&] { batch.decodeAndChoose(ids, firsts, greedy); }).empty(),
             "decodeAndChoose with a step in flight is refused");
      expect(!resa::check::errorOf([&] { batch.enqueueChainedDecode({71, 70}, greedy); }).empty(),
             "a chained step of the sequences in another order is refused");
      batch.enqueueChainedDecode(ids, greedy);
      const resa::TokenChoice first = batch.takeDecoded(), second = batch.takeDecoded();
      expect(batch.decodesInFlight() == 0, "every enqueued step was taken");
      expect(!resa::check::errorOf([&] { batch.takeDecoded(); }).empty(),
             "taking a step when none is in flight is refused");
      // The chained step decoded `first`'s tokens: its choice is the greedy
      // token of the whole sequence recomputed by the stateless program.
      for (size_t b = 0; b < ids.size(); ++b) {
        std::vector<int64_t> seq = same[b];
        seq.push_back(firsts[b]);
        seq.push_back(first.tokens[b]);
        expect(second.tokens[b] == argmax(recompute(main, seq).data(), batch.vocabSize()),
               "the chained step decoded the tokens the step before chose");
        batch.cache().removeSequence(ids[b]);
      }
    }
    std::printf("%s: %s: %zu prompts x %lld greedy steps, worst logit error %.2e\n",
                failures ? "FAIL" : "PASS", argv[1], prompts.size(), (long long)steps, worst);
    return failures ? 1 : 0;
  } catch (const std::exception &e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
}
