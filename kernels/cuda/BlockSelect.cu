// ReSA block selection on CUDA (resa/cuda/BlockSparse.h): the exact rule of
// selectBlocksCpu, in two kernels.
//
// 1. Scoring (blockScoreKernel): streams the key summaries once, over every
//    SM. Grid (block chunk, sequence); each warp takes units of (KV head g,
//    kScoreUnit = 16 consecutive blocks): one coalesced load of their page
//    ids, then LD = headDim / 8 lanes per block, 16 bytes of kmin and of kmax
//    per lane, 4 blocks per lane in flight. The pooled query is computed
//    exactly as the CPU reference does, in fp64: pooled_j = (sum of the group's q_j) *
//    (scale / group). Block score = sum_j pooled_j * (pooled_j >= 0 ? kmax_j :
//    kmin_j) = sum_j max(pooled_j kmax_j, pooled_j kmin_j) (kmax >= kmin), in
//    fp64 (DFMA): the products of stored bf16/f16 values and the fp64 pooled
//    query are exact or within an ulp of fp64, so the scores equal the
//    reference's up to fp64 rounding and the selected sets agree (a tie
//    within 1e-16 is the only way to differ). The local blocks and sequences
//    that keep every block are not scored. Scores: fp64 [b][g][maxBlocks].
//
// 2. Top-n (blockTopNKernel): one thread block of 1024 threads per (b, g).
//    The scores go to shared memory (when they fit), then a bucket select:
//    min/max of the active scores, a 2048-bucket histogram of (s - lo) /
//    (hi - lo) (monotone in s, so equal scores share a bucket and buckets are
//    ordered), a suffix scan finds the bucket T holding the n-th largest;
//    buckets above T are taken, T becomes the active set (its own min/max)
//    and the loop repeats until T is small (<= 64 scores: exact ranking by
//    (score desc, index asc), a warp per score) or all equal (lowest indices
//    first). With random data one histogram pass suffices (about 10 scores
//    per bucket at the 90th percentile of 16384). The selection is a bitmap
//    (ballots; the local blocks set directly), written out ascending through
//    a block-wide scan of the word popcounts.
#include "resa/cuda/BlockSparse.h"

#include "Launch.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <atomic>
#include <cfloat>

namespace resa::gpu {
namespace {

using detail::launchPdl;
using detail::pdlLaunchDependents;
using detail::pdlWait;

// ---- scoring ------------------------------------------------------------------

constexpr int kScoreWarps = 8;
constexpr int kScoreUnroll = 4;  // blocks per lane in flight
// Blocks per warp unit: units small enough that the grid can fill every
// resident slot at batch 1 (units of 32 left a third of them empty at 256K).
constexpr int kScoreUnit = 16;

struct ScoreParams {
  const void *q;
  const void *kmin;
  const void *kmax;
  const int32_t *pageTable;
  const int32_t *seqLens;
  double *scores;
  int32_t numQHeads, numKvHeads, group, pageSize, maxPagesPerSeq, maxBlocks, blocksPerCta;
  BlockSelectParams sel;
  double pooledScale;  // scale / group, as the CPU reference computes it
};

template <typename T> struct Conv;
template <> struct Conv<__nv_bfloat16> {
  __device__ __forceinline__ static float lo(uint32_t w) { return __uint_as_float(w << 16); }
  __device__ __forceinline__ static float hi(uint32_t w) { return __uint_as_float(w & 0xffff0000u); }
};
template <> struct Conv<__half> {
  __device__ __forceinline__ static float lo(uint32_t w) {
    return __half2float(__ushort_as_half(static_cast<unsigned short>(w & 0xffffu)));
  }
  __device__ __forceinline__ static float hi(uint32_t w) {
    return __half2float(__ushort_as_half(static_cast<unsigned short>(w >> 16)));
  }
};

template <typename T>
__device__ __forceinline__ void toFloat8(const uint4 &r, float (&f)[8]) {
  const uint32_t w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = Conv<T>::lo(w[i]);
    f[2 * i + 1] = Conv<T>::hi(w[i]);
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kScoreWarps * 32) blockScoreKernel(const ScoreParams p) {
  constexpr int LD = D / 8;        // lanes per block (16 bytes each)
  constexpr int IPW = 32 / LD;     // blocks per warp-wide load
  constexpr int STEP = IPW * kScoreUnroll;
  static_assert(LD >= 1 && LD <= 32 && 32 % LD == 0 && 32 % STEP == 0, "head dim");
  static_assert(kScoreUnit <= 32, "one page-id load per unit");
  pdlWait();

  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int dl = lane % LD;
  const int sub = lane / LD;
  const int b = blockIdx.y;
  const int ps = p.pageSize;
  const int len = p.seqLens[b];
  const int M = (len + ps - 1) / ps;
  const int n = selectedBlockCount(M, p.sel);
  const int C = M - min(p.sel.localBlocks, M);  // blocks that need a score
  // The blocks are shared evenly by the grid (planned for the longest
  // sequence the plan serves, maybe longer than this one: a CUDA graph's
  // length bucket), in whole units, never more than planned.
  const int perCta = min(p.blocksPerCta, ((C + gridDim.x - 1) / gridDim.x + kScoreUnit - 1) /
                                             kScoreUnit * kScoreUnit);
  const int m0 = blockIdx.x * perCta;
  const int m1 = min(m0 + perCta, C);
  if (n >= M || m0 >= m1) {
    pdlLaunchDependents();
    return;
  }
  const int nUnits = (m1 - m0 + kScoreUnit - 1) / kScoreUnit;  // per KV head
  const int H = p.numKvHeads;
  const T *kminT = static_cast<const T *>(p.kmin);
  const T *kmaxT = static_cast<const T *>(p.kmax);
  const int32_t *row = p.pageTable + static_cast<int64_t>(b) * p.maxPagesPerSeq;

  for (int unit = warp; unit < H * nUnits; unit += kScoreWarps) {
    const int g = unit / nUnits;
    const int base = m0 + (unit % nUnits) * kScoreUnit;
    const int cnt = min(kScoreUnit, m1 - base);
    const int pid = lane < cnt ? __ldg(row + base + lane) : 0;

    // The pooled query, exactly as selectBlocksCpu: sum in fp64, times
    // (double) scale / group.
    double pooled[8];
    {
#pragma unroll
      for (int j = 0; j < 8; ++j)
        pooled[j] = 0.0;
      const T *qb = static_cast<const T *>(p.q) +
                    (static_cast<int64_t>(b) * p.numQHeads + static_cast<int64_t>(g) * p.group) * D +
                    8 * dl;
      for (int h = 0; h < p.group; ++h) {
        float f[8];
        toFloat8<T>(__ldg(reinterpret_cast<const uint4 *>(qb + static_cast<int64_t>(h) * D)), f);
#pragma unroll
        for (int j = 0; j < 8; ++j)
          pooled[j] += static_cast<double>(f[j]);
      }
#pragma unroll
      for (int j = 0; j < 8; ++j)
        pooled[j] *= p.pooledScale;
    }

    double *out = p.scores + (static_cast<int64_t>(b) * H + g) * p.maxBlocks;
    for (int it = 0; it < cnt; it += STEP) {
      uint4 lo[kScoreUnroll], hi[kScoreUnroll];
#pragma unroll
      for (int u = 0; u < kScoreUnroll; ++u) {
        const int item = it + u * IPW + sub;
        const int page = __shfl_sync(0xffffffffu, pid, item & 31);
        if (item < cnt) {
          const int64_t off = (static_cast<int64_t>(page) * H + g) * D + 8 * dl;
          lo[u] = __ldg(reinterpret_cast<const uint4 *>(kminT + off));
          hi[u] = __ldg(reinterpret_cast<const uint4 *>(kmaxT + off));
        } else {
          lo[u] = hi[u] = make_uint4(0u, 0u, 0u, 0u);
        }
      }
#pragma unroll
      for (int u = 0; u < kScoreUnroll; ++u) {
        float fl[8], fh[8];
        toFloat8<T>(lo[u], fl);
        toFloat8<T>(hi[u], fh);
        double acc = 0.0;
#pragma unroll
        for (int j = 0; j < 8; ++j)
          acc = fma(pooled[j], static_cast<double>(pooled[j] >= 0.0 ? fh[j] : fl[j]), acc);
#pragma unroll
        for (int off = LD / 2; off >= 1; off >>= 1)
          acc += __shfl_xor_sync(0xffffffffu, acc, off);
        const int item = it + u * IPW + sub;
        if (dl == 0 && item < cnt)
          out[base + item] = acc != acc ? -__builtin_huge_val() : acc;  // NaN ranks last
      }
    }
  }
  pdlLaunchDependents();
}


// ---- top-n ------------------------------------------------------------------------

constexpr int kSelThreads = 1024;
constexpr int kSelWarps = kSelThreads / 32;
constexpr int kBuckets = 2048;
constexpr int kBucketsPerThread = kBuckets / kSelThreads;
constexpr int kSmallSet = 64;
constexpr int kMaxRounds = 48;

struct TopNParams {
  const double *scores;
  const int32_t *seqLens;
  int32_t *selected;
  int32_t *counts;
  int32_t numKvHeads, pageSize, maxBlocks, maxSelected;
  BlockSelectParams sel;
  bool scoresInSmem;
};

struct TopNShared {
  int hist[kBuckets];
  int warpInt[kSelWarps];
  double warpLo[kSelWarps];
  double warpHi[kSelWarps];
  double lo, hi;
  int bucketT, aboveT, countT;
  int listCount;
  int listIdx[kSmallSet];
  double listScore[kSmallSet];
};

// Exclusive prefix sum of v over the block (in thread order); *total gets the
// sum. Contains barriers: every thread must call it.
__device__ int blockExclusiveScan(int v, TopNShared &sh, int *total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int x = v;
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    const int y = __shfl_up_sync(0xffffffffu, x, off);
    if (lane >= off)
      x += y;
  }
  if (lane == 31)
    sh.warpInt[warp] = x;
  __syncthreads();
  if (warp == 0) {
    int w = sh.warpInt[lane];
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const int y = __shfl_up_sync(0xffffffffu, w, off);
      if (lane >= off)
        w += y;
    }
    sh.warpInt[lane] = w;
  }
  __syncthreads();
  const int excl = x - v + (warp > 0 ? sh.warpInt[warp - 1] : 0);
  *total = sh.warpInt[kSelWarps - 1];
  __syncthreads();
  return excl;
}

// Block-wide min of lo and max of hi; every thread gets the result.
__device__ void blockMinMax(double &lo, double &hi, TopNShared &sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int off = 16; off >= 1; off >>= 1) {
    lo = fmin(lo, __shfl_xor_sync(0xffffffffu, lo, off));
    hi = fmax(hi, __shfl_xor_sync(0xffffffffu, hi, off));
  }
  if (lane == 0) {
    sh.warpLo[warp] = lo;
    sh.warpHi[warp] = hi;
  }
  __syncthreads();
  if (warp == 0) {
    double a = sh.warpLo[lane], c = sh.warpHi[lane];
#pragma unroll
    for (int off = 16; off >= 1; off >>= 1) {
      a = fmin(a, __shfl_xor_sync(0xffffffffu, a, off));
      c = fmax(c, __shfl_xor_sync(0xffffffffu, c, off));
    }
    if (lane == 0) {
      sh.lo = a;
      sh.hi = c;
    }
  }
  __syncthreads();
  lo = sh.lo;
  hi = sh.hi;
  __syncthreads();
}

// Bucket of s in [lo, hi] (lo < hi): monotone non-decreasing in s; lo -> 0,
// hi -> kBuckets - 1.
__device__ __forceinline__ int bucketOf(double s, double lo, double hi, double inv, bool useInv) {
  double f = useInv ? (s - lo) * inv : (s - lo) / (hi - lo) * kBuckets;
  f = fmin(f, kBuckets - 1.0);
  return static_cast<int>(f);
}

__device__ __forceinline__ bool ranksBefore(double sa, int ia, double sb, int ib) {
  return sa > sb || (sa == sb && ia < ib);
}

__global__ void __launch_bounds__(kSelThreads) blockTopNKernel(const TopNParams p) {
  extern __shared__ __align__(16) unsigned char dyn[];
  __shared__ TopNShared sh;
  pdlWait();
  // The attention kernel may be scheduled now (it waits for this grid).
  pdlLaunchDependents();

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = blockIdx.x, b = blockIdx.y;
  const int ps = p.pageSize;
  const int len = p.seqLens[b];
  const int M = (len + ps - 1) / ps;
  const int n = selectedBlockCount(M, p.sel);
  if (g == 0 && tid == 0)
    p.counts[b] = n;
  int32_t *out = p.selected + (static_cast<int64_t>(b) * p.numKvHeads + g) * p.maxSelected;
  if (n >= M) {
    for (int i = tid; i < M; i += kSelThreads)
      out[i] = i;
    return;
  }
  const int C = M - min(p.sel.localBlocks, M);  // scored candidates, indices [0, C)
  int need = n - (M - C);                         // candidates to take
  const int W = (M + 31) / 32;
  const double *src = p.scores + (static_cast<int64_t>(b) * p.numKvHeads + g) * p.maxBlocks;
  double *sS = reinterpret_cast<double *>(dyn);
  uint32_t *bits = reinterpret_cast<uint32_t *>(
      dyn + (p.scoresInSmem ? static_cast<size_t>(p.maxBlocks) * sizeof(double) : 0));
  const double *S = p.scoresInSmem ? sS : src;

  for (int w = tid; w < W; w += kSelThreads)
    bits[w] = 0u;
  // Load (into shared memory) and min/max.
  double lo = __builtin_huge_val(), hi = -__builtin_huge_val();
#pragma unroll 4
  for (int i = tid; i < C; i += kSelThreads) {
    const double s = __ldcg(src + i);
    if (p.scoresInSmem)
      sS[i] = s;
    lo = fmin(lo, s);
    hi = fmax(hi, s);
  }
  blockMinMax(lo, hi, sh);  // (its barriers also publish sS and bits)

  int active = C;  // candidates with lo <= s <= hi, none of them taken yet
  int rounds = 0;
  while (need > 0) {
    if (need == active) {  // take them all
      for (int base = warp * 32; base < C; base += kSelThreads) {
        const int i = base + lane;
        const bool take = i < C && S[i] >= lo && S[i] <= hi;
        const uint32_t m = __ballot_sync(0xffffffffu, take);
        if (lane == 0 && m)
          bits[i >> 5] |= m;
      }
      break;
    }
    if (lo == hi) {  // all equal: the lowest indices first
      int taken = 0;
      for (int r0 = 0; r0 < C; r0 += kSelThreads) {
        const int i = r0 + warp * 32 + lane;
        const bool act = i < C && S[i] == lo;
        const uint32_t m = __ballot_sync(0xffffffffu, act);
        int total;
        const int before = blockExclusiveScan(lane == 0 ? __popc(m) : 0, sh, &total);
        const int warpBefore = __shfl_sync(0xffffffffu, before, 0);
        const bool take = act && taken + warpBefore + __popc(m & ((1u << lane) - 1u)) < need;
        const uint32_t t = __ballot_sync(0xffffffffu, take);
        if (lane == 0 && t)
          bits[i >> 5] |= t;
        taken += total;
      }
      break;
    }
    if (active <= kSmallSet || ++rounds > kMaxRounds) {
      // Exact ranking of the active scores by (score desc, index asc).
      if (active <= kSmallSet) {
        if (tid == 0)
          sh.listCount = 0;
        __syncthreads();
        for (int i = tid; i < C; i += kSelThreads) {
          const double s = S[i];
          if (s >= lo && s <= hi) {
            const int k = atomicAdd(&sh.listCount, 1);
            sh.listIdx[k] = i;
            sh.listScore[k] = s;
          }
        }
        __syncthreads();
        // A warp per listed score, its lanes comparing it with the list's
        // entries (one warp ranking them all was a serial chain of up to
        // 64 x 64 comparisons).
        const int c = sh.listCount;
        for (int k = warp; k < c; k += kSelWarps) {
          const double s = sh.listScore[k];
          const int idx = sh.listIdx[k];
          int before = 0;
          for (int j = lane; j < c; j += 32)
            before += ranksBefore(sh.listScore[j], sh.listIdx[j], s, idx);
          const int rank = __reduce_add_sync(0xffffffffu, before);
          if (lane == 0 && rank < need)
            atomicOr(&bits[idx >> 5], 1u << (idx & 31));
        }
      } else {
        // Pathological data (infinities): brute force over the active set.
        for (int i = tid; i < C; i += kSelThreads) {
          const double s = S[i];
          if (!(s >= lo && s <= hi))
            continue;
          int rank = 0;
          for (int j = 0; j < C && rank < need; ++j) {
            const double t = S[j];
            rank += t >= lo && t <= hi && ranksBefore(t, j, s, i);
          }
          if (rank < need)
            atomicOr(&bits[i >> 5], 1u << (i & 31));
        }
      }
      break;
    }

    // Histogram of the active scores.
    for (int k = tid; k < kBuckets; k += kSelThreads)
      sh.hist[k] = 0;
    __syncthreads();
    const double inv = kBuckets / (hi - lo);
    const bool useInv = inv <= DBL_MAX;
    for (int i = tid; i < C; i += kSelThreads) {
      const double s = S[i];
      if (s >= lo && s <= hi)
        atomicAdd(&sh.hist[bucketOf(s, lo, hi, inv, useInv)], 1);
    }
    __syncthreads();
    // Bucket T: above(T) < need <= above(T) + count(T), scanning from the top.
    {
      int c[kBucketsPerThread];
      int local = 0;
#pragma unroll
      for (int k = 0; k < kBucketsPerThread; ++k) {
        c[k] = sh.hist[kBuckets - 1 - (tid * kBucketsPerThread + k)];
        local += c[k];
      }
      int total;
      int above = blockExclusiveScan(local, sh, &total);
#pragma unroll
      for (int k = 0; k < kBucketsPerThread; ++k) {
        if (above < need && need <= above + c[k]) {
          sh.bucketT = kBuckets - 1 - (tid * kBucketsPerThread + k);
          sh.aboveT = above;
          sh.countT = c[k];
        }
        above += c[k];
      }
    }
    __syncthreads();
    const int T = sh.bucketT;
    const int aboveT = sh.aboveT;
    const int countT = sh.countT;
    // Take the buckets above T; T's scores become the active set.
    double nlo = __builtin_huge_val(), nhi = -__builtin_huge_val();
    for (int base = warp * 32; base < C; base += kSelThreads) {
      const int i = base + lane;
      bool take = false;
      if (i < C) {
        const double s = S[i];
        if (s >= lo && s <= hi) {
          const int k = bucketOf(s, lo, hi, inv, useInv);
          take = k > T;
          if (k == T) {
            nlo = fmin(nlo, s);
            nhi = fmax(nhi, s);
          }
        }
      }
      const uint32_t m = __ballot_sync(0xffffffffu, take);
      if (lane == 0 && m)
        bits[i >> 5] |= m;
    }
    need -= aboveT;
    active = countT;
    lo = nlo;
    hi = nhi;
    blockMinMax(lo, hi, sh);
  }

  // The local blocks, then the bitmap out in ascending order.
  __syncthreads();
  for (int i = C + tid; i < M; i += kSelThreads)
    atomicOr(&bits[i >> 5], 1u << (i & 31));
  __syncthreads();
  int written = 0;
  for (int w0 = 0; w0 < W; w0 += kSelThreads) {
    const int w = w0 + tid;
    const uint32_t word = w < W ? bits[w] : 0u;
    int total;
    int pos = written + blockExclusiveScan(__popc(word), sh, &total);
    uint32_t x = word;
    while (x) {
      const int bit = __ffs(x) - 1;
      x &= x - 1;
      if (pos < p.maxSelected)
        out[pos] = w * 32 + bit;
      ++pos;
    }
    written += total;
  }
}

// ---- host --------------------------------------------------------------------------

bool validParams(const BlockSelectParams &p) {
  return p.keptRatio >= 0.0f && p.keptRatio <= 1.0f && p.minBlocks >= 0 && p.localBlocks >= 0;
}

using ScoreKernel = void (*)(ScoreParams);

ScoreKernel scoreKernelFor(KVDType dtype, int headDim) {
  if (dtype == KVDType::BF16) {
    switch (headDim) {
    case 64: return blockScoreKernel<__nv_bfloat16, 64>;
    case 128: return blockScoreKernel<__nv_bfloat16, 128>;
    case 256: return blockScoreKernel<__nv_bfloat16, 256>;
    default: return nullptr;
    }
  }
  switch (headDim) {
  case 64: return blockScoreKernel<__half, 64>;
  case 128: return blockScoreKernel<__half, 128>;
  case 256: return blockScoreKernel<__half, 256>;
  default: return nullptr;
  }
}

size_t alignUp16(size_t x) { return (x + 15) / 16 * 16; }

} // namespace

cudaError_t planBlockSelect(const PagedAttentionShape &s, KVDType dtype, int32_t maxSeqLen,
                            const BlockSelectParams &params, BlockSelectPlan *plan,
                            const BlockSelectOptions &options) {
  if (!plan || s.batch < 0 || s.batch > 65535 || s.numQHeads <= 0 || s.numKvHeads <= 0 ||
      s.numKvHeads > 65535 || s.numQHeads % s.numKvHeads != 0 || s.pageSize <= 0 ||
      maxSeqLen < 0 || !validParams(params) ||
      static_cast<int64_t>(maxSeqLen) > static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize ||
      !scoreKernelFor(dtype, s.headDim))
    return cudaErrorInvalidValue;
  cudaError_t err;
  int device = options.device;
  if (device < 0 && (err = cudaGetDevice(&device)) != cudaSuccess)
    return err;
  int numSms = 0, optin = 0;
  if ((err = cudaDeviceGetAttribute(&numSms, cudaDevAttrMultiProcessorCount, device)) !=
          cudaSuccess ||
      (err = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device)) !=
          cudaSuccess)
    return err;
  cudaFuncAttributes attr{};
  if ((err = cudaFuncGetAttributes(&attr, blockTopNKernel)) != cudaSuccess)
    return err;

  BlockSelectPlan p;
  p.shape = s;
  p.dtype = dtype;
  p.params = params;
  p.maxSeqLen = maxSeqLen;
  p.maxBlocks = (maxSeqLen + s.pageSize - 1) / s.pageSize;
  p.maxSelected = selectedBlockCount(p.maxBlocks, params);
  // Scoring grid: units of kScoreUnit blocks; one wave of resident thread blocks.
  int occ = 0;
  if ((err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(
           &occ, scoreKernelFor(dtype, s.headDim), kScoreWarps * 32, 0)) != cudaSuccess)
    return err;
  const int64_t units = (p.maxBlocks + kScoreUnit - 1) / kScoreUnit;
  const int64_t wantCtas =
      std::max<int64_t>(1, static_cast<int64_t>(std::max(occ, 1)) * numSms / std::max(1, s.batch));
  const int64_t unitsPerCta = std::max<int64_t>(1, (units + wantCtas - 1) / wantCtas);
  p.blocksPerCta = static_cast<int32_t>(kScoreUnit * unitsPerCta);
  const size_t bitmap = alignUp16(static_cast<size_t>((p.maxBlocks + 31) / 32) * 4);
  const size_t scores = alignUp16(static_cast<size_t>(p.maxBlocks) * sizeof(double));
  const size_t room = static_cast<size_t>(optin) - attr.sharedSizeBytes;
  p.scoresInSmem = scores + bitmap <= room;
  p.selectSmemBytes = (p.scoresInSmem ? scores : 0) + bitmap;
  if (p.selectSmemBytes > room)
    return cudaErrorInvalidValue;  // over ~1.7 M blocks per sequence
  p.workspaceBytes =
      static_cast<size_t>(s.batch) * s.numKvHeads * static_cast<size_t>(p.maxBlocks) * sizeof(double);
  p.parts = options.parts;
  *plan = p;
  return cudaSuccess;
}

cudaError_t selectBlocks(const BlockSelectArgs &a, const BlockSelectPlan &plan, void *workspace,
                         cudaStream_t stream) {
  const PagedAttentionShape &s = plan.shape;
  if (s.batch == 0)
    return cudaSuccess;
  if (!a.q || !a.kmin || !a.kmax || !a.pageTable || !a.seqLens || !a.selected || !a.counts ||
      a.maxSelected < plan.maxSelected || (plan.workspaceBytes > 0 && !workspace))
    return cudaErrorInvalidValue;
  const ScoreKernel score = scoreKernelFor(plan.dtype, s.headDim);
  if (!score)
    return cudaErrorInvalidValue;

  // Shared memory over 48 KiB must be allowed explicitly: the top-n kernel
  // gets the device's whole opt-in limit, once (the scoring kernel uses none).
  static std::atomic<bool> allowed{false};
  if (!allowed.load()) {
    int device = 0, optin = 0;
    cudaError_t e = cudaGetDevice(&device);
    if (e == cudaSuccess)
      e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    auto allow = [&](const void *k) {
      cudaFuncAttributes fa{};
      cudaError_t r = cudaFuncGetAttributes(&fa, k);
      if (r == cudaSuccess)
        r = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 optin - static_cast<int>(fa.sharedSizeBytes));
      return r;
    };
    if (e == cudaSuccess)
      e = allow(reinterpret_cast<const void *>(blockTopNKernel));
    if (e != cudaSuccess)
      return e;
    allowed = true;
  }

  const float scale = a.scale != 0.0f ? a.scale : defaultAttentionScale(s.headDim);
  double *scores = static_cast<double *>(workspace);
  cudaError_t e = cudaSuccess;
  if (plan.maxBlocks > 0 && plan.parts != BlockSelectParts::TopNOnly) {
    ScoreParams sp{};
    sp.q = a.q;
    sp.kmin = a.kmin;
    sp.kmax = a.kmax;
    sp.pageTable = a.pageTable;
    sp.seqLens = a.seqLens;
    sp.scores = scores;
    sp.numQHeads = s.numQHeads;
    sp.numKvHeads = s.numKvHeads;
    sp.group = s.group();
    sp.pageSize = s.pageSize;
    sp.maxPagesPerSeq = s.maxPagesPerSeq;
    sp.maxBlocks = plan.maxBlocks;
    sp.blocksPerCta = plan.blocksPerCta;
    sp.sel = plan.params;
    sp.pooledScale = static_cast<double>(scale) / s.group();
    const dim3 grid(static_cast<unsigned>((plan.maxBlocks + plan.blocksPerCta - 1) / plan.blocksPerCta),
                    static_cast<unsigned>(s.batch));
    e = launchPdl(score, grid, dim3(kScoreWarps * 32), 0, stream, sp);
    if (e != cudaSuccess)
      return e;
  }
  if (plan.parts == BlockSelectParts::ScoreOnly)
    return cudaSuccess;
  TopNParams tp{};
  tp.scores = scores;
  tp.seqLens = a.seqLens;
  tp.selected = a.selected;
  tp.counts = a.counts;
  tp.numKvHeads = s.numKvHeads;
  tp.pageSize = s.pageSize;
  tp.maxBlocks = plan.maxBlocks;
  tp.maxSelected = a.maxSelected;
  tp.sel = plan.params;
  tp.scoresInSmem = plan.scoresInSmem;
  return launchPdl(blockTopNKernel, dim3(static_cast<unsigned>(s.numKvHeads), static_cast<unsigned>(s.batch)),
                   dim3(kSelThreads), plan.selectSmemBytes, stream, tp);
}

} // namespace resa::gpu
