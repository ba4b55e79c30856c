// resa-bench-prefill: causal prefill attention over the paged KV cache
// (resa::gpu::prefillAttention), bf16, 32 query heads, 8 KV heads, head dim
// 128, page size 16 (--page-size), shuffled page tables (--pages ordered:
// the identity, a fresh cache's), random data. Median of CUDA-event
// timed calls after warm-up. FLOPs: 4 * D * H * (sum over queries of the keys
// each sees) = 2 * S * S * D * H for a full causal prefill. --kernel picks the
// main kernel (auto, the default: what the runtime's plan picks, the wgmma
// kernel where it serves; mma: mma.sync; wgmma: the sm_90a kernel; both: each
// shape with mma and wgmma); every result names the kernel its plan ran.
// --case NAME runs that shape alone (for a profiler: device_profile_prefill.sh).
//   resa-bench-prefill [--kernel auto|mma|wgmma|both] [--case NAME] [--page-size N]
//                      [--pages shuffled|ordered] [--out FILE.json]
#include "resa/cuda/PrefillAttention.h"

#include "BenchCheck.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>


__global__ void fillRandom(__nv_bfloat16 *p, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
    x ^= x >> 31; x *= 0xBF58476D1CE4E5B9ull; x ^= x >> 29;
    const float u = static_cast<float>(x >> 40) / static_cast<float>(1 << 24);
    p[i] = __float2bfloat16_rn((u - 0.5f) * 3.4f);
  }
}

struct Result {
  std::string name, kernel;
  int start, qlen, splits;
  double ms, tflops, flops;
};

struct Pages {
  int size = 16;
  bool shuffled = true;
};

Result bench(const char *name, int start, int qlen, int reps, resa::gpu::PrefillKernel kernel, Pages pages) {
  resa::PagedAttentionShape s;
  s.batch = 1; s.numQHeads = 32; s.numKvHeads = 8; s.headDim = 128; s.pageSize = pages.size;
  const int kv = start + qlen;
  s.maxPagesPerSeq = (kv + pages.size - 1) / pages.size;
  s.numPages = s.maxPagesPerSeq;
  std::vector<int32_t> table(s.numPages);
  std::iota(table.begin(), table.end(), 0);
  if (pages.shuffled) std::shuffle(table.begin(), table.end(), std::mt19937(42));
  const size_t cacheN = s.cacheElements(), qN = size_t(32) * qlen * 128;
  __nv_bfloat16 *k, *v, *q, *o;
  int32_t *dt, *ds, *dl;
  CK(cudaMalloc(&k, cacheN * 2)); CK(cudaMalloc(&v, cacheN * 2));
  CK(cudaMalloc(&q, qN * 2)); CK(cudaMalloc(&o, qN * 2));
  CK(cudaMalloc(&dt, table.size() * 4)); CK(cudaMalloc(&ds, 4)); CK(cudaMalloc(&dl, 4));
  fillRandom<<<1024, 256>>>(k, cacheN, 1); fillRandom<<<1024, 256>>>(v, cacheN, 2);
  fillRandom<<<1024, 256>>>(q, qN, 3);
  CK(cudaMemcpy(dt, table.data(), table.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(ds, &start, 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dl, &qlen, 4, cudaMemcpyHostToDevice));
  resa::gpu::PrefillAttentionPlan plan;
  resa::gpu::PrefillAttentionOptions opt;
  opt.kernel = kernel;
  CK(resa::gpu::planPrefillAttention(s, resa::gpu::KVDType::BF16, qlen, kv, &plan, opt));
  const char *kname = plan.kernel == resa::gpu::PrefillKernel::Wgmma ? "wgmma" : "mma";
  void *ws = nullptr;
  if (plan.workspaceBytes) CK(cudaMalloc(&ws, plan.workspaceBytes));
  resa::gpu::PrefillAttentionArgs a;
  a.q = q; a.kCache = k; a.vCache = v; a.pageTable = dt; a.qStart = ds; a.qLens = dl; a.out = o;
  for (int i = 0; i < 3; ++i) CK(resa::gpu::prefillAttention(a, plan, ws, nullptr));
  CK(cudaDeviceSynchronize());
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(e0));
    CK(resa::gpu::prefillAttention(a, plan, ws, nullptr));
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); t.push_back(ms);
  }
  CK(cudaGetLastError());
  std::sort(t.begin(), t.end());
  double keys = 0;  // sum over queries of keys seen
  for (int i = 0; i < qlen; ++i) keys += start + i + 1;
  const double flops = 4.0 * 128 * 32 * keys;
  Result r{name, kname, start, qlen, plan.numSplits, t[t.size() / 2], 0, flops};
  r.tflops = flops / (r.ms * 1e-3) / 1e12;
  std::printf("resa prefill %-5s %-14s start %7d q %6d splits %3d pages %3d %s: %9.3f ms  %7.1f TFLOP/s  "
              "(min %.3f max %.3f)\n", kname, name, start, qlen, plan.numSplits, pages.size,
              pages.shuffled ? "shuffled" : "ordered", r.ms, r.tflops, t[0], t.back());
  std::fflush(stdout);
  cudaFree(k); cudaFree(v); cudaFree(q); cudaFree(o); cudaFree(dt); cudaFree(ds); cudaFree(dl);
  if (ws) cudaFree(ws);
  return r;
}

int main(int argc, char **argv) {
  using resa::gpu::PrefillKernel;
  const char *out = nullptr;
  std::string which = "auto", only;
  Pages pages;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) out = argv[++i];
    else if (a == "--kernel" && i + 1 < argc) which = argv[++i];
    else if (a == "--case" && i + 1 < argc) only = argv[++i];
    else if (a == "--page-size" && i + 1 < argc) pages.size = std::atoi(argv[++i]);
    else if (a == "--pages" && i + 1 < argc && (std::string(argv[i + 1]) == "shuffled" ||
                                                std::string(argv[i + 1]) == "ordered"))
      pages.shuffled = std::string(argv[++i]) == "shuffled";
    else {
      std::fprintf(stderr, "usage: resa-bench-prefill [--kernel auto|mma|wgmma|both] [--case NAME]\n"
                           "                          [--page-size N] [--pages shuffled|ordered] [--out F]\n");
      return 2;
    }
  }
  if (pages.size < 1) {
    std::fprintf(stderr, "--page-size: a positive number of tokens\n");
    return 2;
  }
  std::vector<PrefillKernel> kernels;
  if (which == "auto") kernels.push_back(PrefillKernel::Auto);
  if (which == "mma" || which == "both") kernels.push_back(PrefillKernel::Mma);
  if (which == "wgmma" || which == "both") kernels.push_back(PrefillKernel::Wgmma);
  if (kernels.empty()) {
    std::fprintf(stderr, "--kernel: auto, mma, wgmma or both\n");
    return 2;
  }
  struct Shape { const char *name; int start, qlen, reps; };
  const Shape shapes[] = {
      {"causal_4k", 0, 4096, 20},        {"causal_16k", 0, 16384, 10},
      {"causal_32k", 0, 32768, 10},      {"causal_32k_b", 0, 32768, 10},  // run-to-run spread
      {"rect_32_4k", 4064, 32, 50},      {"rect_32_128k", 131040, 32, 30},
      {"chunk_2k_at_30k", 30720, 2048, 20}};
  std::vector<Result> rs;
  for (PrefillKernel k : kernels)
    for (const Shape &s : shapes)
      if (only.empty() || only == s.name)
        rs.push_back(bench(s.name, s.start, s.qlen, s.reps, k, pages));
  if (rs.empty()) {
    std::fprintf(stderr, "--case %s: no such shape\n", only.c_str());
    return 2;
  }
  if (out) {
    FILE *f = std::fopen(out, "w");
    std::fprintf(f, "[\n");
    for (size_t i = 0; i < rs.size(); ++i)
      std::fprintf(f, "  {\"name\": \"%s\", \"kernel\": \"%s\", \"start\": %d, \"qlen\": %d, "
                   "\"splits\": %d, \"page_size\": %d, \"pages\": \"%s\", \"ms\": %.5f, "
                   "\"tflops\": %.2f, \"flops\": %.6e}%s\n",
                   rs[i].name.c_str(), rs[i].kernel.c_str(), rs[i].start, rs[i].qlen,
                   rs[i].splits, pages.size, pages.shuffled ? "shuffled" : "ordered", rs[i].ms,
                   rs[i].tflops, rs[i].flops, i + 1 < rs.size() ? "," : "");
    std::fprintf(f, "]\n");
    std::fclose(f);
  }
  return 0;
}
