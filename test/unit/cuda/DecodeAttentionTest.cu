// The CUDA decode-attention kernel against the exact fp32 CPU reference
// (pagedDecodeAttentionCpu), on fresh random inputs every run, its lse output
// against the same sums in double, and shared-prefix decode
// (pagedDecodeShared, "cascade_" cases) against the reference over the full
// sequences; with the block-sparse cases of BlockSparseTest.cu (summaries,
// selection, sparse attention against selectBlocksCpu /
// pagedSparseAttentionCpu).
//
// A plain program (no GoogleTest: it must run where only the CUDA toolkit is
// installed). Each case prints one PASS/FAIL line; without a CUDA device every
// case prints "SKIPPED: <name> (no CUDA device)" and the program exits 0.
// Exit status 1 when any case fails.
//
//   resa-cuda-tests [--filter SUBSTRING] [--seed N]
//   RESA_TEST_SEED=N overrides the seed too (it is printed at the start).
#include "CudaTestUtil.h"
#include "resa/cuda/DecodeAttention.h"
#include "resa/cuda/PagedAttention.h"
#include "resa/kernels/PagedKV.h"
#include "resa/kernels/Tensor.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using resa::PagedAttentionShape;
using resa::gpu::KVDType;

namespace {

struct Case {
  std::string name;
  KVDType dtype = KVDType::BF16;
  int hq = 32, hkv = 8, d = 128, ps = 16;
  std::vector<int> lens;  // one per sequence
  int forceSplits = 0;
  int variant = 0;
  // DecodeAttentionOptions::clusterMerge, and whether the plan must (1) or
  // must not (0) merge in a cluster (-1: either).
  bool clusterMerge = true;
  int expectClusterMerge = -1;
  float scale = 0.0f;
  // > 0: sequences 1.. hold sequence 0's first sharedPages pages (the same
  // page ids, as GSR's candidates forked from one prompt do), then their own.
  int sharedPages = 0;
  bool outF32 = false;  // the output in fp32 (DecodeAttentionArgs::outF32)
  // Shared-prefix decode (pagedDecodeShared with sharedPages): whether it
  // must take the shared-prefix path (true) or fall back to pagedDecode, and
  // the maxSeqLen it is given (0: the longest sequence; more: a CUDA graph's
  // length bucket).
  bool cascade = false;
  bool expectCascade = true;
  int maxSeqLen = 0;
  // DecodeAttentionArgs::freshTokens: stages of the rows before them are
  // loaded before the (no-op, outside a PDL launch) wait.
  int freshTokens = 0;
};

using resa::cudatest::DevBuf;
using resa::cudatest::Failure;
using resa::cudatest::fromBits;
using resa::cudatest::toBits;

// A case's inputs on the host: the shape and tables, the values (fp32,
// exactly representable in the dtype) and their dtype bits, the exact CPU
// output.
struct Inputs {
  PagedAttentionShape s;
  int maxLen = 0;
  std::vector<int32_t> table, lens;
  std::vector<float> qf, kf, vf, ref;
  std::vector<uint16_t> qb, kb, vb;
};

Inputs makeInputs(const Case &c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Inputs in;
  in.maxLen = *std::max_element(c.lens.begin(), c.lens.end());

  resa::cudatest::PagedCache pc = resa::cudatest::makePagedCache(
      c.hq, c.hkv, c.d, c.ps, c.lens, c.sharedPages, (c.maxSeqLen + c.ps - 1) / c.ps, c.dtype,
      rng, [&] { return normal(rng); });
  in.s = pc.s;
  in.table = std::move(pc.table);
  in.kf = std::move(pc.kf);
  in.vf = std::move(pc.vf);
  const PagedAttentionShape &s = in.s;
  const size_t cacheN = static_cast<size_t>(s.cacheElements());
  // Queries with a larger spread, so that the softmax is far from uniform.
  const size_t qN = static_cast<size_t>(s.queryElements());
  in.qf.resize(qN);
  for (auto &x : in.qf)
    x = fromBits(toBits(2.0f * normal(rng), c.dtype), c.dtype);

  in.kb.resize(cacheN);
  in.vb.resize(cacheN);
  in.qb.resize(qN);
  for (size_t i = 0; i < cacheN; ++i) {
    in.kb[i] = toBits(in.kf[i], c.dtype);
    in.vb[i] = toBits(in.vf[i], c.dtype);
  }
  for (size_t i = 0; i < qN; ++i)
    in.qb[i] = toBits(in.qf[i], c.dtype);

  in.ref.resize(qN);
  in.lens.assign(c.lens.begin(), c.lens.end());
  resa::pagedDecodeAttentionCpu(s, in.qf.data(), in.kf.data(), in.vf.data(), in.table.data(),
                                in.lens.data(), c.scale, in.ref.data());
  return in;
}

// The inputs on the device.
struct DeviceInputs {
  DevBuf<uint16_t> k, v, q;
  DevBuf<int32_t> table, lens;
  explicit DeviceInputs(const Inputs &in)
      : k(in.kb.size()), v(in.vb.size()), q(in.qb.size()), table(in.table.size()),
        lens(in.lens.size()) {
    k.upload(in.kb);
    v.upload(in.vb);
    q.upload(in.qb);
    table.upload(in.table);
    lens.upload(in.lens);
  }
  // The call's arguments, but for the output.
  resa::gpu::DecodeAttentionArgs args(float scale) const {
    resa::gpu::DecodeAttentionArgs a;
    a.q = q.p;
    a.kCache = k.p;
    a.vCache = v.p;
    a.pageTable = table.p;
    a.seqLens = lens.p;
    a.scale = scale;
    return a;
  }
};

// The output rows ([batch][hq][d], as floats) against the CPU reference.
std::string checkOutput(const Case &c, const Inputs &in, const std::vector<float> &got) {
  return resa::cudatest::checkAttentionRows(in.s, c.lens, got, in.ref, c.dtype);
}

// The kernel's lse (DecodeAttentionArgs::lse: base 2, log2 sum_t 2^(scale *
// log2(e) * q . k_t); -inf for an empty sequence) against the same sum in
// double over the fp32 inputs. Returns the summary, throws Failure.
std::string checkLse(const Case &c, const Inputs &in, const std::vector<float> &lse) {
  const PagedAttentionShape &s = in.s;
  const double scale =
      c.scale != 0.0f ? c.scale : static_cast<double>(resa::defaultAttentionScale(c.d));
  const double toLog2 = scale * 1.4426950408889634;
  double worst = 0.0;
  std::vector<double> sc;
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < c.hq; ++h) {
      const float got = lse[static_cast<size_t>(b) * c.hq + h];
      const std::string where = "lse[" + std::to_string(b) + "][" + std::to_string(h) + "]";
      if (c.lens[b] == 0) {
        if (!(std::isinf(got) && got < 0))
          throw Failure{where + " = " + std::to_string(got) + " for an empty sequence, not -inf"};
        continue;
      }
      const int kvh = h / s.group();
      const float *q = in.qf.data() + resa::queryOffset(s, b, h);
      sc.assign(static_cast<size_t>(c.lens[b]), 0.0);
      double mx = -INFINITY;
      for (int t = 0; t < c.lens[b]; ++t) {
        const int page = in.table[static_cast<size_t>(b) * s.maxPagesPerSeq + t / c.ps];
        const float *k = in.kf.data() + resa::pagedKVOffset(s, page, kvh, t % c.ps);
        double dot = 0.0;
        for (int j = 0; j < c.d; ++j)
          dot += static_cast<double>(q[j]) * k[j];
        sc[static_cast<size_t>(t)] = dot * toLog2;
        mx = std::max(mx, sc[static_cast<size_t>(t)]);
      }
      double sum = 0.0;
      for (double x : sc)
        sum += std::exp2(x - mx);
      const double ref = mx + std::log2(sum);
      const double err = std::fabs(static_cast<double>(got) - ref);
      if (!(err <= 1e-3 + 1e-4 * std::fabs(ref)))
        throw Failure{where + " = " + std::to_string(got) + ", expected " + std::to_string(ref) +
                      " (base-2 log-sum-exp of the scaled scores)"};
      worst = std::max(worst, err);
    }
  char line[64];
  std::snprintf(line, sizeof line, "lse within %.1e", worst);
  return line;
}

// The output as floats: dtype bits or fp32.
std::vector<float> outputValues(const Case &c, const std::vector<uint16_t> &bits) {
  std::vector<float> v(bits.size());
  for (size_t i = 0; i < bits.size(); ++i)
    v[i] = fromBits(bits[i], c.dtype);
  return v;
}

// Runs one case of decodeAttention (with its lse output); returns a one-line
// summary, throws Failure.
std::string runCase(const Case &c, uint64_t seed) {
  const Inputs in = makeInputs(c, seed);
  const PagedAttentionShape &s = in.s;
  resa::gpu::DecodeAttentionOptions opt;
  opt.forceSplits = c.forceSplits;
  opt.variant = c.variant;
  opt.clusterMerge = c.clusterMerge;
  resa::gpu::DecodeAttentionPlan plan;
  CUDA_OK(resa::gpu::planDecodeAttention(s, c.dtype, in.maxLen, &plan, opt));
  if (c.expectClusterMerge >= 0 && plan.clusterMerge != (c.expectClusterMerge == 1))
    throw Failure{std::string("the plan ") + (plan.clusterMerge ? "merges" : "does not merge") +
                  " its " + std::to_string(plan.numSplits) + " splits in a cluster"};

  const size_t qN = in.qb.size();
  const size_t outBytes = qN * (c.outF32 ? 4 : 2);
  const size_t rows = static_cast<size_t>(s.batch) * c.hq;
  DeviceInputs dev(in);
  DevBuf<char> dout(outBytes), ws(plan.workspaceBytes);
  DevBuf<float> dlse(rows);
  if (plan.workspaceBytes)
    CUDA_OK(cudaMemset(ws.p, 0, plan.workspaceBytes));
  resa::gpu::DecodeAttentionArgs a = dev.args(c.scale);
  a.freshTokens = c.freshTokens;
  a.out = dout.p;
  a.lse = dlse.p;
  a.outF32 = c.outF32;

  // Three runs, the output and lse poisoned with NaN (0xff bytes) before
  // each: every element must be written, and the runs must agree bit for bit
  // (the merge order is fixed, and a counter left non-zero would leave NaN
  // behind).
  std::vector<char> got(outBytes), first(outBytes);
  std::vector<float> lse(rows), firstLse(rows);
  for (int run = 0; run < 3; ++run) {
    CUDA_OK(cudaMemset(dout.p, 0xff, outBytes));
    CUDA_OK(cudaMemset(dlse.p, 0xff, rows * 4));
    CUDA_OK(resa::gpu::decodeAttention(a, plan, ws.p, nullptr));
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(got.data(), dout.p, outBytes, cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(lse.data(), dlse.p, rows * 4, cudaMemcpyDeviceToHost));
    if (run == 0) {
      first = got;
      firstLse = lse;
    } else if (got != first ||
               std::memcmp(lse.data(), firstLse.data(), rows * 4) != 0) {
      throw Failure{"run " + std::to_string(run) + " differs from run 0 (race or stale counter)"};
    }
  }

  std::vector<float> values(qN);
  if (c.outF32) {
    std::memcpy(values.data(), got.data(), outBytes);
  } else {
    std::vector<uint16_t> bits(qN);
    std::memcpy(bits.data(), got.data(), outBytes);
    values = outputValues(c, bits);
  }
  const std::string lseLine = checkLse(c, in, lse);
  return checkOutput(c, in, values) + ", " + lseLine + ", splits " +
         std::to_string(plan.numSplits) + " x " + std::to_string(plan.stagesPerSplit) +
         " stages" + (plan.clusterMerge ? ", merged in a cluster" : "");
}

// Runs one case of shared-prefix decode (pagedDecodeShared) against the CPU
// reference of the full sequences: three eager runs and a CUDA graph replay,
// the output poisoned before each, all bit-identical. Returns a one-line
// summary, throws Failure.
std::string runCascadeCase(const Case &c, uint64_t seed) {
  const Inputs in = makeInputs(c, seed);
  const PagedAttentionShape &s = in.s;
  const int32_t maxSeqLen = c.maxSeqLen > 0 ? c.maxSeqLen : in.maxLen;
  const size_t qN = in.qb.size();
  DeviceInputs dev(in);
  DevBuf<uint16_t> dout(qN);
  cudaStream_t stream = nullptr;
  CUDA_OK(cudaStreamCreate(&stream));
  struct StreamGuard {
    cudaStream_t s;
    ~StreamGuard() { cudaStreamDestroy(s); }
  } guard{stream};
  resa::gpu::DeviceAllocator alloc;
  resa::gpu::PagedAttentionState state(alloc, stream);
  resa::gpu::DecodeAttentionArgs a = dev.args(c.scale);
  a.freshTokens = c.freshTokens;
  a.out = dout.p;

  std::vector<uint16_t> got(qN), first(qN);
  auto fetch = [&](const char *what) {
    CUDA_OK(cudaStreamSynchronize(stream));
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaMemcpy(got.data(), dout.p, qN * 2, cudaMemcpyDeviceToHost));
    if (got != first)
      throw Failure{std::string(what) + " differs from run 0 (race, stale counter or workspace)"};
  };
  for (int run = 0; run < 3; ++run) {
    CUDA_OK(cudaMemsetAsync(dout.p, 0xff, qN * 2, stream));
    const bool ran = resa::gpu::pagedDecodeShared(state, s, c.dtype, a, c.sharedPages, maxSeqLen);
    if (ran != c.expectCascade)
      throw Failure{std::string(ran ? "took" : "did not take") +
                    " the shared-prefix path (expected the " +
                    (c.expectCascade ? "shared-prefix path" : "pagedDecode fallback") + ")"};
    if (run == 0) {
      CUDA_OK(cudaStreamSynchronize(stream));
      CUDA_OK(cudaGetLastError());
      CUDA_OK(cudaMemcpy(first.data(), dout.p, qN * 2, cudaMemcpyDeviceToHost));
    } else {
      fetch(("run " + std::to_string(run)).c_str());
    }
  }
  // The same call captured into a CUDA graph (as the runtime does, with the
  // plans and workspaces already made) and replayed twice.
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
  try {
    resa::gpu::pagedDecodeShared(state, s, c.dtype, a, c.sharedPages, maxSeqLen);
  } catch (...) {
    cudaStreamEndCapture(stream, &graph);
    if (graph)
      cudaGraphDestroy(graph);
    throw;
  }
  CUDA_OK(cudaStreamEndCapture(stream, &graph));
  struct GraphGuard {
    cudaGraph_t g;
    cudaGraphExec_t *e;
    ~GraphGuard() {
      if (*e)
        cudaGraphExecDestroy(*e);
      cudaGraphDestroy(g);
    }
  } graphGuard{graph, &exec};
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 2; ++replay) {
    CUDA_OK(cudaMemsetAsync(dout.p, 0xff, qN * 2, stream));
    CUDA_OK(cudaGraphLaunch(exec, stream));
    fetch(("graph replay " + std::to_string(replay)).c_str());
  }
  return checkOutput(c, in, outputValues(c, first)) +
         (c.expectCascade ? ", shared-prefix path" : ", fallback") + ", graph replays identical";
}

std::vector<Case> allCases() {
  std::vector<Case> cases;
  auto add = [&](Case c) { cases.push_back(std::move(c)); };
  // A case of this name, dtype, heads, head dim, page size and lengths.
  auto shaped = [](const char *name, KVDType dt, int hq, int hkv, int d, int ps,
                   const std::vector<int> &lens) {
    Case c;
    c.name = name;
    c.dtype = dt;
    c.hq = hq;
    c.hkv = hkv;
    c.d = d;
    c.ps = ps;
    c.lens = lens;
    return c;
  };
  const std::vector<std::vector<int>> batches = {
      {1}, {15}, {17}, {1000}, {4097}, {17, 1000, 4097}, {1, 31, 33}};
  for (KVDType dt : {KVDType::BF16, KVDType::F16})
    for (int d : {128, 64})
      for (auto heads : {std::pair<int, int>{32, 8}, std::pair<int, int>{8, 8}})
        for (const auto &lens : batches) {
          if (dt == KVDType::F16 && lens.size() == 1 && lens[0] != 4097 && lens[0] != 17)
            continue;  // f16 shares the code path: a subset suffices
          Case c;
          c.dtype = dt;
          c.d = d;
          c.hq = heads.first;
          c.hkv = heads.second;
          c.lens = lens;
          std::string l;
          for (int x : lens)
            l += (l.empty() ? "" : ",") + std::to_string(x);
          c.name = std::string(dt == KVDType::BF16 ? "bf16" : "f16") + "_d" + std::to_string(d) +
                   "_q" + std::to_string(c.hq) + "kv" + std::to_string(c.hkv) + "_len" + l;
          add(c);
        }
  // Forced splits: one block per sequence (direct output), and split counts
  // that do not divide the context; those a cluster holds also merged
  // through the workspace.
  for (int fs : {1, 3, 7, 64}) {
    for (bool cluster : {true, false}) {
      if (!cluster && (fs == 1 || fs == 64))
        continue;
      Case c;
      c.lens = {4097, 1000, 0};
      c.forceSplits = fs;
      c.clusterMerge = cluster;
      c.expectClusterMerge = cluster && fs > 1 && fs <= 16 ? -1 : 0;
      c.name = "bf16_d128_q32kv8_splits" + std::to_string(fs) + "_len4097,1000,0" +
               (cluster ? "" : "_wsmerge");
      add(c);
    }
  }
  // The bench's shape at 16K, batch 1, in 8 splits (one block an SM): the
  // H200 holds its 8 clusters of 8 at once, so the splits merge in clusters.
  // (Its 8 clusters of 16, the plan's own split, do not all fit: measured.)
  {
    Case c;
    c.lens = {16384};
    c.forceSplits = 8;
    c.expectClusterMerge = 1;
    c.name = "cluster_bf16_d128_q32kv8_splits8_len16384";
    add(c);
  }
  // 16-head blocks (GQA group 16) merging many splits.
  {
    Case c = shaped("bf16_d128_q32kv2_splits40_len4097,1000", KVDType::BF16, 32, 2, 128, 16,
                    {4097, 1000});
    c.forceSplits = 40;
    add(c);
  }
  // Tuning variants of the bench shape.
  for (int v = 1; resa::gpu::decodeAttentionVariantName(v); ++v) {
    Case c;
    c.lens = {4097, 999};
    c.variant = v;
    c.name = std::string("bf16_d128_q32kv8_variant_") + resa::gpu::decodeAttentionVariantName(v) +
             "_len4097,999";
    add(c);
  }
  // Group sizes that pad (7 -> 8 heads per block; 12 -> 16), that take 16
  // heads per block (16: MMA rows 8-15 used), that need two head chunks of 16
  // (32, 20), group 2; other page sizes (8, 32, 64: larger than a stage); a
  // non-default scale.
  struct Extra { const char *name; int hq, hkv, d, ps; std::vector<int> lens; float scale; };
  const std::vector<Extra> extras = {
      {"bf16_d128_q28kv4_len3000,77", 28, 4, 128, 16, {3000, 77}, 0.0f},
      {"bf16_d128_q32kv2_len2049", 32, 2, 128, 16, {2049}, 0.0f},
      {"bf16_d128_q24kv2_len1500,31", 24, 2, 128, 16, {1500, 31}, 0.0f},
      {"bf16_d64_q32kv2_len3001", 32, 2, 64, 16, {3001}, 0.0f},
      {"bf16_d128_q32kv1_len777,2050", 32, 1, 128, 16, {777, 2050}, 0.0f},
      {"bf16_d128_q40kv2_len1030", 40, 2, 128, 16, {1030}, 0.0f},
      {"bf16_d128_q64kv4_scale0.2_len65537", 64, 4, 128, 16, {65537}, 0.2f},
      {"bf16_d64_q16kv8_len1500", 16, 8, 64, 16, {1500}, 0.0f},
      {"bf16_d128_q32kv8_ps8_len1001", 32, 8, 128, 8, {1001}, 0.0f},
      {"bf16_d128_q32kv8_ps32_len1001,33", 32, 8, 128, 32, {1001, 33}, 0.0f},
      {"bf16_d128_q32kv8_ps64_len1001,65,5", 32, 8, 128, 64, {1001, 65, 5}, 0.0f},
      {"bf16_d64_q8kv8_ps64_len2000", 8, 8, 64, 64, {2000}, 0.0f},
      {"bf16_d128_q32kv8_scale0.3_len777", 32, 8, 128, 16, {777}, 0.3f},
      {"bf16_d128_q32kv8_len65537", 32, 8, 128, 16, {65537}, 0.0f},
  };
  for (const auto &x : extras) {
    Case c = shaped(x.name, KVDType::BF16, x.hq, x.hkv, x.d, x.ps, x.lens);
    c.scale = x.scale;
    add(c);
  }
  // Sequences sharing a page-table prefix (GSR's candidates: the blocks of
  // all sequences for one split run together and read the same pages): four
  // candidates of 5 own tokens after a 4096-token prompt; own tails of
  // different lengths with splits crossing the shared / own boundary; fully
  // shared tables (f16, head dim 64); pages larger than a stage.
  struct Shared { const char *name; KVDType dt; int hq, hkv, d, ps; std::vector<int> lens;
                  int sharedPages, forceSplits; };
  const std::vector<Shared> shared = {
      {"bf16_d128_q32kv8_shared256_len4101x4", KVDType::BF16, 32, 8, 128, 16,
       {4101, 4101, 4101, 4101}, 256, 0},
      {"bf16_d128_q32kv8_shared64_splits7_len1024,1500,1100,2048", KVDType::BF16, 32, 8, 128, 16,
       {1024, 1500, 1100, 2048}, 64, 7},
      {"f16_d64_q8kv8_shared128_len2048x3", KVDType::F16, 8, 8, 64, 16, {2048, 2048, 2048}, 128,
       0},
      {"bf16_d128_q32kv8_ps64_shared15_len1001,1100", KVDType::BF16, 32, 8, 128, 64, {1001, 1100},
       15, 0},
  };
  for (const auto &x : shared) {
    Case c = shaped(x.name, x.dt, x.hq, x.hkv, x.d, x.ps, x.lens);
    c.sharedPages = x.sharedPages;
    c.forceSplits = x.forceSplits;
    add(c);
  }
  // The output in fp32 (what shared-prefix decode merges): one block per
  // sequence (written by finishBlock's direct path) and split merges, with
  // an empty sequence; two head chunks.
  for (int fs : {1, 5}) {
    Case c;
    c.lens = {4097, 1000, 0};
    c.forceSplits = fs;
    c.outF32 = true;
    c.name = "bf16_d128_q32kv8_f32out_splits" + std::to_string(fs) + "_len4097,1000,0";
    add(c);
  }
  {
    Case c;
    c.dtype = KVDType::F16;
    c.hq = 32;
    c.hkv = 2;
    c.d = 64;
    c.lens = {2049, 3};
    c.outF32 = true;
    c.name = "f16_d64_q32kv2_f32out_len2049,3";
    add(c);
  }
  // Shared-prefix decode (pagedDecodeShared) against the full sequences:
  // B = 2..5, GQA groups 4 and 1, head dims 128 and 64, bf16 and f16, page
  // sizes 8, 16 and 64, prefixes of one page to 256, own parts of 0 to 54
  // tokens, lengths off the page size; a length bucket larger than the
  // longest sequence (the runtime's CUDA graphs plan for one); packed groups
  // of 16 (4 x 4, 2 x 8: one block of 16 heads reads the prefix once) and 20
  // (5 x 4: two blocks). Then the fallbacks to pagedDecode: no shared page,
  // one sequence, and a group of 16 (packing 2 x 16 heads reads the prefix
  // as often as 2 sequences do).
  struct Cascade { const char *name; KVDType dt; int hq, hkv, d, ps; std::vector<int> lens;
                   int sharedPages, maxSeqLen; bool expect; };
  const std::vector<Cascade> cascades = {
      {"cascade_bf16_d128_q32kv8_shared256_len4101,4103,4097,4150", KVDType::BF16, 32, 8, 128,
       16, {4101, 4103, 4097, 4150}, 256, 0, true},
      {"cascade_bf16_d128_q32kv8_shared256_bucket8192_len4101,4103,4097,4150", KVDType::BF16, 32,
       8, 128, 16, {4101, 4103, 4097, 4150}, 256, 8192, true},
      {"cascade_bf16_d128_q32kv8_shared1_len17,40", KVDType::BF16, 32, 8, 128, 16, {17, 40}, 1, 0,
       true},
      {"cascade_f16_d128_q32kv8_shared64_len1025,1100,1030", KVDType::F16, 32, 8, 128, 16,
       {1025, 1100, 1030}, 64, 0, true},
      {"cascade_bf16_d128_q32kv8_shared64_own0_len1024,1030", KVDType::BF16, 32, 8, 128, 16,
       {1024, 1030}, 64, 0, true},
      {"cascade_bf16_d64_q8kv8_shared100_len1601,1605,1700,1650,1610", KVDType::BF16, 8, 8, 64, 16,
       {1601, 1605, 1700, 1650, 1610}, 100, 0, true},
      {"cascade_f16_d64_q16kv4_shared30_len481,500,490,520,483", KVDType::F16, 16, 4, 64, 16,
       {481, 500, 490, 520, 483}, 30, 0, true},
      {"cascade_f16_d128_q4kv4_shared1_len17,17", KVDType::F16, 4, 4, 128, 16, {17, 17}, 1, 0,
       true},
      {"cascade_bf16_d128_q32kv8_ps64_shared15_len1001,1100,961", KVDType::BF16, 32, 8, 128, 64,
       {1001, 1100, 961}, 15, 0, true},
      {"cascade_bf16_d64_q32kv8_ps8_shared33_len265,270,300,280", KVDType::BF16, 32, 8, 64, 8,
       {265, 270, 300, 280}, 33, 0, true},
      {"cascade_fallback_bf16_d128_q32kv8_shared0_len100,200,300", KVDType::BF16, 32, 8, 128, 16,
       {100, 200, 300}, 0, 0, false},
      {"cascade_fallback_bf16_d128_q32kv8_batch1_shared10_len1000", KVDType::BF16, 32, 8, 128, 16,
       {1000}, 10, 0, false},
      {"cascade_bf16_d128_q32kv4_shared10_len200,300", KVDType::BF16, 32, 4, 128, 16,
       {200, 300}, 10, 0, true},
      {"cascade_f16_d64_q16kv4_shared70_len1200,1130,1121,1190", KVDType::F16, 16, 4, 64, 16,
       {1200, 1130, 1121, 1190}, 70, 0, true},
      {"cascade_fallback_bf16_d128_q32kv2_shared10_len200,300", KVDType::BF16, 32, 2, 128, 16,
       {200, 300}, 10, 0, false},
  };
  for (const auto &x : cascades) {
    Case c = shaped(x.name, x.dt, x.hq, x.hkv, x.d, x.ps, x.lens);
    c.sharedPages = x.sharedPages;
    c.maxSeqLen = x.maxSeqLen;
    c.cascade = true;
    c.expectCascade = x.expect;
    add(c);
  }
  // Settled rows loaded before the wait (the runtime's decode steps pass
  // freshTokens = 1): fresh tails of one token, of a stage and more, longer
  // than a sequence (nothing early), with splits, 16-head blocks, other
  // page sizes, shared prefixes.
  struct Fresh { const char *name; int hq, hkv, d, ps; std::vector<int> lens; int fresh, splits,
                 sharedPages; bool cascade; };
  const std::vector<Fresh> fresh = {
      {"fresh1_bf16_d128_q32kv8_len17,1000,4097", 32, 8, 128, 16, {17, 1000, 4097}, 1, 0, 0,
       false},
      {"fresh1_bf16_d128_q32kv8_splits7_len4097,1000,0", 32, 8, 128, 16, {4097, 1000, 0}, 1, 7,
       0, false},
      {"fresh40_bf16_d128_q32kv8_len1001,33,40", 32, 8, 128, 16, {1001, 33, 40}, 40, 0, 0,
       false},
      {"fresh1_bf16_d128_q32kv2_len2049", 32, 2, 128, 16, {2049}, 1, 0, 0, false},
      {"fresh1_bf16_d64_q32kv8_ps64_len1001,65,5", 32, 8, 64, 64, {1001, 65, 5}, 1, 0, 0, false},
      {"fresh2000_bf16_d128_q32kv8_len1500", 32, 8, 128, 16, {1500}, 2000, 0, 0, false},
      {"fresh1_cascade_bf16_d128_q32kv8_shared256_len4101,4103,4097,4150", 32, 8, 128, 16,
       {4101, 4103, 4097, 4150}, 1, 0, 256, true},
  };
  for (const auto &x : fresh) {
    Case c = shaped(x.name, KVDType::BF16, x.hq, x.hkv, x.d, x.ps, x.lens);
    c.freshTokens = x.fresh;
    c.forceSplits = x.splits;
    c.sharedPages = x.sharedPages;
    c.cascade = x.cascade;
    add(c);
  }
  return cases;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<resa::cudatest::NamedCase> cases;
  for (const Case &c : allCases())
    cases.push_back({c.name, [c](uint64_t s) {
                       return c.cascade ? runCascadeCase(c, s) : runCase(c, s);
                     }});
  for (auto &c : resa::cudatest::blockSparseCases())
    cases.push_back(std::move(c));
  return resa::cudatest::runTestProgram(argc, argv, "decode attention", "", cases);
}
