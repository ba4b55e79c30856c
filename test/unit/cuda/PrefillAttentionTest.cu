// The CUDA causal prefill attention (resa/cuda/PrefillAttention.h) against an
// exact CPU reference built from pagedDecodeAttentionCpu: query i of sequence
// b is one decode step over the cache with seqLen = qStart[b] + i + 1.
// Fresh random inputs every run, random page tables, NaN in every cache slot
// no token owns, output poisoned with NaN before each of two runs, which must
// agree bit for bit; rows past qLens[b] must stay NaN. Every case runs with
// the mma.sync kernel (the default plan) and again with the wgmma kernel
// forced (name suffix "_wgmma"), whose plan must report the wgmma kernel
// wherever it supports the shape (head dim 128) and its TMA page loads
// wherever the page size allows, so a silent fallback cannot pass; and again
// with the wgmma kernel gathering every tile ("_wgmma_gather").
//
// A plain program like resa-cuda-tests; without a CUDA device each case prints
// "SKIPPED: <name> (no CUDA device)" and it exits 0.
//   resa-cuda-prefill-tests [--filter SUBSTRING] [--seed N]
#include "CudaTestUtil.h"
#include "resa/cuda/PrefillAttention.h"
#include "resa/kernels/PagedKV.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using resa::PagedAttentionShape;
using resa::gpu::KVDType;
using resa::gpu::PrefillKernel;
using resa::cudatest::DevBuf;
using resa::cudatest::Failure;
using resa::cudatest::fromBits;
using resa::cudatest::toBits;

namespace {

struct Case {
  std::string name;
  KVDType dtype = KVDType::BF16;
  int hq = 32, hkv = 8, d = 128, ps = 16;
  std::vector<int> starts, qlens;  // per sequence
  int maxQLen = 0;                 // 0: max of qlens
  int forceSplits = 0;
  PrefillKernel kernel = PrefillKernel::Mma;
  bool gatherPages = false;  // the wgmma kernel without TMA page loads
  // The pool's pages as the sequences get them: shuffled; ordered (a fresh
  // cache's: every full tile's pages consecutive, one TMA box a half); or
  // ordered with a pair swapped every 20 pages (tiles of both kinds).
  enum class Pages { Shuffled, Ordered, Broken } pages = Pages::Shuffled;
};

std::string runCase(const Case &c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int batch = static_cast<int>(c.starts.size());
  int maxQ = c.maxQLen, maxKv = 1;
  for (int b = 0; b < batch; ++b) {
    maxQ = std::max(maxQ, c.qlens[b]);
    maxKv = std::max(maxKv, c.starts[b] + c.qlens[b]);
  }
  PagedAttentionShape s;
  s.batch = batch;
  s.numQHeads = c.hq;
  s.numKvHeads = c.hkv;
  s.headDim = c.d;
  s.pageSize = c.ps;
  s.maxPagesPerSeq = (maxKv + c.ps - 1) / c.ps + 1;
  std::vector<int> kvLen(batch);
  int used = 0;
  for (int b = 0; b < batch; ++b) {
    kvLen[b] = c.starts[b] + c.qlens[b];
    used += (kvLen[b] + c.ps - 1) / c.ps;
  }
  s.numPages = used + 5;
  std::vector<int32_t> perm(s.numPages);
  std::iota(perm.begin(), perm.end(), 0);
  if (c.pages == Case::Pages::Shuffled)
    std::shuffle(perm.begin(), perm.end(), rng);
  else if (c.pages == Case::Pages::Broken)
    for (size_t i = 3; i + 1 < perm.size(); i += 20)
      std::swap(perm[i], perm[i + 1]);
  std::vector<int32_t> table(static_cast<size_t>(batch) * s.maxPagesPerSeq, -1);
  const size_t cacheN = static_cast<size_t>(s.cacheElements());
  const float nan = std::nanf("");
  std::vector<float> kf(cacheN, nan), vf(cacheN, nan);
  size_t next = 0;
  for (int b = 0; b < batch; ++b)
    for (int t = 0; t < kvLen[b]; ++t) {
      if (t % c.ps == 0)
        table[b * s.maxPagesPerSeq + t / c.ps] = perm[next++];
      const int page = table[b * s.maxPagesPerSeq + t / c.ps];
      for (int g = 0; g < c.hkv; ++g) {
        const int64_t off = resa::pagedKVOffset(s, page, g, t % c.ps);
        for (int j = 0; j < c.d; ++j) {
          kf[off + j] = fromBits(toBits(normal(rng), c.dtype), c.dtype);
          vf[off + j] = fromBits(toBits(normal(rng), c.dtype), c.dtype);
        }
      }
    }
  const size_t qN = static_cast<size_t>(batch) * c.hq * maxQ * c.d;
  std::vector<float> qf(qN, 0.0f);
  for (auto &x : qf)
    x = fromBits(toBits(normal(rng) * 1.5f, c.dtype), c.dtype);
  std::vector<uint16_t> kb(cacheN), vb(cacheN), qb(qN);
  for (size_t i = 0; i < cacheN; ++i) {
    kb[i] = toBits(kf[i], c.dtype);
    vb[i] = toBits(vf[i], c.dtype);
  }
  for (size_t i = 0; i < qN; ++i)
    qb[i] = toBits(qf[i], c.dtype);

  // Reference: one decode step per query.
  std::vector<float> ref(qN, 0.0f);
  {
    PagedAttentionShape s1 = s;
    s1.batch = 1;
    std::vector<float> q1(static_cast<size_t>(c.hq) * c.d), o1(q1.size());
    for (int b = 0; b < batch; ++b)
      for (int i = 0; i < c.qlens[b]; ++i) {
        for (int h = 0; h < c.hq; ++h)
          for (int j = 0; j < c.d; ++j)
            q1[h * c.d + j] = qf[((static_cast<size_t>(b) * c.hq + h) * maxQ + i) * c.d + j];
        const int32_t len = c.starts[b] + i + 1;
        resa::pagedDecodeAttentionCpu(s1, q1.data(), kf.data(), vf.data(),
                                      table.data() + b * s.maxPagesPerSeq, &len, 0.0f, o1.data());
        for (int h = 0; h < c.hq; ++h)
          for (int j = 0; j < c.d; ++j)
            ref[((static_cast<size_t>(b) * c.hq + h) * maxQ + i) * c.d + j] = o1[h * c.d + j];
      }
  }

  resa::gpu::PrefillAttentionPlan plan;
  resa::gpu::PrefillAttentionOptions opt;
  opt.forceSplits = c.forceSplits;
  opt.kernel = c.kernel;
  opt.gatherPages = c.gatherPages;
  CUDA_OK(resa::gpu::planPrefillAttention(s, c.dtype, maxQ, maxKv, &plan, opt));
  // Auto and Wgmma: the wgmma kernel for head dim 128 (the tests run on an
  // sm_90 device), mma.sync otherwise.
  const bool wantWgmma = c.kernel != PrefillKernel::Mma && c.d == 128;
  if ((plan.kernel == PrefillKernel::Wgmma) != wantWgmma)
    throw Failure{std::string("plan chose the ") +
                  (plan.kernel == PrefillKernel::Wgmma ? "wgmma" : "mma.sync") + " kernel"};
  // TMA page loads: the wgmma kernel, page sizes 16..128 that are powers of two.
  const bool wantLoads = wantWgmma && !c.gatherPages && c.ps >= 16 && c.ps <= 128 &&
                         (c.ps & (c.ps - 1)) == 0;
  if (plan.pageLoads != wantLoads)
    throw Failure{std::string("plan ") + (plan.pageLoads ? "loads" : "gathers") + " the pages"};
  DevBuf<uint16_t> dq(qN), dk(cacheN), dv(cacheN), dout(qN);
  DevBuf<int32_t> dtable(table.size()), dstart(batch), dlen(batch);
  DevBuf<unsigned char> ws(plan.workspaceBytes);
  dq.upload(qb);
  dk.upload(kb);
  dv.upload(vb);
  dtable.upload(table);
  dstart.upload(std::vector<int32_t>(c.starts.begin(), c.starts.end()));
  dlen.upload(std::vector<int32_t>(c.qlens.begin(), c.qlens.end()));
  if (plan.workspaceBytes)
    CUDA_OK(cudaMemset(ws.p, 0xff, plan.workspaceBytes));  // NaN garbage
  resa::gpu::PrefillAttentionArgs a;
  a.q = dq.p;
  a.kCache = dk.p;
  a.vCache = dv.p;
  a.pageTable = dtable.p;
  a.qStart = dstart.p;
  a.qLens = dlen.p;
  a.out = dout.p;
  std::vector<uint16_t> first;
  for (int run = 0; run < 2; ++run) {
    CUDA_OK(cudaMemset(dout.p, 0xff, qN * 2));  // NaN in bf16 and f16
    CUDA_OK(resa::gpu::prefillAttention(a, plan, ws.p, nullptr));
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    std::vector<uint16_t> got = dout.download();
    if (run == 1 && got != first)
      throw Failure{"two runs differ"};
    first = got;
  }
  double worst = 0.0, num = 0.0, den = 0.0;
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < c.hq; ++h)
      for (int i = 0; i < maxQ; ++i) {
        const size_t row = ((static_cast<size_t>(b) * c.hq + h) * maxQ + i) * c.d;
        if (i >= c.qlens[b]) {
          for (int j = 0; j < c.d; ++j)
            if (first[row + j] != 0xffff)
              throw Failure{"row past qLen written: b " + std::to_string(b) + " i " +
                            std::to_string(i)};
          continue;
        }
        double rn = 0, rd = 0;
        for (int j = 0; j < c.d; ++j) {
          const float g = fromBits(first[row + j], c.dtype);
          if (!std::isfinite(g))
            throw Failure{"non-finite output at b " + std::to_string(b) + " h " +
                          std::to_string(h) + " i " + std::to_string(i)};
          const double e = g - ref[row + j];
          rn += e * e;
          rd += static_cast<double>(ref[row + j]) * ref[row + j];
        }
        num += rn;
        den += rd;
        worst = std::max(worst, std::sqrt(rn / std::max(rd, 1e-30)));
      }
  const double bound = c.dtype == KVDType::BF16 ? 1e-2 : 2e-3;
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "worst row rel %.2e, overall %.2e (bound %.0e), splits %d, %s kernel", worst,
                std::sqrt(num / std::max(den, 1e-30)), bound, plan.numSplits,
                plan.kernel == PrefillKernel::Wgmma ? "wgmma" : "mma.sync");
  if (!(worst <= bound))
    throw Failure{buf};
  return buf;
}

std::vector<Case> allCases() {
  std::vector<Case> v;
  auto add = [&](Case c) { v.push_back(std::move(c)); };
  // Rectification: f = 32 queries at the end of a 4K cache.
  add({"rect_4k_bf16", KVDType::BF16, 32, 8, 128, 16, {4064}, {32}});
  add({"rect_4k_f16", KVDType::F16, 32, 8, 128, 16, {4064}, {32}});
  add({"rect_odd_split1", KVDType::BF16, 32, 8, 128, 16, {4001}, {32}, 0, 1});
  add({"rect_odd_split7", KVDType::BF16, 32, 8, 128, 16, {4001}, {32}, 0, 7});
  add({"rect_batch3_mixed", KVDType::BF16, 32, 8, 128, 16, {4064, 100, 0}, {32, 17, 5}, 32});
  // Prefill from 0 and chunked prefill (start > 0), lengths off the tiles.
  add({"prefill_333", KVDType::BF16, 32, 8, 128, 16, {0}, {333}});
  add({"prefill_batch2", KVDType::BF16, 32, 8, 128, 16, {0, 57}, {333, 200}});
  add({"chunk_512_257", KVDType::BF16, 32, 8, 128, 16, {512}, {257}});
  add({"chunk_split3", KVDType::BF16, 32, 8, 128, 16, {700}, {77}, 0, 3});
  add({"prefill_f16_d64_mha_ps8", KVDType::F16, 8, 8, 64, 8, {50}, {300}});
  add({"prefill_bf16_d64_ps32", KVDType::BF16, 32, 8, 64, 32, {31}, {129}});
  add({"gqa16", KVDType::BF16, 32, 2, 128, 16, {1000}, {100}});
  add({"gqa3_12x4", KVDType::BF16, 12, 4, 128, 16, {9}, {150}});
  add({"single_query", KVDType::BF16, 32, 8, 128, 16, {0, 4095}, {1, 1}});
  add({"ps7_odd", KVDType::F16, 16, 4, 128, 7, {33}, {95}});
  // Aimed at the wgmma kernel (128-key tiles, 64-row warpgroups): many query
  // tiles and diagonal tiles, lengths off every tile, groups 1/2/4/8, page
  // sizes that divide the key tile or not, split-K with empty splits.
  add({"wg_prefill_650_g4", KVDType::BF16, 32, 8, 128, 16, {0}, {650}});
  add({"wg_prefill_517_g8_f16", KVDType::F16, 32, 4, 128, 16, {300}, {517}});
  add({"wg_mha_g1_400", KVDType::BF16, 8, 8, 128, 16, {0}, {400}});
  add({"wg_g2_start77", KVDType::F16, 16, 8, 128, 16, {77}, {250}});
  add({"wg_batch2_starts", KVDType::BF16, 32, 8, 128, 16, {0, 1100}, {450, 129}});
  add({"wg_ps32_f16", KVDType::F16, 32, 8, 128, 32, {100}, {300}});
  add({"wg_rect_8k", KVDType::BF16, 32, 8, 128, 16, {8160}, {32}});
  add({"wg_rect_split5", KVDType::F16, 32, 8, 128, 16, {3000}, {64}, 0, 5});
  add({"wg_empty_splits", KVDType::BF16, 32, 8, 128, 16, {0, 3000}, {32, 32}, 0, 8});
  // TMA page loads with larger pages (a tile of one page, of two), tails
  // inside a page.
  add({"wg_ps128", KVDType::BF16, 32, 8, 128, 128, {100}, {300}});
  add({"wg_ps64_batch2", KVDType::F16, 32, 8, 128, 64, {0, 70}, {200, 61}});
  // A pool of fewer pages than a key tile holds (7 of 16 tokens: no run maps).
  add({"wg_tiny_pool", KVDType::BF16, 32, 8, 128, 16, {0}, {20}});
  // Pages in the pool's order (tiles as one box a half) and partly so.
  for (Case c : std::vector<Case>{{"wg_prefill_650_g4", KVDType::BF16, 32, 8, 128, 16, {0}, {650}},
                                  {"wg_batch2_starts", KVDType::BF16, 32, 8, 128, 16, {0, 1100}, {450, 129}},
                                  {"wg_ps32_f16", KVDType::F16, 32, 8, 128, 32, {100}, {300}},
                                  {"wg_ps64_batch2", KVDType::F16, 32, 8, 128, 64, {0, 70}, {200, 61}},
                                  {"wg_rect_split5", KVDType::F16, 32, 8, 128, 16, {3000}, {64}, 0, 5}})
    for (Case::Pages order : {Case::Pages::Ordered, Case::Pages::Broken}) {
      c.pages = order;
      add(c);
      v.back().name += order == Case::Pages::Ordered ? "_ordered" : "_broken";
    }
  // Every case again with the wgmma kernel forced, and again with it
  // gathering every tile (no TMA page loads).
  const size_t base = v.size();
  for (size_t i = 0; i < base; ++i)
    for (bool gather : {false, true}) {
      Case c = v[i];
      c.name += gather ? "_wgmma_gather" : "_wgmma";
      c.kernel = PrefillKernel::Wgmma;
      c.gatherPages = gather;
      v.push_back(std::move(c));
    }
  // The default: wgmma for head dim 128, mma.sync for 64.
  add({"auto_d128", KVDType::BF16, 32, 8, 128, 16, {200}, {300}, 0, 0, PrefillKernel::Auto});
  add({"auto_d64_f16", KVDType::F16, 8, 8, 64, 16, {200}, {300}, 0, 0, PrefillKernel::Auto});
  return v;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<resa::cudatest::NamedCase> cases;
  for (const Case &c : allCases())
    cases.push_back({c.name, [c](uint64_t s) { return runCase(c, s); }});
  return resa::cudatest::runTestProgram(argc, argv, "prefill", "prefill_", cases);
}
