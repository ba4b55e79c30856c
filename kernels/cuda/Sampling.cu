// Device token choice (resa/cuda/Sampling.h): one thread-block cluster per
// row, its blocks each reading a contiguous slice of the vocabulary (one
// block per row read a 128K-token row on one SM: 0.21 ms of a 5.9 ms decode
// step, bench/NOTES.md). Every reduction over the row is the blocks' own
// (warps in order) and then the cluster's, over the blocks' partials in rank
// order through distributed shared memory: deterministic, no atomics.
// Each block first copies its slice to shared memory (when it fits: a
// vocabulary up to ~460K tokens), so that the kernel's passes over it (two
// when greedy, eighteen with top-p) cost one round trip to global memory,
// not one chain of them each (greedy at a 128K vocabulary took 30 us a step).
//
// The CPU Sampler sorts the whole row; here the order is never materialised.
// A token's place in it is its order key (the logit's bits mapped so that
// unsigned order is descending logit order) and then its index. Finding "the
// first token whose running mass reaches x" is a radix select over the key,
// 4 bits per pass: each pass sums the probabilities of the remaining
// candidates per digit (in registers, reduced in a fixed order: deterministic,
// no atomics) and keeps the digit where the running mass crosses x. After 8
// passes the key is known; the tokens that share it (equal logits) are
// ordered by index, and the crossing one is found by arithmetic on their
// common probability, the blocks' counts of them in rank order, and a scan
// of the one slice where it falls.
#include "resa/cuda/DeviceKernel.h"
#include "resa/cuda/Sampling.h"

#include "BlockReduce.cuh"
#include "Launch.cuh"

#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace resa::gpu {
namespace {

namespace cg = cooperative_groups;

constexpr int kCluster = 8; // blocks per row: the portable cluster size
constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kDigitBits = 4;
constexpr int kBuckets = 1 << kDigitBits;

// Unsigned order = descending logit order. -0 and +0 compare equal on the
// CPU (a tie broken by index), so they share a key. NaN never gets here.
__device__ __forceinline__ uint32_t orderKey(float v) {
  const uint32_t u = __float_as_uint(v == 0.0f ? 0.0f : v);
  return (u & 0x80000000u) ? u : (~u & 0x7fffffffu);
}

__device__ __forceinline__ float keyValue(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? k : (~k & 0x7fffffffu));
}

// The CPU's expression: (float logit - double max) / temperature, in double.
__device__ __forceinline__ double weightOf(float v, double maxLogit, double temperature) {
  return exp((static_cast<double>(v) - maxLogit) / temperature);
}

// fmaxf that keeps a NaN (either side): the maximum and "some logit is NaN"
// in one reduction.
struct NanMaxOp {
  __device__ float operator()(float a, float b) const { return a != a ? a : b != b ? b : fmaxf(a, b); }
};
struct MaxOp {
  __device__ long long operator()(long long a, long long b) const { return a > b ? a : b; }
};
struct MinOp {
  __device__ long long operator()(long long a, long long b) const { return a < b ? a : b; }
};

struct PickShared {
  double warpMass[kWarps][kBuckets];
  int warpCount[kWarps][kBuckets];
  double blockMass[kBuckets]; // this block's partials, read by the whole cluster
  int blockCount[kBuckets];
  int scanCount[kWarps];
  uint32_t prefix;
  double before;
  int count;
  long long index;
};

struct Pick {
  uint32_t key = 0;
  long long token = 0;
  double massThrough = 0; // running mass through the token
  bool reached = false;   // false: no token reaches x, this is the last one
};

// This block's slice of the row: [begin, end) (empty for the last blocks of
// a row shorter than the cluster), read through `at`: `base` holds token
// `begin` first, a copy in shared memory (staged: one round trip to global
// memory for all of the kernel's passes, each of which was a chain of
// dependent round trips before) or the row itself.
struct Slice {
  int64_t begin, end;
  const float *base;
  __device__ __forceinline__ float at(int64_t i) const { return base[i - begin]; }

  // f(value, token) over this thread's tokens of the slice, each thread's in
  // increasing token order (a thread's first hit is its lowest token): four
  // consecutive tokens a 16-byte load where `base` is 16-byte aligned (the
  // staged copy is), then the tail one a thread. The passes are bound by
  // instructions on the cluster's few SMs, not bytes (bench/NOTES.md,
  // session 24): a load and a 32-bit index per four tokens instead of each.
  template <typename F> __device__ __forceinline__ void forEach(F f) const {
    const int n = static_cast<int>(end - begin);
    int tail = 0;
    if ((reinterpret_cast<uintptr_t>(base) & 15u) == 0) {
      const float4 *quads = reinterpret_cast<const float4 *>(base);
      for (int j = threadIdx.x; j < n / 4; j += blockDim.x) {
        const float4 q = quads[j];
        const int64_t t = begin + 4 * j;
        f(q.x, t), f(q.y, t + 1), f(q.z, t + 2), f(q.w, t + 3);
      }
      tail = n / 4 * 4;
    }
    for (int j = tail + threadIdx.x; j < n; j += blockDim.x) f(base[j], begin + j);
  }
};

// One value of a cluster reduction: v, reduced by op through `scratch` (the
// block reduction's) and `slot` (this block's partial, the same variable in
// every block).
template <typename T, typename Op> struct Reduction {
  T &v;
  Op op;
  T *scratch, *slot;
};
template <typename T, typename Op> __device__ Reduction<T, Op> reduction(T &v, Op op, T *scratch, T *slot) {
  return {v, op, scratch, slot};
}

// Each reduction's v becomes op over v of every thread of the row's cluster,
// in every thread; the reductions share one pair of cluster barriers (each
// pair cost about as much as a pass over the slice). All threads of the
// cluster must call it; the closing barrier keeps the slots alive and
// unchanged until every block has read them.
template <typename... R> __device__ void clusterReduce(R... r) {
  ((r.v = detail::blockReduce(r.v, r.op, r.scratch)), ...);
  cg::cluster_group cluster = cg::this_cluster();
  if (threadIdx.x == 0) ((*r.slot = r.v), ...);
  cluster.sync();
  ((r.v = *cluster.map_shared_rank(r.slot, 0)), ...);
  for (unsigned c = 1; c < cluster.num_blocks(); ++c)
    ((r.v = r.op(r.v, *cluster.map_shared_rank(r.slot, c))), ...);
  cluster.sync();
}

// The scratch and partial slots of the cluster reductions.
struct ReduceShared {
  float f[32];
  double d[32], d2[32];
  long long i[32];
  int n[32];
  float fSlot;
  double dSlot, d2Slot;
  long long iSlot;
  int nSlot;
};

// The first token, in order, whose running mass reaches x (>= x, or > x when
// Strict); the last token in order when none does. Called by the whole
// cluster.
template <bool Strict>
__device__ Pick pickByMass(Slice slice, double maxLogit, double temperature, double x,
                           PickShared &sh, ReduceShared &rs) {
  auto crosses = [x](double m) { return Strict ? m > x : m >= x; };
  cg::cluster_group cluster = cg::this_cluster();
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  uint32_t prefix = 0, mask = 0;
  double before = 0; // mass of the tokens ordered before the candidates
  int count = 0;
  for (int shift = 32 - kDigitBits; shift >= 0; shift -= kDigitBits) {
    double mass[kBuckets];
    int cnt[kBuckets];
#pragma unroll
    for (int b = 0; b < kBuckets; ++b) mass[b] = 0, cnt[b] = 0;
    slice.forEach([&](float v, int64_t) {
      const uint32_t k = orderKey(v);
      if ((k & mask) != prefix) return;
      const uint32_t digit = (k >> shift) & (kBuckets - 1);
      const double w = weightOf(v, maxLogit, temperature);
#pragma unroll
      for (int b = 0; b < kBuckets; ++b)
        if (digit == uint32_t(b)) mass[b] += w, ++cnt[b];
    });
#pragma unroll
    for (int b = 0; b < kBuckets; ++b)
      for (int offset = 16; offset > 0; offset /= 2) {
        mass[b] += __shfl_xor_sync(0xffffffffu, mass[b], offset);
        cnt[b] += __shfl_xor_sync(0xffffffffu, cnt[b], offset);
      }
    if (lane == 0) {
#pragma unroll
      for (int b = 0; b < kBuckets; ++b) sh.warpMass[warp][b] = mass[b], sh.warpCount[warp][b] = cnt[b];
    }
    __syncthreads();
    if (threadIdx.x < kBuckets) {
      double m = 0;
      int c = 0;
      for (int w = 0; w < kWarps; ++w) m += sh.warpMass[w][threadIdx.x], c += sh.warpCount[w][threadIdx.x];
      sh.blockMass[threadIdx.x] = m, sh.blockCount[threadIdx.x] = c;
    }
    cluster.sync();
    // Every block takes the same decision from the same sums (rank order).
    if (threadIdx.x == 0) {
      double cum = before, cumBeforeLast = before;
      int chosen = -1, last = -1, lastCount = 0;
      for (int b = 0; b < kBuckets && chosen < 0; ++b) {
        double m = 0;
        int c = 0;
        for (unsigned r = 0; r < cluster.num_blocks(); ++r) {
          m += cluster.map_shared_rank(sh.blockMass, r)[b];
          c += cluster.map_shared_rank(sh.blockCount, r)[b];
        }
        if (c == 0) continue;
        last = b, cumBeforeLast = cum, lastCount = c;
        if (crosses(cum + m)) chosen = b, count = c;
        else cum += m;
      }
      if (chosen < 0) chosen = last, cum = cumBeforeLast, count = lastCount;
      sh.prefix = prefix | (uint32_t(chosen) << shift);
      sh.before = cum;
      sh.count = count;
    }
    cluster.sync(); // the partials are read everywhere before the next pass rewrites them
    prefix = sh.prefix, before = sh.before, count = sh.count;
    mask |= uint32_t(kBuckets - 1) << shift;
  }

  // `count` tokens share the key; the j-th of them (by index) is the one
  // whose running mass first crosses. The running mass grows monotonically
  // with j, so a binary search finds it.
  Pick p;
  p.key = prefix;
  const double q = weightOf(keyValue(prefix), maxLogit, temperature);
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (crosses(before + double(mid + 1) * q)) hi = mid;
    else lo = mid + 1;
  }
  p.massThrough = before + double(lo + 1) * q;
  p.reached = crosses(p.massThrough);

  // The index of the lo-th token with the key: the blocks before this one in
  // rank order hold `base` of them; the block where lo falls scans its slice.
  int mine = 0;
  slice.forEach([&](float v, int64_t) { mine += orderKey(v) == prefix; });
  mine = detail::blockReduce(mine, detail::SumOp(), rs.n);
  if (threadIdx.x == 0) rs.nSlot = mine;
  cluster.sync();
  long long base = 0;
  for (unsigned r = 0; r < cluster.block_rank(); ++r) base += *cluster.map_shared_rank(&rs.nSlot, r);
  cluster.sync();
  if (threadIdx.x == 0) sh.index = -1;
  __syncthreads();
  if (lo >= base && lo < base + mine) {
    for (int64_t start = slice.begin; start < slice.end; start += blockDim.x) {
      const int64_t i = start + threadIdx.x;
      const bool match = i < slice.end && orderKey(slice.at(i)) == prefix;
      const unsigned ballot = __ballot_sync(0xffffffffu, match);
      if (lane == 0) sh.scanCount[warp] = __popc(ballot);
      __syncthreads();
      long long rank = base + __popc(ballot & ((1u << lane) - 1u));
      int total = 0;
      for (int w = 0; w < kWarps; ++w) {
        if (w < warp) rank += sh.scanCount[w];
        total += sh.scanCount[w];
      }
      if (match && rank == lo) sh.index = i;
      __syncthreads();
      base += total;
      if (base > lo) break;
    }
  }
  __syncthreads();
  long long token = sh.index;
  clusterReduce(reduction(token, MaxOp(), rs.i, &rs.iSlot));
  p.token = token;
  return p;
}

// Copies the slice into shared memory: every thread's cp.async copies issued
// back to back, then one wait; 16 bytes a copy where the slice starts 16-byte
// aligned in global memory (staged is), 4 for the rest (any alignment).
__device__ void stageSlice(const float *l, int64_t begin, int64_t end, float *staged) {
  int64_t rest = begin;
  if ((reinterpret_cast<uintptr_t>(l + begin) & 15u) == 0) {
    const int64_t quads = (end - begin) / 4;
    for (int64_t j = threadIdx.x; j < quads; j += blockDim.x) {
      const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(staged + 4 * j));
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(l + begin + 4 * j) : "memory");
    }
    rest = begin + 4 * quads;
  }
  for (int64_t i = rest + threadIdx.x; i < end; i += blockDim.x) {
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(staged + (i - begin)));
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(dst), "l"(l + i) : "memory");
  }
  asm volatile("cp.async.wait_all;\n" ::: "memory");
  __syncthreads();
}

// staged: each block's slice fits the dynamic shared memory it was given.
__global__ void __cluster_dims__(kCluster, 1, 1) __launch_bounds__(kThreads) sampleKernel(SampleArgs a, bool staged) {
  extern __shared__ __align__(16) float stagedSlice[];
  __shared__ PickShared sh;
  __shared__ ReduceShared rs;
  const int64_t row = blockIdx.x / kCluster;
  const float *l = a.logits + row * a.rowStride;
  const int64_t vocab = a.vocab;
  const int64_t part = (vocab + kCluster - 1) / kCluster;
  const int64_t rank = cg::this_cluster().block_rank();
  const int64_t begin = rank * part < vocab ? rank * part : vocab;
  const int64_t end = (rank + 1) * part < vocab ? (rank + 1) * part : vocab;
  if (staged) stageSlice(l, begin, end, stagedSlice);
  const Slice slice{begin, end, staged ? stagedSlice : l + begin};
  const bool writer = rank == 0 && threadIdx.x == 0;

  // The maximum, NaN when some logit is.
  float mx = -INFINITY;
  slice.forEach([&](float v, int64_t) { mx = NanMaxOp()(mx, v); });
  clusterReduce(reduction(mx, NanMaxOp(), rs.f, &rs.fSlot));
  if (mx != mx) {
    if (writer) {
      a.tokens[row] = -1;
      if (a.logProbs) a.logProbs[row] = NAN;
    }
    return;
  }
  const double maxLogit = mx;

  // The softmax denominator at temperature 1 (for the log-probability only):
  // fp32 exponentials summed in double, within ~1e-6 of the CPU's double
  // exponentials (those were most of the kernel's time); reduced with the
  // next pass's sum or index.
  double total = 0;
  long long token;
  if (a.temperature == 0.0f) {
    // The first maximum: each thread's first hit is its lowest index.
    long long first = vocab;
    slice.forEach([&](float v, int64_t i) {
      total += static_cast<double>(expf(v - mx));
      if (v == mx && first == vocab) first = i;
    });
    clusterReduce(reduction(total, detail::SumOp(), rs.d, &rs.dSlot), reduction(first, MinOp(), rs.i, &rs.iSlot));
    token = first;
  } else {
    const double temperature = a.temperature;
    double weights = 0;
    slice.forEach([&](float v, int64_t) {
      total += static_cast<double>(expf(v - mx));
      weights += weightOf(v, maxLogit, temperature);
    });
    clusterReduce(reduction(total, detail::SumOp(), rs.d, &rs.dSlot),
                  reduction(weights, detail::SumOp(), rs.d2, &rs.d2Slot));
    const Pick nucleus = pickByMass<false>(slice, maxLogit, temperature, double(a.topP) * weights, sh, rs);
    const double r = a.uniforms[row] * nucleus.massThrough;
    const Pick s = pickByMass<true>(slice, maxLogit, temperature, r, sh, rs);
    const bool pastNucleus = s.key > nucleus.key || (s.key == nucleus.key && s.token > nucleus.token);
    token = s.reached && !pastNucleus ? s.token : nucleus.token;
  }
  if (writer) {
    a.tokens[row] = token;
    if (a.logProbs)
      a.logProbs[row] = static_cast<float>(static_cast<double>(l[token]) - maxLogit - log(total));
  }
}

} // namespace

void sampleTokens(const SampleArgs &a, cudaStream_t stream) {
  if (!(a.temperature >= 0.0f)) throw Error("sampleTokens: temperature must be >= 0");
  if (!(a.topP > 0.0f && a.topP <= 1.0f)) throw Error("sampleTokens: top-p must be in (0, 1]");
  if (a.rows < 0 || a.rows > 0x7fffffff / kCluster)
    throw Error("sampleTokens: invalid row count " + std::to_string(a.rows));
  if (a.rows == 0) return;
  if (a.vocab < 1 || a.rowStride < a.vocab)
    throw Error("sampleTokens: invalid vocab " + std::to_string(a.vocab) + " or row stride " +
                std::to_string(a.rowStride));
  if (!a.logits || !a.tokens || (a.temperature > 0.0f && !a.uniforms))
    throw Error("sampleTokens: missing logits, tokens or uniforms");
  // Each block's slice goes to shared memory when it fits beside the
  // kernel's static shared memory (a vocabulary up to ~400K tokens); beyond
  // that every pass reads the row itself.
  const size_t sliceBytes = static_cast<size_t>((a.vocab + kCluster - 1) / kCluster) * sizeof(float);
  static const size_t stageLimit = [] {
    size_t limit = 0;
    checkCuda(detail::allowOptinSharedMemory(reinterpret_cast<const void *>(sampleKernel), &limit),
              "allowing the sampling kernel its shared memory");
    return limit;
  }();
  const bool staged = sliceBytes <= stageLimit;
  sampleKernel<<<static_cast<unsigned>(a.rows * kCluster), kThreads, staged ? sliceBytes : 0, stream>>>(a, staged);
  checkCuda(cudaGetLastError(), "sampleTokens launch");
}

} // namespace resa::gpu
