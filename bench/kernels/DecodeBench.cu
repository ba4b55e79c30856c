// resa-bench kernels (and resa-bench-kernels, the same for builds without
// the runtime: bench/kernels/standalone): times the CUDA dense
// decode-attention kernel over the paged KV cache, against a
// device-to-device copy ceiling measured in the same run.
//
//   resa-bench kernels [--out FILE.json] [--batches 1,8]
//                      [--contexts 4096,16384,65536,131072,262144]
//                      [--variants] [--overhead] [--quick] [--sparse]
//                      [--workspace-merge] [--splits N]
//
// --workspace-merge: the splits always merge through the workspace, never
// in a thread-block cluster (DecodeAttentionOptions::clusterMerge); the JSON
// and the printed rows (merge: cl / ws) say which each row used.
// --splits N: every decode-attention plan uses exactly N splits
// (DecodeAttentionOptions::forceSplits), to compare split counts.
// --sparse adds ReSA's step (block selection + block-sparse decode, kept
// ratio 0.1, n_min 16, one local block, b = 16) for the same batches and
// contexts: the whole step, selection alone and sparse attention alone, each
// the median over graph replays; bytes = the selected K/V pages + every key
// summary (kmin and kmax of every block) + q + output.
//
// Shape: 32 query heads, 8 KV heads, head dim 128, page size 16, bf16, every
// sequence of the batch at the full context, random non-contiguous page
// tables. Each figure is the median over replays of a CUDA graph of 20 calls
// (divided by 20), after warm-up; when one call's KV would fit in L2 the calls
// rotate among several KV caches (and page tables, queries, outputs) so that
// they read DRAM. Bytes moved per call: K and V read once plus q read and the
// output written; the fraction is of the copy ceiling (bytes read + written
// by cudaMemcpy device-to-device of 2 GiB, median of 10).
#include "KernelsBench.h"

#include "resa/cuda/BlockSparse.h"
#include "resa/cuda/DecodeAttention.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Every plan's options: --workspace-merge (clusterMerge false) and --splits
// N (forceSplits; 0: the plan's choice).
resa::gpu::DecodeAttentionOptions gOptions;

#define CHECK(expr)                                                                        \
  do {                                                                                     \
    cudaError_t e_ = (expr);                                                               \
    if (e_ != cudaSuccess) {                                                               \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr,                    \
                   cudaGetErrorString(e_));                                                \
      std::exit(1);                                                                        \
    }                                                                                      \
  } while (0)

// Deterministic pseudo-random bf16 in about [-2, 2) (never zeros).
__global__ void fillRandomBf16(uint16_t *p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    uint32_t x = static_cast<uint32_t>(i) * 0x9E3779B9u ^ seed ^ static_cast<uint32_t>(i >> 32);
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    const float f = (static_cast<float>(x >> 8) * (1.0f / 16777216.0f)) * 4.0f - 2.0f;
    uint32_t bits = __float_as_uint(f);
    p[i] = static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  }
}

void fill(uint16_t *p, size_t n, uint32_t seed) {
  fillRandomBf16<<<1024, 256>>>(p, n, seed);
  CHECK(cudaGetLastError());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<int> parseList(const std::string &s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    out.push_back(std::atoi(item.c_str()));
  return out;
}

struct Result {
  int batch, context, variant;
  bool contiguous;
  int splits, stagesPerSplit, blocksPerSm, buffers, grid;
  double medianUs, minUs, bytes, tbps, fraction;
  bool graph;
  bool clusterMerge;  // the plan merged the splits in clusters
};

double copyCeiling() {
  const size_t bytes = size_t(2) << 30;
  void *a, *b;
  CHECK(cudaMalloc(&a, bytes));
  CHECK(cudaMalloc(&b, bytes));
  fill(static_cast<uint16_t *>(a), bytes / 2, 7);
  cudaEvent_t e0, e1;
  CHECK(cudaEventCreate(&e0));
  CHECK(cudaEventCreate(&e1));
  std::vector<double> t;
  for (int i = 0; i < 13; ++i) {
    CHECK(cudaEventRecord(e0));
    CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
    CHECK(cudaEventRecord(e1));
    CHECK(cudaEventSynchronize(e1));
    float ms;
    CHECK(cudaEventElapsedTime(&ms, e0, e1));
    if (i >= 3)
      t.push_back(ms * 1e-3);
  }
  CHECK(cudaFree(a));
  CHECK(cudaFree(b));
  CHECK(cudaEventDestroy(e0));
  CHECK(cudaEventDestroy(e1));
  return 2.0 * bytes / median(t) / 1e12;
}

struct Timing {
  double medianUs, minUs;
  bool graph;
};

// Per-call time of `call(i)` (i = 0..19 captured in one CUDA graph; plain
// launches if capture fails): one replay of warm-up, one to estimate, then as
// many replays as fit in `budgetS` seconds (at least 10, at most maxReps),
// each timed by events and divided by 20; median and min over the replays.
template <typename F> Timing timeCalls(cudaStream_t st, F call, double budgetS, int maxReps) {
  constexpr int kCalls = 20;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  bool useGraph = cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
  if (useGraph) {
    bool launched = true;
    for (int i = 0; i < kCalls; ++i)
      launched = launched && call(i) == cudaSuccess;
    useGraph = cudaStreamEndCapture(st, &graph) == cudaSuccess && launched &&
               cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
    if (!useGraph) {
      std::fprintf(stderr, "graph capture failed (%s); timing plain launches\n",
                   cudaGetErrorString(cudaGetLastError()));
      cudaGetLastError();
    }
  }
  auto replay = [&] {
    if (useGraph) {
      CHECK(cudaGraphLaunch(exec, st));
    } else {
      for (int i = 0; i < kCalls; ++i)
        CHECK(call(i));
    }
  };
  cudaEvent_t e0, e1;
  CHECK(cudaEventCreate(&e0));
  CHECK(cudaEventCreate(&e1));
  replay();
  CHECK(cudaEventRecord(e0, st));
  replay();
  CHECK(cudaEventRecord(e1, st));
  CHECK(cudaEventSynchronize(e1));
  float ms;
  CHECK(cudaEventElapsedTime(&ms, e0, e1));
  const int reps = std::max(10, std::min(maxReps, static_cast<int>(budgetS / (ms * 1e-3))));
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    CHECK(cudaEventRecord(e0, st));
    replay();
    CHECK(cudaEventRecord(e1, st));
    CHECK(cudaEventSynchronize(e1));
    CHECK(cudaEventElapsedTime(&ms, e0, e1));
    t.push_back(ms * 1e-3 / kCalls);
  }
  CHECK(cudaGetLastError());
  if (exec)
    CHECK(cudaGraphExecDestroy(exec));
  if (graph)
    CHECK(cudaGraphDestroy(graph));
  CHECK(cudaEventDestroy(e0));
  CHECK(cudaEventDestroy(e1));
  return Timing{median(t) * 1e6, *std::min_element(t.begin(), t.end()) * 1e6, useGraph};
}

// The bench's shape: 32 query heads, 8 KV heads, head dim 128, page size 16,
// `batch` sequences of `context` tokens (numPages left to the caller).
resa::PagedAttentionShape benchShape(int batch, int context) {
  resa::PagedAttentionShape s;
  s.batch = batch;
  s.numQHeads = 32;
  s.numKvHeads = 8;
  s.headDim = 128;
  s.pageSize = 16;
  s.maxPagesPerSeq = (context + s.pageSize - 1) / s.pageSize;
  return s;
}

// What a call reads and writes, for `buffers` calls the timing rotates
// among (so that they read DRAM): random K/V caches of s.numPages pages,
// queries and outputs (buffer i at q/out + i * queryElements), page tables
// over every page, shuffled unless contiguous (buffer i's rows at table + i
// * batch * maxPagesPerSeq), and lensRows lengths of `context`. Freed with
// the object.
struct BenchBuffers {
  uint16_t *k = nullptr, *v = nullptr, *q = nullptr, *out = nullptr;
  int32_t *table = nullptr, *lens = nullptr;
  BenchBuffers(const resa::PagedAttentionShape &s, int buffers, int context, int lensRows,
               bool contiguous, uint32_t seed) {
    const size_t cacheN = static_cast<size_t>(s.cacheElements());
    const size_t qN = static_cast<size_t>(s.queryElements()) * buffers;
    CHECK(cudaMalloc(&k, cacheN * 2));
    CHECK(cudaMalloc(&v, cacheN * 2));
    CHECK(cudaMalloc(&q, qN * 2));
    CHECK(cudaMalloc(&out, qN * 2));
    fill(k, cacheN, seed);
    fill(v, cacheN, seed + 1);
    fill(q, qN, seed + 2);
    std::vector<int32_t> pages(static_cast<size_t>(s.numPages));
    std::iota(pages.begin(), pages.end(), 0);
    if (!contiguous) {
      std::mt19937 rng(42);
      std::shuffle(pages.begin(), pages.end(), rng);
    }
    CHECK(cudaMalloc(&table, pages.size() * 4));
    CHECK(cudaMemcpy(table, pages.data(), pages.size() * 4, cudaMemcpyHostToDevice));
    std::vector<int32_t> hl(static_cast<size_t>(lensRows), context);
    CHECK(cudaMalloc(&lens, hl.size() * 4));
    CHECK(cudaMemcpy(lens, hl.data(), hl.size() * 4, cudaMemcpyHostToDevice));
  }
  ~BenchBuffers() {
    for (void *p : {static_cast<void *>(k), static_cast<void *>(v), static_cast<void *>(q),
                    static_cast<void *>(out), static_cast<void *>(table),
                    static_cast<void *>(lens)})
      cudaFree(p);
  }
  BenchBuffers(const BenchBuffers &) = delete;
  BenchBuffers &operator=(const BenchBuffers &) = delete;
};

// Exits unless every one of the n bf16 outputs at out is finite (each
// written, nothing read from a wrong place).
void requireFinite(const uint16_t *out, size_t n, const char *what, int batch, int context) {
  std::vector<uint16_t> ho(n);
  CHECK(cudaMemcpy(ho.data(), out, n * 2, cudaMemcpyDeviceToHost));
  for (uint16_t x : ho)
    if ((x & 0x7f80u) == 0x7f80u) {
      std::fprintf(stderr, "non-finite %s at batch %d context %d\n", what, batch, context);
      std::exit(1);
    }
}

Result runOne(int batch, int context, int variant, bool contiguous, double ceiling,
              size_t l2Bytes, bool quick) {
  resa::PagedAttentionShape s = benchShape(batch, context);
  const size_t kvBytes = size_t(2) * batch * context * s.numKvHeads * s.headDim * 2;
  const int buffers =
      static_cast<int>(std::min<size_t>(32, std::max<size_t>(1, (4 * l2Bytes + kvBytes - 1) / kvBytes)));
  s.numPages = buffers * batch * s.maxPagesPerSeq;
  const size_t qN = static_cast<size_t>(s.queryElements());
  const BenchBuffers in(s, buffers, context, batch, contiguous, 1);
  uint16_t *k = in.k, *v = in.v, *q = in.q, *out = in.out;
  int32_t *table = in.table, *lens = in.lens;

  resa::gpu::DecodeAttentionOptions opt = gOptions;
  opt.variant = variant;
  resa::gpu::DecodeAttentionPlan plan;
  CHECK(resa::gpu::planDecodeAttention(s, resa::gpu::KVDType::BF16, context, &plan, opt));
  void *ws = nullptr;
  if (plan.workspaceBytes) {
    CHECK(cudaMalloc(&ws, plan.workspaceBytes));
    CHECK(cudaMemset(ws, 0, plan.workspaceBytes));
  }
  cudaStream_t st;
  CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));

  auto call = [&](int i) {
    const int bi = i % buffers;
    resa::gpu::DecodeAttentionArgs a;
    a.q = q + qN * bi;
    a.kCache = k;
    a.vCache = v;
    a.pageTable = table + static_cast<size_t>(bi) * batch * s.maxPagesPerSeq;
    a.seqLens = lens;
    a.out = out + qN * bi;
    return resa::gpu::decodeAttention(a, plan, ws, st);
  };

  const Timing tm = timeCalls(st, call, quick ? 0.05 : 0.25, 400);

  requireFinite(out, qN, "output", batch, context);

  Result r{};
  r.batch = batch;
  r.context = context;
  r.variant = variant;
  r.contiguous = contiguous;
  r.splits = plan.numSplits;
  r.stagesPerSplit = plan.stagesPerSplit;
  r.blocksPerSm = plan.blocksPerSm;
  r.buffers = buffers;
  r.grid = plan.numSplits * s.numKvHeads * batch;
  r.medianUs = tm.medianUs;
  r.minUs = tm.minUs;
  r.bytes = static_cast<double>(kvBytes) + 2.0 * qN * 2;
  r.tbps = r.bytes / (r.medianUs * 1e-6) / 1e12;
  r.fraction = r.tbps / ceiling;
  r.graph = tm.graph;
  r.clusterMerge = plan.clusterMerge;

  CHECK(cudaStreamDestroy(st));
  cudaFree(ws);
  return r;
}


// ---- ReSA: selection + block-sparse decode ------------------------------------------

struct SparseResult {
  int batch, context, blocks, selected, buffers, splits, stagesPerSplit, grid, scoreCtas;
  double stepUs, stepMinUs, selectUs, scoreUs, topNUs, attendUs;
  double bytes, summaryBytes, kvBytes, tbps, fraction;
  bool graph;
  bool clusterMerge;  // the plan merged the splits in clusters
};

SparseResult runSparse(int batch, int context, double ceiling, size_t l2Bytes, bool quick) {
  resa::PagedAttentionShape s = benchShape(batch, context);
  const resa::BlockSelectParams params;  // kept ratio 0.1, n_min 16, 1 local block
  const int M = s.maxPagesPerSeq;
  const int n = resa::selectedBlockCount(M, params);
  const double kvSel = 2.0 * batch * n * s.numKvHeads * s.pageSize * s.headDim * 2;
  const double sums = 2.0 * batch * M * s.numKvHeads * s.headDim * 2;
  const size_t qN = static_cast<size_t>(s.queryElements());
  const double stepBytes = kvSel + sums + 2.0 * qN * 2;
  const int buffers = static_cast<int>(
      std::min<double>(64, std::max<double>(1, std::ceil(4.0 * l2Bytes / stepBytes))));
  s.numPages = buffers * batch * s.maxPagesPerSeq;

  const BenchBuffers in(s, buffers, context, batch * buffers, false, 11);
  uint16_t *k = in.k, *v = in.v, *q = in.q, *out = in.out;
  int32_t *table = in.table, *lens = in.lens;
  const size_t sumN = static_cast<size_t>(s.summaryElements());
  uint16_t *kmin, *kmax;
  int32_t *sel, *counts;
  CHECK(cudaMalloc(&kmin, sumN * 2));
  CHECK(cudaMalloc(&kmax, sumN * 2));

  cudaStream_t st;
  CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  // The summaries of every page (all buffers' rows at once).
  {
    resa::PagedAttentionShape all = s;
    all.batch = batch * buffers;
    resa::gpu::BlockSummaryArgs sa;
    sa.kCache = k;
    sa.kmin = kmin;
    sa.kmax = kmax;
    CHECK(resa::gpu::rebuildBlockSummaries(all, resa::gpu::KVDType::BF16, sa, table, lens,
                                           nullptr, context, st));
  }
  // The selection, and each of its two kernels alone (the top-n alone ranks
  // the scores the previous call left in the workspace).
  resa::gpu::BlockSelectPlan splan, scorePlan, topNPlan;
  CHECK(resa::gpu::planBlockSelect(s, resa::gpu::KVDType::BF16, context, params, &splan));
  resa::gpu::BlockSelectOptions partOnly;
  partOnly.parts = resa::gpu::BlockSelectParts::ScoreOnly;
  CHECK(resa::gpu::planBlockSelect(s, resa::gpu::KVDType::BF16, context, params, &scorePlan,
                                   partOnly));
  partOnly.parts = resa::gpu::BlockSelectParts::TopNOnly;
  CHECK(resa::gpu::planBlockSelect(s, resa::gpu::KVDType::BF16, context, params, &topNPlan,
                                   partOnly));
  resa::gpu::DecodeAttentionPlan aplan;
  CHECK(resa::gpu::planSparseDecodeAttention(s, resa::gpu::KVDType::BF16, splan.maxSelected,
                                             &aplan, gOptions));
  const int maxSel = splan.maxSelected;
  const size_t selPerBuf = static_cast<size_t>(batch) * s.numKvHeads * maxSel;
  CHECK(cudaMalloc(&sel, selPerBuf * buffers * 4));
  CHECK(cudaMalloc(&counts, static_cast<size_t>(batch) * buffers * 4));
  void *wsSel = nullptr, *wsAtt = nullptr;
  if (splan.workspaceBytes)
    CHECK(cudaMalloc(&wsSel, splan.workspaceBytes));
  if (aplan.workspaceBytes) {
    CHECK(cudaMalloc(&wsAtt, aplan.workspaceBytes));
    CHECK(cudaMemset(wsAtt, 0, aplan.workspaceBytes));
  }
  auto selectWith = [&](const resa::gpu::BlockSelectPlan &plan, int i) {
    const int bi = i % buffers;
    resa::gpu::BlockSelectArgs a;
    a.q = q + qN * bi;
    a.kmin = kmin;
    a.kmax = kmax;
    a.pageTable = table + static_cast<size_t>(bi) * batch * s.maxPagesPerSeq;
    a.seqLens = lens;
    a.selected = sel + selPerBuf * bi;
    a.maxSelected = maxSel;
    a.counts = counts + static_cast<size_t>(batch) * bi;
    return resa::gpu::selectBlocks(a, plan, wsSel, st);
  };
  auto select = [&](int i) { return selectWith(splan, i); };
  auto attend = [&](int i) {
    const int bi = i % buffers;
    resa::gpu::DecodeAttentionArgs a;
    a.q = q + qN * bi;
    a.kCache = k;
    a.vCache = v;
    a.pageTable = table + static_cast<size_t>(bi) * batch * s.maxPagesPerSeq;
    a.seqLens = lens;
    a.out = out + qN * bi;
    a.selected = sel + selPerBuf * bi;
    a.selectedCounts = counts + static_cast<size_t>(batch) * bi;
    a.maxSelected = maxSel;
    return resa::gpu::decodeAttention(a, aplan, wsAtt, st);
  };
  auto step = [&](int i) {
    const cudaError_t e = select(i);
    return e != cudaSuccess ? e : attend(i);
  };
  // Fill every buffer's selection once (outside any capture).
  for (int i = 0; i < buffers; ++i)
    CHECK(step(i));
  CHECK(cudaStreamSynchronize(st));
  std::vector<int32_t> hc(static_cast<size_t>(batch));
  CHECK(cudaMemcpy(hc.data(), counts, hc.size() * 4, cudaMemcpyDeviceToHost));
  for (int32_t c : hc)
    if (c != n) {
      std::fprintf(stderr, "selected %d blocks, expected %d\n", c, n);
      std::exit(1);
    }

  const double budget = quick ? 0.05 : 0.2;  // seconds of replays per timing
  const Timing tStep = timeCalls(st, step, budget, 300);
  const Timing tSel = timeCalls(st, select, budget, 300);
  const Timing tScore = timeCalls(st, [&](int i) { return selectWith(scorePlan, i); }, budget, 300);
  const Timing tTopN = timeCalls(st, [&](int i) { return selectWith(topNPlan, i); }, budget, 300);
  const Timing tAtt = timeCalls(st, attend, budget, 300);

  requireFinite(out, qN, "sparse output", batch, context);

  SparseResult r{};
  r.batch = batch;
  r.context = context;
  r.blocks = M;
  r.selected = n;
  r.buffers = buffers;
  r.splits = aplan.numSplits;
  r.stagesPerSplit = aplan.stagesPerSplit;
  r.grid = aplan.numSplits * s.numKvHeads * batch;
  r.scoreCtas = ((splan.maxBlocks + splan.blocksPerCta - 1) / splan.blocksPerCta) * batch;
  r.stepUs = tStep.medianUs;
  r.stepMinUs = tStep.minUs;
  r.selectUs = tSel.medianUs;
  r.scoreUs = tScore.medianUs;
  r.topNUs = tTopN.medianUs;
  r.attendUs = tAtt.medianUs;
  r.bytes = stepBytes;
  r.summaryBytes = sums;
  r.kvBytes = kvSel;
  r.tbps = r.bytes / (r.stepUs * 1e-6) / 1e12;
  r.fraction = r.tbps / ceiling;
  r.graph = tStep.graph && tSel.graph && tScore.graph && tTopN.graph && tAtt.graph;
  r.clusterMerge = aplan.clusterMerge;

  CHECK(cudaStreamDestroy(st));
  cudaFree(wsSel);
  cudaFree(wsAtt);
  cudaFree(kmin);
  cudaFree(kmax);
  cudaFree(sel);
  cudaFree(counts);
  return r;
}

} // namespace

int resa::bench::kernels(int argc, char **argv) {
  std::string outPath = "kernels-decode.json";
  std::vector<int> batches = {1, 8};
  std::vector<int> contexts = {4096, 16384, 65536, 131072, 262144};
  bool variants = false, quick = false, overhead = false, sparse = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" && i + 1 < argc)
      outPath = argv[++i];
    else if (a == "--batches" && i + 1 < argc)
      batches = parseList(argv[++i]);
    else if (a == "--contexts" && i + 1 < argc)
      contexts = parseList(argv[++i]);
    else if (a == "--variants")
      variants = true;
    else if (a == "--quick")
      quick = true;
    else if (a == "--overhead")
      overhead = true;
    else if (a == "--sparse")
      sparse = true;
    else if (a == "--workspace-merge")
      gOptions.clusterMerge = false;
    else if (a == "--splits" && i + 1 < argc)
      gOptions.forceSplits = std::atoi(argv[++i]);
    else {
      const bool help = a == "--help" || a == "-h";
      if (!help)
        std::fprintf(stderr, "resa-bench kernels: unknown option or missing value: %s\n",
                     a.c_str());
      std::fprintf(help ? stdout : stderr,
                   "usage: resa-bench kernels [--out FILE.json] [--batches 1,8] "
                   "[--contexts 4096,...] [--variants] [--overhead] [--quick] [--sparse] "
                   "[--workspace-merge] [--splits N]\n"
                   "CUDA decode attention (dense; with --sparse ReSA's selection and "
                   "block-sparse step) against the copy ceiling of the same run "
                   "(bench/NOTES.md).\n");
      return help ? 0 : 2;
    }
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("SKIPPED: resa-bench kernels (no CUDA device)\n");
    return 0;
  }
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  const double ceiling = copyCeiling();
  std::printf("device %s, %d SMs, L2 %.0f MB; copy ceiling %.3f TB/s (read + write)\n",
              prop.name, prop.multiProcessorCount, prop.l2CacheSize / 1e6, ceiling);

  std::vector<Result> results;
  for (int b : batches)
    for (int c : contexts)
      results.push_back(runOne(b, c, 0, false, ceiling, prop.l2CacheSize, quick));
  std::vector<Result> extra;
  if (variants) {
    for (int v = 0; resa::gpu::decodeAttentionVariantName(v); ++v)
      for (auto bc : {std::pair<int, int>{1, 16384}, {1, 65536}, {1, 262144}, {8, 65536}})
        extra.push_back(runOne(bc.first, bc.second, v, false, ceiling, prop.l2CacheSize, quick));
    extra.push_back(runOne(1, 65536, 0, true, ceiling, prop.l2CacheSize, quick));
  }
  if (overhead) {
    // The fixed cost of one call: contexts too short to matter.
    for (int v : {0, 1})
      for (int c : {16, 256, 1024})
        extra.push_back(runOne(1, c, v, false, ceiling, prop.l2CacheSize, quick));
    extra.push_back(runOne(8, 65536, 0, true, ceiling, prop.l2CacheSize, quick));
  }

  std::vector<SparseResult> sparseResults;
  if (sparse)
    for (int b : batches)
      for (int c : contexts)
        sparseResults.push_back(runSparse(b, c, ceiling, prop.l2CacheSize, quick));

  auto print = [](const Result &r) {
    std::printf("%5d %8d %-14s %-6s %6d %5d %4d %4d %10.2f %10.2f %9.1f %7.3f %6.3f %s\n", r.batch,
                r.context, resa::gpu::decodeAttentionVariantName(r.variant),
                r.contiguous ? "contig" : "shuf", r.splits, r.grid, r.blocksPerSm, r.buffers,
                r.medianUs, r.minUs, r.bytes / 1e6, r.tbps, r.fraction,
                r.splits > 1 ? (r.clusterMerge ? "cl" : "ws") : "-");
  };
  const char *hdr = "batch  context variant        pages  splits  grid b/SM bufs  median_us     min_us  "
                    "bytes_MB    TB/s  frac merge\n";
  if (!extra.empty()) {
    std::printf("\nvariants:\n%s", hdr);
    for (const auto &r : extra)
      print(r);
  }
  std::printf("\nresa dense decode, bf16, 32 q / 8 kv heads, d 128, page 16:\n%s", hdr);
  for (const auto &r : results)
    print(r);

  if (sparse) {
    std::printf("\nresa ReSA step (selection + block-sparse decode), kept 0.1, b 16, bf16, 32 q / 8 kv, "
                "d 128:\n");
    std::printf("batch  context blocks   sel bufs splits scoreCTAs  step_us   min_us  select_us "
                "(score    topn) attend_us  bytes_MB  floor_us   TB/s  frac\n");
    for (const auto &r : sparseResults)
      std::printf("%5d %8d %6d %5d %4d %6d %9d %8.2f %8.2f %10.2f %7.2f %7.2f %9.2f %9.1f %9.2f "
                  "%6.3f %5.3f\n",
                  r.batch, r.context, r.blocks, r.selected, r.buffers, r.splits, r.scoreCtas,
                  r.stepUs, r.stepMinUs, r.selectUs, r.scoreUs, r.topNUs, r.attendUs, r.bytes / 1e6,
                  r.bytes / (ceiling * 1e12) * 1e6, r.tbps, r.fraction);
  }

  FILE *f = std::fopen(outPath.c_str(), "w");
  if (!f) {
    std::perror(outPath.c_str());
    return 1;
  }
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::fprintf(f, "{\n  \"bench\": \"resa-bench-kernels\",\n  \"date\": \"%s\",\n", date);
  std::fprintf(f, "  \"device\": \"%s\",\n  \"sms\": %d,\n  \"copy_ceiling_tbps\": %.4f,\n", prop.name,
               prop.multiProcessorCount, ceiling);
  std::fprintf(f, "  \"shape\": {\"q_heads\": 32, \"kv_heads\": 8, \"head_dim\": 128, "
                  "\"page_size\": 16, \"dtype\": \"bf16\"},\n");
  auto dump = [&](const char *key, const std::vector<Result> &rs, bool last) {
    std::fprintf(f, "  \"%s\": [\n", key);
    for (size_t i = 0; i < rs.size(); ++i) {
      const Result &r = rs[i];
      std::fprintf(f,
                   "    {\"batch\": %d, \"context\": %d, \"variant\": \"%s\", \"pages\": \"%s\", "
                   "\"splits\": %d, \"stages_per_split\": %d, \"grid\": %d, \"blocks_per_sm\": %d, "
                   "\"buffers\": %d, \"median_us\": %.3f, \"min_us\": %.3f, \"bytes\": %.0f, "
                   "\"tbps\": %.4f, \"fraction_of_ceiling\": %.4f, \"cuda_graph\": %s, "
                   "\"cluster_merge\": %s}%s\n",
                   r.batch, r.context, resa::gpu::decodeAttentionVariantName(r.variant),
                   r.contiguous ? "contiguous" : "shuffled", r.splits, r.stagesPerSplit, r.grid,
                   r.blocksPerSm, r.buffers, r.medianUs, r.minUs, r.bytes, r.tbps, r.fraction,
                   r.graph ? "true" : "false", r.clusterMerge ? "true" : "false",
                   i + 1 < rs.size() ? "," : "");
    }
    std::fprintf(f, "  ]%s\n", last ? "" : ",");
  };
  dump("variants", extra, false);
  dump("results", results, sparseResults.empty());
  if (!sparseResults.empty()) {
    std::fprintf(f, "  \"sparse_params\": {\"kept_ratio\": 0.1, \"min_blocks\": 16, "
                    "\"local_blocks\": 1, \"block_size\": 16},\n  \"sparse\": [\n");
    for (size_t i = 0; i < sparseResults.size(); ++i) {
      const SparseResult &r = sparseResults[i];
      std::fprintf(f,
                   "    {\"batch\": %d, \"context\": %d, \"blocks\": %d, \"selected\": %d, "
                   "\"buffers\": %d, \"splits\": %d, \"stages_per_split\": %d, \"grid\": %d, "
                   "\"score_ctas\": %d, \"median_us\": %.3f, \"min_us\": %.3f, "
                   "\"select_median_us\": %.3f, \"score_median_us\": %.3f, "
                   "\"topn_median_us\": %.3f, \"attend_median_us\": %.3f, \"bytes\": %.0f, "
                   "\"summary_bytes\": %.0f, \"kv_bytes\": %.0f, \"tbps\": %.4f, "
                   "\"fraction_of_ceiling\": %.4f, \"cuda_graph\": %s, \"cluster_merge\": %s}%s\n",
                   r.batch, r.context, r.blocks, r.selected, r.buffers, r.splits, r.stagesPerSplit,
                   r.grid, r.scoreCtas, r.stepUs, r.stepMinUs, r.selectUs, r.scoreUs, r.topNUs,
                   r.attendUs, r.bytes,
                   r.summaryBytes, r.kvBytes, r.tbps, r.fraction, r.graph ? "true" : "false",
                   r.clusterMerge ? "true" : "false", i + 1 < sparseResults.size() ? "," : "");
    }
    std::fprintf(f, "  ]\n");
  }
  std::fprintf(f, "}\n");
  std::fclose(f);
  std::printf("wrote %s\n", outPath.c_str());
  return 0;
}
