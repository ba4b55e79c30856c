// The row normalisation that every norm kernel shares (Norm.cpp's ONNX
// norms, Layers.cpp's resa.rms_norm / resa.layer_norm): statistics in
// double, outputs in fp32.
#pragma once

#include "Common.h"

namespace resa::cpu {

// A per-element parameter (scale, bias, skip) broadcast to X's shape; the
// common case of one value per normalised column needs no offset table.
struct Param {
  const float *p = nullptr;
  int64_t cols = 0;
  std::vector<int64_t> offsets; // empty when indexed by column
  Param() = default;
  Param(const char *op, const Tensor *t, const Shape &x, int64_t cols_, const char *what) : cols(cols_) {
    if (!t) return;
    requireDType(op, *t, DType::F32, what);
    if (broadcastShapes(op, t->shape(), x) != x)
      fail(op, what, " of shape ", shapeToString(t->shape()), " does not broadcast to ", shapeToString(x));
    p = t->data<float>();
    Shape trailing(x.end() - std::min<size_t>(x.size(), t->shape().size()), x.end());
    bool byColumn = t->numel() == cols && numElements(trailing) == cols;
    if (!byColumn) offsets = broadcastOffsets(t->shape(), x);
  }
  // One value per normalised column, from `p` (null: no parameter).
  static Param columns(const float *p, int64_t cols) {
    Param out;
    out.p = p;
    out.cols = cols;
    return out;
  }
  explicit operator bool() const { return p != nullptr; }
  float at(int64_t row, int64_t col) const { return offsets.empty() ? p[col] : p[offsets[row * cols + col]]; }
};

// y = (x - mean) * invStd * scale + bias over rows of `cols` elements
// (rms: no centring, invStd = 1/sqrt(mean(x^2) + eps)). Writes the optional
// statistics when given.
void normalizeRows(const float *x, float *y, int64_t rows, int64_t cols, bool rms, double eps,
                   const Param &scale, const Param &bias, float *meanOut, float *invStdOut);

} // namespace resa::cpu
