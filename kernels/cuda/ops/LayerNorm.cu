// resa.rms_norm and resa.layer_norm: one thread block per row, fp32
// statistics (the mean first, then the centred sum of squares, as the CPU's
// two passes), 16-byte loads and stores when the row allows them.
#include "../BlockReduce.cuh"
#include "LayerKernels.h"

#include <cstdint>

namespace resa::gpu::ops::layers {
namespace {

template <typename T, int N> struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// y = (x - mean) / sqrt(var + eps) * (w + offset) (+ b) over rows of `cols`
// (RMS: mean = 0, var = mean(x^2)), VEC elements per load.
template <typename T, typename P, int VEC, bool RMS>
__global__ void normRows(const T *x, T *y, int64_t cols, const P *w, const P *b, float offset, float eps) {
  __shared__ float scratch[32];
  using Vec = Pack<T, VEC>;
  const int64_t packs = cols / VEC;
  const Vec *xr = reinterpret_cast<const Vec *>(x + blockIdx.x * cols);
  Vec *yr = reinterpret_cast<Vec *>(y + blockIdx.x * cols);
  float mean = 0.f;
  if constexpr (!RMS) {
    float sum = 0.f;
    for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
      const Vec v = xr[p];
#pragma unroll
      for (int k = 0; k < VEC; ++k) sum += toFloat(v.v[k]);
    }
    mean = detail::blockReduce(sum, detail::SumOp(), scratch) / float(cols);
  }
  float squares = 0.f;
  for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
    const Vec v = xr[p];
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      const float d = toFloat(v.v[k]) - mean;
      squares += d * d;
    }
  }
  const float var = detail::blockReduce(squares, detail::SumOp(), scratch) / float(cols);
  const float inv = 1.0f / sqrtf(var + eps);
  for (int64_t p = threadIdx.x; p < packs; p += blockDim.x) {
    const Vec v = xr[p];
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
}

template <typename T, typename P, bool RMS>
void launchNorm(const char *op, const DeviceTensor &x, DeviceTensor &y, int64_t rows, int64_t cols,
                const DeviceTensor &w, const DeviceTensor *b, float offset, float eps, cudaStream_t stream) {
  constexpr int kVec = 16 / sizeof(T);
  const bool vec = cols % kVec == 0 && aligned16(x.raw()) && aligned16(y.raw());
  const int64_t packs = vec ? cols / kVec : cols;
  const int threads = static_cast<int>(std::min<int64_t>(512, (packs + 31) / 32 * 32));
  auto kernel = vec ? normRows<T, P, kVec, RMS> : normRows<T, P, 1, RMS>;
  kernel<<<rowGrid(op, rows), threads, 0, stream>>>(x.data<T>(), y.data<T>(), cols, w.data<P>(),
                                                    b ? b->data<P>() : nullptr, offset, eps);
  checkLaunch(op);
}

// x [..., D], weight [D], [bias [D]] (layer norm only); epsilon and, for RMS,
// weight_offset (Gemma's 1 + w).
void norm(const char *op, bool rms, const DeviceKernelArgs &args, Outputs &outputs) {
  const DeviceTensor &x = floatInput(op, args, 0, "x");
  if (x.rank() < 1) fail(op, "x must have rank >= 1");
  const int64_t cols = x.dim(x.rank() - 1), rows = rowsOf(x);
  const DeviceTensor &w = floatInput(op, args, 1, "weight");
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
  DeviceTensor &y = allocOutput(outputs, args, 0, x.dtype(), x.shape());
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
              if (rms) launchNorm<T, P, true>(op, x, y, rows, cols, w, b, offset, eps, stream);
              else launchNorm<T, P, false>(op, x, y, rows, cols, w, b, offset, eps, stream);
            },
            op);
      },
      op);
}

} // namespace

void rmsNorm(const DeviceKernelArgs &args, Outputs &outputs) { norm("resa.rms_norm", true, args, outputs); }
void layerNorm(const DeviceKernelArgs &args, Outputs &outputs) { norm("resa.layer_norm", false, args, outputs); }

} // namespace resa::gpu::ops::layers
