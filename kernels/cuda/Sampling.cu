// Device token choice (resa/cuda/Sampling.h): one thread block per row.
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
// common probability and a block-wide scan for its index.
#include "resa/cuda/DeviceKernel.h"
#include "resa/cuda/Sampling.h"

#include "BlockReduce.cuh"

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace resa::gpu {
namespace {

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

struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct MinOp {
  __device__ long long operator()(long long a, long long b) const { return a < b ? a : b; }
};

struct PickShared {
  double warpMass[kWarps][kBuckets];
  int warpCount[kWarps][kBuckets];
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

// The first token, in order, whose running mass reaches x (>= x, or > x when
// Strict); the last token in order when none does. Called by the whole block.
template <bool Strict>
__device__ Pick pickByMass(const float *l, int64_t vocab, double maxLogit, double temperature, double x,
                           PickShared &sh) {
  auto crosses = [x](double m) { return Strict ? m > x : m >= x; };
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  uint32_t prefix = 0, mask = 0;
  double before = 0; // mass of the tokens ordered before the candidates
  int count = 0;
  for (int shift = 32 - kDigitBits; shift >= 0; shift -= kDigitBits) {
    double mass[kBuckets];
    int cnt[kBuckets];
#pragma unroll
    for (int b = 0; b < kBuckets; ++b) mass[b] = 0, cnt[b] = 0;
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
      const float v = l[i];
      const uint32_t k = orderKey(v);
      if ((k & mask) != prefix) continue;
      const uint32_t digit = (k >> shift) & (kBuckets - 1);
      const double w = weightOf(v, maxLogit, temperature);
#pragma unroll
      for (int b = 0; b < kBuckets; ++b)
        if (digit == uint32_t(b)) mass[b] += w, ++cnt[b];
    }
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
    if (threadIdx.x == 0) {
      double cum = before, cumBeforeLast = before;
      int chosen = -1, last = -1, lastCount = 0;
      for (int b = 0; b < kBuckets && chosen < 0; ++b) {
        double m = 0;
        int c = 0;
        for (int w = 0; w < kWarps; ++w) m += sh.warpMass[w][b], c += sh.warpCount[w][b];
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
    __syncthreads();
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

  // The index of the lo-th token with the key, by a block-wide scan.
  if (threadIdx.x == 0) sh.index = -1;
  long long base = 0;
  for (int64_t start = 0; start < vocab; start += blockDim.x) {
    const int64_t i = start + threadIdx.x;
    const bool match = i < vocab && orderKey(l[i]) == prefix;
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
  p.token = sh.index;
  __syncthreads(); // the next pick rewrites sh
  return p;
}

__global__ void __launch_bounds__(kThreads) sampleKernel(SampleArgs a) {
  __shared__ PickShared sh;
  __shared__ float fScratch[32];
  __shared__ double dScratch[32];
  __shared__ long long iScratch[32];
  const int64_t row = blockIdx.x;
  const float *l = a.logits + row * a.rowStride;
  const int64_t vocab = a.vocab;

  float mx = -INFINITY;
  int nan = 0;
  for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float v = l[i];
    if (v != v) nan = 1;
    else mx = fmaxf(mx, v);
  }
  if (__syncthreads_or(nan)) {
    if (threadIdx.x == 0) {
      a.tokens[row] = -1;
      if (a.logProbs) a.logProbs[row] = NAN;
    }
    return;
  }
  mx = detail::blockReduce(mx, MaxOp(), fScratch);
  const double maxLogit = mx;

  // The softmax denominator at temperature 1 (for the log-probability).
  double total = 0;
  for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) total += exp(static_cast<double>(l[i]) - maxLogit);
  total = detail::blockReduce(total, detail::SumOp(), dScratch);

  long long token;
  if (a.temperature == 0.0f) {
    // The first maximum: each thread's first hit is its lowest index.
    long long first = vocab;
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x)
      if (l[i] == mx) {
        first = i;
        break;
      }
    token = detail::blockReduce(first, MinOp(), iScratch);
  } else {
    const double temperature = a.temperature;
    double weights = 0;
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) weights += weightOf(l[i], maxLogit, temperature);
    weights = detail::blockReduce(weights, detail::SumOp(), dScratch);
    const Pick nucleus = pickByMass<false>(l, vocab, maxLogit, temperature, double(a.topP) * weights, sh);
    const double r = a.uniforms[row] * nucleus.massThrough;
    const Pick s = pickByMass<true>(l, vocab, maxLogit, temperature, r, sh);
    const bool pastNucleus = s.key > nucleus.key || (s.key == nucleus.key && s.token > nucleus.token);
    token = s.reached && !pastNucleus ? s.token : nucleus.token;
  }
  if (threadIdx.x == 0) {
    a.tokens[row] = token;
    if (a.logProbs)
      a.logProbs[row] = static_cast<float>(static_cast<double>(l[token]) - maxLogit - log(total));
  }
}

} // namespace

void sampleTokens(const SampleArgs &a, cudaStream_t stream) {
  if (!(a.temperature >= 0.0f)) throw Error("sampleTokens: temperature must be >= 0");
  if (!(a.topP > 0.0f && a.topP <= 1.0f)) throw Error("sampleTokens: top-p must be in (0, 1]");
  if (a.rows < 0 || a.rows > 0x7fffffff) throw Error("sampleTokens: invalid row count " + std::to_string(a.rows));
  if (a.rows == 0) return;
  if (a.vocab < 1 || a.rowStride < a.vocab)
    throw Error("sampleTokens: invalid vocab " + std::to_string(a.vocab) + " or row stride " +
                std::to_string(a.rowStride));
  if (!a.logits || !a.tokens || (a.temperature > 0.0f && !a.uniforms))
    throw Error("sampleTokens: missing logits, tokens or uniforms");
  sampleKernel<<<static_cast<unsigned>(a.rows), kThreads, 0, stream>>>(a);
  checkCuda(cudaGetLastError(), "sampleTokens launch");
}

} // namespace resa::gpu
