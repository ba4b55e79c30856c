// Per-block key summaries (kmin/kmax) on CUDA: see resa/cuda/BlockSparse.h.
//
// One warp per (page, KV head): lane l owns the head-dim pairs l, l + 32, ...
// (single elements when headDim is odd: SummaryElement.cuh, which the rotary
// append shares) and walks the slots [from, valid) of the page, starting from
// the stored summary (from > 0) or from +inf / -inf (from == 0). Min and max of
// stored values are stored values: nothing is rounded. Same semantics as
// CpuKVStorage::updateSummaries (std::min/std::max keep the old value when the
// key is NaN, as fminf/fmaxf do). Any head dim.
#include "resa/cuda/BlockSparse.h"

#include "Launch.cuh"
#include "SummaryElement.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace resa::gpu {
namespace {

using detail::launchPdl;
using detail::pdlLaunchDependents;
using detail::pdlWait;

constexpr int kWarpsPerBlock = 8;

template <typename T> struct Pair;
template <> struct Pair<__nv_bfloat16> {
  using T2 = __nv_bfloat162;
  __device__ static float2 toFloat2(T2 x) { return __bfloat1622float2(x); }
  __device__ static T2 fromFloat2(float2 x) { return __floats2bfloat162_rn(x.x, x.y); }
};
template <> struct Pair<__half> {
  using T2 = __half2;
  __device__ static float2 toFloat2(T2 x) { return __half22float2(x); }
  __device__ static T2 fromFloat2(float2 x) { return __floats2half2_rn(x.x, x.y); }
};

struct SummaryDims {
  int32_t numKvHeads, headDim, pageSize;
};

template <typename T>
__device__ void summarizePage(const T *k, T *kmin, T *kmax, const SummaryDims &s, int page,
                              int head, int from, int valid, int lane) {
  using P = Pair<T>;
  using T2 = typename P::T2;
  const int64_t sumOff = (static_cast<int64_t>(page) * s.numKvHeads + head) * s.headDim;
  const int64_t kOff = sumOff * s.pageSize;  // K[page][head][0][0]
  constexpr float kInf = __builtin_huge_valf();
  if (s.headDim % 2 != 0) {  // rows are not 4-byte aligned: one element at a time
    for (int j = lane; j < s.headDim; j += 32)
      detail::summarizeElement(k + kOff + j, s.headDim, kmin, kmax, sumOff + j, from, valid);
    return;
  }
  T2 *mn2 = reinterpret_cast<T2 *>(kmin + sumOff);
  T2 *mx2 = reinterpret_cast<T2 *>(kmax + sumOff);
  const T2 *k2 = reinterpret_cast<const T2 *>(k + kOff);
  const int pairs = s.headDim / 2;
  for (int j = lane; j < pairs; j += 32) {
    float2 mn = make_float2(kInf, kInf), mx = make_float2(-kInf, -kInf);
    if (from > 0) {
      mn = P::toFloat2(mn2[j]);
      mx = P::toFloat2(mx2[j]);
    }
    for (int slot = from; slot < valid; ++slot) {
      const float2 x = P::toFloat2(__ldg(k2 + static_cast<int64_t>(slot) * pairs + j));
      mn.x = fminf(mn.x, x.x);
      mn.y = fminf(mn.y, x.y);
      mx.x = fmaxf(mx.x, x.x);
      mx.y = fmaxf(mx.y, x.y);
    }
    mn2[j] = P::fromFloat2(mn);
    mx2[j] = P::fromFloat2(mx);
  }
}

template <typename T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    updateSummariesKernel(const T *k, T *kmin, T *kmax, SummaryDims s,
                          const BlockSummaryUpdate *updates, int32_t count) {
  pdlWait();
  pdlLaunchDependents();
  const int64_t task = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (task >= static_cast<int64_t>(count) * s.numKvHeads)
    return;
  const BlockSummaryUpdate u = updates[task / s.numKvHeads];
  summarizePage(k, kmin, kmax, s, u.page, static_cast<int>(task % s.numKvHeads), u.from, u.valid,
                threadIdx.x & 31);
}

// One warp per (token, head); only the last new token of each page works: it
// walks back to the first new token of the page (consecutive in the mapping,
// consecutive slots) and extends (or, from slot 0, resets) the summary.
template <typename T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    appendSummariesKernel(const T *k, T *kmin, T *kmax, SummaryDims s, const int32_t *slots,
                          int64_t numTokens) {
  pdlWait();
  pdlLaunchDependents();
  const int64_t task = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (task >= numTokens * s.numKvHeads)
    return;
  const int64_t i = task / s.numKvHeads;
  const int head = static_cast<int>(task % s.numKvHeads);
  const int ps = s.pageSize;
  const int32_t slotI = slots[i];
  const int page = slotI / ps;
  if (i + 1 < numTokens && slots[i + 1] / ps == page && slots[i + 1] == slotI + 1)
    return;  // not the last new token of its page
  int64_t r = i;
  while (r > 0 && slots[r - 1] == slots[r] - 1 && slots[r - 1] / ps == page)
    --r;
  summarizePage(k, kmin, kmax, s, page, head, slots[r] % ps, slotI % ps + 1, threadIdx.x & 31);
}

// One warp per (sequence, block, head) over blocks [firstToken / ps, ceil(len / ps)).
template <typename T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    rebuildSummariesKernel(const T *k, T *kmin, T *kmax, SummaryDims s, const int32_t *pageTable,
                           int32_t maxPagesPerSeq, const int32_t *seqLens,
                           const int32_t *firstToken, int32_t maxBlocks) {
  pdlWait();
  pdlLaunchDependents();
  const int64_t task = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int b = blockIdx.y;
  if (task >= static_cast<int64_t>(maxBlocks) * s.numKvHeads)
    return;
  const int m = static_cast<int>(task / s.numKvHeads);
  const int head = static_cast<int>(task % s.numKvHeads);
  const int ps = s.pageSize;
  const int len = seqLens[b];
  const int first = firstToken ? firstToken[b] : 0;
  if (m < first / ps || m * ps >= len)
    return;
  const int page = pageTable[static_cast<int64_t>(b) * maxPagesPerSeq + m];
  summarizePage(k, kmin, kmax, s, page, head, 0, min(ps, len - m * ps), threadIdx.x & 31);
}

bool validShape(const PagedAttentionShape &s) {
  return s.numKvHeads > 0 && s.headDim > 0 && s.pageSize > 0;
}

unsigned blocksFor(int64_t tasks) {
  return static_cast<unsigned>((tasks + kWarpsPerBlock - 1) / kWarpsPerBlock);
}

} // namespace

cudaError_t updateBlockSummaries(const PagedAttentionShape &shape, KVDType dtype,
                                 const BlockSummaryArgs &a, const BlockSummaryUpdate *updates,
                                 int32_t count, cudaStream_t stream) {
  if (!validShape(shape) || count < 0)
    return cudaErrorInvalidValue;
  if (count == 0)
    return cudaSuccess;
  if (!a.kCache || !a.kmin || !a.kmax || !updates)
    return cudaErrorInvalidValue;
  const SummaryDims d{shape.numKvHeads, shape.headDim, shape.pageSize};
  const dim3 grid(blocksFor(static_cast<int64_t>(count) * shape.numKvHeads));
  const dim3 block(kWarpsPerBlock * 32);
  if (dtype == KVDType::BF16) {
    using T = __nv_bfloat16;
    return launchPdl(updateSummariesKernel<T>, grid, block, 0, stream,
                     static_cast<const T *>(a.kCache), static_cast<T *>(a.kmin),
                     static_cast<T *>(a.kmax), d, updates, count);
  }
  using T = __half;
  return launchPdl(updateSummariesKernel<T>, grid, block, 0, stream,
                   static_cast<const T *>(a.kCache), static_cast<T *>(a.kmin),
                   static_cast<T *>(a.kmax), d, updates, count);
}

cudaError_t appendBlockSummaries(const PagedAttentionShape &shape, KVDType dtype,
                                 const BlockSummaryArgs &a, const int32_t *slotMapping,
                                 int64_t numTokens, cudaStream_t stream) {
  if (!validShape(shape) || numTokens < 0)
    return cudaErrorInvalidValue;
  if (numTokens == 0)
    return cudaSuccess;
  if (!a.kCache || !a.kmin || !a.kmax || !slotMapping)
    return cudaErrorInvalidValue;
  const SummaryDims d{shape.numKvHeads, shape.headDim, shape.pageSize};
  const dim3 grid(blocksFor(numTokens * shape.numKvHeads));
  const dim3 block(kWarpsPerBlock * 32);
  if (dtype == KVDType::BF16) {
    using T = __nv_bfloat16;
    return launchPdl(appendSummariesKernel<T>, grid, block, 0, stream,
                     static_cast<const T *>(a.kCache), static_cast<T *>(a.kmin),
                     static_cast<T *>(a.kmax), d, slotMapping, numTokens);
  }
  using T = __half;
  return launchPdl(appendSummariesKernel<T>, grid, block, 0, stream,
                   static_cast<const T *>(a.kCache), static_cast<T *>(a.kmin),
                   static_cast<T *>(a.kmax), d, slotMapping, numTokens);
}

cudaError_t rebuildBlockSummaries(const PagedAttentionShape &shape, KVDType dtype,
                                  const BlockSummaryArgs &a, const int32_t *pageTable,
                                  const int32_t *seqLens, const int32_t *firstToken,
                                  int32_t maxSeqLen, cudaStream_t stream) {
  if (!validShape(shape) || maxSeqLen < 0 || shape.batch < 0 || shape.batch > 65535)
    return cudaErrorInvalidValue;
  if (shape.batch == 0 || maxSeqLen == 0)
    return cudaSuccess;
  if (!a.kCache || !a.kmin || !a.kmax || !pageTable || !seqLens)
    return cudaErrorInvalidValue;
  const SummaryDims d{shape.numKvHeads, shape.headDim, shape.pageSize};
  const int32_t maxBlocks = (maxSeqLen + shape.pageSize - 1) / shape.pageSize;
  const dim3 grid(blocksFor(static_cast<int64_t>(maxBlocks) * shape.numKvHeads),
                  static_cast<unsigned>(shape.batch));
  const dim3 block(kWarpsPerBlock * 32);
  if (dtype == KVDType::BF16) {
    using T = __nv_bfloat16;
    return launchPdl(rebuildSummariesKernel<T>, grid, block, 0, stream,
                     static_cast<const T *>(a.kCache), static_cast<T *>(a.kmin),
                     static_cast<T *>(a.kmax), d, pageTable, shape.maxPagesPerSeq, seqLens,
                     firstToken, maxBlocks);
  }
  using T = __half;
  return launchPdl(rebuildSummariesKernel<T>, grid, block, 0, stream,
                   static_cast<const T *>(a.kCache), static_cast<T *>(a.kmin),
                   static_cast<T *>(a.kmax), d, pageTable, shape.maxPagesPerSeq, seqLens,
                   firstToken, maxBlocks);
}

} // namespace resa::gpu
