// State merging of shared-prefix decode: see resa/cuda/SharedPrefixDecode.h.
// One thread per element: the tensors are a decode step's queries (B * H *
// D elements, a few tens of thousands), so simple indexing beats any
// vectorisation here.
#include "resa/cuda/SharedPrefixDecode.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace resa::gpu {
namespace {

constexpr int kThreads = 256;

template <typename T> struct Store;
template <> struct Store<__nv_bfloat16> {
  __device__ __forceinline__ static __nv_bfloat16 make(float x) { return __float2bfloat16_rn(x); }
};
template <> struct Store<__half> {
  __device__ __forceinline__ static __half make(float x) { return __float2half_rn(x); }
};

struct Dims {
  int32_t batch, kvHeads, group, headDim;
  __device__ __forceinline__ int64_t elements() const {
    return static_cast<int64_t>(batch) * kvHeads * group * headDim;
  }
  // The packed row of (sequence b, KV head kvh, head g of its group).
  __device__ __forceinline__ int64_t packedRow(int b, int kvh, int g) const {
    return (static_cast<int64_t>(kvh) * batch + b) * group + g;
  }
};

bool validDims(const PagedAttentionShape &s) {
  return s.batch >= 0 && s.numKvHeads > 0 && s.numQHeads > 0 && s.numQHeads % s.numKvHeads == 0 &&
         s.headDim > 0;
}

Dims dimsOf(const PagedAttentionShape &s) {
  return Dims{s.batch, s.numKvHeads, s.group(), s.headDim};
}

unsigned blocksFor(int64_t threads) {
  return static_cast<unsigned>((threads + kThreads - 1) / kThreads);
}

// Thread i computes element i of out ([b][h][d], h = kvh * group + g).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    mergeKernel(const float *sharedOut, const float *sharedLse, const float *ownOut,
                const float *ownLse, T *out, Dims dims) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= dims.elements())
    return;
  const int d = static_cast<int>(i % dims.headDim);
  const int64_t row = i / dims.headDim;  // b * H + h
  const int heads = dims.kvHeads * dims.group;
  const int h = static_cast<int>(row % heads);
  const int b = static_cast<int>(row / heads);
  const int64_t prow = dims.packedRow(b, h / dims.group, h % dims.group);
  const float l1 = sharedLse[prow];
  const float l2 = ownLse[row];
  const float m = fmaxf(l1, l2);
  float o = 0.0f;
  if (m != -__builtin_huge_valf()) {
    const float w1 = exp2f(l1 - m);  // 0 for an empty part (-inf)
    const float w2 = exp2f(l2 - m);
    o = (w1 * sharedOut[prow * dims.headDim + d] + w2 * ownOut[i]) / (w1 + w2);
  }
  out[i] = Store<T>::make(o);
}

} // namespace

cudaError_t mergeSharedPrefix(const PagedAttentionShape &s, KVDType dtype, const float *sharedOut,
                              const float *sharedLse, const float *ownOut, const float *ownLse,
                              void *out, cudaStream_t stream) {
  if (!validDims(s) || !sharedOut || !sharedLse || !ownOut || !ownLse || !out)
    return cudaErrorInvalidValue;
  const int64_t threads = s.queryElements();
  if (threads == 0)
    return cudaSuccess;
  const Dims dims = dimsOf(s);
  if (dtype == KVDType::BF16)
    mergeKernel<<<blocksFor(threads), kThreads, 0, stream>>>(
        sharedOut, sharedLse, ownOut, ownLse, static_cast<__nv_bfloat16 *>(out), dims);
  else
    mergeKernel<<<blocksFor(threads), kThreads, 0, stream>>>(
        sharedOut, sharedLse, ownOut, ownLse, static_cast<__half *>(out), dims);
  return cudaGetLastError();
}

} // namespace resa::gpu
