// Token moves in and out of the paged KV pools: see resa/cuda/PagedKVCopy.h.
// One thread per element, grid-stride; a row of headDim elements is
// contiguous on both sides, so neighbouring threads touch neighbouring bytes.
#include "resa/cuda/PagedKVCopy.h"

#include "Launch.cuh"
#include "RotaryPair.cuh"
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

// Element d of a head's row x rotated as resa.rotary computes it (fp32, the
// CPU kernel's expression); the cos and sin rows of its sequence start at
// element `row` of the tables (their dtype a branch the whole grid takes
// alike, instead of a third template axis).
template <typename T>
__device__ __forceinline__ float rotated(const T *x, int d, int64_t row, const RotaryAppendArgs &a) {
  const float v = toFloat(x[d]);
  if (d >= a.rotaryDim)
    return v;
  const detail::RotaryPair p = detail::rotaryPair(d, a.rotaryDim, a.interleaved);
  const int64_t ci = row + (a.width == a.rotaryDim ? d : p.pair);
  return detail::rotatePair(p, v, toFloat(x[d + p.partner]), floatAt(a.cos, a.cosType, ci),
                            floatAt(a.sin, a.cosType, ci));
}

// One thread per element of q, then k, then v (rows of headDim).
template <typename T, typename KV>
__global__ void rotaryAppendKernel(Dims d, RotaryAppendArgs a) {
  detail::pdlWait();
  const int64_t qRows = int64_t(a.batch) * a.numQHeads, kvRows = int64_t(a.batch) * d.numKvHeads;
  const int64_t total = (qRows + 2 * kvRows) * d.headDim;
  const T *q = static_cast<const T *>(a.q), *k = static_cast<const T *>(a.k),
          *v = static_cast<const T *>(a.v);
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int j = static_cast<int>(e % d.headDim);
    int64_t row = e / d.headDim;
    if (row < qRows) {
      const int64_t cs = (a.cosRows == 1 ? 0 : row / a.numQHeads) * a.width;
      const float y = rotated(q + row * d.headDim, j, cs, a);
      static_cast<KV *>(a.qOut)[e] = fromFloat<KV>(y);
      continue;
    }
    row -= qRows;
    const bool isK = row < kvRows;
    if (!isK)
      row -= kvRows;
    const int64_t b = row / d.numKvHeads;
    const int h = static_cast<int>(row % d.numKvHeads);
    const int32_t slot = a.slots[b];
    const int64_t at =
        ((static_cast<int64_t>(slot / d.pageSize) * d.numKvHeads + h) * d.pageSize + slot % d.pageSize) *
            d.headDim + j;
    if (isK) {
      const int64_t cs = (a.cosRows == 1 ? 0 : b) * a.width;
      const float y = rotated(k + row * d.headDim, j, cs, a);
      static_cast<KV *>(a.kCache)[at] = fromFloat<KV>(y);
    } else {
      static_cast<KV *>(a.vCache)[at] = fromFloat<KV>(toFloat(v[row * d.headDim + j]));
    }
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
  if (!a.q || !a.k || !a.v || !a.cos || !a.sin || !a.qOut || !a.slots || !a.kCache || !a.vCache)
    return cudaErrorInvalidValue;
  const int64_t total = (int64_t(a.batch) * a.numQHeads + 2 * int64_t(a.batch) * s.numKvHeads) * s.headDim;
  const Dims d{s.numKvHeads, s.headDim, s.pageSize};
  const dim3 grid(blocksFor(total)), block(kThreads);
  auto launch = [&](auto kernel) { return detail::launchPdl(kernel, grid, block, 0, stream, d, a); };
  if (kvType == KVDType::BF16) {
    if (a.actType == DType::F32) return launch(rotaryAppendKernel<float, __nv_bfloat16>);
    if (a.actType == DType::BF16) return launch(rotaryAppendKernel<__nv_bfloat16, __nv_bfloat16>);
    return launch(rotaryAppendKernel<__half, __nv_bfloat16>);
  }
  if (a.actType == DType::F32) return launch(rotaryAppendKernel<float, __half>);
  if (a.actType == DType::BF16) return launch(rotaryAppendKernel<__nv_bfloat16, __half>);
  return launch(rotaryAppendKernel<__half, __half>);
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
