// resa.rms_norm, resa.add_rms_norm and resa.layer_norm: one thread block per
// row, fp32 statistics (the mean first, then the centred sum of squares, as
// the CPU's two passes), 16-byte loads and stores when the row allows them.
// add_rms_norm normalises x = a + r, rounded to the storage type as an Add
// would store it, and writes that sum too.
#include "../BlockReduce.cuh"
#include "LayerKernels.h"

#include <cstdint>
#include <deque>

namespace resa::gpu::ops::layers {
namespace {

template <typename T, int N> struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// y = (x - mean) / sqrt(var + eps) * (w + offset) (+ b) over rows of `cols`
// (RMS: mean = 0, var = mean(x^2)), VEC elements per load. With r (ADD):
// x = a + r element by element, stored to `sum` in the last pass.
template <typename T, int VEC, bool ADD> struct RowInput {
  using Vec = Pack<T, VEC>;
  const Vec *a, *r;
  __device__ __forceinline__ Vec load(int64_t p) const {
    Vec v = a[p];
    if constexpr (ADD) {
      const Vec w = r[p];
#pragma unroll
      for (int k = 0; k < VEC; ++k) v.v[k] = fromFloat<T>(toFloat(v.v[k]) + toFloat(w.v[k]));
    }
    return v;
  }
};

template <typename T, typename P, int VEC, bool RMS, bool ADD>
__global__ void normRows(const T *x, const T *r, T *sum, T *y, int64_t cols, const P *w, const P *b,
                         float offset, float eps) {
  __shared__ float scratch[32];
  using Vec = Pack<T, VEC>;
  const int64_t packs = cols / VEC;
  detail::pdlWait();
  const RowInput<T, VEC, ADD> in{reinterpret_cast<const Vec *>(x + blockIdx.x * cols),
                                 reinterpret_cast<const Vec *>(ADD ? r + blockIdx.x * cols : nullptr)};
  Vec *yr = reinterpret_cast<Vec *>(y + blockIdx.x * cols);
  float mean = 0.f;
  if constexpr (!RMS) {
    float total = 0.f;
    for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
      const Vec v = in.load(p);
#pragma unroll
      for (int k = 0; k < VEC; ++k) total += toFloat(v.v[k]);
    }
    mean = detail::blockReduce(total, detail::SumOp(), scratch) / float(cols);
  }
  float squares = 0.f;
  for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
    const Vec v = in.load(p);
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      const float d = toFloat(v.v[k]) - mean;
      squares += d * d;
    }
  }
  const float var = detail::blockReduce(squares, detail::SumOp(), scratch) / float(cols);
  const float inv = 1.0f / sqrtf(var + eps);
  for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
    const Vec v = in.load(p);
    if constexpr (ADD) reinterpret_cast<Vec *>(sum + blockIdx.x * cols)[p] = v;
    Vec o;
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      const int64_t c = p * VEC + k;
      float t = (toFloat(v.v[k]) - mean) * inv * (toFloat(w[c]) + offset);
      if (b) t += toFloat(b[c]);
      o.v[k] = fromFloat<T>(t);
    }
    yr[p] = o;
  }
  detail::pdlLaunchDependents();
}

// r and sum: the add_rms_norm operands (null otherwise).
template <typename T, typename P, bool RMS, bool ADD>
void launchNorm(const char *op, const DeviceTensor &x, const DeviceTensor *r, DeviceTensor *sum, DeviceTensor &y,
                int64_t rows, int64_t cols, const DeviceTensor &w, const DeviceTensor *b, float offset, float eps,
                cudaStream_t stream) {
  constexpr int kVec = 16 / sizeof(T);
  const bool vec = cols % kVec == 0 && aligned16(x.raw()) && aligned16(y.raw()) &&
                   (!ADD || (aligned16(r->raw()) && aligned16(sum->raw())));
  const int64_t packs = vec ? cols / kVec : cols;
  const int threads = static_cast<int>(std::min<int64_t>(512, (packs + 31) / 32 * 32));
  auto kernel = vec ? normRows<T, P, kVec, RMS, ADD> : normRows<T, P, 1, RMS, ADD>;
  launchLayerKernel(op, kernel, rowGrid(op, rows), static_cast<unsigned>(threads), stream, x.data<T>(),
                    ADD ? r->data<T>() : nullptr, ADD ? sum->data<T>() : nullptr, y.data<T>(), cols,
                    w.data<P>(), b ? b->data<P>() : nullptr, offset, eps);
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
  DeviceTensor *sum = add ? &allocOutput(outputs, args, 0, x.dtype(), x.shape()) : nullptr;
  DeviceTensor &y = allocOutput(outputs, args, add ? 1 : 0, x.dtype(), x.shape());
  if (rows == 0) return;
  const cudaStream_t stream = args.ctx->stream;
  dispatchFloat(
      x.dtype(),
      [&](auto xt) {
        using T = typename decltype(xt)::type;
        dispatchFloat(
            w.dtype(),
            [&](auto wt) {
              using P = typename decltype(wt)::type;
              switch (kind) {
              case NormKind::Rms:
                launchNorm<T, P, true, false>(op, x, r, sum, y, rows, cols, w, b, offset, eps, stream);
                break;
              case NormKind::AddRms:
                launchNorm<T, P, true, true>(op, x, r, sum, y, rows, cols, w, b, offset, eps, stream);
                break;
              case NormKind::Layer:
                launchNorm<T, P, false, false>(op, x, r, sum, y, rows, cols, w, b, offset, eps, stream);
                break;
              }
            },
            op);
      },
      op);
}

} // namespace

void rmsNorm(const DeviceKernelArgs &args, Outputs &outputs) { norm("resa.rms_norm", NormKind::Rms, args, outputs); }
void addRmsNorm(const DeviceKernelArgs &args, Outputs &outputs) {
  norm("resa.add_rms_norm", NormKind::AddRms, args, outputs);
}
void layerNorm(const DeviceKernelArgs &args, Outputs &outputs) {
  norm("resa.layer_norm", NormKind::Layer, args, outputs);
}

} // namespace resa::gpu::ops::layers
