// Shape-only and constant-producing ops: Shape, Size, Reshape, Squeeze,
// Unsqueeze, Flatten, Identity, Dropout (inference), Constant,
// ConstantOfShape, Range. Reshape-like ops return views of their input.
#include "Common.h"
#include "Ops.h"

#include <algorithm>
#include <cmath>

namespace resa::cpu {
namespace {

Tensor int64Vector(const std::vector<int64_t> &v) {
  Tensor t(DType::I64, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

} // namespace

namespace k {

RESA_KERNEL(Shape) {
  const Tensor &x = args.required(0);
  int64_t r = x.rank();
  auto clampAxis = [r](int64_t a) { return std::clamp(a < 0 ? a + r : a, int64_t(0), r); };
  int64_t start = clampAxis(attrsOf(args).getInt("start", 0));
  int64_t end = clampAxis(attrsOf(args).getInt("end", r));
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(x.dim(i));
  setOutput(outputs, args, 0, int64Vector(dims));
}

RESA_KERNEL(Size) {
  Tensor &y = allocOutput(outputs, args, 0, DType::I64, {});
  y.data<int64_t>()[0] = args.required(0).numel();
}

// The view ops compute their shapes in OpShapes.cpp (shared with CUDA).
RESA_KERNEL(Reshape) {
  const Tensor &x = args.required(0);
  setOutput(outputs, args, 0, x.reshaped(reshapeShape(x.shape(), args)));
}

RESA_KERNEL(Squeeze) {
  const Tensor &x = args.required(0);
  setOutput(outputs, args, 0, x.reshaped(squeezeShape(x.shape(), args)));
}

RESA_KERNEL(Unsqueeze) {
  const Tensor &x = args.required(0);
  setOutput(outputs, args, 0, x.reshaped(unsqueezeShape(x.shape(), args)));
}

RESA_KERNEL(Flatten) {
  const Tensor &x = args.required(0);
  setOutput(outputs, args, 0, x.reshaped(flattenShape(x.shape(), args)));
}

RESA_KERNEL(Identity) { setOutput(outputs, args, 0, args.required(0)); }

// Inference-mode Dropout: the data passes through; the optional mask is all true.
RESA_KERNEL(Dropout) {
  const Tensor &x = args.required(0);
  setOutput(outputs, args, 0, x);
  if (args.numOutputs > 1) {
    Tensor &m = allocOutput(outputs, args, 1, DType::Bool, x.shape());
    std::fill(m.data<Bool>(), m.data<Bool>() + m.numel(), Bool(1));
  }
}

RESA_KERNEL(Constant) {
  const char *op = "Constant";
  const Attrs &at = attrsOf(args);
  if (const Tensor *t = at.getTensor("value")) {
    Tensor c(t->dtype(), t->shape()); // a private copy: outputs may be written by the runtime
    std::memcpy(c.raw(), t->raw(), t->nbytes());
    setOutput(outputs, args, 0, c);
  } else if (at.has("value_float")) {
    Tensor &y = allocOutput(outputs, args, 0, DType::F32, {});
    y.data<float>()[0] = at.getFloat("value_float", 0.f);
  } else if (at.has("value_int")) {
    Tensor &y = allocOutput(outputs, args, 0, DType::I64, {});
    y.data<int64_t>()[0] = at.getInt("value_int", 0);
  } else if (at.has("value_floats")) {
    std::vector<float> v = at.getFloats("value_floats");
    Tensor &y = allocOutput(outputs, args, 0, DType::F32, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), y.data<float>());
  } else if (at.has("value_ints")) {
    setOutput(outputs, args, 0, int64Vector(at.getInts("value_ints")));
  } else {
    fail(op, "needs one of value, value_float(s), value_int(s) (strings and sparse tensors are unsupported)");
  }
}

RESA_KERNEL(ConstantOfShape) {
  const char *op = "ConstantOfShape";
  std::vector<int64_t> shape = intsInput(op, &args.required(0));
  for (int64_t d : shape)
    if (d < 0) fail(op, "negative dimension ", d);
  const Tensor *v = attrsOf(args).getTensor("value");
  if (v && v->numel() != 1) fail(op, "value must have one element");
  DType dt = v ? v->dtype() : DType::F32;
  Tensor &y = allocOutput(outputs, args, 0, dt, shape);
  if (!v) return; // zeros
  size_t es = dtypeSize(dt);
  auto *dst = static_cast<uint8_t *>(y.raw());
  for (int64_t i = 0; i < y.numel(); ++i) std::memcpy(dst + i * es, v->raw(), es);
}

// Range: n = max(ceil((limit - start) / delta), 0); values accumulate
// start, start + delta, ... as onnxruntime does.
RESA_KERNEL(Range) {
  const char *op = "Range";
  const Tensor &s = args.required(0), &l = args.required(1), &d = args.required(2);
  requireSameDType(op, s, l);
  requireSameDType(op, s, d);
  dispatchArith(op, s.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (s.numel() != 1 || l.numel() != 1 || d.numel() != 1) fail(op, "start, limit and delta must be scalars");
    T start = s.data<T>()[0], limit = l.data<T>()[0], delta = d.data<T>()[0];
    if (delta == 0) fail(op, "delta must not be zero");
    double nd = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) / static_cast<double>(delta));
    int64_t n = nd > 0 ? static_cast<int64_t>(nd) : 0;
    Tensor &y = allocOutput(outputs, args, 0, s.dtype(), {n});
    T v = start;
    for (int64_t i = 0; i < n; ++i, v = static_cast<T>(v + delta)) y.data<T>()[i] = v;
  });
}

} // namespace k
} // namespace resa::cpu
