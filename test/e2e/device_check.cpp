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
// tolerance: a batch of 3 may take other GEMM algorithms than a batch of 1).
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
#include "resa/runtime/Generator.h"

#include <cstdlib>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
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
    std::vector<std::vector<int64_t>> prompts;
    for (int64_t len : {5, 1, 12, 40}) {
      std::vector<int64_t> p;
      for (int64_t i = 0; i < len; ++i)
        p.push_back(rng() % 200 + 1);
      prompts.push_back(p);
    }
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
    // Batched decode on the second device against one-by-one decode.
    double worstBatch = 0, worstGraph = 0;
    int64_t replays = 0;
    {
      std::vector<std::vector<int64_t>> same(3);
      for (auto &p : same)
        for (int i = 0; i < 12; ++i)
          p.push_back(rng() % 200 + 1);
      resa::Generator together(*cudaPkg, pages, second), alone(*cudaPkg, pages, second);
      // The same batch without CUDA graphs: a replayed step must give the
      // eagerly run step's logits.
      setenv("RESA_CUDA_GRAPHS", "0", 1);
      resa::Generator eager(*cudaPkg, pages, second);
      unsetenv("RESA_CUDA_GRAPHS");
      std::vector<int64_t> ids = {100, 101, 102}, next(3);
      for (size_t b = 0; b < 3; ++b) {
        together.prefill(ids[b], same[b]);
        eager.prefill(ids[b], same[b]);
        resa::Tensor l = alone.prefill(ids[b], same[b]);
        const float *last = l.data<float>() + (l.dim(0) - 1) * l.dim(1);
        next[b] = std::max_element(last, last + l.dim(1)) - last;
      }
      for (int64_t step = 0; step < 8 && !failures; ++step) {
        resa::Tensor batch = together.decode(ids, next);
        resa::Tensor plain = eager.decode(ids, next);
        const int64_t vocab = batch.dim(1);
        for (size_t b = 0; b < 3; ++b) {
          Diff d = compare(plain.data<float>() + b * vocab, batch.data<float>() + b * vocab,
                           vocab);
          worstGraph = std::max(worstGraph, d.rel);
          if (!(d.rel <= 1e-6)) {
            std::printf("FAIL: %s CUDA graph replay vs eager, sequence %zu step %lld: "
                        "relative error %.3e\n", name.c_str(), b, (long long)step, d.rel);
            ++failures;
          }
        }
        for (size_t b = 0; b < 3; ++b) {
          resa::Tensor one = alone.decode(ids[b], next[b]);
          Diff d = compare(one.data<float>(), batch.data<float>() + b * vocab, vocab);
          worstBatch = std::max(worstBatch, d.rel);
          if (!(d.rel <= tolerance)) {
            std::printf("FAIL: %s batched decode, sequence %zu step %lld: relative error %.3e\n",
                        name.c_str(), b, (long long)step, d.rel);
            ++failures;
          }
          next[b] = d.cpuToken;
        }
      }
      replays = together.graphReplays();
      const bool graphsExpected = second == resa::Device::Cuda && !std::getenv("RESA_CUDA_GRAPHS");
      if (graphsExpected && replays == 0) {
        std::printf("FAIL: %s: no decode step ran as a CUDA graph\n", name.c_str());
        ++failures;
      }
    }
    std::printf("%s: %s: %lld logit rows, worst relative error %.3e (tolerance %.1e; "
                "largest difference %.3e of max |logit|), %lld greedy steps x %zu prompts, "
                "%lld near ties, batched decode within %.1e, graph replays %lld (vs eager "
                "%.1e), %.3f ms per decode step on %s\n",
                failures ? "FAIL" : "PASS", name.c_str(), (long long)checked, worst, tolerance,
                worstMax, (long long)steps, prompts.size(), (long long)nearTies, worstBatch,
                (long long)replays, worstGraph, decodes ? 1e3 * decodeSeconds / decodes : 0.0, resa::deviceName(second));
    return failures ? 1 : 0;
  } catch (const std::exception &e) {
    std::printf("FAIL: %s: %s\n", name.c_str(), e.what());
    return 1;
  }
}
