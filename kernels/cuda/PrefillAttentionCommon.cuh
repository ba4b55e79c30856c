// Internal to the causal prefill attention (resa/cuda/PrefillAttention.h):
// what its two main kernels share. PrefillAttention.cu holds the mma.sync
// kernel (any sm_90), the split-K merge kernel and the host driver;
// PrefillAttentionWgmma.cu holds the wgmma kernel, compiled for sm_90a only.
// Both main kernels take the same parameter block, write the same split-K
// workspace (partial O normalised by its own l, and (m, l) in base 2) and
// leave rows past qLens untouched, so one merge kernel serves both.
#pragma once

#include "DecodeAttentionKernel.cuh"  // smemAddr, mbarInit, mbarWait
#include "resa/cuda/PrefillAttention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace resa::gpu::prefill {

struct Params {
  const void *q, *k, *v;
  void *out;
  const int32_t *pageTable, *qStart, *qLens;
  float *partO;   // [split][b][hq][maxQLen][D]
  float2 *partML; // [split][b][hq][maxQLen]
  int32_t batch, hq, hkv, group, ps, maxPages, maxQLen, bq, numSplits;
  float scaleLog2;
};

// Copies 16 bytes global -> shared, or zero-fills them when !valid.
__device__ __forceinline__ void cpAsync16(uint32_t dst, const void *src, bool valid) {
  const int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(n)
               : "memory");
}
__device__ __forceinline__ void cpCommit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N> __device__ __forceinline__ void cpWait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

template <typename T> __device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  uint32_t r;
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    r = *reinterpret_cast<uint32_t *>(&v);
  } else {
    __half2 v = __floats2half2_rn(lo, hi);
    r = *reinterpret_cast<uint32_t *>(&v);
  }
  return r;
}
__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// The wgmma kernel (PrefillAttentionWgmma.cu): one producer warpgroup and two
// consumer warpgroups of 64 query rows, key tiles of kWgmmaKvTile.
constexpr int kWgmmaThreads = 384;
constexpr int kWgmmaKvTile = 128;

// Whether the wgmma kernel serves (dtype, headDim) on `device` (an sm_90
// device; the kernel is built for sm_90a only). When it does, raises the
// kernel's dynamic shared-memory limit and returns its size and occupancy.
cudaError_t wgmmaPrepare(KVDType dtype, int headDim, int device, bool *supported,
                         size_t *smemBytes, int *blocksPerSm);
// Launches it on grid (qTiles, batch * numKvHeads, numSplits) with PDL.
cudaError_t wgmmaLaunch(const Params &p, KVDType dtype, int headDim, dim3 grid, size_t smemBytes,
                        cudaStream_t stream);

} // namespace resa::gpu::prefill
