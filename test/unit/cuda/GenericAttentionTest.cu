// The generic paged-attention kernels (resa/cuda/GenericAttention.h), the
// dispatch the runtime calls (resa/cuda/PagedAttention.h) and the device KV
// storage (runtime/src/cuda/CudaKVStorage.h), against the exact CPU
// references, on fresh random inputs every run:
//   - causal chunked prefill against one pagedDecodeAttentionCpu step per
//     query; dense decode against pagedDecodeAttentionCpu; block-sparse
//     decode against pagedSparseAttentionCpu (bf16 bound 1e-2 relative per
//     row, f16 2e-3), outputs poisoned with NaN before each of two runs that
//     must agree bit for bit, rows that are not outputs left untouched;
//   - block selection against selectBlocksCpu, exactly (ties included);
//   - the dispatch: the kernel each shape gets, fast and generic paths, an
//     unaligned query (generic fallback), plans and the decode workspace
//     reused across alternating shapes;
//   - CudaKVStorage under a KVCache against CpuKVStorage under another, fed
//     the same dtype-rounded K/V through prefill, fork, copy-on-write, pops and
//     overwrites: every pool (K, V, kmin, kmax) equal bit for bit, readTokens
//     equal, then decode and selection over the device pools against the CPU
//     references over the CPU pools;
//   - a decode step's rotary and K/V append in one kernel
//     (gpu::rotaryAppendDecode) against the rotation computed here in
//     double: q out and every written slot within the KV type's rounding,
//     every other slot of the poisoned pools untouched; also with q, k and v
//     given as a fused projection's fp32 slices, whose sums it must write
//     into the poisoned q, k and v exactly as summed here;
//   - the CUDA graphs' host-data staging (runtime/src/cuda/CallStaging.h):
//     slots packed in chunks (one larger than a chunk, empty ones), every
//     slot's device bytes equal to what was set, over two flushes.
// Head dims 5, 16, 32, 80, 128, 200; GQA 4/2, 8/8, 32/8; lengths off the page
// size; caches hold NaN wherever no token lives.
//
// A plain program like resa-cuda-tests; without a CUDA device each case prints
// "SKIPPED: <name> (no CUDA device)" and it exits 0.
//   resa-cuda-generic-attention-tests [--filter SUBSTRING] [--seed N]
#include "CudaTestUtil.h"
#include "cuda/CallStaging.h"
#include "cuda/CudaKVStorage.h"
#include "resa/cuda/GenericAttention.h"
#include "resa/cuda/PagedAttention.h"
#include "resa/cuda/PagedKVCopy.h"
#include "resa/kernels/BlockSparse.h"
#include "resa/kernels/PagedKV.h"
#include "resa/runtime/KVCache.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

using resa::BlockSelectParams;
using resa::DType;
using resa::PagedAttentionShape;
using resa::cudatest::DevBuf;
using resa::cudatest::Failure;
using resa::cudatest::fromBits;
using resa::cudatest::toBits;
using resa::gpu::KVDType;

constexpr uint16_t kPoison16 = 0xffff;  // NaN in bf16 and f16
constexpr int32_t kPoison32 = 0x7fffffff;

enum class Path { Generic, Dispatch };

double boundFor(KVDType t) { return t == KVDType::BF16 ? 1e-2 : 2e-3; }
const char *dtypeName(KVDType t) { return t == KVDType::BF16 ? "bf16" : "f16"; }

std::vector<uint16_t> bitsOf(const std::vector<float> &f, KVDType t) {
  std::vector<uint16_t> out(f.size());
  for (size_t i = 0; i < f.size(); ++i)
    out[i] = toBits(f[i], t);
  return out;
}

// Values exactly representable in the dtype.
std::vector<float> randomValues(size_t n, KVDType t, std::mt19937_64 &rng, float scale) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto &x : v)
    x = fromBits(toBits(scale * normal(rng), t), t);
  return v;
}

template <typename T> std::unique_ptr<DevBuf<T>> deviceCopy(const std::vector<T> &h) {
  auto d = std::make_unique<DevBuf<T>>(h.size());
  if (!h.empty())
    d->upload(h);
  return d;
}

// A paged cache holding lens[b] tokens of sequence b on shuffled pages, NaN
// wherever no token lives, with its summaries (min/max over the valid slots
// of each used page; NaN on the others). On the device too.
struct Cache {
  KVDType dtype = KVDType::BF16;
  PagedAttentionShape s;
  std::vector<int32_t> table, lens;
  std::vector<float> kf, vf, kmin, kmax;
  int maxLen = 0;
  std::unique_ptr<DevBuf<uint16_t>> dk, dv, dmin, dmax;
  std::unique_ptr<DevBuf<int32_t>> dtable, dlens;
};

// coarseKeys: keys in {-1, 0, 1}, so many pages share a summary (ties).
std::unique_ptr<Cache> makeCache(KVDType dtype, int hq, int hkv, int d, int ps,
                                 const std::vector<int> &lens, std::mt19937_64 &rng,
                                 bool coarseKeys = false) {
  auto c = std::make_unique<Cache>();
  c->dtype = dtype;
  const int batch = static_cast<int>(lens.size());
  c->maxLen = lens.empty() ? 0 : *std::max_element(lens.begin(), lens.end());
  PagedAttentionShape &s = c->s;
  s.batch = batch;
  s.numQHeads = hq;
  s.numKvHeads = hkv;
  s.headDim = d;
  s.pageSize = ps;
  s.maxPagesPerSeq = (c->maxLen + ps - 1) / ps + 1;
  int used = 0;
  for (int len : lens)
    used += (len + ps - 1) / ps;
  s.numPages = used + 5;
  std::vector<int32_t> perm(static_cast<size_t>(s.numPages));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  c->table.assign(static_cast<size_t>(batch) * s.maxPagesPerSeq, -1);
  size_t next = 0;
  for (int b = 0; b < batch; ++b)
    for (int m = 0; m * ps < lens[b]; ++m)
      c->table[static_cast<size_t>(b) * s.maxPagesPerSeq + m] = perm[next++];
  c->lens.assign(lens.begin(), lens.end());

  const float nan = std::numeric_limits<float>::quiet_NaN();
  const size_t cacheN = static_cast<size_t>(s.cacheElements());
  c->kf.assign(cacheN, nan);
  c->vf.assign(cacheN, nan);
  c->kmin.assign(static_cast<size_t>(s.summaryElements()), nan);
  c->kmax.assign(static_cast<size_t>(s.summaryElements()), nan);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> coarse(-1, 1);
  for (int b = 0; b < batch; ++b)
    for (int m = 0; m * ps < lens[b]; ++m) {
      const int page = c->table[static_cast<size_t>(b) * s.maxPagesPerSeq + m];
      const int valid = std::min(ps, lens[b] - m * ps);
      for (int h = 0; h < hkv; ++h) {
        float *mn = c->kmin.data() + resa::blockSummaryOffset(s, page, h);
        float *mx = c->kmax.data() + resa::blockSummaryOffset(s, page, h);
        std::fill(mn, mn + d, std::numeric_limits<float>::infinity());
        std::fill(mx, mx + d, -std::numeric_limits<float>::infinity());
        for (int slot = 0; slot < valid; ++slot) {
          const int64_t off = resa::pagedKVOffset(s, page, h, slot);
          for (int j = 0; j < d; ++j) {
            const float kx = coarseKeys ? static_cast<float>(coarse(rng)) : normal(rng);
            const float k = fromBits(toBits(kx, dtype), dtype);
            c->kf[static_cast<size_t>(off + j)] = k;
            c->vf[static_cast<size_t>(off + j)] = fromBits(toBits(normal(rng), dtype), dtype);
            mn[j] = std::min(mn[j], k);
            mx[j] = std::max(mx[j], k);
          }
        }
      }
    }
  c->dk = deviceCopy(bitsOf(c->kf, dtype));
  c->dv = deviceCopy(bitsOf(c->vf, dtype));
  c->dmin = deviceCopy(bitsOf(c->kmin, dtype));
  c->dmax = deviceCopy(bitsOf(c->kmax, dtype));
  c->dtable = deviceCopy(c->table);
  c->dlens = deviceCopy(c->lens);
  return c;
}

// Worst relative L2 error of a row (d values) against the reference; rows
// with valid[r] false must still hold the poison, and outputs must be finite.
double compareRows(const std::vector<uint16_t> &got, const std::vector<float> &want, int d,
                   KVDType t, const std::vector<char> &valid) {
  double worst = 0.0;
  for (size_t r = 0; r < valid.size(); ++r) {
    const size_t row = r * static_cast<size_t>(d);
    if (!valid[r]) {
      for (int j = 0; j < d; ++j)
        if (got[row + j] != kPoison16)
          throw Failure{"row " + std::to_string(r) + " is not an output but was written"};
      continue;
    }
    double num = 0.0, den = 0.0;
    for (int j = 0; j < d; ++j) {
      const float g = fromBits(got[row + j], t);
      if (!std::isfinite(g))
        throw Failure{"non-finite output in row " + std::to_string(r)};
      const double e = static_cast<double>(g) - want[row + j];
      num += e * e;
      den += static_cast<double>(want[row + j]) * want[row + j];
    }
    worst = std::max(worst, std::sqrt(num / std::max(den, 1e-30)));
  }
  return worst;
}

// The dispatch's state for a case (null on the generic path).
struct Dispatcher {
  std::unique_ptr<resa::gpu::DeviceAllocator> alloc;
  std::unique_ptr<resa::gpu::PagedAttentionState> state;
  explicit Dispatcher(Path path) {
    if (path == Path::Dispatch) {
      alloc = std::make_unique<resa::gpu::DeviceAllocator>();
      state = std::make_unique<resa::gpu::PagedAttentionState>(*alloc, nullptr);
    }
  }
};

void expectKernel(const char *got, const char *want) {
  if (want && std::string(got) != want)
    throw Failure{std::string("dispatch picks ") + got + ", expected " + want};
}

// Runs `launch` twice on poisoned output; the two results must agree.
std::vector<uint16_t> runTwice(DevBuf<uint16_t> &out, const std::function<void()> &launch) {
  std::vector<uint16_t> first;
  for (int run = 0; run < 2; ++run) {
    CUDA_OK(cudaMemset(out.p, 0xff, out.n * sizeof(uint16_t)));
    launch();
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    std::vector<uint16_t> got = out.download();
    if (run == 1 && got != first)
      throw Failure{"two runs differ"};
    first = std::move(got);
  }
  return first;
}

std::string errorLine(double worst, KVDType t, const char *kernel) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "worst row rel %.2e (bound %.0e), %s", worst, boundFor(t), kernel);
  if (!(worst <= boundFor(t)))
    throw Failure{buf};
  return buf;
}

// ---- prefill ----------------------------------------------------------------

struct PrefillCase {
  std::string name;
  KVDType dtype;
  int hq, hkv, d, ps;
  std::vector<int> starts, qlens;
  int maxQLen = 0;  // 0: max of qlens
  Path path = Path::Generic;
  const char *kernel = nullptr;  // what the dispatch must pick
};

std::string runPrefill(const PrefillCase &c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int batch = static_cast<int>(c.starts.size());
  int maxQ = c.maxQLen, maxKv = 1;
  std::vector<int> kvLens(batch);
  for (int b = 0; b < batch; ++b) {
    maxQ = std::max(maxQ, c.qlens[b]);
    kvLens[b] = c.starts[b] + c.qlens[b];
    maxKv = std::max(maxKv, kvLens[b]);
  }
  auto cache = makeCache(c.dtype, c.hq, c.hkv, c.d, c.ps, kvLens, rng);
  const PagedAttentionShape &s = cache->s;
  const size_t rows = static_cast<size_t>(batch) * c.hq * maxQ;
  std::vector<float> qf = randomValues(rows * c.d, c.dtype, rng, 1.5f);

  // Reference: query i of sequence b is a decode step over start + i + 1 tokens.
  std::vector<float> ref(rows * c.d, 0.0f);
  std::vector<char> valid(rows, 0);
  PagedAttentionShape s1 = s;
  s1.batch = 1;
  std::vector<float> q1(static_cast<size_t>(c.hq) * c.d), o1(q1.size());
  for (int b = 0; b < batch; ++b)
    for (int i = 0; i < c.qlens[b]; ++i) {
      for (int h = 0; h < c.hq; ++h)
        std::copy_n(qf.begin() + ((static_cast<size_t>(b) * c.hq + h) * maxQ + i) * c.d, c.d,
                    q1.begin() + static_cast<size_t>(h) * c.d);
      const int32_t len = c.starts[b] + i + 1;
      resa::pagedDecodeAttentionCpu(s1, q1.data(), cache->kf.data(), cache->vf.data(),
                                    cache->table.data() + static_cast<size_t>(b) * s.maxPagesPerSeq,
                                    &len, 0.0f, o1.data());
      for (int h = 0; h < c.hq; ++h) {
        const size_t row = (static_cast<size_t>(b) * c.hq + h) * maxQ + i;
        std::copy_n(o1.begin() + static_cast<size_t>(h) * c.d, c.d, ref.begin() + row * c.d);
        valid[row] = 1;
      }
    }

  auto dq = deviceCopy(bitsOf(qf, c.dtype));
  DevBuf<uint16_t> dout(rows * c.d);
  auto dstart = deviceCopy(std::vector<int32_t>(c.starts.begin(), c.starts.end()));
  auto dqlen = deviceCopy(std::vector<int32_t>(c.qlens.begin(), c.qlens.end()));
  resa::gpu::PrefillAttentionArgs a;
  a.q = dq->p;
  a.kCache = cache->dk->p;
  a.vCache = cache->dv->p;
  a.pageTable = cache->dtable->p;
  a.qStart = dstart->p;
  a.qLens = dqlen->p;
  a.out = dout.p;
  Dispatcher disp(c.path);
  const char *kernel = "generic";
  if (c.path == Path::Dispatch) {
    kernel = resa::gpu::pagedPrefillKernel(s, c.dtype);
    expectKernel(kernel, c.kernel);
  }
  const std::vector<uint16_t> got = runTwice(dout, [&] {
    if (c.path == Path::Generic)
      CUDA_OK(resa::gpu::genericPrefillAttention(s, c.dtype, maxQ, a, nullptr));
    else
      resa::gpu::pagedPrefill(*disp.state, s, c.dtype, a, maxQ, maxKv);
  });
  return errorLine(compareRows(got, ref, c.d, c.dtype, valid), c.dtype, kernel);
}

// ---- decode -----------------------------------------------------------------

struct DecodeCase {
  std::string name;
  KVDType dtype;
  int hq, hkv, d, ps;
  std::vector<int> lens;
  bool sparse = false;
  BlockSelectParams params{0.2f, 2, 1};
  Path path = Path::Generic;
  const char *kernel = nullptr;
  bool unalignedQ = false;  // q one element past an aligned address
};

// A decode batch with its reference output, on the device.
struct DecodeSetup {
  DecodeCase c;
  std::unique_ptr<Cache> cache;
  std::vector<float> ref;
  std::unique_ptr<DevBuf<uint16_t>> dq, dout;
  std::unique_ptr<DevBuf<int32_t>> dsel, dcounts;
  int32_t maxSelected = 0;
  resa::gpu::DecodeAttentionArgs args;
};

std::unique_ptr<DecodeSetup> makeDecode(const DecodeCase &c, std::mt19937_64 &rng) {
  auto st = std::make_unique<DecodeSetup>();
  st->c = c;
  st->cache = makeCache(c.dtype, c.hq, c.hkv, c.d, c.ps, c.lens, rng);
  const Cache &cache = *st->cache;
  const PagedAttentionShape &s = cache.s;
  std::vector<float> qf = randomValues(static_cast<size_t>(s.queryElements()), c.dtype, rng, 2.0f);
  st->ref.assign(qf.size(), 0.0f);
  std::vector<int32_t> sel, counts(static_cast<size_t>(s.batch));
  if (c.sparse) {
    // One slot of slack in the row stride.
    st->maxSelected =
        resa::selectedBlockCount((cache.maxLen + c.ps - 1) / c.ps, c.params) + 1;
    sel.assign(static_cast<size_t>(s.batch) * s.numKvHeads * st->maxSelected, kPoison32);
    resa::selectBlocksCpu(s, qf.data(), cache.kmin.data(), cache.kmax.data(), cache.table.data(),
                          cache.lens.data(), c.params, 0.0f, sel.data(), st->maxSelected,
                          counts.data());
    resa::pagedSparseAttentionCpu(s, qf.data(), cache.kf.data(), cache.vf.data(),
                                  cache.table.data(), cache.lens.data(), sel.data(),
                                  st->maxSelected, counts.data(), 0.0f, st->ref.data());
  } else {
    resa::pagedDecodeAttentionCpu(s, qf.data(), cache.kf.data(), cache.vf.data(),
                                  cache.table.data(), cache.lens.data(), 0.0f, st->ref.data());
  }
  std::vector<uint16_t> qb = bitsOf(qf, c.dtype);
  if (c.unalignedQ)
    qb.insert(qb.begin(), 0);
  st->dq = deviceCopy(qb);
  st->dout = std::make_unique<DevBuf<uint16_t>>(qf.size());
  resa::gpu::DecodeAttentionArgs &a = st->args;
  a.q = st->dq->p + (c.unalignedQ ? 1 : 0);
  a.kCache = cache.dk->p;
  a.vCache = cache.dv->p;
  a.pageTable = cache.dtable->p;
  a.seqLens = cache.dlens->p;
  a.out = st->dout->p;
  if (c.sparse) {
    st->dsel = deviceCopy(sel);
    st->dcounts = deviceCopy(counts);
    a.selected = st->dsel->p;
    a.selectedCounts = st->dcounts->p;
    a.maxSelected = st->maxSelected;
  }
  return st;
}

std::string runDecodeSetup(DecodeSetup &st, resa::gpu::PagedAttentionState *state) {
  const DecodeCase &c = st.c;
  const PagedAttentionShape &s = st.cache->s;
  const char *kernel = "generic";
  if (state) {
    kernel = resa::gpu::pagedDecodeKernel(s, c.dtype);
    expectKernel(kernel, c.kernel);
  }
  const std::vector<uint16_t> got = runTwice(*st.dout, [&] {
    if (!state)
      CUDA_OK(resa::gpu::genericDecodeAttention(s, c.dtype, st.args, nullptr));
    else
      resa::gpu::pagedDecode(*state, s, c.dtype, st.args, st.cache->maxLen);
  });
  const std::vector<char> valid(static_cast<size_t>(s.batch) * s.numQHeads, 1);
  return errorLine(compareRows(got, st.ref, c.d, c.dtype, valid), c.dtype, kernel);
}

std::string runDecode(const DecodeCase &c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto st = makeDecode(c, rng);
  Dispatcher disp(c.path);
  return runDecodeSetup(*st, disp.state.get());
}

// Fast decode through one dispatch state, alternating shapes (and a sparse
// plan) so that the workspace is shared by plans of different layouts: each
// call must still start from zeroed counters. B has 96 (sequence, KV head)
// pairs, so its counters reach past A's (8 pairs, padded to 256 bytes) into
// where A left partial results.
std::string runDecodeAlternating(uint64_t seed) {
  std::mt19937_64 rng(seed);
  DecodeCase a{"a", KVDType::BF16, 32, 8, 128, 16, {3000}};
  a.kernel = "decode-tc";
  DecodeCase b = a;
  b.lens = {600, 17, 900, 450, 1, 700, 333, 640, 0, 512, 999, 77};
  DecodeCase sp = a;
  sp.sparse = true;
  sp.params = {0.1f, 4, 1};
  auto A = makeDecode(a, rng);
  auto B = makeDecode(b, rng);
  auto SP = makeDecode(sp, rng);
  Dispatcher disp(Path::Dispatch);
  std::string last;
  for (DecodeSetup *st : {A.get(), B.get(), SP.get(), A.get(), B.get(), SP.get(), A.get()})
    last = runDecodeSetup(*st, disp.state.get());
  if (disp.state->cachedPlans() != 3)
    throw Failure{"expected 3 cached plans, got " + std::to_string(disp.state->cachedPlans())};
  return last + ", 3 plans";
}

// ---- selection --------------------------------------------------------------

struct SelectCase {
  std::string name;
  KVDType dtype;
  int hq, hkv, d, ps;
  std::vector<int> lens;
  BlockSelectParams params{0.25f, 2, 1};
  bool coarseKeys = false;
  int qMode = 0;  // 0: normal; 1: zero (every score equal); 2: {+-0.5 .. +-2} (exact ties)
  Path path = Path::Generic;
  const char *kernel = nullptr;
};

// selected rows: the reference's first n entries, the poison after them.
void compareSelection(const PagedAttentionShape &s, const std::vector<int32_t> &refSel,
                      const std::vector<int32_t> &refCounts, const std::vector<int32_t> &gotSel,
                      const std::vector<int32_t> &gotCounts, int32_t maxSelected) {
  for (int b = 0; b < s.batch; ++b) {
    if (gotCounts[b] != refCounts[b])
      throw Failure{"counts[" + std::to_string(b) + "] = " + std::to_string(gotCounts[b]) +
                    ", want " + std::to_string(refCounts[b])};
    for (int g = 0; g < s.numKvHeads; ++g)
      for (int i = 0; i < maxSelected; ++i) {
        const size_t at = (static_cast<size_t>(b) * s.numKvHeads + g) * maxSelected + i;
        const int32_t want = i < refCounts[b] ? refSel[at] : kPoison32;
        if (gotSel[at] != want)
          throw Failure{"selected[" + std::to_string(b) + "][" + std::to_string(g) + "][" +
                        std::to_string(i) + "] = " + std::to_string(gotSel[at]) + ", want " +
                        std::to_string(want)};
      }
  }
}

std::string runSelect(const SelectCase &c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto cache = makeCache(c.dtype, c.hq, c.hkv, c.d, c.ps, c.lens, rng, c.coarseKeys);
  const PagedAttentionShape &s = cache->s;
  std::vector<float> qf = randomValues(static_cast<size_t>(s.queryElements()), c.dtype, rng, 2.0f);
  std::uniform_int_distribution<int> q8(0, 7);
  if (c.qMode == 1)
    std::fill(qf.begin(), qf.end(), 0.0f);
  else if (c.qMode == 2)
    for (auto &x : qf) {
      const int k = q8(rng);
      x = (k < 4 ? -0.5f : 0.5f) * static_cast<float>(1 + k % 4);
    }
  const int maxBlocks = (cache->maxLen + c.ps - 1) / c.ps;
  const int32_t maxSelected = resa::selectedBlockCount(maxBlocks, c.params) + 2;
  std::vector<int32_t> refSel(static_cast<size_t>(s.batch) * s.numKvHeads * maxSelected,
                              kPoison32),
      refCounts(static_cast<size_t>(s.batch));
  resa::selectBlocksCpu(s, qf.data(), cache->kmin.data(), cache->kmax.data(),
                        cache->table.data(), cache->lens.data(), c.params, 0.0f, refSel.data(),
                        maxSelected, refCounts.data());

  auto dq = deviceCopy(bitsOf(qf, c.dtype));
  DevBuf<int32_t> dsel(refSel.size()), dcounts(refCounts.size());
  resa::gpu::BlockSelectArgs a;
  a.q = dq->p;
  a.kmin = cache->dmin->p;
  a.kmax = cache->dmax->p;
  a.pageTable = cache->dtable->p;
  a.seqLens = cache->dlens->p;
  a.selected = dsel.p;
  a.maxSelected = maxSelected;
  a.counts = dcounts.p;
  Dispatcher disp(c.path);
  const char *kernel = "generic";
  if (c.path == Path::Dispatch) {
    kernel = resa::gpu::pagedSelectKernel(s, c.dtype);
    expectKernel(kernel, c.kernel);
  }
  const size_t wsBytes = resa::gpu::genericSelectWorkspaceBytes(s, cache->maxLen);
  DevBuf<unsigned char> ws(wsBytes);
  if (wsBytes)
    CUDA_OK(cudaMemset(ws.p, 0xff, wsBytes));  // NaN garbage
  for (int run = 0; run < 2; ++run) {
    dsel.upload(std::vector<int32_t>(refSel.size(), kPoison32));
    dcounts.upload(std::vector<int32_t>(refCounts.size(), kPoison32));
    if (c.path == Path::Generic)
      CUDA_OK(resa::gpu::genericSelectBlocks(s, c.dtype, cache->maxLen, c.params, a, ws.p,
                                             nullptr));
    else
      resa::gpu::pagedSelect(*disp.state, s, c.dtype, c.params, a, cache->maxLen);
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    compareSelection(s, refSel, refCounts, dsel.download(), dcounts.download(), maxSelected);
  }
  int total = 0;
  for (int32_t n : refCounts)
    total += n;
  return std::to_string(total) + " blocks per head selected over " + std::to_string(s.batch) +
         " sequences, exact, " + kernel;
}

// ---- the device KV storage ----------------------------------------------------

struct StorageCase {
  std::string name;
  KVDType dtype;
  int d, ps;
  int hq = 4, hkv = 2, layers = 2;
};

std::string runStorage(const StorageCase &c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  resa::KVCacheConfig cfg;
  cfg.numLayers = c.layers;
  cfg.numKvHeads = c.hkv;
  cfg.headDim = c.d;
  cfg.pageSize = c.ps;
  cfg.numPages = 64;
  resa::KVCache cpu(cfg);
  resa::KVCache gpu(cfg, std::make_unique<resa::CudaKVStorage>(cfg, c.dtype, nullptr));
  resa::KVStorage &dev = gpu.storage();
  if (dev.hostF32())
    throw Failure{"CudaKVStorage claims host fp32 pools"};

  // Every pool equal bit for bit (the CPU pools hold dtype-rounded values, so
  // their min/max are stored values too), every sequence's tokens equal.
  auto compareAll = [&](const std::string &when) {
    for (int l = 0; l < c.layers; ++l) {
      const float *cpuPools[4] = {cpu.keys(l), cpu.values(l), cpu.keyMin(l), cpu.keyMax(l)};
      void *devPools[4] = {dev.keys(l), dev.values(l), dev.keyMin(l), dev.keyMax(l)};
      const char *names[4] = {"K", "V", "kmin", "kmax"};
      for (int w = 0; w < 4; ++w) {
        const size_t n = static_cast<size_t>(w < 2 ? cfg.poolElements() : cfg.summaryElements());
        std::vector<uint16_t> got(n);
        CUDA_OK(cudaMemcpy(got.data(), devPools[w], n * 2, cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < n; ++i)
          if (got[i] != toBits(cpuPools[w][i], c.dtype))
            throw Failure{when + ": layer " + std::to_string(l) + " " + names[w] + " element " +
                          std::to_string(i) + ": bits " + std::to_string(got[i]) + ", want " +
                          std::to_string(toBits(cpuPools[w][i], c.dtype))};
      }
      for (int64_t id : cpu.sequences()) {
        if (cpu.pagesOf(id) != gpu.pagesOf(id))
          throw Failure{when + ": the two caches' page lists differ"};
        const int64_t len = cpu.length(id);
        const size_t n = static_cast<size_t>(len) * c.hkv * c.d;
        std::vector<float> ck(n), cv(n), gk(n, -1.0f), gv(n, -1.0f);
        cpu.readTokens(id, l, 0, len, ck.data(), cv.data());
        gpu.readTokens(id, l, 0, len, gk.data(), gv.data());
        if (ck != gk || cv != gv)
          throw Failure{when + ": readTokens of sequence " + std::to_string(id) + " differs"};
      }
    }
  };
  // One forward on both caches, the same dtype-rounded K/V in each layer.
  auto forward = [&](const std::vector<int64_t> &ids, const std::vector<int64_t> &starts,
                     const std::vector<int64_t> &lengths, const std::string &when) {
    cpu.beginForward(ids, starts, lengths);
    gpu.beginForward(ids, starts, lengths);
    const size_t n = static_cast<size_t>(cpu.totalNewTokens()) * c.hkv * c.d;
    for (int l = 0; l < c.layers; ++l) {
      const std::vector<float> k = randomValues(n, c.dtype, rng, 1.0f);
      const std::vector<float> v = randomValues(n, c.dtype, rng, 1.0f);
      cpu.writeLayer(l, k.data(), v.data());
      auto dk = deviceCopy(bitsOf(k, c.dtype));
      auto dv = deviceCopy(bitsOf(v, c.dtype));
      gpu.writeLayer(l, dk->p, dv->p);
      CUDA_OK(cudaDeviceSynchronize());  // before the device K/V buffers go
    }
    cpu.endForward();
    gpu.endForward();
    compareAll(when);
  };
  auto both = [&](const std::function<void(resa::KVCache &)> &f, const std::string &when) {
    f(cpu);
    f(gpu);
    compareAll(when);
  };
  compareAll("fresh");
  both([](resa::KVCache &k) { k.addSequence(1); }, "add");
  forward({1}, {0}, {11}, "prefill 11");
  both([](resa::KVCache &k) { k.forkSequence(1, 2); }, "fork");
  forward({1, 2}, {11, 11}, {1, 3}, "decode after fork (copy-on-write)");
  both([](resa::KVCache &k) { k.addSequence(3); }, "add 3");
  forward({3, 1}, {0, 12}, {37, 2}, "prefill 37 + append 2");
  both([](resa::KVCache &k) { k.forkSequence(3, 4); }, "fork 3");
  both([](resa::KVCache &k) { k.popTokens(4, 3); }, "pop shared tail");
  both([](resa::KVCache &k) { k.popTokens(2, 2); }, "pop");
  forward({2, 4}, {7, 30}, {5, 6}, "overwrite (rectification)");
  both([](resa::KVCache &k) { k.removeSequence(1); }, "remove");
  forward({3}, {37}, {20}, "append 20");

  // Attention over the pools: the device cache through the dispatch against
  // the CPU references over the CPU cache (last layer).
  const std::vector<int64_t> ids = cpu.sequences();
  PagedAttentionShape s;
  s.batch = static_cast<int32_t>(ids.size());
  s.numQHeads = c.hq;
  s.numKvHeads = c.hkv;
  s.headDim = c.d;
  s.pageSize = c.ps;
  s.numPages = static_cast<int32_t>(cfg.numPages);
  std::vector<int32_t> lens;
  int maxLen = 0;
  for (int64_t id : ids) {
    lens.push_back(static_cast<int32_t>(cpu.length(id)));
    maxLen = std::max(maxLen, lens.back());
    s.maxPagesPerSeq = std::max<int32_t>(s.maxPagesPerSeq,
                                         static_cast<int32_t>(cpu.pagesOf(id).size()));
  }
  std::vector<int32_t> table(static_cast<size_t>(s.batch) * s.maxPagesPerSeq, 0);
  for (size_t b = 0; b < ids.size(); ++b) {
    const std::vector<int32_t> pages = cpu.pagesOf(ids[b]);
    std::copy(pages.begin(), pages.end(), table.begin() + b * s.maxPagesPerSeq);
  }
  const int layer = c.layers - 1;
  std::vector<float> qf = randomValues(static_cast<size_t>(s.queryElements()), c.dtype, rng, 2.0f);
  std::vector<float> ref(qf.size());
  resa::pagedDecodeAttentionCpu(s, qf.data(), cpu.keys(layer), cpu.values(layer), table.data(),
                                lens.data(), 0.0f, ref.data());
  const BlockSelectParams params{0.3f, 1, 1};
  const int32_t maxSelected = resa::selectedBlockCount((maxLen + c.ps - 1) / c.ps, params);
  std::vector<int32_t> refSel(static_cast<size_t>(s.batch) * s.numKvHeads * maxSelected, kPoison32),
      refCounts(static_cast<size_t>(s.batch));
  resa::selectBlocksCpu(s, qf.data(), cpu.keyMin(layer), cpu.keyMax(layer), table.data(),
                        lens.data(), params, 0.0f, refSel.data(), maxSelected, refCounts.data());

  auto dq = deviceCopy(bitsOf(qf, c.dtype));
  auto dtable = deviceCopy(table);
  auto dlens = deviceCopy(lens);
  DevBuf<uint16_t> dout(qf.size());
  DevBuf<int32_t> dsel(refSel.size()), dcounts(refCounts.size());
  dsel.upload(std::vector<int32_t>(refSel.size(), kPoison32));
  Dispatcher disp(Path::Dispatch);
  resa::gpu::DecodeAttentionArgs da;
  da.q = dq->p;
  da.kCache = dev.keys(layer);
  da.vCache = dev.values(layer);
  da.pageTable = dtable->p;
  da.seqLens = dlens->p;
  da.out = dout.p;
  const std::vector<uint16_t> got = runTwice(
      dout, [&] { resa::gpu::pagedDecode(*disp.state, s, c.dtype, da, maxLen); });
  const std::vector<char> valid(static_cast<size_t>(s.batch) * s.numQHeads, 1);
  const std::string line = errorLine(compareRows(got, ref, c.d, c.dtype, valid), c.dtype,
                                     resa::gpu::pagedDecodeKernel(s, c.dtype));
  resa::gpu::BlockSelectArgs sa;
  sa.q = dq->p;
  sa.kmin = dev.keyMin(layer);
  sa.kmax = dev.keyMax(layer);
  sa.pageTable = dtable->p;
  sa.seqLens = dlens->p;
  sa.selected = dsel.p;
  sa.maxSelected = maxSelected;
  sa.counts = dcounts.p;
  resa::gpu::pagedSelect(*disp.state, s, c.dtype, params, sa, maxLen);
  CUDA_OK(cudaDeviceSynchronize());
  compareSelection(s, refSel, refCounts, dsel.download(), dcounts.download(), maxSelected);
  return std::string(dtypeName(c.dtype)) + " pools equal through 7 forwards and pops; decode " +
         line + "; selection exact (" + resa::gpu::pagedSelectKernel(s, c.dtype) + ")";
}

// ---- the cases ----------------------------------------------------------------

// gpu::rotaryAppendDecode: q rotated into qOut, k rotated and v copied into
// the pools at each sequence's slot, against a reference in double.
struct RotaryAppendCase {
  std::string name;
  KVDType kv;
  bool fp32Act;  // activations in fp32, else in the KV type
  bool kvCos;    // cos/sin in the KV type (as a 16-bit package stores them), else fp32
  int batch, qHeads, kvHeads, headDim, pageSize, rotaryDim;
  bool interleaved, halfWidth, sharedCos;
  // q, k and v given as a fused projection's 4 fp32 slices, which the
  // kernel sums and writes back.
  bool sliced = false;
  // The pools keep block summaries, which the kernel refreshes (sequence
  // b's page: from its slot, or from an earlier one or slot 0 over earlier
  // keys of the page).
  bool summaries = false;
};

std::string runRotaryAppend(const RotaryAppendCase &c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  const int B = c.batch, D = c.headDim, Hq = c.qHeads, Hkv = c.kvHeads, rot = c.rotaryDim;
  const int width = c.halfWidth ? rot / 2 : rot, cosRows = c.sharedCos ? 1 : B;
  const int numPages = 3 * B + 2;
  // Inputs as stored: fp32, or rounded to the KV type (bits on the device).
  auto stored = [&](float x) { return c.fp32Act ? x : fromBits(toBits(x, c.kv), c.kv); };
  std::vector<float> q(size_t(B) * Hq * D), k(size_t(B) * Hkv * D), v(k.size());
  for (auto *t : {&q, &k, &v})
    for (float &x : *t) x = stored(normal(rng));
  // Sliced: parts [4][B][row], a row q's columns then k's then v's; q, k and
  // v become the sums (in slice order, as the kernel adds them), rounded as
  // stored.
  constexpr int kSlices = resa::gpu::kRotaryAppendSlices;
  const size_t row = size_t(Hq + 2 * Hkv) * D;
  std::vector<float> parts(c.sliced ? kSlices * B * row : 0);
  for (float &x : parts) x = 0.5f * normal(rng);
  if (c.sliced) {
    std::vector<float> *to[] = {&q, &k, &v};
    size_t col0 = 0;
    for (int t = 0; t < 3; ++t) {
      const size_t width = to[t]->size() / B;
      for (int b = 0; b < B; ++b)
        for (size_t j = 0; j < width; ++j) {
          float sum = 0.f;
          for (int sl = 0; sl < kSlices; ++sl) sum += parts[(size_t(sl) * B + b) * row + col0 + j];
          (*to[t])[b * width + j] = stored(sum);
        }
      col0 += width;
    }
  }
  std::vector<float> cosv(size_t(cosRows) * width), sinv(cosv.size());
  for (size_t i = 0; i < cosv.size(); ++i) {
    const float angle = 3.f * normal(rng);
    cosv[i] = std::cos(angle), sinv[i] = std::sin(angle);
    if (c.kvCos)
      cosv[i] = fromBits(toBits(cosv[i], c.kv), c.kv), sinv[i] = fromBits(toBits(sinv[i], c.kv), c.kv);
  }
  // Distinct slots in random pages (with summaries, distinct pages: a
  // sequence writes its own page).
  std::vector<int32_t> slots(static_cast<size_t>(B));
  std::vector<int32_t> all(size_t(numPages) * (c.summaries ? 1 : c.pageSize));
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), rng);
  for (int b = 0; b < B; ++b)
    slots[size_t(b)] = c.summaries ? all[size_t(b)] * c.pageSize + int(rng() % c.pageSize) : all[size_t(b)];
  // The reference rotation of element d of row x (its sequence's cos row).
  auto rotate = [&](const float *x, int d, int b) {
    if (d >= rot) return double(x[d]);
    const int half = rot / 2;
    const bool first = c.interleaved ? d % 2 == 0 : d < half;
    const int pair = c.interleaved ? d / 2 : (first ? d : d - half);
    const int partner = c.interleaved ? (first ? d + 1 : d - 1) : (first ? d + half : d - half);
    const size_t ci = size_t(c.sharedCos ? 0 : b) * width + (width == rot ? d : pair);
    const double cs = cosv[ci], sn = sinv[ci];
    return first ? x[d] * cs - x[partner] * sn : x[d] * cs + x[partner] * sn;
  };
  auto upload = [&](const std::vector<float> &h) {
    std::vector<uint16_t> bits(h.size());
    for (size_t i = 0; i < h.size(); ++i) bits[i] = toBits(h[i], c.kv);
    return bits;
  };
  DevBuf<float> dq32(c.fp32Act ? q.size() : 0), dk32(c.fp32Act ? k.size() : 0), dv32(c.fp32Act ? v.size() : 0);
  DevBuf<uint16_t> dq16(c.fp32Act ? 0 : q.size()), dk16(c.fp32Act ? 0 : k.size()), dv16(c.fp32Act ? 0 : v.size());
  if (c.sliced) {  // the sums' destinations, poisoned (NaN)
    for (DevBuf<float> *d : {&dq32, &dk32, &dv32})
      if (d->n) CUDA_OK(cudaMemset(d->p, 0xff, d->n * sizeof(float)));
    for (DevBuf<uint16_t> *d : {&dq16, &dk16, &dv16})
      if (d->n) CUDA_OK(cudaMemset(d->p, 0xff, d->n * sizeof(uint16_t)));
  } else if (c.fp32Act) {
    dq32.upload(q), dk32.upload(k), dv32.upload(v);
  } else {
    dq16.upload(upload(q)), dk16.upload(upload(k)), dv16.upload(upload(v));
  }
  DevBuf<float> dparts(parts.size());
  if (c.sliced) dparts.upload(parts);
  DevBuf<float> dcos32(c.kvCos ? 0 : cosv.size()), dsin32(c.kvCos ? 0 : sinv.size());
  DevBuf<uint16_t> dcos16(c.kvCos ? cosv.size() : 0), dsin16(c.kvCos ? sinv.size() : 0);
  if (c.kvCos)
    dcos16.upload(upload(cosv)), dsin16.upload(upload(sinv));
  else
    dcos32.upload(cosv), dsin32.upload(sinv);
  DevBuf<int32_t> dslots(slots.size());
  dslots.upload(slots);
  const size_t pool = size_t(numPages) * Hkv * c.pageSize * D;
  DevBuf<uint16_t> kc(pool), vc(pool), qo(q.size());
  const uint16_t nan = c.kv == KVDType::BF16 ? 0x7fc0 : 0x7e00;
  // With summaries: each sequence's update (from a random slot up to its
  // own), the keys before its slot in its page, and summaries (random
  // stored values, as an earlier step would have left them).
  std::vector<resa::gpu::BlockSummaryUpdate> updates;
  std::vector<uint16_t> kInit(pool, nan), minInit, maxInit;
  const size_t sumN = size_t(numPages) * Hkv * D;
  if (c.summaries) {
    for (int b = 0; b < B; ++b) {
      const int page = slots[size_t(b)] / c.pageSize, own = slots[size_t(b)] % c.pageSize;
      updates.push_back({page, b % 2 == 0 ? own : int(rng() % (own + 1)), own + 1});
      for (int h = 0; h < Hkv; ++h)
        for (int sl = 0; sl < own; ++sl)
          for (int d = 0; d < D; ++d)
            kInit[((size_t(page) * Hkv + h) * c.pageSize + sl) * D + d] = toBits(normal(rng), c.kv);
    }
    for (auto *m : {&minInit, &maxInit})
      for (size_t i = 0; i < sumN; ++i) m->push_back(toBits(normal(rng), c.kv));
  }
  DevBuf<uint16_t> dmin(minInit.size()), dmax(maxInit.size());
  DevBuf<int32_t> dupdates(3 * updates.size());
  if (c.summaries) {
    dmin.upload(minInit), dmax.upload(maxInit);
    CUDA_OK(cudaMemcpy(dupdates.p, updates.data(), updates.size() * sizeof(updates[0]),
                       cudaMemcpyHostToDevice));
  }
  kc.upload(kInit);
  CUDA_OK(resa::gpu::fill16(vc.p, nan, int64_t(pool), nullptr));
  CUDA_OK(resa::gpu::fill16(qo.p, nan, int64_t(q.size()), nullptr));
  PagedAttentionShape shape;
  shape.numQHeads = Hq, shape.numKvHeads = Hkv, shape.headDim = D, shape.pageSize = c.pageSize;
  shape.numPages = numPages;
  resa::gpu::RotaryAppendArgs a;
  a.batch = B, a.numQHeads = Hq;
  a.q = c.fp32Act ? static_cast<const void *>(dq32.p) : dq16.p;
  a.k = c.fp32Act ? static_cast<const void *>(dk32.p) : dk16.p;
  a.v = c.fp32Act ? static_cast<const void *>(dv32.p) : dv16.p;
  const DType kvDType = c.kv == KVDType::BF16 ? DType::BF16 : DType::F16;
  a.actType = c.fp32Act ? DType::F32 : kvDType;
  a.cos = c.kvCos ? static_cast<const void *>(dcos16.p) : dcos32.p;
  a.sin = c.kvCos ? static_cast<const void *>(dsin16.p) : dsin32.p;
  a.cosType = c.kvCos ? kvDType : DType::F32;
  a.cosRows = cosRows, a.width = width, a.rotaryDim = rot;
  a.interleaved = c.interleaved;
  a.qOut = qo.p, a.slots = dslots.p, a.kCache = kc.p, a.vCache = vc.p;
  if (c.sliced) {
    a.q = a.k = a.v = nullptr;
    a.sliced.parts = dparts.p;
    a.sliced.count = kSlices;
    a.sliced.rowStride = int64_t(row);
    a.sliced.sums[0] = c.fp32Act ? static_cast<void *>(dq32.p) : dq16.p;
    a.sliced.sums[1] = c.fp32Act ? static_cast<void *>(dk32.p) : dk16.p;
    a.sliced.sums[2] = c.fp32Act ? static_cast<void *>(dv32.p) : dv16.p;
  }
  if (c.summaries) {
    a.summaryUpdates = reinterpret_cast<const resa::gpu::BlockSummaryUpdate *>(dupdates.p);
    a.kmin = dmin.p, a.kmax = dmax.p;
  }
  CUDA_OK(resa::gpu::rotaryAppendDecode(shape, c.kv, a, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  // The sums written back: the very values the reference rotates.
  if (c.sliced) {
    const std::vector<float> *want[] = {&q, &k, &v};
    for (int t = 0; t < 3; ++t) {
      std::vector<float> got;
      if (c.fp32Act) {
        got = (t == 0 ? dq32 : t == 1 ? dk32 : dv32).download();
      } else {
        for (uint16_t bits : (t == 0 ? dq16 : t == 1 ? dk16 : dv16).download()) got.push_back(fromBits(bits, c.kv));
      }
      for (size_t i = 0; i < got.size(); ++i)
        if (!(got[i] == (*want[t])[i]))
          throw Failure{std::string("sum ") + "qkv"[t] + "[" + std::to_string(i) + "] " + std::to_string(got[i]) +
                        ", expected " + std::to_string((*want[t])[i])};
    }
  }
  const std::vector<uint16_t> gotQ = qo.download(), gotK = kc.download(), gotV = vc.download();
  const double tol = c.kv == KVDType::BF16 ? 1e-2 : 2e-3;
  double worst = 0;
  auto check = [&](uint16_t got, double want, const std::string &what) {
    const double g = fromBits(got, c.kv), err = std::fabs(g - want) / std::max(1.0, std::fabs(want));
    if (!(err <= tol)) throw Failure{what + ": " + std::to_string(g) + ", expected " + std::to_string(want)};
    worst = std::max(worst, err);
  };
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < Hq; ++h)
      for (int d = 0; d < D; ++d) {
        const size_t row = (size_t(b) * Hq + h) * D;
        check(gotQ[row + d], rotate(q.data() + row, d, b), "q b" + std::to_string(b) + " h" + std::to_string(h));
      }
  std::vector<char> written(pool, 0);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < Hkv; ++h)
      for (int d = 0; d < D; ++d) {
        const size_t row = (size_t(b) * Hkv + h) * D;
        const int32_t s = slots[size_t(b)];
        const size_t at = ((size_t(s / c.pageSize) * Hkv + h) * c.pageSize + s % c.pageSize) * D + d;
        check(gotK[at], rotate(k.data() + row, d, b), "k b" + std::to_string(b));
        check(gotV[at], v[row + d], "v b" + std::to_string(b));
        written[at] = 1;
      }
  for (size_t i = 0; i < pool; ++i)
    if (!written[i] && (gotK[i] != kInit[i] || gotV[i] != nan))
      throw Failure{"pool element " + std::to_string(i) + " written, no token's"};
  if (!c.summaries)
    return "q, k and v within " + std::to_string(worst) + " of the reference, other slots untouched";
  // The summaries: exactly the min and max of the stored keys (the ones the
  // kernel wrote among them) over the update's slots, from the stored
  // summary or from +-inf; every other summary element untouched.
  std::vector<uint16_t> wantMin = minInit, wantMax = maxInit;
  for (const resa::gpu::BlockSummaryUpdate &u : updates)
    for (int h = 0; h < Hkv; ++h)
      for (int d = 0; d < D; ++d) {
        const size_t at = (size_t(u.page) * Hkv + h) * D + d;
        float mn = u.from > 0 ? fromBits(minInit[at], c.kv) : INFINITY;
        float mx = u.from > 0 ? fromBits(maxInit[at], c.kv) : -INFINITY;
        for (int sl = u.from; sl < u.valid; ++sl) {
          const float x = fromBits(gotK[((size_t(u.page) * Hkv + h) * c.pageSize + sl) * D + d], c.kv);
          mn = std::fmin(mn, x), mx = std::fmax(mx, x);
        }
        wantMin[at] = toBits(mn, c.kv), wantMax[at] = toBits(mx, c.kv);
      }
  const std::vector<uint16_t> gotMin = dmin.download(), gotMax = dmax.download();
  for (size_t i = 0; i < sumN; ++i)
    if (gotMin[i] != wantMin[i] || gotMax[i] != wantMax[i])
      throw Failure{"summary element " + std::to_string(i) + ": min/max " +
                    std::to_string(fromBits(gotMin[i], c.kv)) + "/" + std::to_string(fromBits(gotMax[i], c.kv)) +
                    ", expected " + std::to_string(fromBits(wantMin[i], c.kv)) + "/" +
                    std::to_string(fromBits(wantMax[i], c.kv))};
  return "q, k and v within " + std::to_string(worst) + " of the reference, " + std::to_string(updates.size()) +
         " pages' summaries exact, other slots untouched";
}

// CallStaging: slots of assorted sizes (empty, tiny, one over a chunk, one
// that starts a new chunk), random bytes set twice, each flush checked slot
// by slot on the device; misuse rejected.
std::string runStaging(uint64_t seed) {
  int device = 0;
  CUDA_OK(cudaGetDevice(&device));
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  std::string result;
  {
    resa::cuda::CallStaging staging(device);
    const std::vector<size_t> sizes = {0, 40, 1000, 70000, 8, 60000, 300, 0, 5000};
    std::vector<int> slots;
    for (size_t b : sizes) slots.push_back(staging.add(b));
    for (size_t i = 0; i < sizes.size(); ++i) {
      const auto at = reinterpret_cast<uintptr_t>(staging.device(slots[i]));
      if ((sizes[i] == 0) != (at == 0) || at % 256 || staging.bytes(slots[i]) != sizes[i])
        throw Failure{"slot " + std::to_string(i) + ": device address or size wrong"};
      for (size_t j = 0; j < i; ++j) {
        const auto other = reinterpret_cast<uintptr_t>(staging.device(slots[j]));
        if (at && other && at < other + sizes[j] && other < at + sizes[i])
          throw Failure{"slots " + std::to_string(j) + " and " + std::to_string(i) + " overlap"};
      }
    }
    staging.finalize();
    auto throws = [](auto &&f) {
      try {
        f();
      } catch (const std::exception &) {
        return true;
      }
      return false;
    };
    if (!throws([&] { staging.add(16); })) throw Failure{"a slot added after finalize() was accepted"};
    if (!throws([&] { staging.set(slots[1], nullptr, 41); }))
      throw Failure{"set() took 41 bytes for a slot of 40"};
    std::mt19937_64 rng(seed);
    for (int round = 0; round < 2; ++round) {
      std::vector<std::vector<unsigned char>> data(sizes.size());
      for (size_t i = 0; i < sizes.size(); ++i) {
        data[i].resize(sizes[i]);
        for (auto &byte : data[i]) byte = static_cast<unsigned char>(rng());
        staging.set(slots[i], data[i].data(), sizes[i]);
      }
      staging.flush(stream);
      CUDA_OK(cudaStreamSynchronize(stream));
      for (size_t i = 0; i < sizes.size(); ++i) {
        std::vector<unsigned char> got(sizes[i]);
        if (sizes[i])
          CUDA_OK(cudaMemcpy(got.data(), staging.device(slots[i]), sizes[i], cudaMemcpyDeviceToHost));
        if (got != data[i])
          throw Failure{"round " + std::to_string(round) + ": slot " + std::to_string(i) + " (" +
                        std::to_string(sizes[i]) + " bytes) differs on the device"};
      }
    }
    result = std::to_string(sizes.size()) + " slots equal on the device after two flushes";
  }
  CUDA_OK(cudaStreamDestroy(stream));
  return result;
}

using resa::cudatest::NamedCase;

std::vector<NamedCase> allCases() {
  std::vector<NamedCase> v;
  const KVDType BF = KVDType::BF16, F16 = KVDType::F16;
  const Path D = Path::Dispatch;  // the cases default to Path::Generic
  auto prefill = [&](PrefillCase c) {
    v.push_back({"prefill_" + c.name, [c](uint64_t s) { return runPrefill(c, s); }});
  };
  auto decode = [&](DecodeCase c) {
    v.push_back({(c.sparse ? "sparse_" : "decode_") + c.name,
                 [c](uint64_t s) { return runDecode(c, s); }});
  };
  auto select = [&](SelectCase c) {
    v.push_back({"select_" + c.name, [c](uint64_t s) { return runSelect(c, s); }});
  };
  auto storage = [&](StorageCase c) {
    v.push_back({"storage_" + c.name, [c](uint64_t s) { return runStorage(c, s); }});
  };

  // Generic prefill: chunked (start > 0), lengths off the page, padded rows.
  prefill({"d16_gqa4x2", BF, 4, 2, 16, 16, {0, 21}, {37, 50}});
  prefill({"d32_mha8_f16_ps8", F16, 8, 8, 32, 8, {5}, {77}});
  prefill({"d80_gqa32x8_pad", BF, 32, 8, 80, 16, {0, 100}, {45, 19}, 64});
  prefill({"d128_gqa32x8", BF, 32, 8, 128, 16, {33}, {70}});
  prefill({"d16_f16_ps4_batch3", F16, 4, 2, 16, 4, {3, 0, 9}, {13, 1, 30}});
  prefill({"d200_mha8", BF, 8, 8, 200, 16, {10}, {20}});
  prefill({"d5_gqa4x2", BF, 4, 2, 5, 16, {0}, {23}});
  // Generic decode, dense and block-sparse (a sequence of length 0 included).
  decode({"d16_gqa4x2", BF, 4, 2, 16, 16, {37, 1, 0, 150}});
  decode({"d32_mha8_f16", F16, 8, 8, 32, 16, {64, 65}});
  decode({"d80_gqa32x8", BF, 32, 8, 80, 16, {333, 17}});
  decode({"d128_gqa32x8", BF, 32, 8, 128, 16, {1000}});
  decode({"d16_gqa4x2", BF, 4, 2, 16, 16, {200, 37, 3}, true});
  decode({"d80_gqa32x8", BF, 32, 8, 80, 16, {500, 90}, true});
  decode({"d32_mha8_f16_ps8", F16, 8, 8, 32, 8, {301}, true, {0.1f, 3, 2}});
  // Generic selection: exact, ties to the lower index, every block / none.
  select({"d16_gqa4x2", BF, 4, 2, 16, 16, {400, 37, 0, 16}});
  select({"d80_gqa32x8", BF, 32, 8, 80, 16, {1000, 333}});
  select({"d32_mha8_f16", F16, 8, 8, 32, 16, {777}});
  select({"d128_gqa32x8", BF, 32, 8, 128, 16, {2000, 100}});
  select({"ties_zero_query_d16", BF, 4, 2, 16, 16, {300, 77}, {0.25f, 2, 1}, true, 1});
  select({"ties_exact_d32", BF, 8, 2, 32, 8, {500}, {0.2f, 2, 2}, true, 2});
  select({"local3_min0_d16", BF, 4, 2, 16, 16, {250}, {0.1f, 0, 3}});
  select({"none_d16", BF, 4, 2, 16, 16, {250, 3}, {0.0f, 0, 0}});
  // The dispatch: the kernel each shape gets, both paths.
  prefill({"dispatch_d128", BF, 32, 8, 128, 16, {100}, {157}, 0, D, "prefill-wgmma"});
  prefill({"dispatch_d64_f16", F16, 8, 8, 64, 8, {9}, {70}, 0, D, "prefill-mma"});
  prefill({"dispatch_d80", BF, 32, 8, 80, 16, {0, 31}, {60, 5}, 0, D, "prefill-generic"});
  decode({"dispatch_d128", BF, 32, 8, 128, 16, {3000, 5}, false, {}, D, "decode-tc"});
  decode({"dispatch_d16", BF, 4, 2, 16, 16, {99, 0}, false, {}, D, "decode-generic"});
  decode({"dispatch_d128_ps64", BF, 32, 8, 128, 64, {700}, false, {}, D, "decode-tc"});
  decode({"dispatch_d128_ps48", BF, 32, 8, 128, 48, {700}, false, {}, D, "decode-generic"});
  decode({"dispatch_d128", BF, 32, 8, 128, 16, {2500, 40}, true, {0.1f, 4, 1}, D, "decode-tc"});
  decode({"dispatch_d80", BF, 32, 8, 80, 16, {600}, true, {0.1f, 4, 1}, D, "decode-generic"});
  {
    DecodeCase c{"dispatch_unaligned_q_d128", BF, 32, 8, 128, 16, {500, 33}};
    c.path = D;
    c.unalignedQ = true;
    decode(c);
  }
  v.push_back({"decode_dispatch_alternating_shapes", runDecodeAlternating});
  select({"dispatch_d128", BF, 32, 8, 128, 16, {3000, 40}, {0.1f, 4, 1}, false, 0, D,
          "select-fast"});
  select({"dispatch_d32", BF, 8, 2, 32, 16, {3000, 40}, {0.1f, 4, 1}, false, 0, D,
          "select-generic"});
  // The device KV storage.
  storage({"d16_bf16_ps4", BF, 16, 4});
  storage({"d80_f16_ps16", F16, 80, 16});
  storage({"d5_bf16_ps8_odd_head_dim", BF, 5, 8});
  storage({"d128_bf16_ps16", BF, 128, 16, 16, 4});
  // A decode step's rotary and K/V append in one kernel.
  // (name, kv, fp32 activations, cos/sin in the KV type, batch, q heads, kv
  // heads, head dim, page size, rotary_dim, interleaved, half-width cos, one
  // cos row for all)
  const RotaryAppendCase appends[] = {
      {"bf16_gqa32x8_d128", BF, false, false, 1, 32, 8, 128, 16, 128, false, false, true},
      {"bf16_gqa32x8_d128_bf16_cos", BF, false, true, 1, 32, 8, 128, 16, 128, false, false, true},
      {"bf16_fp32act_batch3_partial", BF, true, false, 3, 8, 2, 64, 16, 32, false, true, false},
      {"f16_interleaved_batch5_f16_cos", F16, false, true, 5, 4, 4, 32, 8, 32, true, true, false},
      {"bf16_interleaved_full_d80", BF, false, false, 2, 6, 2, 80, 4, 40, true, false, true},
      // Summing a fused projection's slices as it reads them (a decode step
      // after resa.multi_linear).
      {"bf16_gqa32x8_d128_sliced", BF, false, true, 1, 32, 8, 128, 16, 128, false, false, true, true},
      {"bf16_gqa32x8_d128_batch8_sliced", BF, false, true, 8, 32, 8, 128, 16, 128, false, false, false, true},
      {"f16_fp32act_batch3_partial_sliced", F16, true, false, 3, 8, 2, 64, 16, 32, false, true, false, true},
      {"f16_interleaved_batch5_sliced", F16, false, true, 5, 4, 4, 32, 8, 32, true, true, false, true},
      // Refreshing the written pages' block summaries (a ReSA decode step).
      {"bf16_gqa32x8_d128_batch8_sliced_summaries", BF, false, true, 8, 32, 8, 128, 16, 128, false, false,
       false, true, true},
      {"f16_fp32act_batch5_summaries", F16, true, false, 5, 8, 2, 64, 8, 32, false, true, false, false,
       true}};
  for (const RotaryAppendCase &c : appends)
    v.push_back({"rotary_append_" + c.name, [c](uint64_t s) { return runRotaryAppend(c, s); }});
  // The CUDA graphs' host-data staging.
  v.push_back({"staging_chunks", runStaging});
  return v;
}

} // namespace

int main(int argc, char **argv) {
  return resa::cudatest::runTestProgram(argc, argv, "generic attention", "", allCases());
}
