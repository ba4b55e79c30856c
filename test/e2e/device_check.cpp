// Checks the CUDA backend against the exact CPU path on one model: the same
// prompts through a float32 package on the CPU and a bf16 (or f16) package
// on CUDA. Every prefill position's logits and every decode step's logits
// must agree within a relative error (||cuda - cpu||_2 / ||cpu||_2 over the
// row; the largest |cuda - cpu| / max |cpu| is reported beside it), and the
// greedy tokens of the first --steps steps must be the same. Decoding is
// teacher-forced by the CPU's tokens, so a failure names its first step.
//
// Then the second device decodes three prompts of one length as one batch,
// against decoding each alone on another generator (logits within the same
// tolerance: a batch of 3 may take other GEMM algorithms than a batch of 1),
// and on a third that chooses each step's tokens where the logits are
// (Generator::decodeAndChoose; on CUDA the sampling kernel, greedy and top-p):
// the tokens the host picks from the batch's logits,
// and again three sequences FORKED from one 37-token prompt (GSR's
// candidates: their page tables share the prompt's full pages), which on
// CUDA runs shared-prefix decode attention: the check lowers its threshold
// RESA_SHARED_PREFIX_MIN_PAGES to 1 page unless it is set (the path needs the
// fast decode kernel, head dim 64 or 128, and the dense policy; other models
// decode these batches the plain way and are checked all the same).
// Last, generate() on the second device, each step queued behind the one
// before with its token ids copied there (chained), must give the tokens and
// log-probabilities of the same steps run one at a time.
//
// With --device cpu the second package runs on the CPU too (what a bf16/f16
// package's weights cost in accuracy there, and a CI check of --dtype).
// With --rectify-every F both run ReSA's dense rectification of the last F
// tokens every F decode steps (as the generator's schedule does).
//
// usage: resa-device-check CPU_PKG CUDA_PKG [--steps 16] [--tolerance 2e-2]
//                          [--rectify-every F] [--device cuda|cpu] [--tie-margin M]
// --tie-margin M accepts a different greedy token where the CPU's own logits
// put the two within M * max |logit| (a near tie that rounding may break; the
// run goes on with the CPU's token and counts them).
//        resa-device-check --probe   (exit 0 and print "cuda" when usable)
// Without a CUDA device it prints "SKIPPED: ..." and exits 0.
#include "CheckUtil.h"
#include "resa/runtime/Generator.h"

#include "plan.pb.h"

#include <cstdlib>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>

namespace {

struct Diff {
  double rel = 0, relMax = 0;
  int64_t cpuToken = -1, cudaToken = -1;
  double margin = 0; // CPU logit of its token minus that of CUDA's, over max |logit|
};

// Relative error of one row of logits, and the two argmaxes.
Diff compare(const float *cpu, const float *cuda, int64_t vocab) {
  double sq = 0, ref = 0, num = 0, den = 0;
  for (int64_t v = 0; v < vocab; ++v) {
    double d = std::fabs(double(cpu[v]) - double(cuda[v]));
    if (std::isnan(d))
      d = INFINITY;
    sq += d * d;
    ref += double(cpu[v]) * double(cpu[v]);
    num = std::max(num, d);
    den = std::max(den, std::fabs(double(cpu[v])));
  }
  Diff r;
  r.rel = std::sqrt(sq / std::max(ref, 1e-300));
  r.relMax = num / std::max(den, 1e-30);
  r.cpuToken = std::max_element(cpu, cpu + vocab) - cpu;
  r.cudaToken = std::max_element(cuda, cuda + vocab) - cuda;
  r.margin = (double(cpu[r.cpuToken]) - double(cpu[r.cudaToken])) / std::max(den, 1e-30);
  return r;
}

// The full pages that sequences `ids` of `gen` share at the start of their
// page lists (the same page ids, from a fork).
int64_t sharedFullPages(resa::Generator &gen, const std::vector<int64_t> &ids) {
  resa::KVCache &cache = gen.cache();
  const int64_t ps = cache.config().pageSize;
  std::vector<int32_t> first = cache.pagesOf(ids[0]);
  int64_t n = static_cast<int64_t>(first.size());
  for (int64_t id : ids) {
    std::vector<int32_t> pages = cache.pagesOf(id);
    n = std::min(n, cache.length(id) / ps);
    int64_t same = 0;
    while (same < n && pages[same] == first[same])
      ++same;
    n = same;
  }
  return n;
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 2 && std::string(argv[1]) == "--probe") {
    bool ok = resa::cudaBackendBuilt() && resa::cudaDeviceCount() > 0;
    std::printf("%s\n", ok ? "cuda" : "none");
    return 0;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: resa-device-check CPU_PKG CUDA_PKG [--steps N] "
                         "[--tolerance T]\n");
    return 2;
  }
  int64_t steps = 16, rectifyEvery = 0, nearTies = 0;
  double tieMargin = 0;
  resa::Device second = resa::Device::Cuda;
  double tolerance = 2e-2;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--steps")
      steps = std::stoll(argv[i + 1]);
    else if (flag == "--tolerance")
      tolerance = std::stod(argv[i + 1]);
    else if (flag == "--rectify-every")
      rectifyEvery = std::stoll(argv[i + 1]);
    else if (flag == "--tie-margin")
      tieMargin = std::stod(argv[i + 1]);
    else if (flag == "--device")
      second = resa::resolveDevice(argv[i + 1]);
  }
  const std::string name = std::string(argv[2]);
  if (second == resa::Device::Cuda &&
      (!resa::cudaBackendBuilt() || resa::cudaDeviceCount() == 0)) {
    std::printf("SKIPPED: %s (no CUDA device)\n", name.c_str());
    return 0;
  }
  try {
    auto cpuPkg = resa::Package::load(argv[1]);
    auto cudaPkg = resa::Package::load(argv[2]);
    std::mt19937 rng(11);
    std::vector<std::vector<int64_t>> prompts =
        resa::check::randomPrompts(rng, {5, 1, 12, 40});
    int64_t pages = resa::Generator::pagesFor(*cpuPkg, prompts, steps);
    resa::Generator cpu(*cpuPkg, pages, resa::Device::Cpu);
    resa::Generator cuda(*cudaPkg, pages, second);
    int failures = 0;
    double worst = 0, worstMax = 0, decodeSeconds = 0;
    int64_t decodes = 0;
    int64_t checked = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
      const int64_t id = static_cast<int64_t>(i);
      resa::Tensor a = cpu.prefill(id, prompts[i]);
      resa::Tensor b = cuda.prefill(id, prompts[i]);
      const int64_t vocab = a.dim(1);
      if (b.dim(0) != a.dim(0) || b.dim(1) != vocab) {
        std::printf("FAIL: %s prompt %zu: CUDA logits %s, CPU %s\n", name.c_str(), i,
                    resa::shapeToString(b.shape()).c_str(),
                    resa::shapeToString(a.shape()).c_str());
        ++failures;
        continue;
      }
      for (int64_t s = 0; s < a.dim(0); ++s) {
        Diff d = compare(a.data<float>() + s * vocab, b.data<float>() + s * vocab, vocab);
        worst = std::max(worst, d.rel);
        worstMax = std::max(worstMax, d.relMax);
        ++checked;
        if (!(d.rel <= tolerance)) {
          std::printf("FAIL: %s prompt %zu position %lld: relative error %.3e\n", name.c_str(),
                      i, (long long)s, d.rel);
          ++failures;
          break;
        }
      }
      const float *lastA = a.data<float>() + (a.dim(0) - 1) * vocab;
      const float *lastB = b.data<float>() + (b.dim(0) - 1) * vocab;
      Diff d = compare(lastA, lastB, vocab);
      std::vector<int64_t> seq = prompts[i];
      for (int64_t step = 0; step < steps; ++step) {
        if (d.cpuToken != d.cudaToken && d.margin <= tieMargin) {
          ++nearTies;
        } else if (d.cpuToken != d.cudaToken) {
          std::printf("FAIL: %s prompt %zu step %lld: greedy token %lld on CUDA, %lld on CPU\n",
                      name.c_str(), i, (long long)step, (long long)d.cudaToken,
                      (long long)d.cpuToken);
          ++failures;
          break;
        }
        resa::Tensor na = cpu.decode(id, d.cpuToken);
        auto t0 = std::chrono::steady_clock::now();
        resa::Tensor nb = cuda.decode(id, d.cpuToken);
        decodeSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ++decodes;
        seq.push_back(d.cpuToken);
        d = compare(na.data<float>(), nb.data<float>(), vocab);
        if (rectifyEvery > 0 && (step + 1) % rectifyEvery == 0) {
          int64_t from = static_cast<int64_t>(seq.size()) - rectifyEvery;
          std::vector<int64_t> window(seq.end() - rectifyEvery, seq.end());
          cpu.rectify(id, from, window);
          cuda.rectify(id, from, window);
        }
        worst = std::max(worst, d.rel);
        worstMax = std::max(worstMax, d.relMax);
        ++checked;
        if (!(d.rel <= tolerance)) {
          std::printf("FAIL: %s prompt %zu step %lld: relative error %.3e\n", name.c_str(), i,
                      (long long)step, d.rel);
          ++failures;
          break;
        }
      }
    }
    // Batched decode on the second device against one-by-one decode, and
    // its CUDA graph replays against the same batch run eagerly. `start`
    // makes the sequences `ids` on a generator and returns their first
    // tokens (those of `alone` are used).
    double worstBatch = 0, worstGraph = 0;
    int64_t replays = 0;
    auto batchCheck = [&](const char *what, const std::vector<int64_t> &ids, int64_t kvPages,
                          const std::function<std::vector<int64_t>(resa::Generator &)> &start) {
      resa::Generator together(*cudaPkg, kvPages, second), alone(*cudaPkg, kvPages, second);
      // The same batch choosing its tokens where the logits are (on CUDA,
      // the device's sampling kernel): the tokens `together`'s logits give.
      resa::Generator chooser(*cudaPkg, kvPages, second);
      // The same batch without CUDA graphs: a replayed step must give the
      // eagerly run step's logits.
      setenv("RESA_CUDA_GRAPHS", "0", 1);
      resa::Generator eager(*cudaPkg, kvPages, second);
      unsetenv("RESA_CUDA_GRAPHS");
      start(together);
      start(eager);
      start(chooser);
      std::vector<int64_t> next = start(alone);
      const size_t n = ids.size();
      // The steps stop at the first failure (an earlier one: none run), and
      // replays are expected only of a batch that ran them all.
      constexpr int64_t kSteps = 8;
      int64_t stepsRun = 0;
      for (int64_t step = 0; step < kSteps && !failures; ++step, ++stepsRun) {
        resa::Tensor batch = together.decode(ids, next);
        resa::Tensor plain = eager.decode(ids, next);
        const int64_t vocab = batch.dim(1);
        // Greedy on even steps, temperature 0.8 and top-p 0.9 on odd ones.
        resa::TokenRequest request;
        request.temperature = step % 2 ? 0.8f : 0.0f;
        request.topP = step % 2 ? 0.9f : 1.0f;
        for (size_t b = 0; b < n; ++b)
          request.draws.push_back(step % 2 ? std::uniform_real_distribution<double>(0, 1)(rng) : 0);
        const resa::TokenChoice chosen = chooser.decodeAndChoose(ids, next, request);
        for (size_t b = 0; b < n; ++b) {
          const float *row = batch.data<float>() + b * vocab;
          const int64_t want =
              resa::chooseToken(row, vocab, request.temperature, request.topP, request.draws[b]);
          const float lp = resa::logProbability(row, vocab, want);
          if (chosen.tokens[b] != want || !(std::fabs(chosen.logProbs[b] - lp) <= 1e-4f)) {
            std::printf("FAIL: %s token chosen by decodeAndChoose (%s), sequence %zu step %lld: "
                        "%lld (log p %.6f) where the logits give %lld (log p %.6f)\n",
                        name.c_str(), what, b, (long long)step, (long long)chosen.tokens[b],
                        chosen.logProbs[b], (long long)want, lp);
            ++failures;
          }
        }
        for (size_t b = 0; b < n; ++b) {
          Diff d = compare(plain.data<float>() + b * vocab, batch.data<float>() + b * vocab,
                           vocab);
          worstGraph = std::max(worstGraph, d.rel);
          if (!(d.rel <= 1e-6)) {
            std::printf("FAIL: %s CUDA graph replay vs eager (%s), sequence %zu step %lld: "
                        "relative error %.3e\n", name.c_str(), what, b, (long long)step, d.rel);
            ++failures;
          }
        }
        for (size_t b = 0; b < n; ++b) {
          resa::Tensor one = alone.decode(ids[b], next[b]);
          Diff d = compare(one.data<float>(), batch.data<float>() + b * vocab, vocab);
          worstBatch = std::max(worstBatch, d.rel);
          if (!(d.rel <= tolerance)) {
            std::printf("FAIL: %s batched decode (%s), sequence %zu step %lld: relative error "
                        "%.3e\n", name.c_str(), what, b, (long long)step, d.rel);
            ++failures;
          }
          next[b] = d.cpuToken;
        }
      }
      replays += together.graphReplays();
      const bool graphsExpected = second == resa::Device::Cuda && !std::getenv("RESA_CUDA_GRAPHS");
      if (graphsExpected && stepsRun == kSteps && together.graphReplays() == 0) {
        std::printf("FAIL: %s: no decode step ran as a CUDA graph (%s)\n", name.c_str(), what);
        ++failures;
      }
    };
    auto argmaxLast = [](const resa::Tensor &l) {
      const float *last = l.data<float>() + (l.dim(0) - 1) * l.dim(1);
      return static_cast<int64_t>(std::max_element(last, last + l.dim(1)) - last);
    };
    {
      // Three prompts of one length.
      std::vector<std::vector<int64_t>> same(3);
      for (auto &p : same)
        for (int i = 0; i < 12; ++i)
          p.push_back(rng() % 200 + 1);
      const std::vector<int64_t> ids = {100, 101, 102};
      batchCheck("equal lengths", ids, pages, [&](resa::Generator &g) {
        std::vector<int64_t> next;
        for (size_t b = 0; b < ids.size(); ++b)
          next.push_back(argmaxLast(g.prefill(ids[b], same[b])));
        return next;
      });
    }
    // Three sequences forked from one prompt (the parent and two children,
    // as Generator::generateShared makes GSR's candidates), with different
    // first tokens: shared-prefix decode over the prompt's full pages.
    int64_t forkShared = 0;
    {
      std::vector<int64_t> prompt;
      for (int i = 0; i < 37; ++i)
        prompt.push_back(rng() % 200 + 1);
      const std::vector<int64_t> ids = {200, 201, 202};
      std::vector<int64_t> firsts;
      for (int i = 0; i < 2; ++i)
        firsts.push_back(rng() % 200 + 1);
      const int64_t kvPages = resa::Generator::pagesFor(*cudaPkg, {prompt, prompt, prompt}, 9);
      const bool lowerThreshold = !std::getenv("RESA_SHARED_PREFIX_MIN_PAGES");
      if (lowerThreshold)
        setenv("RESA_SHARED_PREFIX_MIN_PAGES", "1", 1);
      batchCheck("forked prompt", ids, kvPages, [&](resa::Generator &g) {
        std::vector<int64_t> next = {argmaxLast(g.prefill(ids[0], prompt))};
        for (size_t b = 1; b < ids.size(); ++b) {
          g.cache().forkSequence(ids[0], ids[b]);
          next.push_back(firsts[b - 1]);
        }
        forkShared = sharedFullPages(g, ids);
        return next;
      });
      if (lowerThreshold)
        unsetenv("RESA_SHARED_PREFIX_MIN_PAGES");
    }
    // generate() on the second device: three prompts of one length decode
    // as one group, each step queued behind the one before with its token
    // ids copied there from that step's choice (chained), greedy and
    // sampled; against the same steps run one at a time with the tokens
    // through the host (decodeAndChoose, the generator's samplers and draws
    // and its rectification schedule replayed): the same tokens and
    // log-probabilities.
    const int64_t rectifyInterval =
        cudaPkg->plan().has_rectify() ? cudaPkg->plan().rectify().interval() : 0;
    const int64_t rectifyWindow = cudaPkg->plan().has_rectify() ? cudaPkg->plan().rectify().window() : 0;
    int64_t pipelinedTokens = 0;
    for (const float temperature : {0.0f, 0.8f}) {
      std::vector<std::vector<int64_t>> same(3);
      for (auto &p : same)
        for (int i = 0; i < 12; ++i)
          p.push_back(rng() % 200 + 1);
      resa::GenerationOptions o;
      o.maxNewTokens = 10;
      o.sampling.temperature = temperature;
      o.sampling.topP = 0.9f;
      o.sampling.seed = 5;
      const int64_t kvPages = resa::Generator::pagesFor(*cudaPkg, same, o.maxNewTokens);
      resa::Generator piped(*cudaPkg, kvPages, second), stepped(*cudaPkg, kvPages, second);
      const std::vector<resa::Generation> got = piped.generate(same, o);
      std::vector<resa::Sampler> samplers;
      std::vector<int64_t> ids, next;
      std::vector<std::vector<int64_t>> tokens(same.size()), history = same;
      std::vector<std::vector<float>> logProbs(same.size());
      for (size_t b = 0; b < same.size(); ++b) {
        resa::SamplingOptions so = o.sampling;
        so.seed += b;
        samplers.emplace_back(so);
        ids.push_back(static_cast<int64_t>(300 + b));
        resa::Tensor l = stepped.prefill(ids[b], same[b]);
        const float *last = l.data<float>() + (l.dim(0) - 1) * l.dim(1);
        next.push_back(samplers[b].next(last, l.dim(1)));
        tokens[b].push_back(next[b]);
        logProbs[b].push_back(resa::logProbability(last, l.dim(1), next[b]));
      }
      for (int64_t step = 1; step < o.maxNewTokens; ++step) {
        resa::TokenRequest request;
        request.temperature = o.sampling.temperature;
        request.topP = o.sampling.topP;
        for (resa::Sampler &sampler : samplers)
          request.draws.push_back(sampler.draw());
        const resa::TokenChoice c = stepped.decodeAndChoose(ids, next, request);
        std::vector<std::vector<int64_t>> windows;
        for (size_t b = 0; b < same.size(); ++b) {
          history[b].push_back(next[b]);
          next[b] = c.tokens[b];
          tokens[b].push_back(c.tokens[b]);
          logProbs[b].push_back(c.logProbs[b]);
          if (rectifyInterval > 0 && step % rectifyInterval == 0)
            windows.emplace_back(history[b].end() - rectifyWindow, history[b].end());
        }
        if (!windows.empty())
          stepped.rectify(ids, static_cast<int64_t>(history[0].size()) - rectifyWindow, windows);
      }
      for (size_t b = 0; b < same.size(); ++b) {
        pipelinedTokens += static_cast<int64_t>(got[b].tokens.size());
        if (got[b].tokens != tokens[b] || got[b].logProbs != logProbs[b]) {
          std::printf("FAIL: %s generate (chained steps, temperature %.1f), sequence %zu: "
                      "other tokens or log-probabilities than the same steps one at a time\n",
                      name.c_str(), temperature, b);
          ++failures;
        }
      }
    }
    std::printf("%s: %s: %lld logit rows, worst relative error %.3e (tolerance %.1e; "
                "largest difference %.3e of max |logit|), %lld greedy steps x %zu prompts, "
                "%lld near ties, batched decode within %.1e (forked prompt: %lld shared pages), "
                "graph replays %lld (vs eager %.1e), %lld tokens of chained generate as "
                "stepped, %.3f ms per decode step on %s\n",
                failures ? "FAIL" : "PASS", name.c_str(), (long long)checked, worst, tolerance,
                worstMax, (long long)steps, prompts.size(), (long long)nearTies, worstBatch,
                (long long)forkShared, (long long)replays, worstGraph,
                (long long)pipelinedTokens, decodes ? 1e3 * decodeSeconds / decodes : 0.0, resa::deviceName(second));
    return failures ? 1 : 0;
  } catch (const std::exception &e) {
    std::printf("FAIL: %s: %s\n", name.c_str(), e.what());
    return 1;
  }
}
