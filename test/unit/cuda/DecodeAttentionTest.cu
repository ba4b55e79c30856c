// The CUDA decode-attention kernel against the exact fp32 CPU reference
// (pagedDecodeAttentionCpu), on fresh random inputs every run; with the
// block-sparse cases of BlockSparseTest.cu (summaries, selection, sparse
// attention against selectBlocksCpu / pagedSparseAttentionCpu).
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
  float scale = 0.0f;
  // > 0: sequences 1.. hold sequence 0's first sharedPages pages (the same
  // page ids, as GSR's candidates forked from one prompt do), then their own.
  int sharedPages = 0;
};

using resa::cudatest::DevBuf;
using resa::cudatest::Failure;
using resa::cudatest::fromBits;
using resa::cudatest::toBits;

// Runs one case; returns a one-line summary, throws Failure.
std::string runCase(const Case &c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int batch = static_cast<int>(c.lens.size());
  const int maxLen = *std::max_element(c.lens.begin(), c.lens.end());

  PagedAttentionShape s;
  s.batch = batch;
  s.numQHeads = c.hq;
  s.numKvHeads = c.hkv;
  s.headDim = c.d;
  s.pageSize = c.ps;
  s.maxPagesPerSeq = (maxLen + c.ps - 1) / c.ps + 2;
  // Shared pages are full pages of every sequence (a fork copies a partial
  // page before anyone writes it).
  if (c.sharedPages > 0 &&
      static_cast<int64_t>(c.sharedPages) * c.ps > *std::min_element(c.lens.begin(), c.lens.end()))
    throw Failure{"bad case: the shared pages must be full pages of every sequence"};
  int usedPages = 0;
  for (int b = 0; b < batch; ++b)
    usedPages += (c.lens[b] + c.ps - 1) / c.ps - (b > 0 ? c.sharedPages : 0);
  s.numPages = usedPages + 7;  // spare pages nobody owns (filled with NaN)

  // Random, non-contiguous page tables; entries past a sequence's pages are -1.
  std::vector<int32_t> perm(static_cast<size_t>(s.numPages));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<int32_t> table(static_cast<size_t>(batch) * s.maxPagesPerSeq, -1);
  size_t next = 0;
  for (int b = 0; b < batch; ++b)
    for (int p = 0; p < (c.lens[b] + c.ps - 1) / c.ps; ++p)
      table[static_cast<size_t>(b) * s.maxPagesPerSeq + p] =
          b > 0 && p < c.sharedPages ? table[p] : perm[next++];

  // Caches: random where a token lives, NaN everywhere else (spare pages and
  // the tail of partial pages), so that any read of a masked slot shows.
  // Shared pages are filled once, by sequence 0.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const size_t cacheN = static_cast<size_t>(s.cacheElements());
  std::vector<float> kf(cacheN, nan), vf(cacheN, nan);
  for (int b = 0; b < batch; ++b)
    for (int t = b > 0 ? c.sharedPages * c.ps : 0; t < c.lens[b]; ++t) {
      const int page = table[static_cast<size_t>(b) * s.maxPagesPerSeq + t / c.ps];
      for (int h = 0; h < c.hkv; ++h) {
        const int64_t off = resa::pagedKVOffset(s, page, h, t % c.ps);
        for (int j = 0; j < c.d; ++j) {
          kf[static_cast<size_t>(off + j)] = fromBits(toBits(normal(rng), c.dtype), c.dtype);
          vf[static_cast<size_t>(off + j)] = fromBits(toBits(normal(rng), c.dtype), c.dtype);
        }
      }
    }
  // Queries with a larger spread, so that the softmax is far from uniform.
  const size_t qN = static_cast<size_t>(s.queryElements());
  std::vector<float> qf(qN);
  for (auto &x : qf)
    x = fromBits(toBits(2.0f * normal(rng), c.dtype), c.dtype);

  std::vector<uint16_t> kb(cacheN), vb(cacheN), qb(qN);
  for (size_t i = 0; i < cacheN; ++i) {
    kb[i] = toBits(kf[i], c.dtype);
    vb[i] = toBits(vf[i], c.dtype);
  }
  for (size_t i = 0; i < qN; ++i)
    qb[i] = toBits(qf[i], c.dtype);

  std::vector<float> ref(qN);
  std::vector<int32_t> lens(c.lens.begin(), c.lens.end());
  resa::pagedDecodeAttentionCpu(s, qf.data(), kf.data(), vf.data(), table.data(), lens.data(),
                                c.scale, ref.data());

  resa::gpu::DecodeAttentionOptions opt;
  opt.forceSplits = c.forceSplits;
  opt.variant = c.variant;
  resa::gpu::DecodeAttentionPlan plan;
  CUDA_OK(resa::gpu::planDecodeAttention(s, c.dtype, maxLen, &plan, opt));

  DevBuf<uint16_t> dk(cacheN), dv(cacheN), dq(qN), dout(qN);
  DevBuf<int32_t> dtable(table.size()), dlens(lens.size());
  DevBuf<char> ws(plan.workspaceBytes);
  CUDA_OK(cudaMemcpy(dk.p, kb.data(), cacheN * 2, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dv.p, vb.data(), cacheN * 2, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dq.p, qb.data(), qN * 2, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dtable.p, table.data(), table.size() * 4, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(dlens.p, lens.data(), lens.size() * 4, cudaMemcpyHostToDevice));
  if (plan.workspaceBytes)
    CUDA_OK(cudaMemset(ws.p, 0, plan.workspaceBytes));

  resa::gpu::DecodeAttentionArgs a;
  a.q = dq.p;
  a.kCache = dk.p;
  a.vCache = dv.p;
  a.pageTable = dtable.p;
  a.seqLens = dlens.p;
  a.out = dout.p;
  a.scale = c.scale;

  // Three runs, the output poisoned with NaN (0xffff) before each: every
  // element must be written, and the runs must agree bit for bit (the merge
  // order is fixed, and a counter left non-zero would leave NaN behind).
  std::vector<uint16_t> got(qN), first(qN);
  for (int run = 0; run < 3; ++run) {
    CUDA_OK(cudaMemset(dout.p, 0xff, qN * 2));
    CUDA_OK(resa::gpu::decodeAttention(a, plan, ws.p, nullptr));
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(got.data(), dout.p, qN * 2, cudaMemcpyDeviceToHost));
    if (run == 0)
      first = got;
    else if (got != first)
      throw Failure{"run " + std::to_string(run) + " differs from run 0 (race or stale counter)"};
  }

  // Relative error per (sequence, head) row and over everything.
  double worstRow = 0.0, errAll = 0.0, refAll = 0.0;
  std::string worstWhere;
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < c.hq; ++h) {
      double e2 = 0.0, r2 = 0.0;
      for (int j = 0; j < c.d; ++j) {
        const size_t i = static_cast<size_t>(resa::queryOffset(s, b, h) + j);
        const float g = fromBits(got[i], c.dtype);
        if (!std::isfinite(g))
          throw Failure{"output [" + std::to_string(b) + "][" + std::to_string(h) + "][" +
                        std::to_string(j) + "] is not finite (unwritten or NaN leaked)"};
        const double diff = static_cast<double>(g) - ref[i];
        e2 += diff * diff;
        r2 += static_cast<double>(ref[i]) * ref[i];
      }
      errAll += e2;
      refAll += r2;
      if (c.lens[b] == 0) {
        if (e2 != 0.0)
          throw Failure{"sequence " + std::to_string(b) + " has length 0 but a non-zero output"};
        continue;
      }
      const double rel = std::sqrt(e2 / std::max(r2, 1e-30));
      if (rel > worstRow) {
        worstRow = rel;
        worstWhere = "[" + std::to_string(b) + "][" + std::to_string(h) + "]";
      }
    }
  const double relAll = refAll > 0 ? std::sqrt(errAll / refAll) : 0.0;
  const double bound = c.dtype == KVDType::BF16 ? 1e-2 : 2e-3;
  char line[256];
  std::snprintf(line, sizeof line, "rel %.2e, worst row %.2e at %s (bound %.0e), splits %d x %d stages",
                relAll, worstRow, worstWhere.c_str(), bound, plan.numSplits, plan.stagesPerSplit);
  if (worstRow > bound || !(relAll <= bound))
    throw Failure{std::string("error over bound: ") + line};
  return line;
}

std::vector<Case> allCases() {
  std::vector<Case> cases;
  auto add = [&](Case c) { cases.push_back(std::move(c)); };
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
  // that do not divide the context.
  for (int fs : {1, 3, 7, 64}) {
    Case c;
    c.lens = {4097, 1000, 0};
    c.forceSplits = fs;
    c.name = "bf16_d128_q32kv8_splits" + std::to_string(fs) + "_len4097,1000,0";
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
  // Group sizes that pad (7 -> 8 heads per block), that need two head chunks
  // (16), group 2; other page sizes (8, 32, 64: larger than a stage); a
  // non-default scale.
  struct Extra { const char *name; int hq, hkv, d, ps; std::vector<int> lens; float scale; };
  const std::vector<Extra> extras = {
      {"bf16_d128_q28kv4_len3000,77", 28, 4, 128, 16, {3000, 77}, 0.0f},
      {"bf16_d128_q32kv2_len2049", 32, 2, 128, 16, {2049}, 0.0f},
      {"bf16_d64_q16kv8_len1500", 16, 8, 64, 16, {1500}, 0.0f},
      {"bf16_d128_q32kv8_ps8_len1001", 32, 8, 128, 8, {1001}, 0.0f},
      {"bf16_d128_q32kv8_ps32_len1001,33", 32, 8, 128, 32, {1001, 33}, 0.0f},
      {"bf16_d128_q32kv8_ps64_len1001,65,5", 32, 8, 128, 64, {1001, 65, 5}, 0.0f},
      {"bf16_d64_q8kv8_ps64_len2000", 8, 8, 64, 64, {2000}, 0.0f},
      {"bf16_d128_q32kv8_scale0.3_len777", 32, 8, 128, 16, {777}, 0.3f},
      {"bf16_d128_q32kv8_len65537", 32, 8, 128, 16, {65537}, 0.0f},
  };
  for (const auto &x : extras) {
    Case c;
    c.name = x.name;
    c.hq = x.hq;
    c.hkv = x.hkv;
    c.d = x.d;
    c.ps = x.ps;
    c.lens = x.lens;
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
    Case c;
    c.name = x.name;
    c.dtype = x.dt;
    c.hq = x.hq;
    c.hkv = x.hkv;
    c.d = x.d;
    c.ps = x.ps;
    c.lens = x.lens;
    c.sharedPages = x.sharedPages;
    c.forceSplits = x.forceSplits;
    add(c);
  }
  return cases;
}

} // namespace

int main(int argc, char **argv) {
  std::string filter;
  uint64_t seed = 0;
  if (!resa::cudatest::parseTestArgs(argc, argv, filter, seed))
    return 2;
  std::vector<resa::cudatest::NamedCase> cases;
  for (auto &c : allCases())
    if (filter.empty() || c.name.find(filter) != std::string::npos)
      cases.push_back({c.name, [c](uint64_t s) { return runCase(c, s); }});
  for (auto &c : resa::cudatest::blockSparseCases())
    if (filter.empty() || c.name.find(filter) != std::string::npos)
      cases.push_back(c);

  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    for (const auto &c : cases)
      std::printf("SKIPPED: %s (no CUDA device)\n", c.name.c_str());
    return 0;
  }
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s, %d SMs; seed %llu\n", prop.name, prop.multiProcessorCount,
              static_cast<unsigned long long>(seed));

  int failed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto &c = cases[i];
    try {
      const std::string msg = c.run(seed + i * 7919);
      std::printf("PASS: %s: %s\n", c.name.c_str(), msg.c_str());
    } catch (const Failure &f) {
      ++failed;
      std::printf("FAIL: %s: %s\n", c.name.c_str(), f.what.c_str());
      cudaGetLastError();
    } catch (const std::exception &e) {
      ++failed;
      std::printf("FAIL: %s: %s\n", c.name.c_str(), e.what());
    }
    std::fflush(stdout);
  }
  std::printf("%zu cases, %d failed\n", cases.size(), failed);
  return failed ? 1 : 0;
}
