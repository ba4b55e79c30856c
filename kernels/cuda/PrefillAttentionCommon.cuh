// Internal to the causal prefill attention (resa/cuda/PrefillAttention.h):
// what its two main kernels share. PrefillAttention.cu holds the mma.sync
// kernel (any sm_90), the split-K merge kernel and the host driver;
// PrefillAttentionWgmma.cu holds the wgmma kernel, compiled for sm_90a only.
// Both main kernels take the same parameter block, write the same split-K
// workspace (partial O normalised by its own l, and (m, l) in base 2) and
// leave rows past qLens untouched, so one merge kernel serves both.
#pragma once

#include "DecodeAttentionKernel.cuh"  // smemAddr, mbarInit, mbarWait
#include "Launch.cuh"                 // pdlWait
#include "resa/cuda/PrefillAttention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <climits>
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
  int32_t psShift;  // log2(ps) when ps is a power of two, else -1
  float scaleLog2;
};

// The page (index into the sequence's page table) and slot of key position
// tok: a shift and a mask for page sizes that are powers of two (every size
// in use), divisions otherwise. Per 16-byte copy, two divisions by a
// run-time value cost more issue slots than the copy.
struct PageSlot {
  int page, slot;
};
__device__ __forceinline__ PageSlot pageSlot(const Params &p, int tok) {
  if (p.psShift >= 0)
    return {tok >> p.psShift, tok & (p.ps - 1)};
  return {tok / p.ps, tok % p.ps};
}

using detail::cpAsync16;
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

// A thread block's share of the work: the query tile (longest first) of
// sequence b and KV head g, and its split's key tiles [t0, t0 + n) of BN
// keys; keys [0, kvEnd) are read.
struct BlockWork {
  int b, g, split, qLen, start, q0, kvEnd, t0, n;
};
// Fills w (reading the sequence's lengths after the PDL wait); false when the
// tile holds no query of the sequence.
template <int BN> __device__ __forceinline__ bool blockWork(const Params &p, BlockWork &w) {
  const int qTile = gridDim.x - 1 - blockIdx.x;  // longest first
  w.b = blockIdx.y / p.hkv;
  w.g = blockIdx.y % p.hkv;
  w.split = blockIdx.z;
  detail::pdlWait();
  w.qLen = p.qLens[w.b];
  w.start = p.qStart[w.b];
  w.q0 = qTile * p.bq;
  if (w.q0 >= w.qLen)
    return false;
  w.kvEnd = w.start + min(w.q0 + p.bq, w.qLen);
  const int nTiles = (w.kvEnd + BN - 1) / BN;
  const int per = (nTiles + p.numSplits - 1) / p.numSplits;
  w.t0 = w.split * per;
  w.n = max(0, min(nTiles, w.t0 + per) - w.t0);
  return true;
}

// A thread's two accumulator rows, r = warpRow + lane / 4 + 8h (warpRow: the
// first of its warp's 16 rows; row r is query q0 + r % bq of the group's
// head r / bq): query head, query index, absolute position (-1 for a row
// that holds no query), and the lowest valid position of the warp's rows.
struct ThreadRows {
  int pos[2], head[2], q[2];
  bool valid[2];
  int warpMin;
};
__device__ __forceinline__ ThreadRows threadRows(const Params &p, const BlockWork &w, int warpRow,
                                                 int lane) {
  ThreadRows t;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int r = warpRow + (lane >> 2) + h * 8;
    const int gh = r / p.bq, qi = w.q0 + r % p.bq;
    t.valid[h] = gh < p.group && qi < w.qLen;
    t.head[h] = w.g * p.group + gh;
    t.q[h] = qi;
    t.pos[h] = t.valid[h] ? w.start + qi : -1;
  }
  t.warpMin = __reduce_min_sync(
      0xffffffffu, min(t.valid[0] ? t.pos[0] : INT_MAX, t.valid[1] ? t.pos[1] : INT_MAX));
  return t;
}

// Online softmax of one S tile in place (S becomes P, fp32), in the MMA
// accumulator layout both kernels share: thread rows h = 0, 1 hold
// s[nt][2h + {0,1}], keys tok0 + nt * 8 + (lane % 4) * 2 + {0,1}; a row's
// four threads are one quad. Masks keys past the row's position when `mask`
// (diagonal tiles), updates the running max m (scaled by scaleLog2, base 2)
// and sum l, and returns in alpha the factor the old O is scaled by. The
// maximum is taken over the unscaled scores (scaleLog2 > 0, so it commutes)
// and each exponent is one FMA, s * scaleLog2 - m: one instruction a score
// fewer than scaling first, in kernels whose issue slots are their limit
// (bench/NOTES.md, session 12). The mask is a template argument (softmaxTile
// below branches): as a run-time flag the compiler predicated its compare
// and select into every tile's code, two instructions a score.
template <int NT, bool kMask>
__device__ __forceinline__ void softmaxTileOf(float (&s)[NT][4], float (&m)[2], float (&l)[2],
                                              float (&alpha)[2], int tok0,
                                              const int (&rowPos)[2], int lane, float scaleLog2) {
  float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      if (kMask) {
        const int tok = tok0 + nt * 8 + (lane & 3) * 2 + (e & 1);
        if (tok > rowPos[e >> 1])
          s[nt][e] = -INFINITY;
      }
      mx[e >> 1] = fmaxf(mx[e >> 1], s[nt][e]);
    }
  float base[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
    mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
    const float mn = fmaxf(m[h], mx[h] * scaleLog2);
    base[h] = mn == -INFINITY ? 0.0f : mn;
    alpha[h] = ex2(m[h] - base[h]);
    m[h] = mn;
  }
  float rs[2] = {0.0f, 0.0f};
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float pe = ex2(fmaf(s[nt][e], scaleLog2, -base[e >> 1]));
      s[nt][e] = pe;
      rs[e >> 1] += pe;
    }
#pragma unroll
  for (int h = 0; h < 2; ++h)
    l[h] = l[h] * alpha[h] + rs[h];
}
// The same; `mask` must be uniform over the warp (its rows' quads shuffle).
template <int NT>
__device__ __forceinline__ void softmaxTile(float (&s)[NT][4], float (&m)[2], float (&l)[2],
                                            float (&alpha)[2], int tok0, bool mask,
                                            const int (&rowPos)[2], int lane, float scaleLog2) {
  if (mask)
    softmaxTileOf<NT, true>(s, m, l, alpha, tok0, rowPos, lane, scaleLog2);
  else
    softmaxTileOf<NT, false>(s, m, l, alpha, tok0, rowPos, lane, scaleLog2);
}

// The epilogue of both kernels: a thread's two rows of O (accumulator layout:
// o[dt][2h + {0,1}] is row h, dims dt * 8 + (lane % 4) * 2 + {0,1}) with their
// running max m and per-thread sums l, normalised and written to the output
// (one split) or, with their (m, l), to the split-K workspace.
template <typename T, int D>
__device__ __forceinline__ void storeRows(const Params &p, const BlockWork &w,
                                          const ThreadRows &rows, const float (&o)[D / 8][4],
                                          const float (&m)[2], float (&l)[2], int lane) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
  }
  const int c0 = (lane & 3) * 2;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    if (!rows.valid[h])
      continue;
    const float inv = l[h] > 0.0f ? 1.0f / l[h] : 0.0f;
    const int64_t row =
        (static_cast<int64_t>(w.b) * p.hq + rows.head[h]) * p.maxQLen + rows.q[h];
    if (p.numSplits == 1) {
      T *dst = static_cast<T *>(p.out) + row * D;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt)
        *reinterpret_cast<uint32_t *>(dst + dt * 8 + c0) =
            pack2<T>(o[dt][2 * h] * inv, o[dt][2 * h + 1] * inv);
    } else {
      const int64_t prow = static_cast<int64_t>(w.split) * p.batch * p.hq * p.maxQLen + row;
      float *dst = p.partO + prow * D;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt)
        *reinterpret_cast<float2 *>(dst + dt * 8 + c0) =
            make_float2(o[dt][2 * h] * inv, o[dt][2 * h + 1] * inv);
      if ((lane & 3) == 0)
        p.partML[prow] = make_float2(m[h], l[h]);
    }
  }
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
// The smallest page the wgmma kernel loads with TMA (a tile's pages' ids are
// held in registers by one thread: at most kWgmmaKvTile / kMinMapPage).
constexpr int kMinMapPage = 16;
// Whether the wgmma kernel can load the cache's full K/V tiles with TMA, a
// box per page: page sizes that are powers of two from kMinMapPage to the
// key tile, head dim 128, row indices within int32 (the TMA coordinate).
inline bool wgmmaPageLoadsServe(const PagedAttentionShape &s) {
  const int ps = s.pageSize;
  return s.headDim == 128 && ps >= kMinMapPage && ps <= kWgmmaKvTile && (ps & (ps - 1)) == 0 &&
         static_cast<int64_t>(s.numPages) * s.numKvHeads * ps <= INT32_MAX;
}
// Launches it on grid (qTiles, batch * numKvHeads, numSplits) with PDL; with
// pageLoads, full K/V tiles come by TMA from tensor maps of the caches
// (cacheRows rows of headDim elements each; wgmmaPageLoadsServe must hold).
cudaError_t wgmmaLaunch(const Params &p, KVDType dtype, int headDim, int64_t cacheRows,
                        bool pageLoads, dim3 grid, size_t smemBytes, cudaStream_t stream);

} // namespace resa::gpu::prefill
