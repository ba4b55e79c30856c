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

// Online softmax of one S tile in place (S becomes P, fp32), in the MMA
// accumulator layout both kernels share: thread rows h = 0, 1 hold
// s[nt][2h + {0,1}], keys tok0 + nt * 8 + (lane % 4) * 2 + {0,1}; a row's
// four threads are one quad. Scales by scaleLog2 (base 2), masks keys past
// the row's position when `mask` (diagonal tiles), updates the running max m
// and sum l, and returns in alpha the factor the old O is scaled by.
template <int NT>
__device__ __forceinline__ void softmaxTile(float (&s)[NT][4], float (&m)[2], float (&l)[2],
                                            float (&alpha)[2], int tok0, bool mask,
                                            const int (&rowPos)[2], int lane, float scaleLog2) {
  float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float x = s[nt][e] * scaleLog2;
      if (mask) {
        const int tok = tok0 + nt * 8 + (lane & 3) * 2 + (e & 1);
        if (tok > rowPos[e >> 1])
          x = -INFINITY;
      }
      s[nt][e] = x;
      mx[e >> 1] = fmaxf(mx[e >> 1], x);
    }
  float base[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
    const float mn = fmaxf(m[h], mx[h]);
    base[h] = mn == -INFINITY ? 0.0f : mn;
    alpha[h] = ex2(m[h] - base[h]);
    m[h] = mn;
  }
  float rs[2] = {0.0f, 0.0f};
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float pe = ex2(s[nt][e] - base[e >> 1]);
      s[nt][e] = pe;
      rs[e >> 1] += pe;
    }
#pragma unroll
  for (int h = 0; h < 2; ++h)
    l[h] = l[h] * alpha[h] + rs[h];
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
