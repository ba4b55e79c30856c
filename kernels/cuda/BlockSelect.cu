// ReSA block selection on CUDA (resa/cuda/BlockSparse.h): the exact rule of
// selectBlocksCpu, in two kernels.
//
// 1. Scoring (blockScoreKernel): streams the key summaries once, over every
//    SM. Grid (block chunk, sequence); each warp takes units of (KV head g,
//    kScoreUnit = 16 consecutive blocks): one coalesced load of their page
//    ids (the next unit's loaded before this one's summaries), then LD =
//    headDim / 8 lanes per block, 16 bytes of kmin and of kmax per lane, 4
//    blocks per lane in flight (streamed past L1; evict-first in L2 where
//    the plan says: BlockSelectPlan::summariesEvictFirst). The pooled
//    queries are computed once a thread block into shared memory, exactly
//    as the CPU reference does, in fp64: pooled_j = (sum of the group's
//    q_j) * (scale / group). Block score = sum_j pooled_j * (pooled_j >= 0
//    ? kmax_j : kmin_j) = sum_j max(pooled_j kmax_j, pooled_j kmin_j) (kmax
//    >= kmin), in fp64 (DFMA): the products of stored bf16/f16 values and
//    the fp64 pooled query are exact or within an ulp of fp64, so the scores
//    equal the reference's up to fp64 rounding and the selected sets agree
//    (a tie within 1e-16 is the only way to differ). The local blocks and
//    sequences that keep every block are not scored. Scores: fp64
//    [b][g][maxBlocks].
//
// 2. Top-n (blockTopNKernel): a cluster of thread blocks per (b, g) (of 256
//    threads; at larger batches and shorter sequences one block alone, of 1024
//    threads or 512), each holding a slice of the scores (shared memory when it
//    fits); the blocks meet at cluster barriers and read each other's shared
//    memory. A bucket select: the cluster's min/max of the active scores, a
//    2048-bucket histogram of (s - lo) / (hi - lo) (monotone in s, so equal
//    scores share a bucket and buckets are ordered) summed over the cluster
//    (each block sums its own range of buckets), the bucket T holding the n-th
//    largest; buckets above T are taken, T becomes the active set (its own
//    min/max) and the loop repeats until T is small (<= 64 scores: gathered
//    from the cluster and ranked exactly by (score desc, index asc), a warp per
//    score) or all equal (lowest indices first). With random data one histogram
//    pass suffices (about 10 scores per bucket at the 90th percentile of
//    16384). The selection is a bitmap per slice (ballots; the local blocks set
//    directly), written out ascending after the lower ranks' counts.
#include "resa/cuda/BlockSparse.h"

#include "Launch.cuh"
#include "Mbarrier.cuh"

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <type_traits>

namespace resa::gpu {
namespace {

using detail::evictFirstPolicy;
using detail::launchPdl;
using detail::launchPdlClusters;
using detail::loadStreamed16;
using detail::pdlLaunchDependents;
using detail::pdlWait;

// ---- scoring ------------------------------------------------------------------

constexpr int kScoreWarps = 8;
constexpr int kScoreUnroll = 4;  // blocks per lane in flight
// Blocks per warp unit: units small enough that the grid can fill every
// resident slot at batch 1 (units of 32 left a third of them empty at 256K).
constexpr int kScoreUnit = 16;
constexpr int kPoolLoads = 8;  // query heads a thread loads at once for the pooled queries

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

// EvictFirst: the summaries' loads under an evict-first L2 policy
// (BlockSelectPlan::summariesEvictFirst says where).
template <typename T, int D, bool EvictFirst>
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

  auto pageIds = [&](int unit) {  // lane i: the page of the unit's i-th block
    const int base = m0 + (unit % nUnits) * kScoreUnit;
    return unit < H * nUnits && lane < min(kScoreUnit, m1 - base) ? __ldg(row + base + lane) : 0;
  };
  int nextPid = pageIds(warp);  // in flight beside the queries' loads
  const uint64_t policy = EvictFirst ? evictFirstPolicy() : 0;

  // The pooled query of every KV head, exactly as selectBlocksCpu: the
  // group's q summed in fp64 in head order, times (double) scale / group;
  // once a thread block, each thread's loads of up to kPoolLoads heads in
  // flight together (computed per unit, a chain of L2 round trips preceded
  // each unit's summary loads).
  extern __shared__ double pooledAll[];  // [H][D]
  for (int c = threadIdx.x; c < H * LD; c += blockDim.x) {
    const int g = c / LD, d8 = c % LD;
    const T *qg = static_cast<const T *>(p.q) +
                  (static_cast<int64_t>(b) * p.numQHeads + static_cast<int64_t>(g) * p.group) * D + 8 * d8;
    double acc[8];
#pragma unroll
    for (int j = 0; j < 8; ++j)
      acc[j] = 0.0;
    for (int h0 = 0; h0 < p.group; h0 += kPoolLoads) {
      uint4 r[kPoolLoads];
#pragma unroll
      for (int k = 0; k < kPoolLoads; ++k)
        if (h0 + k < p.group)
          r[k] = __ldg(reinterpret_cast<const uint4 *>(qg + static_cast<int64_t>(h0 + k) * D));
#pragma unroll
      for (int k = 0; k < kPoolLoads; ++k)
        if (h0 + k < p.group) {
          float f[8];
          toFloat8<T>(r[k], f);
#pragma unroll
          for (int j = 0; j < 8; ++j)
            acc[j] += static_cast<double>(f[j]);
        }
    }
#pragma unroll
    for (int j = 0; j < 8; ++j)
      pooledAll[g * D + 8 * d8 + j] = acc[j] * p.pooledScale;
  }
  __syncthreads();

  for (int unit = warp; unit < H * nUnits; unit += kScoreWarps) {
    const int g = unit / nUnits;
    const int base = m0 + (unit % nUnits) * kScoreUnit;
    const int cnt = min(kScoreUnit, m1 - base);
    const int pid = nextPid;
    nextPid = pageIds(unit + kScoreWarps);

    double pooled[8];
#pragma unroll
    for (int j = 0; j < 8; ++j)
      pooled[j] = pooledAll[g * D + 8 * dl + j];

    double *out = p.scores + (static_cast<int64_t>(b) * H + g) * p.maxBlocks;
    for (int it = 0; it < cnt; it += STEP) {
      uint4 lo[kScoreUnroll], hi[kScoreUnroll];
#pragma unroll
      for (int u = 0; u < kScoreUnroll; ++u) {
        const int item = it + u * IPW + sub;
        const int page = __shfl_sync(0xffffffffu, pid, item & 31);
        if (item < cnt) {
          const int64_t off = (static_cast<int64_t>(page) * H + g) * D + 8 * dl;
          lo[u] = loadStreamed16<EvictFirst>(kminT + off, policy);
          hi[u] = loadStreamed16<EvictFirst>(kmaxT + off, policy);
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

namespace cg = cooperative_groups;

// Threads a top-n thread block: 256 in clusters (with 1024, the cluster
// barriers of 16 blocks cost more than the slices' work: 26.7 against 13.5
// us at 1x256K); a thread block alone has 1024, or 512 where a sequence has
// at most kFewBlocks blocks (up to 4 scores a thread: its barriers cost more
// than the scores, measured top-n alone 1x16K / 1x32K / 8x16K 7.83 / 8.48 /
// 7.99 us with 1024, 6.81 / 8.08 / 6.92 with 512; at 8192 blocks 512 loses
// 0.7 us; bench/NOTES.md session 21).
constexpr int kClusterThreads = 256;
constexpr int kAloneThreads = 1024;
constexpr int kAloneFewThreads = 512;
constexpr int kFewBlocks = 4 * kAloneFewThreads;
constexpr int kMaxSelWarps = kAloneThreads / 32;
constexpr int kBuckets = 2048;
constexpr int kSmallSet = 64;
constexpr int kMaxRounds = 48;
// Thread blocks a cluster serves one (b, g) with: a power of two (it divides
// kBuckets into the blocks' ranges of buckets) up to 16, the most Hopper
// runs (non-portable), picked so that a block holds about kSliceTarget
// scores (a block per (b, g) had 1024 threads on 16384 scores at 256K and
// spent ~16 us on one SM, most of it in the fixed cost of each phase), and
// so that the grid has about one thread block an SM (planTopN).
constexpr int kMaxCluster = 16;
constexpr int kSliceTarget = 1024;

struct TopNParams {
  const double *scores;
  const int32_t *seqLens;
  int32_t *selected;
  int32_t *counts;
  int32_t numKvHeads, pageSize, maxBlocks, maxSelected;
  int32_t cluster;   // thread blocks per (b, g)
  int32_t sliceCap;  // the most blocks of a sequence one thread block holds
  BlockSelectParams sel;
  bool scoresInSmem;
};

// One thread block's state. The cluster's blocks read each other's published
// fields (distributed shared memory), always after a cluster barrier that
// follows the write; a field is rewritten only after a later barrier that
// every reader has passed.
struct TopNShared {
  // This block's histogram; after the reduction its own range of buckets
  // holds the cluster's sums (the other blocks read only their own ranges).
  int hist[kBuckets];
  int rangeTotal;  // published: the cluster's count over this block's range
  int warpInt[kMaxSelWarps];
  double warpLo[kMaxSelWarps], warpHi[kMaxSelWarps];
  double lo, hi;    // published: this block's min / max
  double clo, chi;  // the cluster's
  int rangeT, aboveRange;
  int bucketT, aboveT, countT;
  // Published: this block's count of equal active scores [0], of selected
  // blocks [1] (two fields: a block may publish [1] while another still
  // reads [0]).
  int counted[2];
  int before, total; // the sum of a `counted` over the lower ranks, over all
  int listCount;     // published: this block's active scores when few
  int listIdx[kSmallSet];
  double listScore[kSmallSet];
  int allBase[kMaxCluster];
  int allIdx[kSmallSet];
  double allScore[kSmallSet];
};

// Thread blocks of kClusterThreads run in clusters (of 2 or more), those of
// kAloneThreads alone: the cluster's steps (barriers, the histogram's
// reduction, the reads of other blocks) compile out of the latter (they cost
// it ~5 us at 8x128K).
template <int Threads> constexpr bool kClustered = Threads == kClusterThreads;

template <int Threads> __device__ __forceinline__ void clusterSync(const cg::cluster_group &cl) {
  if constexpr (kClustered<Threads>)
    cl.sync();
  else
    __syncthreads();
}

// The sum of v over lanes 0..lane of the warp.
__device__ __forceinline__ int warpInclusiveSum(int v) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    const int y = __shfl_up_sync(0xffffffffu, v, off);
    if (lane >= off)
      v += y;
  }
  return v;
}

// Exclusive prefix sum of v over the block (in thread order); *total gets the
// sum. Contains barriers: every thread must call it.
template <int Threads>
__device__ int blockExclusiveScan(int v, TopNShared &sh, int *total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int x = warpInclusiveSum(v);
  if (lane == 31)
    sh.warpInt[warp] = x;
  __syncthreads();
  if (warp == 0) {
    const int w = warpInclusiveSum(lane < (Threads / 32) ? sh.warpInt[lane] : 0);
    if (lane < (Threads / 32))
      sh.warpInt[lane] = w;
  }
  __syncthreads();
  const int excl = x - v + (warp > 0 ? sh.warpInt[warp - 1] : 0);
  *total = sh.warpInt[(Threads / 32) - 1];
  __syncthreads();
  return excl;
}

// The warp's min of lo and max of hi, in every lane.
__device__ __forceinline__ void warpMinMax(double &lo, double &hi) {
#pragma unroll
  for (int off = 16; off >= 1; off >>= 1) {
    lo = fmin(lo, __shfl_xor_sync(0xffffffffu, lo, off));
    hi = fmax(hi, __shfl_xor_sync(0xffffffffu, hi, off));
  }
}

// The cluster's min of lo and max of hi over every block's (every thread
// passes its own and gets the cluster's). Contains a cluster barrier.
template <int Threads>
__device__ void clusterMinMax(const cg::cluster_group &cl, int cs, double &lo, double &hi,
                              TopNShared &sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  warpMinMax(lo, hi);
  if (lane == 0) {
    sh.warpLo[warp] = lo;
    sh.warpHi[warp] = hi;
  }
  __syncthreads();
  if (warp == 0) {
    double a = lane < (Threads / 32) ? sh.warpLo[lane] : __builtin_huge_val();
    double c = lane < (Threads / 32) ? sh.warpHi[lane] : -__builtin_huge_val();
    warpMinMax(a, c);
    if (lane == 0) {
      sh.lo = a;
      sh.hi = c;
      sh.clo = a;  // (alone: the block's are the cluster's)
      sh.chi = c;
    }
  }
  clusterSync<Threads>(cl);
  if (kClustered<Threads> && warp == 0) {
    double a = __builtin_huge_val(), c = -__builtin_huge_val();
    if (lane < cs) {
      const TopNShared *o = cl.map_shared_rank(&sh, lane);
      a = o->lo;
      c = o->hi;
    }
    warpMinMax(a, c);
    if (lane == 0) {
      sh.clo = a;
      sh.chi = c;
    }
  }
  __syncthreads();
  lo = sh.clo;
  hi = sh.chi;
}

// Publishes this block's count v (the sum over its threads) in
// sh.counted[field], then returns the sum of the lower ranks' counts.
// Contains barriers.
template <int Threads>
__device__ int clusterExclusiveSum(const cg::cluster_group &cl, int cs, int rank, int v,
                                   TopNShared &sh, int field) {
  int blockTotal;
  blockExclusiveScan<Threads>(v, sh, &blockTotal);
  if (threadIdx.x == 0)
    sh.counted[field] = blockTotal;
  cl.sync();
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x;
    const int c = lane < cs ? *cl.map_shared_rank(&sh.counted[field], lane) : 0;
    const int x = warpInclusiveSum(c);
    if (lane == rank)
      sh.before = x - c;
    if (lane == 31)
      sh.total = x;
  }
  __syncthreads();
  return sh.before;
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

// The bucket T holding the need-th largest active score, the count above it
// and its own count, from the cluster's histogram (each block holds the sums
// of its range of buckets, rank cs - 1 the highest). The same in every block.
template <int Threads>
__device__ void findBucketT(const cg::cluster_group &cl, int cs, int need, TopNShared &sh) {
  const int tid = threadIdx.x, lane = tid & 31;
  const int w = kBuckets / cs;
  int r = 0, aboveRange = 0;  // alone: the one range, nothing above it
  if constexpr (kClustered<Threads>) {
    if (tid < 32) {
      const int v = lane < cs ? *cl.map_shared_rank(&sh.rangeTotal, lane) : 0;
      int x = v;  // becomes the sum over ranks >= lane
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const int y = __shfl_down_sync(0xffffffffu, x, off);
        if (lane + off < 32)
          x += y;
      }
      const int above = x - v;
      const uint32_t hit = __ballot_sync(0xffffffffu, lane < cs && above < need && need <= x);
      if (lane == __ffs(hit) - 1) {
        sh.rangeT = lane;
        sh.aboveRange = above;
      }
    }
    __syncthreads();
    r = sh.rangeT;
    aboveRange = sh.aboveRange;
  }
  const int *hist = kClustered<Threads> ? cl.map_shared_rank(sh.hist, r) + r * w : sh.hist;
  // Thread t takes positions [t * per, (t + 1) * per) from the range's top.
  const int per = max(1, w / Threads);
  int c[(kBuckets / Threads)];
  int local = 0;
#pragma unroll
  for (int k = 0; k < (kBuckets / Threads); ++k) {
    const int pos = tid * per + k;
    c[k] = k < per && pos < w ? hist[w - 1 - pos] : 0;
    local += c[k];
  }
  int total;
  int above = aboveRange + blockExclusiveScan<Threads>(local, sh, &total);
#pragma unroll
  for (int k = 0; k < (kBuckets / Threads); ++k) {
    if (k < per && above < need && need <= above + c[k]) {
      sh.bucketT = r * w + w - 1 - (tid * per + k);
      sh.aboveT = above;
      sh.countT = c[k];
    }
    above += c[k];
  }
  __syncthreads();
}

// Grid (numKvHeads * cluster, batch), clusters of `cluster` thread blocks
// along x: the cluster serves (b, g = blockIdx.x / cluster); its rank-r
// block holds blocks [r * L, r * L + L) of the sequence (L a multiple of 32,
// so that each block owns whole words of the bitmap).
template <int Threads>
__global__ void __launch_bounds__(Threads) blockTopNKernel(const TopNParams p) {
  extern __shared__ __align__(16) unsigned char dyn[];
  __shared__ TopNShared sh;
  pdlWait();
  // The attention kernel may be scheduled now (it waits for this grid).
  pdlLaunchDependents();

  const cg::cluster_group cl = cg::this_cluster();
  const int cs = p.cluster;
  const int rank = static_cast<int>(cl.block_rank());
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = blockIdx.x / cs, b = blockIdx.y;
  const int ps = p.pageSize;
  const int len = p.seqLens[b];
  const int M = (len + ps - 1) / ps;
  const int n = selectedBlockCount(M, p.sel);
  if (g == 0 && rank == 0 && tid == 0)
    p.counts[b] = n;
  const int L = ((M + cs - 1) / cs + 31) / 32 * 32;
  const int base = rank * L;                           // this block's first block index
  const int sliceLen = max(0, min(L, M - base));       // blocks this thread block owns
  int32_t *out = p.selected + (static_cast<int64_t>(b) * p.numKvHeads + g) * p.maxSelected;
  if (n >= M) {  // every block (the same branch in the whole cluster: no barrier)
    for (int j = tid; j < sliceLen; j += Threads)
      out[base + j] = base + j;
    return;
  }
  const int C = M - min(p.sel.localBlocks, M);  // scored candidates, indices [0, C)
  const int cnt = max(0, min(sliceLen, C - base)); // this block's candidates
  int need = n - (M - C);                          // candidates to take
  const int W = (sliceLen + 31) / 32;
  const double *src = p.scores + (static_cast<int64_t>(b) * p.numKvHeads + g) * p.maxBlocks;
  double *sS = reinterpret_cast<double *>(dyn);
  uint32_t *bits = reinterpret_cast<uint32_t *>(
      dyn + (p.scoresInSmem ? static_cast<size_t>(p.sliceCap) * sizeof(double) : 0));
  const double *S = p.scoresInSmem ? sS : src + base;

  for (int w = tid; w < W; w += Threads)
    bits[w] = 0u;
  // Load (into shared memory) and min/max.
  double lo = __builtin_huge_val(), hi = -__builtin_huge_val();
#pragma unroll 4
  for (int j = tid; j < cnt; j += Threads) {
    const double s = __ldcg(src + base + j);
    if (p.scoresInSmem)
      sS[j] = s;
    lo = fmin(lo, s);
    hi = fmax(hi, s);
  }
  clusterMinMax<Threads>(cl, cs, lo, hi, sh);  // (its barriers also publish sS and bits)

  int active = C;  // candidates with lo <= s <= hi, none of them taken yet
  int rounds = 0;
  while (need > 0) {
    if (need == active) {  // take them all
      for (int j0 = warp * 32; j0 < cnt; j0 += Threads) {
        const int j = j0 + lane;
        const bool take = j < cnt && S[j] >= lo && S[j] <= hi;
        const uint32_t m = __ballot_sync(0xffffffffu, take);
        if (lane == 0 && m)
          bits[j >> 5] |= m;
      }
      break;
    }
    if (lo == hi) {  // all equal: the lowest indices first
      int taken = 0;  // the lower ranks' equal scores come first (alone: none)
      if constexpr (kClustered<Threads>) {
        int mine = 0;
        for (int j = tid; j < cnt; j += Threads)
          mine += S[j] == lo;
        taken = clusterExclusiveSum<Threads>(cl, cs, rank, mine, sh, 0);
      }
      for (int j0 = 0; j0 < cnt; j0 += Threads) {
        const int j = j0 + warp * 32 + lane;
        const bool act = j < cnt && S[j] == lo;
        const uint32_t m = __ballot_sync(0xffffffffu, act);
        int total;
        const int before = blockExclusiveScan<Threads>(lane == 0 ? __popc(m) : 0, sh, &total);
        const int warpBefore = __shfl_sync(0xffffffffu, before, 0);
        const bool take = act && taken + warpBefore + __popc(m & ((1u << lane) - 1u)) < need;
        const uint32_t t = __ballot_sync(0xffffffffu, take);
        if (lane == 0 && t)
          bits[j >> 5] |= t;
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
        for (int j = tid; j < cnt; j += Threads) {
          const double s = S[j];
          if (s >= lo && s <= hi) {
            const int k = atomicAdd(&sh.listCount, 1);
            sh.listIdx[k] = base + j;
            sh.listScore[k] = s;
          }
        }
        clusterSync<Threads>(cl);
        // Every block gathers the cluster's list (in rank order)...
        if constexpr (kClustered<Threads>) {
          if (tid < 32) {
            const int c = lane < cs ? *cl.map_shared_rank(&sh.listCount, lane) : 0;
            const int x = warpInclusiveSum(c);
            if (lane < cs)
              sh.allBase[lane] = x - c;
            if (lane == 31)
              sh.total = x;
          }
          __syncthreads();
          for (int q = warp; q < cs; q += (Threads / 32)) {
            const TopNShared *o = cl.map_shared_rank(&sh, q);
            const int c = (q + 1 < cs ? sh.allBase[q + 1] : sh.total) - sh.allBase[q];
            for (int e = lane; e < c; e += 32) {
              sh.allIdx[sh.allBase[q] + e] = o->listIdx[e];
              sh.allScore[sh.allBase[q] + e] = o->listScore[e];
            }
          }
          __syncthreads();
        }
        // ...and ranks its own: a warp per listed score, its lanes comparing
        // it with the list's entries.
        const int c = kClustered<Threads> ? sh.total : sh.listCount;
        const int *allIdx = kClustered<Threads> ? sh.allIdx : sh.listIdx;
        const double *allScore = kClustered<Threads> ? sh.allScore : sh.listScore;
        for (int k = warp; k < sh.listCount; k += (Threads / 32)) {
          const double s = sh.listScore[k];
          const int idx = sh.listIdx[k];
          int before = 0;
          for (int j = lane; j < c; j += 32)
            before += ranksBefore(allScore[j], allIdx[j], s, idx);
          const int r = __reduce_add_sync(0xffffffffu, before);
          if (lane == 0 && r < need)
            atomicOr(&bits[(idx - base) >> 5], 1u << ((idx - base) & 31));
        }
      } else {
        // Pathological data (infinities): brute force over the active set,
        // ranked against the scores in global memory.
        for (int j = tid; j < cnt; j += Threads) {
          const double s = S[j];
          if (!(s >= lo && s <= hi))
            continue;
          int rk = 0;
          for (int i = 0; i < C && rk < need; ++i) {
            const double t = __ldcg(src + i);
            rk += t >= lo && t <= hi && ranksBefore(t, i, s, base + j);
          }
          if (rk < need)
            atomicOr(&bits[j >> 5], 1u << (j & 31));
        }
      }
      break;
    }

    // Histogram of this block's active scores...
    for (int k = tid; k < kBuckets; k += Threads)
      sh.hist[k] = 0;
    __syncthreads();
    const double inv = kBuckets / (hi - lo);
    const bool useInv = inv <= DBL_MAX;
    for (int j = tid; j < cnt; j += Threads) {
      const double s = S[j];
      if (s >= lo && s <= hi)
        atomicAdd(&sh.hist[bucketOf(s, lo, hi, inv, useInv)], 1);
    }
    clusterSync<Threads>(cl);
    // ...summed over the cluster, each block its own range of buckets...
    if constexpr (kClustered<Threads>) {
      const int w = kBuckets / cs;
      int part = 0;
      for (int k = rank * w + tid; k < (rank + 1) * w; k += Threads) {
        // Every block's count loaded before any is added (ranks past the
        // cluster read this block's, unused): one round trip of distributed
        // shared memory instead of up to 16.
        int c[kMaxCluster];
#pragma unroll
        for (int q = 0; q < kMaxCluster; ++q)
          c[q] = cl.map_shared_rank(sh.hist, q < cs ? q : rank)[k];
        int sum = 0;
#pragma unroll
        for (int q = 0; q < kMaxCluster; ++q)
          sum += q < cs ? c[q] : 0;
        sh.hist[k] = sum;
        part += sum;
      }
      int total;
      blockExclusiveScan<Threads>(part, sh, &total);
      if (tid == 0)
        sh.rangeTotal = total;
      cl.sync();
    }
    // ...and T: above(T) < need <= above(T) + count(T), from the top.
    findBucketT<Threads>(cl, cs, need, sh);
    const int T = sh.bucketT;
    const int aboveT = sh.aboveT;
    const int countT = sh.countT;
    // Take the buckets above T; T's scores become the active set.
    double nlo = __builtin_huge_val(), nhi = -__builtin_huge_val();
    for (int j0 = warp * 32; j0 < cnt; j0 += Threads) {
      const int j = j0 + lane;
      bool take = false;
      if (j < cnt) {
        const double s = S[j];
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
        bits[j >> 5] |= m;
    }
    need -= aboveT;
    active = countT;
    lo = nlo;
    hi = nhi;
    clusterMinMax<Threads>(cl, cs, lo, hi, sh);
  }

  // The local blocks, then the bitmap out in ascending order after the lower
  // ranks' blocks.
  __syncthreads();
  for (int j = max(C - base, 0) + tid; j < sliceLen; j += Threads)
    atomicOr(&bits[j >> 5], 1u << (j & 31));
  __syncthreads();
  int written = 0;  // the lower ranks' selected blocks come first (alone: none)
  if constexpr (kClustered<Threads>) {
    int mine = 0;
    for (int w = tid; w < W; w += Threads)
      mine += __popc(bits[w]);
    written = clusterExclusiveSum<Threads>(cl, cs, rank, mine, sh, 1);
  }
  for (int w0 = 0; w0 < W; w0 += Threads) {
    const int w = w0 + tid;
    const uint32_t word = w < W ? bits[w] : 0u;
    int total;
    int pos = written + blockExclusiveScan<Threads>(__popc(word), sh, &total);
    uint32_t x = word;
    while (x) {
      const int bit = __ffs(x) - 1;
      x &= x - 1;
      if (pos < p.maxSelected)
        out[pos] = base + w * 32 + bit;
      ++pos;
    }
    written += total;
  }
  // No block leaves while another may still read its shared memory.
  if constexpr (kClustered<Threads>)
    cl.sync();
}

// ---- host --------------------------------------------------------------------------

bool validParams(const BlockSelectParams &p) {
  return p.keptRatio >= 0.0f && p.keptRatio <= 1.0f && p.minBlocks >= 0 && p.localBlocks >= 0;
}

using ScoreKernel = void (*)(ScoreParams);

template <bool EvictFirst> ScoreKernel scoreKernelOf(KVDType dtype, int headDim) {
  if (dtype == KVDType::BF16) {
    switch (headDim) {
    case 64: return blockScoreKernel<__nv_bfloat16, 64, EvictFirst>;
    case 128: return blockScoreKernel<__nv_bfloat16, 128, EvictFirst>;
    case 256: return blockScoreKernel<__nv_bfloat16, 256, EvictFirst>;
    default: return nullptr;
    }
  }
  switch (headDim) {
  case 64: return blockScoreKernel<__half, 64, EvictFirst>;
  case 128: return blockScoreKernel<__half, 128, EvictFirst>;
  case 256: return blockScoreKernel<__half, 256, EvictFirst>;
  default: return nullptr;
  }
}

ScoreKernel scoreKernelFor(KVDType dtype, int headDim, bool evictFirst) {
  return evictFirst ? scoreKernelOf<true>(dtype, headDim) : scoreKernelOf<false>(dtype, headDim);
}

// The scoring kernel's pooled queries, fp64 [numKvHeads][headDim].
size_t scoreSmemBytes(const PagedAttentionShape &s) {
  return static_cast<size_t>(s.numKvHeads) * s.headDim * sizeof(double);
}

// Lets `score` use the device's opt-in shared memory (past the default 48 KB
// for the pooled queries of many KV heads); invalid where they do not fit.
cudaError_t allowScoreLaunch(ScoreKernel score, const PagedAttentionShape &s) {
  size_t limit = 0;
  const cudaError_t e = detail::allowOptinSharedMemory(reinterpret_cast<const void *>(score), &limit);
  return e == cudaSuccess && scoreSmemBytes(s) > limit ? cudaErrorInvalidValue : e;
}

size_t alignUp16(size_t x) { return (x + 15) / 16 * 16; }

template <int Threads> const void *topNKernel() {
  return reinterpret_cast<const void *>(blockTopNKernel<Threads>);
}
// f(std::integral_constant<int, T>{}) for the top-n kernel of T = `threads`
// threads a block (one of the three the plan picks from).
template <typename F> auto withTopNThreads(int threads, F &&f) {
  switch (threads) {
  case kClusterThreads: return f(std::integral_constant<int, kClusterThreads>{});
  case kAloneFewThreads: return f(std::integral_constant<int, kAloneFewThreads>{});
  default: return f(std::integral_constant<int, kAloneThreads>{});
  }
}
const void *topNKernelFor(int threads) {
  return withTopNThreads(threads, [](auto t) { return topNKernel<decltype(t)::value>(); });
}

// Lets the top-n kernels use the device's whole opt-in shared memory and
// clusters of 16 (non-portable), once a process.
cudaError_t allowTopNLaunches() {
  static std::atomic<bool> allowed{false};
  if (allowed.load())
    return cudaSuccess;
  cudaError_t e = cudaSuccess;
  for (const void *k : {topNKernel<kClusterThreads>(), topNKernel<kAloneFewThreads>(),
                        topNKernel<kAloneThreads>()}) {
    if (e == cudaSuccess)
      e = detail::allowOptinSharedMemory(k);
    if (e == cudaSuccess)
      e = cudaFuncSetAttribute(k, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
  }
  if (e == cudaSuccess)
    allowed = true;
  return e;
}

// The top-n kernel's cluster size: `forced`, or, where a (b, g) has at least
// 8 SMs to itself and a block alone would hold over 8 scores a thread, the
// smallest power of two giving a thread block at most kSliceTarget blocks
// while the grid stays within one thread block an SM (else 1); halved while
// the device cannot run such a cluster. Then its threads, slices and shared
// memory. (Measured, top-n alone: 1x256K 15.5 us alone, 13.5 in clusters of
// 16; 1x128K 11.5 alone, 12.1 in clusters of 8; 8x128K 11.7 alone, 17.1 in
// clusters of 2.)
cudaError_t planTopN(int32_t maxBlocks, int32_t numKvHeads, int32_t batch, int numSms, int optin,
                     int32_t forced, BlockSelectPlan *p) {
  if (forced < 0 || forced > kMaxCluster || (forced & (forced - 1)) != 0)
    return cudaErrorInvalidValue;
  cudaError_t err = allowTopNLaunches();
  if (err != cudaSuccess)
    return err;
  int cs = forced;
  const int64_t groups = static_cast<int64_t>(std::max(numKvHeads, 1)) * std::max(batch, 1);
  if (cs == 0) {
    cs = 1;
    if (8 * groups <= numSms && maxBlocks > 8 * kAloneThreads)
      while (cs < kMaxCluster && static_cast<int64_t>(cs) * kSliceTarget < maxBlocks &&
             2 * cs * groups <= numSms)
        cs *= 2;
  }
  for (;; cs /= 2) {
    const int threads = cs > 1 ? kClusterThreads : maxBlocks <= kFewBlocks ? kAloneFewThreads : kAloneThreads;
    const void *kernel = topNKernelFor(threads);
    cudaFuncAttributes attr{};
    if ((err = cudaFuncGetAttributes(&attr, kernel)) != cudaSuccess)
      return err;
    const size_t room = static_cast<size_t>(optin) - attr.sharedSizeBytes;
    const int32_t slice = ((maxBlocks + cs - 1) / cs + 31) / 32 * 32;
    const size_t bitmap = alignUp16(static_cast<size_t>(slice / 32) * 4);
    const size_t scores = alignUp16(static_cast<size_t>(slice) * sizeof(double));
    p->topNCluster = cs;
    p->topNThreads = threads;
    p->topNSliceCap = slice;
    p->scoresInSmem = scores + bitmap <= room;
    p->selectSmemBytes = (p->scoresInSmem ? scores : 0) + bitmap;
    if (p->selectSmemBytes > room)
      return cudaErrorInvalidValue;  // over ~1.7 M blocks a thread block
    int clusters = 0;
    err = detail::maxActiveClusters(&clusters, kernel,
                                    dim3(static_cast<unsigned>(cs * std::max(numKvHeads, 1))),
                                    dim3(static_cast<unsigned>(threads)), p->selectSmemBytes,
                                    dim3(static_cast<unsigned>(cs)));
    if (err == cudaSuccess && clusters > 0)
      return cudaSuccess;
    if (err != cudaSuccess)
      (void)cudaGetLastError();  // (not sticky: the query's error only)
    if (forced != 0 || cs == 1)
      return err != cudaSuccess ? err : cudaErrorInvalidConfiguration;
  }
}

} // namespace

cudaError_t planBlockSelect(const PagedAttentionShape &s, KVDType dtype, int32_t maxSeqLen,
                            const BlockSelectParams &params, BlockSelectPlan *plan,
                            const BlockSelectOptions &options) {
  if (!plan || s.batch < 0 || s.batch > 65535 || s.numQHeads <= 0 || s.numKvHeads <= 0 ||
      s.numKvHeads > 65535 || s.numQHeads % s.numKvHeads != 0 || s.pageSize <= 0 ||
      maxSeqLen < 0 || !validParams(params) ||
      static_cast<int64_t>(maxSeqLen) > static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize ||
      !scoreKernelFor(dtype, s.headDim, false) || options.summariesEvictFirst < -1 ||
      options.summariesEvictFirst > 1)
    return cudaErrorInvalidValue;
  cudaError_t err;
  int device = options.device;
  if (device < 0 && (err = cudaGetDevice(&device)) != cudaSuccess)
    return err;
  int numSms = 0, optin = 0, l2Bytes = 0;
  if ((err = cudaDeviceGetAttribute(&numSms, cudaDevAttrMultiProcessorCount, device)) !=
          cudaSuccess ||
      (err = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device)) !=
          cudaSuccess ||
      (err = cudaDeviceGetAttribute(&l2Bytes, cudaDevAttrL2CacheSize, device)) != cudaSuccess)
    return err;

  BlockSelectPlan p;
  p.shape = s;
  p.dtype = dtype;
  p.params = params;
  p.maxSeqLen = maxSeqLen;
  p.maxBlocks = (maxSeqLen + s.pageSize - 1) / s.pageSize;
  p.maxSelected = selectedBlockCount(p.maxBlocks, params);
  // The summaries' loads evict-first in L2 for one sequence whose summaries
  // fit in half the L2: a measured rule, not an understood one
  // (bench/NOTES.md, session 20, calls 5-12). Llama-3-8B's shape gains 3-5%
  // a ReSA step at 32K-96K tokens (the sparse attention after the scoring
  // runs up to 35% faster); at batch 8 (the Qwen2.5-7B shape, 16K and 128K)
  // it loses ~1%. Exceptions to the rule seen: Llama at 2 x 32K would gain
  // 4%, Qwen at 1 x 128K loses 1%.
  const double summaryBytes = 2.0 * s.batch * p.maxBlocks * s.numKvHeads * s.headDim *
                              (dtype == KVDType::BF16 ? sizeof(__nv_bfloat16) : sizeof(__half));
  p.summariesEvictFirst = options.summariesEvictFirst >= 0
                              ? options.summariesEvictFirst == 1
                              : s.batch == 1 && summaryBytes <= 0.5 * l2Bytes;
  const ScoreKernel score = scoreKernelFor(dtype, s.headDim, p.summariesEvictFirst);
  // Scoring grid: units of kScoreUnit blocks; one wave of resident thread blocks.
  int occ = 0;
  if ((err = allowScoreLaunch(score, s)) != cudaSuccess ||
      (err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, score, kScoreWarps * 32,
                                                           scoreSmemBytes(s))) != cudaSuccess)
    return err;
  const int64_t units = (p.maxBlocks + kScoreUnit - 1) / kScoreUnit;
  const int64_t wantCtas =
      std::max<int64_t>(1, static_cast<int64_t>(std::max(occ, 1)) * numSms / std::max(1, s.batch));
  const int64_t unitsPerCta = std::max<int64_t>(1, (units + wantCtas - 1) / wantCtas);
  p.blocksPerCta = static_cast<int32_t>(kScoreUnit * unitsPerCta);
  if ((err = planTopN(p.maxBlocks, s.numKvHeads, s.batch, numSms, optin, options.topNCluster, &p)) != cudaSuccess)
    return err;
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
  const ScoreKernel score = scoreKernelFor(plan.dtype, s.headDim, plan.summariesEvictFirst);
  if (!score)
    return cudaErrorInvalidValue;

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
    e = launchPdl(score, grid, dim3(kScoreWarps * 32), scoreSmemBytes(s), stream, sp);
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
  tp.cluster = plan.topNCluster;
  tp.sliceCap = plan.topNSliceCap;
  tp.scoresInSmem = plan.scoresInSmem;
  const unsigned cs = static_cast<unsigned>(plan.topNCluster);
  const dim3 grid(static_cast<unsigned>(s.numKvHeads) * cs, static_cast<unsigned>(s.batch));
  // (A block alone is launched without a cluster: it has no cluster step.)
  return withTopNThreads(plan.topNThreads, [&](auto t) {
    constexpr int T = decltype(t)::value;
    if constexpr (kClustered<T>)
      return launchPdlClusters(dim3(cs), blockTopNKernel<T>, grid, dim3(T), plan.selectSmemBytes, stream, tp);
    else
      return launchPdl(blockTopNKernel<T>, grid, dim3(T), plan.selectSmemBytes, stream, tp);
  });
}

} // namespace resa::gpu
