// Data movement without index tensors: Expand, Concat, Slice, Split,
// Transpose, Tile, Trilu, Pad. All are dtype-agnostic (copy by width).
#include "Common.h"
#include "Ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace resa::cpu {
namespace {

// y[o] = x[base + sum_d idx_d(o) * strides[d]] over the shape `iter`.
Tensor stridedCopy(const char *op, const Tensor &x, const Shape &iter, const std::vector<int64_t> &strides,
                   int64_t base, const Shape &outShape) {
  Tensor y(x.dtype(), outShape);
  dispatchBySize(op, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *px = x.data<T>() + base;
    T *py = y.data<T>();
    const std::vector<int64_t> st[1] = {strides};
    forEachBroadcast(iter, st, [&](int64_t o, const int64_t *off) { py[o] = px[off[0]]; });
  });
  return y;
}

// Expand, Transpose, Slice, Concat and Split take their shapes and strides
// from OpShapes.cpp (shared with CUDA).
Tensor copyView(const char *op, const Tensor &x, const StridedView &v) {
  return stridedCopy(op, x, v.shape, v.strides, v.base, v.shape);
}

} // namespace

namespace k {

RESA_KERNEL(Expand) {
  const Tensor &x = args.required(0);
  setOutput(outputs, args, 0, copyView("Expand", x, expandView(x.shape(), args)));
}

RESA_KERNEL(Transpose) {
  const Tensor &x = args.required(0);
  setOutput(outputs, args, 0, copyView("Transpose", x, transposeView(x.shape(), args)));
}

RESA_KERNEL(Slice) {
  const Tensor &x = args.required(0);
  setOutput(outputs, args, 0, copyView("Slice", x, sliceView(x.shape(), args)));
}

RESA_KERNEL(Concat) {
  const char *op = "Concat";
  if (args.inputs.empty()) fail(op, "needs at least one input");
  const Tensor &first = args.required(0);
  std::vector<Shape> shapes;
  for (size_t i = 0; i < args.inputs.size(); ++i) {
    const Tensor &t = args.required(i);
    requireSameDType(op, first, t);
    shapes.push_back(t.shape());
  }
  const ConcatPlan plan = concatPlan(shapes, args);
  const Shape &out = plan.shape;
  Tensor &y = allocOutput(outputs, args, 0, first.dtype(), out);
  int64_t outer = 1;
  for (int64_t d = 0; d < plan.axis; ++d) outer *= out[d];
  size_t es = dtypeSize(first.dtype());
  size_t rowOut = static_cast<size_t>(numElements(out) / std::max<int64_t>(outer, 1)) * es;
  auto *dst = static_cast<uint8_t *>(y.raw());
  size_t col = 0;
  for (size_t i = 0; i < args.inputs.size(); ++i) {
    const Tensor &t = args.required(i);
    size_t row = outer ? static_cast<size_t>(t.numel() / outer) * es : 0;
    for (int64_t o = 0; o < outer && row; ++o)
      std::memcpy(dst + o * rowOut + col, static_cast<const uint8_t *>(t.raw()) + o * row, row);
    col += row;
  }
}

RESA_KERNEL(Split) {
  const Tensor &x = args.required(0);
  std::vector<StridedView> views = splitViews(x.shape(), args);
  outputs.resize(std::max(outputs.size(), views.size()));
  for (size_t i = 0; i < views.size(); ++i) outputs[i] = copyView("Split", x, views[i]);
}

RESA_KERNEL(Tile) {
  const char *op = "Tile";
  const Tensor &x = args.required(0);
  std::vector<int64_t> reps = intsInput(op, &args.required(1));
  if (static_cast<int64_t>(reps.size()) != x.rank()) fail(op, "repeats has ", reps.size(), " entries for rank ", x.rank());
  // Output row-major order equals row-major order over [r0, d0, r1, d1, ...].
  Shape iter, out;
  std::vector<int64_t> inSt = stridesOf(x.shape()), st;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (reps[d] < 0) fail(op, "negative repeat ", reps[d]);
    iter.push_back(reps[d]);
    st.push_back(0);
    iter.push_back(x.dim(d));
    st.push_back(inSt[d]);
    out.push_back(reps[d] * x.dim(d));
  }
  setOutput(outputs, args, 0, stridedCopy(op, x, iter, st, 0, out));
}

RESA_KERNEL(Trilu) {
  const char *op = "Trilu";
  const Tensor &x = args.required(0);
  if (x.rank() < 2) fail(op, "input must have rank >= 2");
  bool upper = attrsOf(args).getInt("upper", 1) != 0;
  int64_t kk = args.input(1) ? scalarAsInt(op, *args.input(1), "k") : 0;
  int64_t R = x.dim(x.rank() - 2), C = x.dim(x.rank() - 1);
  Tensor y(x.dtype(), x.shape());
  std::memcpy(y.raw(), x.raw(), x.nbytes());
  size_t es = dtypeSize(x.dtype());
  auto *p = static_cast<uint8_t *>(y.raw());
  int64_t mats = (R != 0 && C != 0) ? x.numel() / (R * C) : 0;
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < R; ++i)
      for (int64_t j = 0; j < C; ++j) {
        bool keep = upper ? j - i >= kk : j - i <= kk;
        if (!keep) std::memset(p + ((m * R + i) * C + j) * es, 0, es);
      }
  setOutput(outputs, args, 0, y);
}

// Pad: pads/constant_value/axes are inputs since opset 11 (axes since 18),
// attributes "pads"/"value" before. Modes: constant, reflect, edge, wrap.
RESA_KERNEL(Pad) {
  const char *op = "Pad";
  const Tensor &x = args.required(0);
  const int64_t r = x.rank();
  std::string mode = attrsOf(args).getString("mode", "constant");
  std::vector<int64_t> pads, axes;
  double value = 0;
  const Tensor *cv = nullptr;
  if (args.opset >= 11) {
    pads = intsInput(op, &args.required(1));
    cv = args.input(2);
    if (cv && cv->numel() == 0) cv = nullptr;
    if (cv) {
      requireSameDType(op, x, *cv);
      if (cv->numel() != 1) fail(op, "constant_value must be a scalar");
    }
    axes = intsInput(op, args.input(3));
  } else {
    pads = attrsOf(args).getInts("pads");
    value = attrsOf(args).getFloat("value", 0.f);
  }
  if (axes.empty())
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  axes = normAxes(op, axes, r);
  if (pads.size() != 2 * axes.size()) fail(op, "pads has ", pads.size(), " entries, expected ", 2 * axes.size());
  std::vector<int64_t> begin(r, 0), end(r, 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    begin[axes[i]] = pads[i];
    end[axes[i]] = pads[i + axes.size()];
  }
  Shape out(r);
  std::vector<std::vector<int64_t>> srcIdx(r); // per axis: source index or -1 (pad value)
  for (int64_t d = 0; d < r; ++d) {
    int64_t n = x.dim(d);
    out[d] = n + begin[d] + end[d];
    if (out[d] < 0) fail(op, "pads make axis ", d, " negative");
    if (mode != "constant" && n == 0 && out[d] > 0) fail(op, "cannot ", mode, "-pad an empty axis");
    for (int64_t o = 0; o < out[d]; ++o) {
      int64_t s = o - begin[d];
      if (s < 0 || s >= n) {
        if (mode == "constant") s = -1;
        else if (mode == "edge") s = std::clamp(s, int64_t(0), n - 1);
        else if (mode == "wrap") s = ((s % n) + n) % n;
        else if (mode == "reflect") {
          if (n == 1) s = 0;
          else {
            int64_t period = 2 * (n - 1);
            s = ((s % period) + period) % period;
            if (s >= n) s = period - s;
          }
        } else fail(op, "unknown mode '", mode, "'");
      }
      srcIdx[d].push_back(s);
    }
  }
  Tensor &y = allocOutput(outputs, args, 0, x.dtype(), out);
  std::vector<int64_t> inSt = stridesOf(x.shape());
  const int64_t total = y.numel();
  size_t es = dtypeSize(x.dtype());
  std::vector<uint8_t> padBytes(es, 0);
  if (cv) std::memcpy(padBytes.data(), cv->raw(), es);
  else if (value != 0) {
    Tensor v(x.dtype(), {});
    dispatchArith(op, x.dtype(), [&](auto tag) { v.data<typename decltype(tag)::type>()[0] = static_cast<typename decltype(tag)::type>(value); });
    std::memcpy(padBytes.data(), v.raw(), es);
  }
  std::vector<int64_t> idx(r, 0);
  auto *dst = static_cast<uint8_t *>(y.raw());
  const auto *src = static_cast<const uint8_t *>(x.raw());
  for (int64_t o = 0; o < total; ++o) {
    int64_t off = 0;
    bool pad = false;
    for (int64_t d = 0; d < r; ++d) {
      int64_t s = srcIdx[d][idx[d]];
      if (s < 0) pad = true;
      off += s * inSt[d];
    }
    std::memcpy(dst + o * es, pad ? padBytes.data() : src + off * es, es);
    for (int64_t d = r - 1; d >= 0; --d) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
}

} // namespace k
} // namespace resa::cpu
