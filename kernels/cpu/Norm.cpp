// Normalisations over trailing axes (LayerNormalization, RMSNormalization,
// SimplifiedLayerNormalization, com.microsoft Skip(Simplified)LayerNormalization)
// and Softmax / LogSoftmax. Statistics are computed in double, outputs in fp32.
#include "Common.h"
#include "NormRows.h"
#include "Ops.h"

#include <cmath>

namespace resa::cpu {
namespace {

int64_t rowsBefore(const Shape &s, int64_t axis) {
  int64_t n = 1;
  for (int64_t i = 0; i < axis; ++i) n *= s[i];
  return n;
}

Shape statShape(const Shape &x, int64_t axis) {
  Shape s = x;
  for (size_t i = static_cast<size_t>(axis); i < s.size(); ++i) s[i] = 1;
  return s;
}


// LayerNormalization-style ops: X, Scale, [B]; outputs Y, [Mean], [InvStdDev].
// rms ops have no bias and their second output is inv_std_var when
// `rmsInvStdSecond` (SimplifiedLayerNormalization).
void layerNorm(const char *op, bool rms, bool hasBias, bool rmsInvStdSecond, const KernelArgs &args,
               std::vector<Tensor> &outputs) {
  const Tensor &x = args.required(0);
  requireDType(op, x, DType::F32, "X");
  const Attrs &at = attrsOf(args);
  int64_t axis = normAxis(op, at.getInt("axis", -1), x.rank());
  double eps = at.getFloat("epsilon", 1e-5f);
  int64_t rows = rowsBefore(x.shape(), axis), cols = rows ? x.numel() / rows : 0;
  Param scale(op, &args.required(1), x.shape(), cols, "scale");
  Param bias(op, hasBias ? args.input(2) : nullptr, x.shape(), cols, "bias");
  Tensor &y = allocOutput(outputs, args, 0, DType::F32, x.shape());
  float *meanOut = nullptr, *invOut = nullptr;
  Shape st = statShape(x.shape(), axis);
  if (rms && rmsInvStdSecond) {
    if (args.numOutputs > 1) invOut = allocOutput(outputs, args, 1, DType::F32, st).data<float>();
  } else {
    if (args.numOutputs > 1) meanOut = allocOutput(outputs, args, 1, DType::F32, st).data<float>();
    if (args.numOutputs > 2) invOut = allocOutput(outputs, args, 2, DType::F32, st).data<float>();
  }
  normalizeRows(x.data<float>(), y.data<float>(), rows, cols, rms, eps, scale, bias, meanOut, invOut);
}

// com.microsoft Skip(Simplified)LayerNormalization: input, skip, gamma,
// [beta], [bias]; outputs output, [mean], [inv_std_var], [input_skip_bias_sum].
void skipNorm(const char *op, bool rms, const KernelArgs &args, std::vector<Tensor> &outputs) {
  const Tensor &x = args.required(0);
  requireDType(op, x, DType::F32, "input");
  if (x.rank() < 1) fail(op, "input must have rank >= 1");
  int64_t cols = x.dim(x.rank() - 1), rows = cols ? x.numel() / cols : 0;
  Param skip(op, &args.required(1), x.shape(), cols, "skip");
  Param gamma(op, &args.required(2), x.shape(), cols, "gamma");
  Param beta(op, rms ? nullptr : args.input(3), x.shape(), cols, "beta");
  Param bias(op, args.input(rms ? 3 : 4), x.shape(), cols, "bias");
  double eps = attrsOf(args).getFloat("epsilon", 1e-5f);
  Tensor sum(DType::F32, x.shape());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float v = x.data<float>()[r * cols + c] + skip.at(r, c);
      if (bias) v += bias.at(r, c);
      sum.data<float>()[r * cols + c] = v;
    }
  Tensor &y = allocOutput(outputs, args, 0, DType::F32, x.shape());
  Shape st = statShape(x.shape(), x.rank() - 1);
  float *meanOut = args.numOutputs > 1 ? allocOutput(outputs, args, 1, DType::F32, st).data<float>() : nullptr;
  float *invOut = args.numOutputs > 2 ? allocOutput(outputs, args, 2, DType::F32, st).data<float>() : nullptr;
  normalizeRows(sum.data<float>(), y.data<float>(), rows, cols, rms, eps, gamma, beta, meanOut, invOut);
  if (args.numOutputs > 3) setOutput(outputs, args, 3, sum);
}

// Softmax family: one axis since opset 13; before, X is flattened to 2-D at
// `axis` (default 1) and normalised over all trailing elements.
void softmax(const char *op, bool logOut, const KernelArgs &args, std::vector<Tensor> &outputs) {
  const Tensor &x = args.required(0);
  bool legacy = args.opset < 13;
  int64_t axis = normAxis(op, attrsOf(args).getInt("axis", legacy ? 1 : -1), x.rank());
  int64_t outer = rowsBefore(x.shape(), axis), n, inner = 1;
  if (legacy) {
    n = outer ? x.numel() / outer : 0;
  } else {
    n = x.dim(axis);
    for (int64_t i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
  }
  Tensor &y = allocOutput(outputs, args, 0, x.dtype(), x.shape());
  dispatchFloat(op, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *px = x.data<T>();
    T *py = y.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T *p = px + o * n * inner + i;
        T *q = py + o * n * inner + i;
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < n; ++j) mx = std::max(mx, double(p[j * inner]));
        for (int64_t j = 0; j < n; ++j) sum += std::exp(double(p[j * inner]) - mx);
        for (int64_t j = 0; j < n; ++j) {
          double d = double(p[j * inner]) - mx;
          q[j * inner] = static_cast<T>(logOut ? d - std::log(sum) : std::exp(d) / sum);
        }
      }
  });
}

} // namespace

// See NormRows.h. y = (x - mean) * invStd * scale + bias over rows of `cols` elements
// (rms: no centring, invStd = 1/sqrt(mean(x^2) + eps)). Writes the optional
// statistics when given.
void normalizeRows(const float *x, float *y, int64_t rows, int64_t cols, bool rms, double eps, const Param &scale,
                   const Param &bias, float *meanOut, float *invStdOut) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * cols;
    double mean = 0, var = 0;
    if (!rms) {
      for (int64_t c = 0; c < cols; ++c) mean += xr[c];
      mean /= double(cols);
    }
    for (int64_t c = 0; c < cols; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    var /= double(cols);
    double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t c = 0; c < cols; ++c) {
      double v = (xr[c] - mean) * inv;
      if (scale) v *= scale.at(r, c);
      if (bias) v += bias.at(r, c);
      y[r * cols + c] = static_cast<float>(v);
    }
    if (meanOut) meanOut[r] = static_cast<float>(mean);
    if (invStdOut) invStdOut[r] = static_cast<float>(inv);
  }
}

namespace k {

RESA_KERNEL(LayerNormalization) { layerNorm("LayerNormalization", false, true, false, args, outputs); }
RESA_KERNEL(RMSNormalization) { layerNorm("RMSNormalization", true, false, false, args, outputs); }
RESA_KERNEL(SimplifiedLayerNormalization) {
  layerNorm("SimplifiedLayerNormalization", true, false, true, args, outputs);
}
RESA_KERNEL(ms_SkipSimplifiedLayerNormalization) {
  skipNorm("com.microsoft.SkipSimplifiedLayerNormalization", true, args, outputs);
}
RESA_KERNEL(ms_SkipLayerNormalization) { skipNorm("com.microsoft.SkipLayerNormalization", false, args, outputs); }
RESA_KERNEL(Softmax) { softmax("Softmax", false, args, outputs); }
RESA_KERNEL(LogSoftmax) { softmax("LogSoftmax", true, args, outputs); }

} // namespace k
} // namespace resa::cpu
