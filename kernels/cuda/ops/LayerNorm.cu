// resa.rms_norm, resa.add_rms_norm and resa.layer_norm: one thread block per
// row, or one warp per row where the rows are many (kept in registers when it
// fits), fp32 statistics (the mean first, then the centred sum of squares, as
// the CPU's two passes), 16-byte loads and stores when the row allows them.
// add_rms_norm normalises x = a + r, rounded to the storage type as an Add
// would store it, and writes that sum too; addRmsNormOfProjection does the
// same with r a projection's product (or the sum of its fp32 partial products).
#include "../BlockReduce.cuh"
#include "LayerKernels.h"

#include <cstdint>
#include <deque>

namespace resa::gpu::ops::layers {
namespace {

// What is added to x before the norm: nothing, a second tensor r, or the
// fp32 sum of partial products [parts][rows][cols] (a projection cut along
// its inner dimension, resa.projection_add_rms_norm), rounded to the
// projection's dtype as its output would be.
enum class Addend { None, Tensor, Partials };

struct PartialsView {
  const float *p = nullptr;
  int count = 0;
  int64_t stride = 0;        // elements between two partial products
  DType round = DType::F32;  // the projection's dtype
};

__device__ __forceinline__ float roundedTo(float v, DType t) {
  if (t == DType::BF16) return toFloat(fromFloat<__nv_bfloat16>(v));
  if (t == DType::F16) return toFloat(fromFloat<__half>(v));
  return v;
}

// y = (x - mean) / sqrt(var + eps) * (w + offset) (+ b) over rows of `cols`
// (RMS: mean = 0, var = mean(x^2)), VEC elements per load. With an addend:
// x = a + addend element by element, stored to `sum` in the last pass.
template <typename T, int VEC, Addend ADD> struct RowInput {
  using Vec = Pack<T, VEC>;
  using Wide = Pack<float, VEC>;
  const Vec *a, *r;
  PartialsView parts;  // from this row's start
  __device__ __forceinline__ Vec load(int64_t p) const {
    Vec v = a[p];
    if constexpr (ADD == Addend::Tensor) {
      const Vec w = r[p];
#pragma unroll
      for (int k = 0; k < VEC; ++k) v.v[k] = fromFloat<T>(toFloat(v.v[k]) + toFloat(w.v[k]));
    } else if constexpr (ADD == Addend::Partials) {
      float acc[VEC] = {};
      for (int s = 0; s < parts.count; ++s) {
        const Wide w = reinterpret_cast<const Wide *>(parts.p + s * parts.stride)[p];
#pragma unroll
        for (int k = 0; k < VEC; ++k) acc[k] += w.v[k];
      }
#pragma unroll
      for (int k = 0; k < VEC; ++k) v.v[k] = fromFloat<T>(toFloat(v.v[k]) + roundedTo(acc[k], parts.round));
    }
    return v;
  }
};

// The threads that share a row: the thread block (a row a block), or a warp
// (WARP: a warp a row, for many rows — a prefill's: no block-wide barriers,
// and four times the rows in flight a SM).
template <bool WARP> struct RowTeam {
  __device__ __forceinline__ static int me() { return WARP ? threadIdx.x % 32 : threadIdx.x; }
  __device__ __forceinline__ static int size() { return WARP ? 32 : blockDim.x; }
  // The first row of this team and the step to its next (a block: one row).
  __device__ __forceinline__ static int64_t first() {
    return WARP ? blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32 : blockIdx.x;
  }
  __device__ __forceinline__ static int64_t step(int64_t rows) {
    return WARP ? int64_t(gridDim.x) * (blockDim.x / 32) : rows;
  }
  // The team's sum of v (deterministic: a fixed shuffle tree, then warps in order).
  __device__ __forceinline__ static float sum(float v, float *scratch) {
    if constexpr (WARP) {
      for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
      return v;
    } else {
      return detail::blockReduce(v, detail::SumOp(), scratch);
    }
  }
};

// Calls f(i, p) for this thread's packs p (the i-th of them): CACHE > 0
// promises at most CACHE packs a thread (an unrolled loop, so that an array
// indexed by i stays in registers).
template <bool WARP, int CACHE, typename F> __device__ __forceinline__ void forEachPack(int64_t packs, F &&f) {
  using Team = RowTeam<WARP>;
  if constexpr (CACHE > 0) {
#pragma unroll
    for (int i = 0; i < CACHE; ++i) {
      const int64_t p = Team::me() + int64_t(i) * Team::size();
      if (p < packs) f(i, p);
    }
  } else {
    for (int64_t p = Team::me(); p < packs; p += Team::size()) f(0, p);
  }
}

// CACHE > 0: the row (at most CACHE packs a thread) is read once and kept in
// registers for the statistics and the output, one dependent round trip to
// memory instead of two or three (a decode step's row of partial products
// is 4 x 16 KB); CACHE = 0: every pass reads the row again (wide rows).
// With CACHE > 0 and a row a block, the thread's norm weights are loaded
// before the wait for the previous kernel (weights do not change during a
// step), so that their round trip overlaps that kernel's end instead of
// following the statistics. WARP: RowTeam.
template <typename T, typename P, int VEC, bool RMS, Addend ADD, int CACHE, bool WARP>
__global__ void normRows(const T *x, const T *r, PartialsView parts, T *sum, T *y, int64_t rows, int64_t cols,
                         const P *w, const P *b, float offset, float eps) {
  __shared__ float scratch[32];
  using Team = RowTeam<WARP>;
  using Vec = Pack<T, VEC>;
  using Weights = Pack<P, VEC>;
  constexpr bool kCacheWeights = CACHE > 0 && !WARP;  // (a warp's share would spill)
  const int64_t packs = cols / VEC;
  Weights wCache[kCacheWeights ? CACHE : 1];
  if constexpr (kCacheWeights)
    forEachPack<WARP, CACHE>(packs,
                             [&](int i, int64_t p) { wCache[i] = reinterpret_cast<const Weights *>(w)[p]; });
  detail::pdlWait();
  for (int64_t rowIdx = Team::first(); rowIdx < rows; rowIdx += Team::step(rows)) {
    PartialsView rowParts = parts;
    rowParts.p = parts.p ? parts.p + rowIdx * cols : nullptr;
    const RowInput<T, VEC, ADD> in{reinterpret_cast<const Vec *>(x + rowIdx * cols),
                                   reinterpret_cast<const Vec *>(ADD == Addend::Tensor ? r + rowIdx * cols
                                                                                       : nullptr),
                                   rowParts};
    Vec *yr = reinterpret_cast<Vec *>(y + rowIdx * cols);
    Vec cache[CACHE > 0 ? CACHE : 1];
    if constexpr (CACHE > 0) forEachPack<WARP, CACHE>(packs, [&](int i, int64_t p) { cache[i] = in.load(p); });
    auto row = [&](int i, int64_t p) {
      if constexpr (CACHE > 0) return cache[i];
      else return in.load(p);
    };
    float mean = 0.f;
    if constexpr (!RMS) {
      float total = 0.f;
      forEachPack<WARP, CACHE>(packs, [&](int i, int64_t p) {
        const Vec v = row(i, p);
#pragma unroll
        for (int k = 0; k < VEC; ++k) total += toFloat(v.v[k]);
      });
      mean = Team::sum(total, scratch) / float(cols);
    }
    float squares = 0.f;
    forEachPack<WARP, CACHE>(packs, [&](int i, int64_t p) {
      const Vec v = row(i, p);
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const float d = toFloat(v.v[k]) - mean;
        squares += d * d;
      }
    });
    const float var = Team::sum(squares, scratch) / float(cols);
    const float inv = 1.0f / sqrtf(var + eps);
    forEachPack<WARP, CACHE>(packs, [&](int i, int64_t p) {
      const Vec v = row(i, p);
      if constexpr (ADD != Addend::None) reinterpret_cast<Vec *>(sum + rowIdx * cols)[p] = v;
      Vec o;
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const int64_t c = p * VEC + k;
        const float wc = kCacheWeights ? toFloat(wCache[i].v[k]) : toFloat(w[c]);
        float t = (toFloat(v.v[k]) - mean) * inv * (wc + offset);
        if (b) t += toFloat(b[c]);
        o.v[k] = fromFloat<T>(t);
      }
      yr[p] = o;
    });
  }
  detail::pdlLaunchDependents();
}

constexpr int kNormThreads = 512;
constexpr int kNormCache = 4;  // packs a thread keeps: rows up to 2048 packs
// A warp a row from kNormWarpRows rows, kNormWarpCache packs a lane kept
// (rows up to 512 packs: 4096 bf16), kNormWarps rows a block. At 128K rows
// of 4096 a block a row took 2.7 ms a norm for ~0.75 of bytes (session 16).
constexpr int kNormWarpCache = 16;
constexpr int kNormWarps = 8;

// r and sum: the second addend and the sum (null without); parts: the
// partial products instead of r (Addend::Partials).
template <typename T, typename P, bool RMS, Addend ADD>
void launchNorm(const char *op, const DeviceTensor &x, const DeviceTensor *r, const PartialsView &parts,
                DeviceTensor *sum, DeviceTensor &y, int64_t rows, int64_t cols, const DeviceTensor &w,
                const DeviceTensor *b, float offset, float eps, cudaStream_t stream) {
  constexpr int kVec = 16 / sizeof(T);
  // Partials and norm weights are read kVec at a time: each row's must be
  // aligned to that.
  const bool vec = cols % kVec == 0 && aligned16(x.raw()) && aligned16(y.raw()) &&
                   alignedTo(w.raw(), kVec * sizeof(P)) &&
                   (ADD == Addend::None || aligned16(sum->raw())) &&
                   (ADD != Addend::Tensor || aligned16(r->raw())) &&
                   (ADD != Addend::Partials ||
                    (alignedTo(parts.p, kVec * sizeof(float)) &&
                     parts.stride % kVec == 0));
  const int64_t packs = vec ? cols / kVec : cols;
  const auto launch = [&](auto kernel, unsigned grid, int threads) {
    launchLayerKernel(op, kernel, grid, static_cast<unsigned>(threads), stream, x.data<T>(),
                      ADD == Addend::Tensor ? r->data<T>() : nullptr, parts,
                      ADD != Addend::None ? sum->data<T>() : nullptr, y.data<T>(), rows, cols, w.data<P>(),
                      b ? b->data<P>() : nullptr, offset, eps);
  };
  // The form for a team (WARP) keeping CACHE packs a thread where the row fits.
  const auto form = [&](auto warp, auto cache, bool cached) {
    constexpr bool W = decltype(warp)::value;
    constexpr int C = decltype(cache)::value;
    return vec ? (cached ? normRows<T, P, kVec, RMS, ADD, C, W> : normRows<T, P, kVec, RMS, ADD, 0, W>)
               : (cached ? normRows<T, P, 1, RMS, ADD, C, W> : normRows<T, P, 1, RMS, ADD, 0, W>);
  };
  if constexpr (ADD != Addend::Partials) {
    if (rows >= kNormWarpRows) {
      launch(form(std::true_type{}, std::integral_constant<int, kNormWarpCache>{},
                  packs <= int64_t(32) * kNormWarpCache),
             rowGrid(op, (rows + kNormWarps - 1) / kNormWarps), 32 * kNormWarps);
      return;
    }
  }
  const int threads = static_cast<int>(std::min<int64_t>(kNormThreads, (packs + 31) / 32 * 32));
  launch(form(std::false_type{}, std::integral_constant<int, kNormCache>{}, packs <= int64_t(threads) * kNormCache),
         rowGrid(op, rows), threads);
}

// f(xt, wt) with the type tags of the rows' dtype x and the parameters' w.
template <typename F> void dispatchRowTypes(const char *op, DType x, DType w, F &&f) {
  dispatchFloat(x, [&](auto xt) { dispatchFloat(w, [&](auto wt) { f(xt, wt); }, op); }, op);
}

// x [..., D], [r [..., D]: add_rms_norm's second addend], weight [D], [bias
// [D]] (layer norm only); epsilon and, for RMS, weight_offset (Gemma's 1 + w).
// Outputs: y, or (sum, y) for add_rms_norm.
enum class NormKind { Rms, AddRms, Layer };

void norm(const char *op, NormKind kind, const DeviceKernelArgs &args, Outputs &outputs) {
  const bool add = kind == NormKind::AddRms, rms = kind != NormKind::Layer;
  const DeviceTensor *xp = &floatInput(op, args, 0, add ? "a" : "x");
  if (xp->rank() < 1) fail(op, "x must have rank >= 1");
  const DeviceTensor *r = add ? &floatInput(op, args, 1, "b") : nullptr;
  if (r && r->shape() != xp->shape())
    fail(op, "a ", shapeToString(xp->shape()), " and b ", shapeToString(r->shape()),
         " differ (no broadcasting)");
  // Addends of different float dtypes are added in fp32, as an Add would
  // (Gemma's scaled embedding stays in the weights' bf16 while the attention
  // output is fp32).
  std::deque<DeviceTensor> converted;
  if (r) {
    const std::vector<const DeviceTensor *> ts = promoteFloats(args, {xp, r}, converted);
    xp = ts[0];
    r = ts[1];
  }
  const DeviceTensor &x = *xp;
  const int64_t cols = x.dim(x.rank() - 1), rows = rowsOf(x);
  const size_t wi = add ? 2 : 1;
  const DeviceTensor &w = floatInput(op, args, wi, "weight");
  if (w.numel() != cols) fail(op, "weight ", shapeToString(w.shape()), " does not match width ", cols);
  const DeviceTensor *b = rms ? nullptr : args.input(2);
  if (b) {
    floatInput(op, args, 2, "bias");
    if (b->numel() != cols) fail(op, "bias ", shapeToString(b->shape()), " does not match width ", cols);
    if (b->dtype() != w.dtype()) fail(op, "weight and bias dtypes differ");
  }
  const Attrs &at = attrsOf(args);
  const float eps = at.getFloat("epsilon", 1e-5f);
  const float offset = rms ? at.getFloat("weight_offset", 0.f) : 0.f;
  // Both allocated before either is referenced: the second may grow outputs.
  if (add) allocOutput(outputs, args, 0, x.dtype(), x.shape());
  DeviceTensor &y = allocOutput(outputs, args, add ? 1 : 0, x.dtype(), x.shape());
  DeviceTensor *sum = add ? &outputs[0] : nullptr;
  if (rows == 0) return;
  const cudaStream_t stream = args.ctx->stream;
  dispatchRowTypes(op, x.dtype(), w.dtype(), [&](auto xt, auto wt) {
    using T = typename decltype(xt)::type;
    using P = typename decltype(wt)::type;
    switch (kind) {
    case NormKind::Rms:
      launchNorm<T, P, true, Addend::None>(op, x, r, {}, sum, y, rows, cols, w, b, offset, eps, stream);
      break;
    case NormKind::AddRms:
      launchNorm<T, P, true, Addend::Tensor>(op, x, r, {}, sum, y, rows, cols, w, b, offset, eps, stream);
      break;
    case NormKind::Layer:
      launchNorm<T, P, false, Addend::None>(op, x, r, {}, sum, y, rows, cols, w, b, offset, eps, stream);
      break;
    }
  });
}

} // namespace

void rmsNorm(const DeviceKernelArgs &args, Outputs &outputs) { norm("resa.rms_norm", NormKind::Rms, args, outputs); }
void addRmsNorm(const DeviceKernelArgs &args, Outputs &outputs) {
  norm("resa.add_rms_norm", NormKind::AddRms, args, outputs);
}
void layerNorm(const DeviceKernelArgs &args, Outputs &outputs) {
  norm("resa.layer_norm", NormKind::Layer, args, outputs);
}

void addRmsNormOfProjection(const char *op, const DeviceKernelArgs &args, const DeviceTensor &a,
                            const DeviceTensor &parts, DType projection, size_t weightAt, DeviceTensor &sum,
                            DeviceTensor &y) {
  const int64_t cols = a.dim(a.rank() - 1), rows = rowsOf(a);
  const bool product = parts.dtype() == a.dtype() && parts.rank() == 3 && parts.dim(0) == 1;
  if ((parts.dtype() != DType::F32 && !product) || parts.rank() != 3 || parts.dim(1) != rows ||
      parts.dim(2) != cols)
    fail(op, "internal error: partial products ", dtypeName(parts.dtype()), " ", shapeToString(parts.shape()),
         " for ", rows, " rows of ", cols);
  const DeviceTensor &w = floatInput(op, args, weightAt, "norm weight");
  if (w.numel() != cols) fail(op, "norm weight ", shapeToString(w.shape()), " does not match width ", cols);
  const Attrs &at = attrsOf(args);
  const float eps = at.getFloat("epsilon", 1e-5f), offset = at.getFloat("weight_offset", 0.f);
  if (sum.dtype() != a.dtype() || y.dtype() != a.dtype())
    fail(op, "internal error: the sum and the norm must be in a's dtype");
  if (rows == 0) return;
  dispatchRowTypes(op, a.dtype(), w.dtype(), [&](auto xt, auto wt) {
    using T = typename decltype(xt)::type;
    using P = typename decltype(wt)::type;
    if (product) {
      launchNorm<T, P, true, Addend::Tensor>(op, a, &parts, {}, &sum, y, rows, cols, w, nullptr, offset, eps,
                                             args.ctx->stream);
    } else {
      const PartialsView view{parts.data<float>(), static_cast<int>(parts.dim(0)), rows * cols, projection};
      launchNorm<T, P, true, Addend::Partials>(op, a, nullptr, view, &sum, y, rows, cols, w, nullptr, offset, eps,
                                               args.ctx->stream);
    }
  });
}

} // namespace resa::gpu::ops::layers
