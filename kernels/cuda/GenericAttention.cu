// Generic paged attention and block selection: see resa/cuda/GenericAttention.h.
#include "resa/cuda/GenericAttention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace resa::gpu {
namespace {

template <typename T> struct Elem;
template <> struct Elem<__nv_bfloat16> {
  __device__ __forceinline__ static float load(const __nv_bfloat16 *p) {
    return __bfloat162float(*p);
  }
  __device__ __forceinline__ static __nv_bfloat16 make(float x) { return __float2bfloat16_rn(x); }
};
template <> struct Elem<__half> {
  __device__ __forceinline__ static float load(const __half *p) { return __half2float(*p); }
  __device__ __forceinline__ static __half make(float x) { return __float2half_rn(x); }
};

// ---- attention --------------------------------------------------------------

constexpr int kAttnWarps = 4;

struct AttnParams {
  const void *q;  // row r at q + r * headDim: decode [b][hq][D], prefill [b][hq][maxQLen][D]
  const void *k;
  const void *v;
  void *out;      // like q
  const int32_t *pageTable;
  const int32_t *seqLens;  // decode: tokens of sequence b
  const int32_t *qStart;   // prefill (qLens set): query i sees positions 0 ..= qStart[b] + i
  const int32_t *qLens;
  const int32_t *selected;  // block-sparse decode, else null
  const int32_t *selCounts;
  int32_t maxSelected;
  int32_t numQHeads, numKvHeads, group, headDim, pageSize, maxPagesPerSeq;
  int32_t rowsPerHead;  // maxQLen for prefill, 1 for decode
  float scaleLog2;      // scale * log2(e)
};

__device__ __forceinline__ float warpSum(float x) {
#pragma unroll
  for (int off = 16; off >= 1; off >>= 1)
    x += __shfl_xor_sync(0xffffffffu, x, off);
  return x;
}

// One thread block per output row (query row, query head). EPL = head-dim
// elements per lane (headDim <= 32 * EPL): lane l owns l, l + 32, ...
template <typename T, int EPL>
__global__ void __launch_bounds__(kAttnWarps * 32) attendKernel(const AttnParams p) {
  __shared__ float sState[kAttnWarps][2];  // (max, sum) per warp
  __shared__ float sAcc[kAttnWarps][32 * EPL];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int D = p.headDim;
  const int64_t row = blockIdx.x;
  const int i = static_cast<int>(row % p.rowsPerHead);
  const int64_t bh = row / p.rowsPerHead;
  const int h = static_cast<int>(bh % p.numQHeads);
  const int b = static_cast<int>(bh / p.numQHeads);
  int len;
  if (p.qLens) {
    if (i >= p.qLens[b])
      return;  // the whole block: a row past the sequence's queries
    len = p.qStart[b] + i + 1;
  } else {
    len = p.seqLens[b];
  }
  const int kvh = h / p.group;
  const int ps = p.pageSize;

  const T *q = static_cast<const T *>(p.q) + row * D;
  float qr[EPL], acc[EPL];
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    const int j = lane + 32 * e;
    qr[e] = j < D ? Elem<T>::load(q + j) * p.scaleLog2 : 0.0f;
    acc[e] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;

  // Tokens are enumerated as (logical block, slot) pairs t = block * ps +
  // slot over the attended blocks: every block of the sequence (dense) or the
  // selected ones (sparse); slots past the sequence's end are skipped.
  const int32_t *pages = p.pageTable + static_cast<int64_t>(b) * p.maxPagesPerSeq;
  const int32_t *blocks =
      p.selected ? p.selected + (static_cast<int64_t>(b) * p.numKvHeads + kvh) * p.maxSelected
                 : nullptr;
  const int64_t n = blocks ? static_cast<int64_t>(p.selCounts[b]) * ps : len;
  const T *K = static_cast<const T *>(p.k);
  const T *V = static_cast<const T *>(p.v);
  for (int64_t t = warp; t < n; t += kAttnWarps) {
    const int slot = static_cast<int>(t % ps);
    const int blk = blocks ? blocks[t / ps] : static_cast<int>(t / ps);
    if (static_cast<int64_t>(blk) * ps + slot >= len)
      continue;  // warp-uniform: t is the warp's
    const int64_t off =
        ((static_cast<int64_t>(pages[blk]) * p.numKvHeads + kvh) * ps + slot) * D;
    float s = 0.0f;
#pragma unroll
    for (int e = 0; e < EPL; ++e) {
      const int j = lane + 32 * e;
      if (j < D)
        s += qr[e] * Elem<T>::load(K + off + j);
    }
    s = warpSum(s);
    const float mNew = fmaxf(m, s);
    // m == -inf only before the first token, when l and acc are still 0.
    const float corr = m == -INFINITY ? 0.0f : exp2f(m - mNew);
    const float pr = exp2f(s - mNew);
    l = l * corr + pr;
#pragma unroll
    for (int e = 0; e < EPL; ++e) {
      const int j = lane + 32 * e;
      acc[e] = acc[e] * corr + (j < D ? pr * Elem<T>::load(V + off + j) : 0.0f);
    }
    m = mNew;
  }

  // Merge the warps' states.
#pragma unroll
  for (int e = 0; e < EPL; ++e)
    sAcc[warp][lane + 32 * e] = acc[e];
  if (lane == 0) {
    sState[warp][0] = m;
    sState[warp][1] = l;
  }
  __syncthreads();
  float mAll = -INFINITY;
#pragma unroll
  for (int w = 0; w < kAttnWarps; ++w)
    if (sState[w][1] > 0.0f)
      mAll = fmaxf(mAll, sState[w][0]);
  float weight[kAttnWarps], lAll = 0.0f;
#pragma unroll
  for (int w = 0; w < kAttnWarps; ++w) {
    weight[w] = sState[w][1] > 0.0f ? exp2f(sState[w][0] - mAll) : 0.0f;
    lAll += weight[w] * sState[w][1];
  }
  T *out = static_cast<T *>(p.out) + row * D;
  for (int j = threadIdx.x; j < D; j += kAttnWarps * 32) {
    float o = 0.0f;
#pragma unroll
    for (int w = 0; w < kAttnWarps; ++w)
      o += weight[w] * sAcc[w][j];
    out[j] = Elem<T>::make(lAll > 0.0f ? o / lAll : 0.0f);
  }
}

template <typename T> using AttnKernel = void (*)(AttnParams);

template <typename T> AttnKernel<T> attendKernelFor(int headDim) {
  switch ((headDim + 31) / 32) {
  case 1: return attendKernel<T, 1>;
  case 2: return attendKernel<T, 2>;
  case 3: return attendKernel<T, 3>;
  case 4: return attendKernel<T, 4>;
  case 5: return attendKernel<T, 5>;
  case 6: return attendKernel<T, 6>;
  case 7: return attendKernel<T, 7>;
  case 8: return attendKernel<T, 8>;
  default: return nullptr;
  }
}

bool validShape(const PagedAttentionShape &s) {
  return s.batch >= 0 && s.numQHeads > 0 && s.numKvHeads > 0 && s.numQHeads % s.numKvHeads == 0 &&
         s.headDim > 0 && s.headDim <= kGenericMaxHeadDim && s.pageSize > 0 &&
         s.maxPagesPerSeq >= 0;
}

cudaError_t launchAttend(KVDType dtype, const AttnParams &p, int64_t rows, cudaStream_t stream) {
  if (rows == 0)
    return cudaSuccess;
  if (rows > 0x7fffffff)
    return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(rows)), block(kAttnWarps * 32);
  if (dtype == KVDType::BF16)
    attendKernelFor<__nv_bfloat16>(p.headDim)<<<grid, block, 0, stream>>>(p);
  else
    attendKernelFor<__half>(p.headDim)<<<grid, block, 0, stream>>>(p);
  return cudaGetLastError();
}

AttnParams baseParams(const PagedAttentionShape &s, float scale) {
  AttnParams p{};
  p.numQHeads = s.numQHeads;
  p.numKvHeads = s.numKvHeads;
  p.group = s.group();
  p.headDim = s.headDim;
  p.pageSize = s.pageSize;
  p.maxPagesPerSeq = s.maxPagesPerSeq;
  p.scaleLog2 = (scale != 0.0f ? scale : defaultAttentionScale(s.headDim)) * 1.4426950408889634f;
  return p;
}

// ---- selection --------------------------------------------------------------

constexpr int kSelThreads = 256;
constexpr int kSelWarps = kSelThreads / 32;

struct SelectParams {
  const void *q;  // [batch][numQHeads][headDim]
  const void *kmin;
  const void *kmax;
  const int32_t *pageTable;
  const int32_t *seqLens;
  int32_t *selected;
  int32_t *counts;
  double *scores;  // [batch][numKvHeads][maxBlocks]
  int32_t numQHeads, numKvHeads, group, headDim, pageSize, maxPagesPerSeq, maxBlocks, maxSelected;
  BlockSelectParams sel;
  double pooledScale;  // (double) scale / group, as selectBlocksCpu computes it
};

// A 64-bit key ordered as the score (doubles of equal value share a key:
// -0 is folded into +0).
__device__ __forceinline__ uint64_t scoreKey(double s) {
  const uint64_t u = static_cast<uint64_t>(__double_as_longlong(s == 0.0 ? 0.0 : s));
  return (u >> 63) ? ~u : (u | (uint64_t{1} << 63));
}

// Exclusive count of the set flags of the threads before this one, and the
// block's total. Every thread of the block calls it.
__device__ int blockExclusiveCount(bool flag, int &total, int *warpCounts) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const unsigned ballot = __ballot_sync(0xffffffffu, flag);
  if (lane == 0)
    warpCounts[warp] = __popc(ballot);
  __syncthreads();
  int before = 0;
  total = 0;
  for (int w = 0; w < kSelWarps; ++w) {
    before += w < warp ? warpCounts[w] : 0;
    total += warpCounts[w];
  }
  __syncthreads();  // warpCounts is reused by the next call
  return before + __popc(ballot & ((1u << lane) - 1u));
}

template <typename T>
__global__ void __launch_bounds__(kSelThreads) selectKernel(const SelectParams p) {
  __shared__ double pooled[kGenericMaxHeadDim];
  __shared__ unsigned hist[256];
  __shared__ int warpCounts[kSelWarps];
  __shared__ uint64_t sPrefix;
  __shared__ int sRemaining;
  const int g = blockIdx.x, b = blockIdx.y, tid = threadIdx.x;
  const int D = p.headDim;
  const int len = p.seqLens[b];
  const int M = (len + p.pageSize - 1) / p.pageSize;
  const int n = selectedBlockCount(M, p.sel);
  if (g == 0 && tid == 0)
    p.counts[b] = n;
  int32_t *out = p.selected + (static_cast<int64_t>(b) * p.numKvHeads + g) * p.maxSelected;
  if (n >= M) {  // every block (n == M)
    for (int m = tid; m < M; m += kSelThreads)
      out[m] = m;
    return;
  }
  if (n == 0)
    return;

  // The pooled query: the group's q summed in fp64 in head order, times
  // (double) scale / group.
  const T *q = static_cast<const T *>(p.q) +
               (static_cast<int64_t>(b) * p.numQHeads + static_cast<int64_t>(g) * p.group) * D;
  for (int j = tid; j < D; j += kSelThreads) {
    double acc = 0.0;
    for (int h = 0; h < p.group; ++h)
      acc = __dadd_rn(acc, static_cast<double>(Elem<T>::load(q + static_cast<int64_t>(h) * D + j)));
    pooled[j] = __dmul_rn(acc, p.pooledScale);
  }
  __syncthreads();

  // Scores, one thread per block, summed over j in order with IEEE products
  // and sums (no contraction): bit-identical to selectBlocksCpu.
  double *scores = p.scores + (static_cast<int64_t>(b) * p.numKvHeads + g) * p.maxBlocks;
  const int32_t *pages = p.pageTable + static_cast<int64_t>(b) * p.maxPagesPerSeq;
  const T *kminT = static_cast<const T *>(p.kmin);
  const T *kmaxT = static_cast<const T *>(p.kmax);
  for (int m = tid; m < M; m += kSelThreads) {
    double s;
    if (m >= M - p.sel.localBlocks) {
      s = __longlong_as_double(0x7ff0000000000000LL);  // +inf: always kept
    } else {
      const int64_t off = (static_cast<int64_t>(pages[m]) * p.numKvHeads + g) * D;
      s = 0.0;
      for (int j = 0; j < D; ++j) {
        const double hi = __dmul_rn(pooled[j], static_cast<double>(Elem<T>::load(kmaxT + off + j)));
        const double lo = __dmul_rn(pooled[j], static_cast<double>(Elem<T>::load(kminT + off + j)));
        s = __dadd_rn(s, hi < lo ? lo : hi);  // std::max(hi, lo)
      }
      if (s != s)
        s = -__longlong_as_double(0x7ff0000000000000LL);  // NaN ranks last
    }
    scores[m] = s;
  }
  __syncthreads();

  // Radix select, 8 bits a pass from the top: the key T of the n-th largest
  // score, and how many of the scores equal to T are taken (the first ones).
  uint64_t prefix = 0;
  int remaining = n;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int d = tid; d < 256; d += kSelThreads)
      hist[d] = 0;
    __syncthreads();
    const uint64_t mask = shift == 56 ? 0 : ~uint64_t{0} << (shift + 8);
    for (int m = tid; m < M; m += kSelThreads) {
      const uint64_t key = scoreKey(scores[m]);
      if ((key & mask) == prefix)
        atomicAdd(&hist[(key >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (tid == 0) {
      int above = 0;
      for (int d = 255; d >= 0; --d) {
        if (above + static_cast<int>(hist[d]) >= remaining) {
          sPrefix = prefix | (static_cast<uint64_t>(d) << shift);
          sRemaining = remaining - above;
          break;
        }
        above += static_cast<int>(hist[d]);
      }
    }
    __syncthreads();
    prefix = sPrefix;
    remaining = sRemaining;
  }

  // Write-out, ascending: the keys above T, then the first `remaining`
  // blocks equal to T (ties go to the lower block index).
  int written = 0, tiesSeen = 0;
  for (int c = 0; c < M; c += kSelThreads) {
    const int m = c + tid;
    const uint64_t key = m < M ? scoreKey(scores[m]) : 0;
    const bool eq = m < M && key == prefix;
    int eqTotal = 0, takeTotal = 0;
    const int eqBefore = blockExclusiveCount(eq, eqTotal, warpCounts);
    const bool take = m < M && (key > prefix || (eq && tiesSeen + eqBefore < remaining));
    const int at = blockExclusiveCount(take, takeTotal, warpCounts);
    if (take)
      out[written + at] = m;
    written += takeTotal;
    tiesSeen += eqTotal;
  }
}

} // namespace

cudaError_t genericPrefillAttention(const PagedAttentionShape &s, KVDType dtype, int32_t maxQLen,
                                    const PrefillAttentionArgs &a, cudaStream_t stream) {
  if (!validShape(s) || maxQLen < 0)
    return cudaErrorInvalidValue;
  const int64_t rows = static_cast<int64_t>(s.batch) * s.numQHeads * maxQLen;
  if (rows == 0)
    return cudaSuccess;
  if (!a.q || !a.kCache || !a.vCache || !a.pageTable || !a.qStart || !a.qLens || !a.out)
    return cudaErrorInvalidValue;
  AttnParams p = baseParams(s, a.scale);
  p.q = a.q;
  p.k = a.kCache;
  p.v = a.vCache;
  p.out = a.out;
  p.pageTable = a.pageTable;
  p.qStart = a.qStart;
  p.qLens = a.qLens;
  p.rowsPerHead = maxQLen;
  return launchAttend(dtype, p, rows, stream);
}

cudaError_t genericDecodeAttention(const PagedAttentionShape &s, KVDType dtype,
                                   const DecodeAttentionArgs &a, cudaStream_t stream) {
  if (!validShape(s))
    return cudaErrorInvalidValue;
  if (s.batch == 0)
    return cudaSuccess;
  if (!a.q || !a.kCache || !a.vCache || !a.pageTable || !a.seqLens || !a.out ||
      (a.selected && (!a.selectedCounts || a.maxSelected <= 0)))
    return cudaErrorInvalidValue;
  AttnParams p = baseParams(s, a.scale);
  p.q = a.q;
  p.k = a.kCache;
  p.v = a.vCache;
  p.out = a.out;
  p.pageTable = a.pageTable;
  p.seqLens = a.seqLens;
  p.selected = a.selected;
  p.selCounts = a.selectedCounts;
  p.maxSelected = a.maxSelected;
  p.rowsPerHead = 1;
  return launchAttend(dtype, p, static_cast<int64_t>(s.batch) * s.numQHeads, stream);
}

size_t genericSelectWorkspaceBytes(const PagedAttentionShape &s, int32_t maxSeqLen) {
  if (s.pageSize <= 0 || maxSeqLen <= 0 || s.batch <= 0 || s.numKvHeads <= 0)
    return 0;
  const int64_t maxBlocks = (static_cast<int64_t>(maxSeqLen) + s.pageSize - 1) / s.pageSize;
  return static_cast<size_t>(s.batch) * s.numKvHeads * static_cast<size_t>(maxBlocks) *
         sizeof(double);
}

cudaError_t genericSelectBlocks(const PagedAttentionShape &s, KVDType dtype, int32_t maxSeqLen,
                                const BlockSelectParams &params, const BlockSelectArgs &a,
                                void *workspace, cudaStream_t stream) {
  if (!validShape(s) || s.batch > 65535 || s.numKvHeads > 65535 || maxSeqLen < 0 ||
      !(params.keptRatio >= 0.0f && params.keptRatio <= 1.0f) || params.minBlocks < 0 ||
      params.localBlocks < 0)
    return cudaErrorInvalidValue;
  const int32_t maxBlocks = (maxSeqLen + s.pageSize - 1) / s.pageSize;
  if (a.maxSelected < selectedBlockCount(maxBlocks, params))
    return cudaErrorInvalidValue;
  if (s.batch == 0)
    return cudaSuccess;
  if (!a.q || !a.kmin || !a.kmax || !a.pageTable || !a.seqLens || !a.selected || !a.counts ||
      (genericSelectWorkspaceBytes(s, maxSeqLen) > 0 && !workspace))
    return cudaErrorInvalidValue;
  SelectParams p{};
  p.q = a.q;
  p.kmin = a.kmin;
  p.kmax = a.kmax;
  p.pageTable = a.pageTable;
  p.seqLens = a.seqLens;
  p.selected = a.selected;
  p.counts = a.counts;
  p.scores = static_cast<double *>(workspace);
  p.numQHeads = s.numQHeads;
  p.numKvHeads = s.numKvHeads;
  p.group = s.group();
  p.headDim = s.headDim;
  p.pageSize = s.pageSize;
  p.maxPagesPerSeq = s.maxPagesPerSeq;
  p.maxBlocks = maxBlocks;
  p.maxSelected = a.maxSelected;
  p.sel = params;
  const float scale = a.scale != 0.0f ? a.scale : defaultAttentionScale(s.headDim);
  p.pooledScale = static_cast<double>(scale) / s.group();
  const dim3 grid(static_cast<unsigned>(s.numKvHeads), static_cast<unsigned>(s.batch));
  if (dtype == KVDType::BF16)
    selectKernel<__nv_bfloat16><<<grid, kSelThreads, 0, stream>>>(p);
  else
    selectKernel<__half><<<grid, kSelThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

} // namespace resa::gpu
