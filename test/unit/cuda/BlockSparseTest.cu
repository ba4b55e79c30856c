// ReSA's CUDA kernels (resa/cuda/BlockSparse.h) against the exact CPU
// references, on fresh random inputs every run:
//   - block summaries (append by slot mapping, rebuild after an overwrite,
//     update lists) against a CPU min/max over the valid slots, bit for bit;
//   - block selection against selectBlocksCpu: the selected set of every
//     (sequence, KV head) must be the reference's exactly, ascending, with
//     the rows past n left untouched;
//   - block-sparse decode attention (GPU selection, then decodeAttention with
//     the block list) against pagedSparseAttentionCpu (bf16 bound 1e-2
//     relative per row, f16 2e-3), output poisoned with NaN before each of
//     three runs that must agree bit for bit;
//   - with every block selected (kept ratio 1), the sparse path equals the
//     dense CUDA kernel bit for bit.
// Caches hold NaN wherever no token lives; lengths are not multiples of the
// page size; batches mix lengths.
#include "CudaTestUtil.h"
#include "resa/cuda/BlockSparse.h"
#include "resa/cuda/DecodeAttention.h"
#include "resa/kernels/BlockSparse.h"
#include "resa/kernels/PagedKV.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace resa::cudatest {
namespace {

using resa::BlockSelectParams;
using resa::PagedAttentionShape;
using resa::gpu::KVDType;

constexpr uint16_t kPoison16 = 0xffff;  // NaN in bf16 and f16
constexpr int32_t kPoison32 = 0x7fffffff;

struct Setup {
  KVDType dtype = KVDType::BF16;
  int hq = 32, hkv = 8, d = 128, ps = 16;
  std::vector<int> lens;
  int kMode = 0;  // 0: normal keys; 1: keys in {-1, 0, 1} (many equal summaries: ties)
  int qMode = 0;  // 0: normal queries (x2); 1: zero queries (every score equal);
                  // 2: queries in {+-0.5, +-1, +-1.5, +-2} (exact scores: exact ties)
  // > 0: sequences 1.. hold sequence 0's first sharedPages pages (the same
  // page ids, as GSR's candidates forked from one prompt do), then their own.
  int sharedPages = 0;
  int topNCluster = 0;  // BlockSelectOptions::topNCluster (0: the plan picks)
  int summariesEvictFirst = -1;  // BlockSelectOptions' (-1: the plan picks)
};

struct Data {
  Setup c;
  PagedAttentionShape s;
  int maxLen = 0;
  std::vector<int32_t> table, lens;
  std::vector<char> pageUsed;
  std::vector<float> kf, vf, qf;  // stored values as float, NaN where no token lives
};

std::string lensStr(const std::vector<int> &lens) {
  std::string l;
  for (int x : lens)
    l += (l.empty() ? "" : ",") + std::to_string(x);
  return l;
}

Data makeData(const Setup &c, std::mt19937_64 &rng) {
  Data d;
  d.c = c;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> coarse(-1, 1);
  d.maxLen = *std::max_element(c.lens.begin(), c.lens.end());
  resa::cudatest::PagedCache pc = resa::cudatest::makePagedCache(
      c.hq, c.hkv, c.d, c.ps, c.lens, c.sharedPages, 0, c.dtype, rng,
      [&] { return c.kMode == 1 ? static_cast<float>(coarse(rng)) : normal(rng); });
  d.s = pc.s;
  d.table = std::move(pc.table);
  d.pageUsed = std::move(pc.pageUsed);
  d.kf = std::move(pc.kf);
  d.vf = std::move(pc.vf);
  d.lens.assign(c.lens.begin(), c.lens.end());
  const PagedAttentionShape &s = d.s;
  d.qf.assign(static_cast<size_t>(s.queryElements()), 0.0f);
  std::uniform_int_distribution<int> q8(0, 7);
  if (c.qMode == 0)
    for (auto &x : d.qf)
      x = fromBits(toBits(2.0f * normal(rng), c.dtype), c.dtype);
  else if (c.qMode == 2)
    for (auto &x : d.qf) {
      const int k = q8(rng);
      x = (k < 4 ? -1.0f : 1.0f) * 0.5f * static_cast<float>(1 + k % 4);
    }
  return d;
}

std::vector<uint16_t> toBitsVec(const std::vector<float> &f, KVDType t) {
  std::vector<uint16_t> out(f.size());
  for (size_t i = 0; i < f.size(); ++i)
    out[i] = toBits(f[i], t);
  return out;
}

// CPU summaries of the used pages (over the valid slots given by lens), as
// float; pages nobody uses stay NaN.
void cpuSummaries(const Data &d, const std::vector<int32_t> &lens, std::vector<float> &kmin,
                  std::vector<float> &kmax) {
  const PagedAttentionShape &s = d.s;
  const size_t n = static_cast<size_t>(s.summaryElements());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  kmin.assign(n, nan);
  kmax.assign(n, nan);
  for (int b = 0; b < s.batch; ++b) {
    const int len = lens[b];
    for (int m = 0; m * s.pageSize < len; ++m) {
      const int page = d.table[static_cast<size_t>(b) * s.maxPagesPerSeq + m];
      const int valid = std::min(s.pageSize, len - m * s.pageSize);
      for (int h = 0; h < s.numKvHeads; ++h) {
        float *mn = kmin.data() + resa::blockSummaryOffset(s, page, h);
        float *mx = kmax.data() + resa::blockSummaryOffset(s, page, h);
        for (int j = 0; j < s.headDim; ++j) {
          float lo = std::numeric_limits<float>::infinity(), hi = -lo;
          for (int slot = 0; slot < valid; ++slot) {
            const float x = d.kf[static_cast<size_t>(resa::pagedKVOffset(s, page, h, slot) + j)];
            lo = std::min(lo, x);
            hi = std::max(hi, x);
          }
          mn[j] = lo;
          mx[j] = hi;
        }
      }
    }
  }
}

// Every used page's summary (pages of `lens`) must equal the CPU's bit for
// bit; pages nobody uses must still hold the poison.
void checkSummaries(const Data &d, const std::vector<int32_t> &lens,
                    const std::vector<uint16_t> &gotMin, const std::vector<uint16_t> &gotMax) {
  std::vector<float> rmin, rmax;
  cpuSummaries(d, lens, rmin, rmax);
  const PagedAttentionShape &s = d.s;
  std::vector<char> used(static_cast<size_t>(s.numPages), 0);
  for (int b = 0; b < s.batch; ++b)
    for (int m = 0; m * s.pageSize < lens[b]; ++m)
      used[static_cast<size_t>(d.table[static_cast<size_t>(b) * s.maxPagesPerSeq + m])] = 1;
  for (int page = 0; page < s.numPages; ++page)
    for (int h = 0; h < s.numKvHeads; ++h)
      for (int j = 0; j < s.headDim; ++j) {
        const size_t i = static_cast<size_t>(resa::blockSummaryOffset(s, page, h) + j);
        const uint16_t wantMin = used[page] ? toBits(rmin[i], d.c.dtype) : kPoison16;
        const uint16_t wantMax = used[page] ? toBits(rmax[i], d.c.dtype) : kPoison16;
        if (gotMin[i] != wantMin || gotMax[i] != wantMax)
          throw Failure{"summary of page " + std::to_string(page) + " head " + std::to_string(h) +
                        " dim " + std::to_string(j) + (used[page] ? "" : " (unused page)") +
                        ": got min/max bits " + std::to_string(gotMin[i]) + "/" +
                        std::to_string(gotMax[i]) + ", want " + std::to_string(wantMin) + "/" +
                        std::to_string(wantMax)};
      }
}

// ---- summaries ------------------------------------------------------------------

enum class SummaryMode { Rebuild, Append, Rectify, Updates };

std::string runSummaries(const Setup &c, SummaryMode mode, const std::vector<int> &appendCounts,
                         uint64_t seed) {
  std::mt19937_64 rng(seed);
  Data d = makeData(c, rng);
  const PagedAttentionShape &s = d.s;
  const size_t sumN = static_cast<size_t>(s.summaryElements());
  DevBuf<uint16_t> dk(static_cast<size_t>(s.cacheElements())), dmin(sumN), dmax(sumN);
  DevBuf<int32_t> dtable(d.table.size()), dlens(d.lens.size());
  dtable.upload(d.table);
  dlens.upload(d.lens);
  resa::gpu::BlockSummaryArgs a;
  a.kCache = dk.p;
  a.kmin = dmin.p;
  a.kmax = dmax.p;
  std::string what;

  if (mode == SummaryMode::Rebuild) {
    dk.upload(toBitsVec(d.kf, c.dtype));
    CUDA_OK(cudaMemset(dmin.p, 0xff, sumN * 2));
    CUDA_OK(cudaMemset(dmax.p, 0xff, sumN * 2));
    CUDA_OK(resa::gpu::rebuildBlockSummaries(s, c.dtype, a, dtable.p, dlens.p, nullptr, d.maxLen,
                                             nullptr));
    what = "rebuild of every page";
  } else if (mode == SummaryMode::Rectify) {
    // Summaries of the old keys; then the last 32 tokens of every sequence
    // are overwritten and their pages rebuilt.
    std::vector<float> omin, omax;
    cpuSummaries(d, d.lens, omin, omax);
    std::vector<uint16_t> bmin = toBitsVec(omin, c.dtype), bmax = toBitsVec(omax, c.dtype);
    for (size_t i = 0; i < sumN; ++i)
      if (std::isnan(omin[i]))
        bmin[i] = bmax[i] = kPoison16;
    dmin.upload(bmin);
    dmax.upload(bmax);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<int32_t> first(static_cast<size_t>(s.batch));
    for (int b = 0; b < s.batch; ++b) {
      first[b] = std::max(0, d.lens[b] - 32);
      for (int t = first[b]; t < d.lens[b]; ++t) {
        const int page = d.table[static_cast<size_t>(b) * s.maxPagesPerSeq + t / s.pageSize];
        for (int h = 0; h < s.numKvHeads; ++h)
          for (int j = 0; j < s.headDim; ++j)
            d.kf[static_cast<size_t>(resa::pagedKVOffset(s, page, h, t % s.pageSize) + j)] =
                fromBits(toBits(3.0f * normal(rng), c.dtype), c.dtype);
      }
    }
    dk.upload(toBitsVec(d.kf, c.dtype));
    DevBuf<int32_t> dfirst(first.size());
    dfirst.upload(first);
    CUDA_OK(resa::gpu::rebuildBlockSummaries(s, c.dtype, a, dtable.p, dlens.p, dfirst.p, d.maxLen,
                                             nullptr));
    CUDA_OK(cudaDeviceSynchronize());
    what = "rebuild of the last 32 tokens' pages";
  } else {
    // Append / Updates: summaries of the first lens - appendCounts tokens
    // (pages holding none of them: random garbage, which a slot-0 append must
    // reset), then the appended tokens.
    std::vector<int32_t> lens0(d.lens);
    for (int b = 0; b < s.batch; ++b)
      lens0[b] = std::max(0, d.lens[b] - appendCounts[b]);
    std::vector<float> omin, omax;
    cpuSummaries(d, lens0, omin, omax);
    std::vector<uint16_t> bmin = toBitsVec(omin, c.dtype), bmax = toBitsVec(omax, c.dtype);
    std::uniform_int_distribution<int> bitsDist(0, 0x7f7f);
    for (int page = 0; page < s.numPages; ++page)
      for (int h = 0; h < s.numKvHeads; ++h)
        for (int j = 0; j < s.headDim; ++j) {
          const size_t i = static_cast<size_t>(resa::blockSummaryOffset(s, page, h) + j);
          if (std::isnan(omin[i])) {
            const bool used = d.pageUsed[static_cast<size_t>(page)];
            bmin[i] = used ? static_cast<uint16_t>(bitsDist(rng)) : kPoison16;
            bmax[i] = used ? static_cast<uint16_t>(bitsDist(rng) | 0x8000) : kPoison16;
          }
        }
    dmin.upload(bmin);
    dmax.upload(bmax);
    dk.upload(toBitsVec(d.kf, c.dtype));
    if (mode == SummaryMode::Append) {
      std::vector<int32_t> slots;
      for (int b = 0; b < s.batch; ++b)
        for (int t = lens0[b]; t < d.lens[b]; ++t)
          slots.push_back(d.table[static_cast<size_t>(b) * s.maxPagesPerSeq + t / s.pageSize] *
                              s.pageSize +
                          t % s.pageSize);
      DevBuf<int32_t> dslots(slots.size());
      dslots.upload(slots);
      CUDA_OK(resa::gpu::appendBlockSummaries(s, c.dtype, a, dslots.p,
                                              static_cast<int64_t>(slots.size()), nullptr));
      CUDA_OK(cudaDeviceSynchronize());
      what = std::to_string(slots.size()) + " tokens appended by slot mapping";
    } else {
      // The runtime's update list (KVCache::beginForward's rule).
      std::vector<resa::gpu::BlockSummaryUpdate> ups;
      for (int b = 0; b < s.batch; ++b) {
        if (d.lens[b] == lens0[b])
          continue;
        for (int m = lens0[b] / s.pageSize; m * s.pageSize < d.lens[b]; ++m) {
          const int pageStart = m * s.pageSize;
          const int oldValid = std::clamp(lens0[b] - pageStart, 0, s.pageSize);
          ups.push_back({d.table[static_cast<size_t>(b) * s.maxPagesPerSeq + m], oldValid,
                         std::min(s.pageSize, d.lens[b] - pageStart)});
        }
      }
      DevBuf<resa::gpu::BlockSummaryUpdate> dups(ups.size());
      dups.upload(ups);
      CUDA_OK(resa::gpu::updateBlockSummaries(s, c.dtype, a, dups.p,
                                              static_cast<int32_t>(ups.size()), nullptr));
      CUDA_OK(cudaDeviceSynchronize());
      what = std::to_string(ups.size()) + " page updates";
    }
  }
  CUDA_OK(cudaGetLastError());
  CUDA_OK(cudaDeviceSynchronize());
  checkSummaries(d, d.lens, dmin.download(), dmax.download());
  return what + ": every summary exact";
}

// ---- selection and sparse attention ---------------------------------------------

struct SelectResult {
  std::vector<int32_t> selected, counts;  // the reference's
  int32_t maxSelected = 0;
  DevBuf<int32_t> *dSelected = nullptr;
  DevBuf<int32_t> *dCounts = nullptr;
};

// Runs the GPU selection on d (summaries from the CPU, uploaded) and checks it
// against selectBlocksCpu. Returns a summary; fills the reference lists.
std::string selectAndCheck(const Data &d, const BlockSelectParams &params, float scale,
                           DevBuf<uint16_t> &dq, DevBuf<int32_t> &dtable, DevBuf<int32_t> &dlens,
                           std::vector<int32_t> &refSel, std::vector<int32_t> &refCounts,
                           int32_t *maxSelectedOut, DevBuf<int32_t> **dSelOut,
                           DevBuf<int32_t> **dCountsOut) {
  const PagedAttentionShape &s = d.s;
  const KVDType dt = d.c.dtype;
  std::vector<float> kmin, kmax;
  cpuSummaries(d, d.lens, kmin, kmax);
  const size_t sumN = kmin.size();
  std::vector<uint16_t> bmin = toBitsVec(kmin, dt), bmax = toBitsVec(kmax, dt);

  // The selection, and its two kernels launched alone one after the other
  // (the scoring, then the top-n over the scores it left in the workspace).
  resa::gpu::BlockSelectPlan plan, scorePlan, topNPlan;
  resa::gpu::BlockSelectOptions partOnly;
  partOnly.topNCluster = d.c.topNCluster;
  partOnly.summariesEvictFirst = d.c.summariesEvictFirst;
  CUDA_OK(resa::gpu::planBlockSelect(s, dt, d.maxLen, params, &plan, partOnly));
  partOnly.parts = resa::gpu::BlockSelectParts::ScoreOnly;
  CUDA_OK(resa::gpu::planBlockSelect(s, dt, d.maxLen, params, &scorePlan, partOnly));
  partOnly.parts = resa::gpu::BlockSelectParts::TopNOnly;
  CUDA_OK(resa::gpu::planBlockSelect(s, dt, d.maxLen, params, &topNPlan, partOnly));
  const int32_t maxSel = plan.maxSelected + 3;  // a wider row than needed
  refSel.assign(static_cast<size_t>(s.batch) * s.numKvHeads * maxSel, kPoison32);
  refCounts.assign(static_cast<size_t>(s.batch), -1);
  resa::selectBlocksCpu(s, d.qf.data(), kmin.data(), kmax.data(), d.table.data(), d.lens.data(),
                        params, scale, refSel.data(), maxSel, refCounts.data());

  DevBuf<uint16_t> dmin(sumN), dmax(sumN);
  dmin.upload(bmin);
  dmax.upload(bmax);
  auto *dsel = new DevBuf<int32_t>(refSel.size());
  auto *dcounts = new DevBuf<int32_t>(refCounts.size());
  DevBuf<char> ws(plan.workspaceBytes);
  resa::gpu::BlockSelectArgs a;
  a.q = dq.p;
  a.kmin = dmin.p;
  a.kmax = dmax.p;
  a.pageTable = dtable.p;
  a.seqLens = dlens.p;
  a.selected = dsel->p;
  a.maxSelected = maxSel;
  a.counts = dcounts->p;
  a.scale = scale;
  // Run 0: the selection; run 1: its two parts alone, which must agree.
  std::vector<int32_t> first;
  for (int run = 0; run < 2; ++run) {
    std::vector<int32_t> poison(refSel.size(), kPoison32);
    dsel->upload(poison);
    CUDA_OK(cudaMemset(dcounts->p, 0xff, refCounts.size() * 4));
    // Scores workspace: NaN garbage (needs no initialisation).
    if (plan.workspaceBytes)
      CUDA_OK(cudaMemset(ws.p, 0xff, plan.workspaceBytes));
    if (run == 0) {
      CUDA_OK(resa::gpu::selectBlocks(a, plan, ws.p, nullptr));
    } else {
      CUDA_OK(resa::gpu::selectBlocks(a, scorePlan, ws.p, nullptr));
      CUDA_OK(resa::gpu::selectBlocks(a, topNPlan, ws.p, nullptr));
    }
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    std::vector<int32_t> got = dsel->download();
    if (run == 1 && got != first)
      throw Failure{"the selection's two kernels launched alone (scores, then top-n) differ "
                    "from the selection"};
    first = got;
  }
  const std::vector<int32_t> got = first;
  const std::vector<int32_t> gotCounts = dcounts->download();
  int64_t totalSel = 0, maxM = 0;
  for (int b = 0; b < s.batch; ++b) {
    if (gotCounts[b] != refCounts[b])
      throw Failure{"counts[" + std::to_string(b) + "] = " + std::to_string(gotCounts[b]) +
                    ", reference " + std::to_string(refCounts[b])};
    const int M = (d.lens[b] + s.pageSize - 1) / s.pageSize;
    maxM = std::max<int64_t>(maxM, M);
    for (int g = 0; g < s.numKvHeads; ++g) {
      const size_t row = (static_cast<size_t>(b) * s.numKvHeads + g) * maxSel;
      for (int i = 0; i < maxSel; ++i) {
        const int32_t x = got[row + i], r = refSel[row + i];
        if (i < refCounts[b] && (x < 0 || x >= M || (i > 0 && x <= got[row + i - 1])))
          throw Failure{"selected[" + std::to_string(b) + "][" + std::to_string(g) + "][" +
                        std::to_string(i) + "] = " + std::to_string(x) +
                        ": not ascending block indices below " + std::to_string(M)};
        if (x != r) {
          // Report the symmetric difference of the two sets.
          std::vector<int32_t> A(got.begin() + row, got.begin() + row + refCounts[b]);
          std::vector<int32_t> B(refSel.begin() + row, refSel.begin() + row + refCounts[b]);
          std::vector<int32_t> onlyGpu, onlyRef;
          std::set_difference(A.begin(), A.end(), B.begin(), B.end(), std::back_inserter(onlyGpu));
          std::set_difference(B.begin(), B.end(), A.begin(), A.end(), std::back_inserter(onlyRef));
          throw Failure{"selection of (" + std::to_string(b) + ", " + std::to_string(g) +
                        ") differs at " + std::to_string(i) + " (n " + std::to_string(refCounts[b]) +
                        "): " + std::to_string(onlyGpu.size()) + " blocks only on the GPU (first " +
                        (onlyGpu.empty() ? "-" : std::to_string(onlyGpu[0])) + "), " +
                        std::to_string(onlyRef.size()) + " only in the reference (first " +
                        (onlyRef.empty() ? "-" : std::to_string(onlyRef[0])) + ")" +
                        (i >= refCounts[b] ? " (written past n)" : "")};
        }
      }
      totalSel += refCounts[b];
    }
  }
  *maxSelectedOut = maxSel;
  *dSelOut = dsel;
  *dCountsOut = dcounts;
  char line[200];
  std::snprintf(line, sizeof line,
                "selection equal (%lld (b, g) blocks, up to %lld blocks/seq, top-n cluster %d, smem %d)",
                static_cast<long long>(totalSel), static_cast<long long>(maxM), plan.topNCluster,
                plan.scoresInSmem ? 1 : 0);
  return line;
}

// The output (bits) against the CPU reference.
std::string rowErrors(const Data &d, const std::vector<uint16_t> &got,
                      const std::vector<float> &ref) {
  std::vector<float> values(got.size());
  for (size_t i = 0; i < got.size(); ++i)
    values[i] = fromBits(got[i], d.c.dtype);
  return resa::cudatest::checkAttentionRows(d.s, d.lens, values, ref, d.c.dtype);
}

enum class SelMode { SelectOnly, Sparse, AllDense };

std::string runSelect(const Setup &c, BlockSelectParams params, float scale, SelMode mode,
                      int forceSplits, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Data d = makeData(c, rng);
  const PagedAttentionShape &s = d.s;
  const size_t qN = static_cast<size_t>(s.queryElements());
  DevBuf<uint16_t> dq(qN);
  dq.upload(toBitsVec(d.qf, c.dtype));
  DevBuf<int32_t> dtable(d.table.size()), dlens(d.lens.size());
  dtable.upload(d.table);
  dlens.upload(d.lens);
  if (mode == SelMode::AllDense)
    params.keptRatio = 1.0f;

  std::vector<int32_t> refSel, refCounts;
  int32_t maxSel = 0;
  DevBuf<int32_t> *dselRaw = nullptr, *dcountsRaw = nullptr;
  std::string msg = selectAndCheck(d, params, scale, dq, dtable, dlens, refSel, refCounts, &maxSel,
                                   &dselRaw, &dcountsRaw);
  std::unique_ptr<DevBuf<int32_t>> dsel(dselRaw), dcounts(dcountsRaw);
  if (mode == SelMode::SelectOnly)
    return msg;

  // Sparse attention with the GPU's lists.
  const size_t cacheN = static_cast<size_t>(s.cacheElements());
  DevBuf<uint16_t> dk(cacheN), dv(cacheN), dout(qN);
  dk.upload(toBitsVec(d.kf, c.dtype));
  dv.upload(toBitsVec(d.vf, c.dtype));
  resa::gpu::DecodeAttentionOptions opt;
  opt.forceSplits = forceSplits;
  resa::gpu::DecodeAttentionPlan plan;
  // (The row stride maxSel is wider than any count; the plan is clamped to
  // the blocks a sequence can have.)
  CUDA_OK(resa::gpu::planSparseDecodeAttention(s, c.dtype, maxSel, &plan, opt));
  DevBuf<char> ws(plan.workspaceBytes);
  if (plan.workspaceBytes)
    CUDA_OK(cudaMemset(ws.p, 0, plan.workspaceBytes));
  resa::gpu::DecodeAttentionArgs a;
  a.q = dq.p;
  a.kCache = dk.p;
  a.vCache = dv.p;
  a.pageTable = dtable.p;
  a.seqLens = dlens.p;
  a.out = dout.p;
  a.scale = scale;
  a.selected = dsel->p;
  a.selectedCounts = dcounts->p;
  a.maxSelected = maxSel;
  std::vector<uint16_t> got, first;
  for (int run = 0; run < 3; ++run) {
    CUDA_OK(cudaMemset(dout.p, 0xff, qN * 2));
    CUDA_OK(resa::gpu::decodeAttention(a, plan, ws.p, nullptr));
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    got = dout.download();
    if (run == 0)
      first = got;
    else if (got != first)
      throw Failure{"sparse run " + std::to_string(run) + " differs from run 0"};
  }
  char splits[64];
  std::snprintf(splits, sizeof splits, ", splits %d x %d stages", plan.numSplits,
                plan.stagesPerSplit);

  if (mode == SelMode::AllDense) {
    // The dense kernel with the same split (a plan for the same virtual
    // length) must give the same bits.
    resa::gpu::DecodeAttentionPlan dplan;
    CUDA_OK(resa::gpu::planDecodeAttention(s, c.dtype, plan.maxSeqLen, &dplan, opt));
    DevBuf<char> dws(dplan.workspaceBytes);
    if (dplan.workspaceBytes)
      CUDA_OK(cudaMemset(dws.p, 0, dplan.workspaceBytes));
    resa::gpu::DecodeAttentionArgs da = a;
    da.selected = nullptr;
    da.selectedCounts = nullptr;
    da.maxSelected = 0;
    CUDA_OK(cudaMemset(dout.p, 0xff, qN * 2));
    CUDA_OK(resa::gpu::decodeAttention(da, dplan, dws.p, nullptr));
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    const std::vector<uint16_t> dense = dout.download();
    size_t diff = 0;
    for (size_t i = 0; i < qN; ++i)
      diff += dense[i] != got[i];
    if (diff)
      throw Failure{std::to_string(diff) + " of " + std::to_string(qN) +
                    " outputs differ between sparse (every block) and dense"};
    std::vector<float> ref(qN);
    resa::pagedDecodeAttentionCpu(s, d.qf.data(), d.kf.data(), d.vf.data(), d.table.data(),
                                  d.lens.data(), scale, ref.data());
    return msg + "; sparse == dense bit for bit; vs CPU " + rowErrors(d, got, ref) + splits;
  }

  std::vector<float> ref(qN);
  resa::pagedSparseAttentionCpu(s, d.qf.data(), d.kf.data(), d.vf.data(), d.table.data(),
                                d.lens.data(), refSel.data(), maxSel, refCounts.data(), scale,
                                ref.data());
  return msg + "; " + rowErrors(d, got, ref) + splits;
}

// Selection alone at long contexts: summaries drawn directly (no K/V).
// expectThreads: the top-n thread block size the plan must pick.
std::string runSelectLong(KVDType dt, const std::vector<int> &lens, int topNCluster, int expectThreads,
                          uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Data d;
  d.c.dtype = dt;
  d.c.lens = lens;
  PagedAttentionShape &s = d.s;
  s.batch = static_cast<int>(lens.size());
  s.numQHeads = 32;
  s.numKvHeads = 8;
  s.headDim = 128;
  s.pageSize = 16;
  d.maxLen = *std::max_element(lens.begin(), lens.end());
  s.maxPagesPerSeq = (d.maxLen + 15) / 16;
  int used = 0;
  for (int l : lens)
    used += (l + 15) / 16;
  s.numPages = used;
  std::vector<int32_t> perm(static_cast<size_t>(used));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  d.table.assign(static_cast<size_t>(s.batch) * s.maxPagesPerSeq, 0);
  size_t next = 0;
  for (int b = 0; b < s.batch; ++b)
    for (int p = 0; p < (lens[b] + 15) / 16; ++p)
      d.table[static_cast<size_t>(b) * s.maxPagesPerSeq + p] = perm[next++];
  d.lens.assign(lens.begin(), lens.end());
  const size_t sumN = static_cast<size_t>(s.summaryElements());
  std::vector<float> kmin(sumN), kmax(sumN);
  for (size_t i = 0; i < sumN; ++i) {
    // The spread of a 16-token block: max and min of a few normals.
    float a = normal(rng), b = normal(rng);
    a = fromBits(toBits(std::fabs(a) + 0.5f, dt), dt);
    b = fromBits(toBits(-std::fabs(b) - 0.5f, dt), dt);
    kmax[i] = a;
    kmin[i] = b;
  }
  d.qf.resize(static_cast<size_t>(s.queryElements()));
  for (auto &x : d.qf)
    x = fromBits(toBits(normal(rng), dt), dt);
  BlockSelectParams params;
  resa::gpu::BlockSelectPlan plan;
  resa::gpu::BlockSelectOptions options;
  options.topNCluster = topNCluster;
  CUDA_OK(resa::gpu::planBlockSelect(s, dt, d.maxLen, params, &plan, options));
  if (plan.topNThreads != expectThreads)
    throw Failure{"the plan's top-n has " + std::to_string(plan.topNThreads) + " threads a block, not " +
                  std::to_string(expectThreads)};
  const int32_t maxSel = plan.maxSelected;
  std::vector<int32_t> refSel(static_cast<size_t>(s.batch) * s.numKvHeads * maxSel, kPoison32),
      refCounts(static_cast<size_t>(s.batch));
  resa::selectBlocksCpu(s, d.qf.data(), kmin.data(), kmax.data(), d.table.data(), d.lens.data(),
                        params, 0.0f, refSel.data(), maxSel, refCounts.data());
  DevBuf<uint16_t> dq(d.qf.size()), dmin(sumN), dmax(sumN);
  dq.upload(toBitsVec(d.qf, dt));
  dmin.upload(toBitsVec(kmin, dt));
  dmax.upload(toBitsVec(kmax, dt));
  DevBuf<int32_t> dtable(d.table.size()), dlens(d.lens.size()), dsel(refSel.size()),
      dcounts(refCounts.size());
  dtable.upload(d.table);
  dlens.upload(d.lens);
  std::vector<int32_t> poison(refSel.size(), kPoison32);
  dsel.upload(poison);
  DevBuf<char> ws(plan.workspaceBytes);
  resa::gpu::BlockSelectArgs a;
  a.q = dq.p;
  a.kmin = dmin.p;
  a.kmax = dmax.p;
  a.pageTable = dtable.p;
  a.seqLens = dlens.p;
  a.selected = dsel.p;
  a.maxSelected = maxSel;
  a.counts = dcounts.p;
  CUDA_OK(resa::gpu::selectBlocks(a, plan, ws.p, nullptr));
  CUDA_OK(cudaGetLastError());
  CUDA_OK(cudaDeviceSynchronize());
  const std::vector<int32_t> got = dsel.download(), gotCounts = dcounts.download();
  if (gotCounts != refCounts)
    throw Failure{"counts differ from the reference"};
  int mismatched = 0;
  std::string firstBad;
  for (size_t r = 0; r < got.size() / maxSel; ++r) {
    const int b = static_cast<int>(r / s.numKvHeads);
    for (int i = 0; i < maxSel; ++i)
      if (got[r * maxSel + i] != refSel[r * maxSel + i]) {
        if (!mismatched)
          firstBad = "(b " + std::to_string(b) + ", g " + std::to_string(r % s.numKvHeads) +
                     ") at " + std::to_string(i) + " of " + std::to_string(refCounts[b]);
        ++mismatched;
        break;
      }
  }
  if (mismatched)
    throw Failure{std::to_string(mismatched) + " (b, g) selections differ, first " + firstBad};
  char line[160];
  std::snprintf(line, sizeof line,
                "selection equal, %d blocks/seq, n %d, top-n cluster %d of %d threads, scores in smem %d",
                plan.maxBlocks, maxSel, plan.topNCluster, plan.topNThreads, plan.scoresInSmem ? 1 : 0);
  return line;
}

} // namespace

std::vector<NamedCase> blockSparseCases() {
  std::vector<NamedCase> cases;
  auto dtName = [](KVDType t) { return t == KVDType::BF16 ? std::string("bf16") : std::string("f16"); };

  // Summaries.
  for (KVDType dt : {KVDType::BF16, KVDType::F16}) {
    Setup c;
    c.dtype = dt;
    c.lens = {17, 1000, 4097, 33, 16};
    const std::vector<int> appends = {1, 37, 1, 16, 16};
    const std::string base = "summaries_" + dtName(dt) + "_q32kv8_d128_len" + lensStr(c.lens);
    cases.push_back({base + "_rebuild", [c](uint64_t s) {
                       return runSummaries(c, SummaryMode::Rebuild, {}, s);
                     }});
    cases.push_back({base + "_append", [c, appends](uint64_t s) {
                       return runSummaries(c, SummaryMode::Append, appends, s);
                     }});
    cases.push_back({base + "_rectify", [c](uint64_t s) {
                       return runSummaries(c, SummaryMode::Rectify, {}, s);
                     }});
    cases.push_back({base + "_updates", [c, appends](uint64_t s) {
                       return runSummaries(c, SummaryMode::Updates, appends, s);
                     }});
  }
  {
    Setup c;
    c.hq = 16;
    c.hkv = 4;
    c.d = 64;
    c.ps = 8;
    c.lens = {1, 9, 250};
    cases.push_back({"summaries_bf16_q16kv4_d64_ps8_len1,9,250_append", [c](uint64_t s) {
                       return runSummaries(c, SummaryMode::Append, {1, 9, 30}, s);
                     }});
  }

  // Selection + sparse attention against the CPU references.
  struct Sel {
    std::string name;
    Setup c;
    BlockSelectParams p;
    float scale;
    SelMode mode;
    int forceSplits;
  };
  std::vector<Sel> sels;
  auto setup = [](KVDType dt, int hq, int hkv, int d, int ps, std::vector<int> lens) {
    Setup c;
    c.dtype = dt;
    c.hq = hq;
    c.hkv = hkv;
    c.d = d;
    c.ps = ps;
    c.lens = std::move(lens);
    return c;
  };
  const BlockSelectParams def;
  BlockSelectParams few;  // a small minimum, so that short sequences are sparse too
  few.minBlocks = 4;
  BlockSelectParams wide;
  wide.keptRatio = 0.25f;
  wide.minBlocks = 2;
  wide.localBlocks = 3;
  BlockSelectParams noLocal;
  noLocal.minBlocks = 3;
  noLocal.localBlocks = 0;
  for (KVDType dt : {KVDType::BF16, KVDType::F16}) {
    const std::string t = dtName(dt);
    sels.push_back({"sparse_" + t + "_q32kv8_d128_len4097", setup(dt, 32, 8, 128, 16, {4097}), def,
                    0.0f, SelMode::Sparse, 0});
    sels.push_back({"sparse_" + t + "_q32kv8_d128_min4_len1,15,17,250,1000,3001",
                    setup(dt, 32, 8, 128, 16, {1, 15, 17, 250, 1000, 3001}), few, 0.0f,
                    SelMode::Sparse, 0});
  }
  sels.push_back({"sparse_bf16_q32kv8_d128_len256,257,16000", setup(KVDType::BF16, 32, 8, 128, 16,
                  {256, 257, 16000}), def, 0.0f, SelMode::Sparse, 0});
  sels.push_back({"sparse_bf16_q32kv8_d128_len65537", setup(KVDType::BF16, 32, 8, 128, 16, {65537}),
                  def, 0.0f, SelMode::Sparse, 0});
  sels.push_back({"sparse_bf16_q32kv8_d128_ratio0.25_local3_len2000,333",
                  setup(KVDType::BF16, 32, 8, 128, 16, {2000, 333}), wide, 0.0f, SelMode::Sparse, 0});
  sels.push_back({"sparse_bf16_q32kv8_d128_nolocal_len2001,700",
                  setup(KVDType::BF16, 32, 8, 128, 16, {2001, 700}), noLocal, 0.0f, SelMode::Sparse, 0});
  sels.push_back({"sparse_bf16_q32kv8_d128_scale-0.3_len1500", setup(KVDType::BF16, 32, 8, 128, 16,
                  {1500}), few, -0.3f, SelMode::Sparse, 0});
  sels.push_back({"sparse_bf16_q28kv4_d128_len3000,77", setup(KVDType::BF16, 28, 4, 128, 16,
                  {3000, 77}), few, 0.0f, SelMode::Sparse, 0});
  sels.push_back({"sparse_bf16_q32kv2_d128_len2049", setup(KVDType::BF16, 32, 2, 128, 16, {2049}),
                  few, 0.0f, SelMode::Sparse, 0});
  sels.push_back({"sparse_bf16_q16kv8_d64_len1500,99", setup(KVDType::BF16, 16, 8, 64, 16,
                  {1500, 99}), few, 0.0f, SelMode::Sparse, 0});
  sels.push_back({"sparse_f16_q8kv8_d64_len1001", setup(KVDType::F16, 8, 8, 64, 16, {1001}), few,
                  0.0f, SelMode::Sparse, 0});
  sels.push_back({"sparse_bf16_q32kv8_d128_ps8_len1001", setup(KVDType::BF16, 32, 8, 128, 8,
                  {1001}), few, 0.0f, SelMode::Sparse, 0});
  sels.push_back({"sparse_bf16_q32kv8_d128_ps32_len1001,40", setup(KVDType::BF16, 32, 8, 128, 32,
                  {1001, 40}), few, 0.0f, SelMode::Sparse, 0});
  sels.push_back({"sparse_bf16_q32kv8_d128_ps64_len3001,65", setup(KVDType::BF16, 32, 8, 128, 64,
                  {3001, 65}), few, 0.0f, SelMode::Sparse, 0});
  for (int fs : {1, 3, 7})
    sels.push_back({"sparse_bf16_q32kv8_d128_splits" + std::to_string(fs) + "_len4097,1000,0",
                    setup(KVDType::BF16, 32, 8, 128, 16, {4097, 1000, 0}), def, 0.0f,
                    SelMode::Sparse, fs});
  // Ties: keys in {-1, 0, 1} make many blocks' summaries (and scores) equal;
  // zero queries make every score equal (lowest indices win).
  {
    Setup c = setup(KVDType::BF16, 32, 8, 128, 16, {3000, 517});
    c.kMode = 1;
    c.qMode = 2;
    sels.push_back({"select_bf16_ties_coarse_keys_len3000,517", c, few, 0.0f, SelMode::Sparse, 0});
    c.qMode = 1;
    sels.push_back({"select_bf16_ties_zero_query_len3000,517", c, few, 0.0f, SelMode::SelectOnly, 0});
    // The same ties over top-n clusters of several thread blocks (the plan
    // would pick one at these lengths): equal scores across the blocks'
    // slices, slices with no candidate (16 blocks of 32 over 188 blocks).
    for (int cs : {4, 16}) {
      c.topNCluster = cs;
      c.qMode = 2;
      sels.push_back({"select_bf16_ties_coarse_keys_cluster" + std::to_string(cs) + "_len3000,517", c,
                      few, 0.0f, SelMode::SelectOnly, 0});
      c.qMode = 1;
      sels.push_back({"select_bf16_ties_zero_query_cluster" + std::to_string(cs) + "_len3000,517", c,
                      few, 0.0f, SelMode::SelectOnly, 0});
    }
  }
  // Clusters of 2 and 8 over sequences of different lengths (some shorter
  // than a slice, one with every block kept), and no local blocks.
  for (int cs : {2, 8}) {
    Setup c = setup(KVDType::BF16, 32, 8, 128, 16, {1, 15, 17, 250, 1000, 3001});
    c.topNCluster = cs;
    sels.push_back({"sparse_bf16_min4_cluster" + std::to_string(cs) + "_len1,15,17,250,1000,3001", c,
                    few, 0.0f, SelMode::Sparse, 0});
    c.lens = {2001, 700};
    sels.push_back({"select_bf16_nolocal_cluster" + std::to_string(cs) + "_len2001,700", c, noLocal,
                    0.0f, SelMode::SelectOnly, 0});
  }
  // Sequences sharing a page-table prefix (GSR's candidates forked from one
  // prompt): four candidates of 5 own tokens after a 4096-token prompt, and
  // own tails of different lengths with every block selected (sparse ==
  // dense on shared pages too).
  {
    Setup c = setup(KVDType::BF16, 32, 8, 128, 16, {4101, 4101, 4101, 4101});
    c.sharedPages = 256;
    sels.push_back({"sparse_bf16_q32kv8_d128_shared256_len4101x4", c, def, 0.0f, SelMode::Sparse,
                    0});
    c = setup(KVDType::BF16, 32, 8, 128, 16, {1024, 1500, 1100, 2048});
    c.sharedPages = 64;
    sels.push_back({"alldense_bf16_q32kv8_d128_shared64_len1024,1500,1100,2048", c, def, 0.0f,
                    SelMode::AllDense, 0});
  }
  // Every block selected: sparse == dense.
  sels.push_back({"alldense_bf16_q32kv8_d128_len4097,1000,17", setup(KVDType::BF16, 32, 8, 128, 16,
                  {4097, 1000, 17}), def, 0.0f, SelMode::AllDense, 0});
  sels.push_back({"alldense_f16_q32kv8_d128_ps64_len3001,65", setup(KVDType::F16, 32, 8, 128, 64,
                  {3001, 65}), def, 0.0f, SelMode::AllDense, 0});
  // KV head counts other than 8 (16, and 3: (head, 32 blocks) units that do
  // not divide evenly over the scoring kernel's 8 warps), head dim 256
  // (selection only: the attention kernels stop at 128).
  sels.push_back({"sparse_bf16_q16kv16_d128_len3001,40", setup(KVDType::BF16, 16, 16, 128, 16,
                  {3001, 40}), few, 0.0f, SelMode::Sparse, 0});
  sels.push_back({"sparse_bf16_q12kv3_d128_len2500", setup(KVDType::BF16, 12, 3, 128, 16, {2500}),
                  few, 0.0f, SelMode::Sparse, 0});
  sels.push_back({"select_bf16_q8kv2_d256_len5000,31", setup(KVDType::BF16, 8, 2, 256, 16,
                  {5000, 31}), few, 0.0f, SelMode::SelectOnly, 0});
  // Both forms of the scoring kernel's summary loads against the plan's pick
  // (evict-first for one short sequence, plain for several).
  {
    Setup c = setup(KVDType::BF16, 8, 2, 256, 16, {5000, 31});
    c.summariesEvictFirst = 1;
    sels.push_back({"select_bf16_q8kv2_d256_evictfirst_len5000,31", c, few, 0.0f,
                    SelMode::SelectOnly, 0});
    c = setup(KVDType::F16, 32, 8, 128, 16, {4097});
    c.summariesEvictFirst = 0;
    sels.push_back({"sparse_f16_q32kv8_d128_plainloads_len4097", c, def, 0.0f, SelMode::Sparse, 0});
  }
  // The scoring kernel's pooled queries past the default 48 KB of shared
  // memory (32 KV heads x 256 dims x 8 bytes = 64 KB: the opt-in limit).
  sels.push_back({"select_bf16_q32kv32_d256_len1500,700", setup(KVDType::BF16, 32, 32, 256, 16,
                  {1500, 700}), few, 0.0f, SelMode::SelectOnly, 0});
  for (const Sel &x : sels)
    cases.push_back({x.name, [x](uint64_t s) {
                       return runSelect(x.c, x.p, x.scale, x.mode, x.forceSplits, s);
                     }});
  // Long contexts, selection alone (256K: 16384 blocks per sequence; at
  // batch 3 the plan picks one top-n thread block of 1024 per (b, g), then
  // clusters of 16 forced; at 2048 blocks a sequence, blocks of 512).
  cases.push_back({"select_bf16_long_len262144,262139,100000", [](uint64_t s) {
                     return runSelectLong(KVDType::BF16, {262144, 262139, 100000}, 0, 1024, s);
                   }});
  cases.push_back({"select_bf16_long_cluster16_len262144,262139,100000", [](uint64_t s) {
                     return runSelectLong(KVDType::BF16, {262144, 262139, 100000}, 16, 256, s);
                   }});
  cases.push_back({"select_f16_long_len131072", [](uint64_t s) {
                     return runSelectLong(KVDType::F16, {131072}, 0, 1024, s);
                   }});
  cases.push_back({"select_bf16_long_topn512_len32768,30001", [](uint64_t s) {
                     return runSelectLong(KVDType::BF16, {32768, 30001}, 0, 512, s);
                   }});
  return cases;
}

} // namespace resa::cudatest
