// Token moves in and out of the paged KV pools: see resa/cuda/PagedKVCopy.h.
// One thread per element, grid-stride; a row of headDim elements is
// contiguous on both sides, so neighbouring threads touch neighbouring bytes.
#include "resa/cuda/PagedKVCopy.h"

#include "Launch.cuh"
#include "RotaryPair.cuh"
#include "SummaryElement.cuh"
#include "ops/Dispatch.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

namespace resa::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65536;  // grid-stride beyond this

struct Dims {
  int32_t numKvHeads, headDim, pageSize;
};

// Element e of the token-major [n][numKvHeads][headDim] buffer, and its
// place in the pools.
__device__ __forceinline__ int64_t poolOffset(const Dims &d, const int32_t *slots, int64_t e) {
  const ops::DivMod row = ops::divMod(e, d.headDim);
  const int j = static_cast<int>(row.r);
  const ops::DivMod token = ops::divMod(row.q, d.numKvHeads);
  const int64_t i = token.q;
  const int h = static_cast<int>(token.r);
  const int32_t s = slots[i];
  const int64_t page = s / d.pageSize;
  return ((page * d.numKvHeads + h) * d.pageSize + s % d.pageSize) * d.headDim + j;
}

// V elements a thread (V > 1: headDim a multiple of V and every buffer
// aligned to V elements, so a group stays within one row on both sides).
template <int V>
__global__ void scatterKernel(Dims d, const int32_t *slots, int64_t total, const uint16_t *k,
                              const uint16_t *v, uint16_t *kCache, uint16_t *vCache) {
  using Vec = ops::Pack<uint16_t, V>;
  detail::pdlWait();
  for (int64_t g = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; g < total / V;
       g += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t e = g * V;
    const int64_t at = poolOffset(d, slots, e);
    *reinterpret_cast<Vec *>(kCache + at) = *reinterpret_cast<const Vec *>(k + e);
    *reinterpret_cast<Vec *>(vCache + at) = *reinterpret_cast<const Vec *>(v + e);
  }
  detail::pdlLaunchDependents();
}

using ops::floatAt;
using ops::fromFloat;
using ops::toFloat;

template <typename T>
__global__ void gatherKernel(Dims d, const int32_t *slots, int64_t total, const T *kCache,
                             const T *vCache, float *k, float *v) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t at = poolOffset(d, slots, e);
    k[e] = toFloat(kCache[at]);
    v[e] = toFloat(vCache[at]);
  }
}

__global__ void fillKernel(uint16_t *dst, uint16_t bits, int64_t count) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < count;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[e] = bits;
}

// Head row `row` (of `heads` heads a sequence) of input t (0 q, 1 k, 2 v) as
// the rotary append reads it, two elements at a time (an element and its
// rotation partner): the input itself (Slices 0), or the sum of its Slices
// fp32 partial products, rounded to T as the projection's output would be
// (RotaryAppendArgs::sliced). The slice count is a constant
// and both elements' loads come before any branch, so that all of them can
// be in flight at once (a loop over a runtime count, an element at a time:
// 6.2 us a layer at 1x16K in the decode graph; this form 5.6, session 18).
// The slices come from DRAM, not L2 (the projection streams 50 MB of
// weights past them, the attention's early loads beside: ncu, 109 KB read
// from DRAM at M = 1): the sliced GEMM's 2.5 us a layer less pays for it at
// M = 1, and at M = 8 the copy kernel it replaces is gone as well. Not
// faster (session 18): every line prefetched first (all eight loads then
// issue together), four lanes an element summing by shuffles (slower), the
// weights marked streaming in L2 (no change).
template <typename T, int Slices> struct HeadRow {
  const float *parts;
  int64_t sliceStride;
  __device__ HeadRow(const RotaryAppendArgs &a, int, int64_t row, int64_t b, int heads, int col0, int headDim)
      : parts(a.sliced.parts + b * a.sliced.rowStride + col0 + (row - b * heads) * headDim),
        sliceStride(int64_t(a.batch) * a.sliced.rowStride) {}
  __device__ void read(int d0, int d1, float &v0, float &v1) const {
    float s0 = 0.f, s1 = 0.f;
#pragma unroll
    for (int s = 0; s < Slices; ++s) {
      s0 += parts[s * sliceStride + d0];
      s1 += parts[s * sliceStride + d1];
    }
    v0 = toFloat(fromFloat<T>(s0));
    v1 = toFloat(fromFloat<T>(s1));
  }
};
template <typename T> struct HeadRow<T, 0> {
  const T *x;
  __device__ HeadRow(const RotaryAppendArgs &a, int t, int64_t row, int64_t, int, int, int headDim)
      : x(static_cast<const T *>(t == 0 ? a.q : t == 1 ? a.k : a.v) + row * headDim) {}
  __device__ void read(int d0, int d1, float &v0, float &v1) const {
    v0 = toFloat(x[d0]);
    v1 = toFloat(x[d1]);
  }
};

// Key element j of head h of sequence b is in the pools: its page's summary
// element brought up to date as updateBlockSummaries does (this step's key
// among the slots read back; the thread that wrote it reads it).
template <typename KV>
__device__ void refreshSummary(const RotaryAppendArgs &a, const Dims &d, int64_t b, int h, int j) {
  const BlockSummaryUpdate u = a.summaryUpdates[b];
  const int64_t sumAt = (static_cast<int64_t>(u.page) * d.numKvHeads + h) * d.headDim + j;
  detail::summarizeElement(static_cast<const KV *>(a.kCache) + (sumAt - j) * d.pageSize + j, d.headDim,
                           static_cast<KV *>(a.kmin), static_cast<KV *>(a.kmax), sumAt, u.from, u.valid);
}

// One thread per element of q, then k, then v (rows of headDim): q and k
// rotated as resa.rotary computes them (fp32, the CPU kernel's expression;
// the cos and sin tables' dtype a branch the whole grid takes alike, instead
// of a third template axis). Slices > 0: the thread also writes its
// element's sum into q, k or v.
template <typename T, typename KV, int Slices>
__global__ void rotaryAppendKernel(Dims d, RotaryAppendArgs a) {
  detail::pdlWait();
  const int64_t qRows = int64_t(a.batch) * a.numQHeads, kvRows = int64_t(a.batch) * d.numKvHeads;
  const int64_t total = (qRows + 2 * kvRows) * d.headDim;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int j = static_cast<int>(e % d.headDim);
    int64_t row = e / d.headDim;
    // Which input (q, k, v), its heads and its first column in a row of the
    // fused product.
    int t = 0, heads = a.numQHeads, col0 = 0;
    if (row >= qRows) {
      row -= qRows;
      t = row < kvRows ? 1 : 2;
      if (t == 2)
        row -= kvRows;
      heads = d.numKvHeads;
      col0 = (a.numQHeads + (t - 1) * d.numKvHeads) * d.headDim;
    }
    const int64_t b = row / heads;
    const HeadRow<T, Slices> x(a, t, row, b, heads, col0, d.headDim);
    // The element and its partner (itself where nothing rotates).
    const bool rotates = t < 2 && j < a.rotaryDim;
    const detail::RotaryPair p = detail::rotaryPair(j, a.rotaryDim, a.interleaved);
    float v, partner;
    x.read(j, rotates ? j + static_cast<int>(p.partner) : j, v, partner);
    if constexpr (Slices > 0)
      static_cast<T *>(a.sliced.sums[t])[row * d.headDim + j] = fromFloat<T>(v);
    float y = v;
    if (rotates) {
      const int64_t ci = (a.cosRows == 1 ? 0 : b) * a.width + (a.width == a.rotaryDim ? j : p.pair);
      y = detail::rotatePair(p, v, partner, floatAt(a.cos, a.cosType, ci), floatAt(a.sin, a.cosType, ci));
    }
    if (t == 0) {
      static_cast<KV *>(a.qOut)[e] = fromFloat<KV>(y);
      continue;
    }
    const int h = static_cast<int>(row - b * heads);
    const int32_t slot = a.slots[b];
    const int64_t at =
        ((static_cast<int64_t>(slot / d.pageSize) * d.numKvHeads + h) * d.pageSize + slot % d.pageSize) *
            d.headDim + j;
    static_cast<KV *>(t == 1 ? a.kCache : a.vCache)[at] = fromFloat<KV>(y);
    if (t == 1 && a.summaryUpdates)
      refreshSummary<KV>(a, d, b, h, j);
  }
  detail::pdlLaunchDependents();
}

unsigned blocksFor(int64_t total) {
  return static_cast<unsigned>(std::min<int64_t>((total + kThreads - 1) / kThreads, kMaxBlocks));
}

bool elementsOf(const PagedAttentionShape &s, int64_t numTokens, int64_t *total) {
  if (s.numKvHeads <= 0 || s.headDim <= 0 || s.pageSize <= 0 || numTokens < 0)
    return false;
  *total = numTokens * s.numKvHeads * s.headDim;
  return true;
}

} // namespace

cudaError_t scatterKVTokens(const PagedAttentionShape &s, const int32_t *slots, int64_t numTokens,
                            const void *k, const void *v, void *kCache, void *vCache,
                            cudaStream_t stream) {
  int64_t total = 0;
  if (!elementsOf(s, numTokens, &total))
    return cudaErrorInvalidValue;
  if (total == 0)
    return cudaSuccess;
  if (!slots || !k || !v || !kCache || !vCache)
    return cudaErrorInvalidValue;
  // Programmatic dependent launch: its launch overlaps the end of the kernel
  // before it (the rotary of k, in a decode step's chain of small kernels).
  // 16 bytes a thread where the rows allow (a 128K prefill's K/V: 1.1 ms a
  // layer element by element, session 16).
  constexpr int kVec = 8;
  const bool vector = s.headDim % kVec == 0 && ops::aligned16(k) && ops::aligned16(v) &&
                      ops::aligned16(kCache) && ops::aligned16(vCache);
  const auto launch = [&](auto kernel, int64_t units) {
    return detail::launchPdl(kernel, dim3(blocksFor(units)), dim3(kThreads), 0, stream,
                             Dims{s.numKvHeads, s.headDim, s.pageSize}, slots, total,
                             static_cast<const uint16_t *>(k), static_cast<const uint16_t *>(v),
                             static_cast<uint16_t *>(kCache), static_cast<uint16_t *>(vCache));
  };
  return vector ? launch(scatterKernel<kVec>, total / kVec) : launch(scatterKernel<1>, total);
}

cudaError_t gatherKVTokens(const PagedAttentionShape &s, KVDType dtype, const int32_t *slots,
                           int64_t numTokens, const void *kCache, const void *vCache, float *k,
                           float *v, cudaStream_t stream) {
  int64_t total = 0;
  if (!elementsOf(s, numTokens, &total))
    return cudaErrorInvalidValue;
  if (total == 0)
    return cudaSuccess;
  if (!slots || !k || !v || !kCache || !vCache)
    return cudaErrorInvalidValue;
  const Dims d{s.numKvHeads, s.headDim, s.pageSize};
  if (dtype == KVDType::BF16)
    gatherKernel<<<blocksFor(total), kThreads, 0, stream>>>(
        d, slots, total, static_cast<const __nv_bfloat16 *>(kCache),
        static_cast<const __nv_bfloat16 *>(vCache), k, v);
  else
    gatherKernel<<<blocksFor(total), kThreads, 0, stream>>>(
        d, slots, total, static_cast<const __half *>(kCache), static_cast<const __half *>(vCache),
        k, v);
  return cudaGetLastError();
}

cudaError_t rotaryAppendDecode(const PagedAttentionShape &s, KVDType kvType, const RotaryAppendArgs &a,
                               cudaStream_t stream) {
  if (s.numKvHeads <= 0 || s.headDim <= 0 || s.pageSize <= 0 || a.batch < 0 || a.numQHeads <= 0 ||
      a.rotaryDim <= 0 || a.rotaryDim % 2 || a.rotaryDim > s.headDim ||
      (a.width != a.rotaryDim && a.width != a.rotaryDim / 2) || (a.cosRows != 1 && a.cosRows != a.batch) ||
      !isFloatDType(a.actType) || !isFloatDType(a.cosType))
    return cudaErrorInvalidValue;
  if (a.batch == 0)
    return cudaSuccess;
  const bool sliced = a.sliced.parts != nullptr;
  if ((!sliced && (!a.q || !a.k || !a.v)) || !a.cos || !a.sin || !a.qOut || !a.slots || !a.kCache || !a.vCache)
    return cudaErrorInvalidValue;
  const int64_t total = (int64_t(a.batch) * a.numQHeads + 2 * int64_t(a.batch) * s.numKvHeads) * s.headDim;
  const Dims d{s.numKvHeads, s.headDim, s.pageSize};
  if (a.summaryUpdates && (!a.kmin || !a.kmax))
    return cudaErrorInvalidValue;
  if (sliced && (a.sliced.count != kRotaryAppendSlices || a.sliced.rowStride < total / a.batch || !a.sliced.sums[0] ||
                 !a.sliced.sums[1] || !a.sliced.sums[2]))
    return cudaErrorInvalidValue;
  const dim3 grid(blocksFor(total)), block(kThreads);
  auto launch = [&](auto kernel) { return detail::launchPdl(kernel, grid, block, 0, stream, d, a); };
  // The kernel for activation type T, the pools' KV, sliced or not.
  auto forTypes = [&](auto t, auto kv) {
    using T = typename decltype(t)::type;
    using KV = typename decltype(kv)::type;
    return sliced ? launch(rotaryAppendKernel<T, KV, kRotaryAppendSlices>) : launch(rotaryAppendKernel<T, KV, 0>);
  };
  auto forKV = [&](auto kv) { return ops::dispatchFloat(a.actType, [&](auto t) { return forTypes(t, kv); }); };
  return kvType == KVDType::BF16 ? forKV(ops::Tag<__nv_bfloat16>{}) : forKV(ops::Tag<__half>{});
}

cudaError_t fill16(void *dst, uint16_t bits, int64_t count, cudaStream_t stream) {
  if (count < 0 || (count > 0 && !dst))
    return cudaErrorInvalidValue;
  if (count == 0)
    return cudaSuccess;
  fillKernel<<<blocksFor(count), kThreads, 0, stream>>>(static_cast<uint16_t *>(dst), bits, count);
  return cudaGetLastError();
}

} // namespace resa::gpu
