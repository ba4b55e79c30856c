// Shared kernel machinery (see Common.h).
#include "Common.h"

namespace resa::cpu {

int64_t normAxis(const char *op, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) fail(op, "axis ", axis, " out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> normAxes(const char *op, const std::vector<int64_t> &axes, int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    int64_t n = normAxis(op, a, rank);
    for (int64_t o : out)
      if (o == n) fail(op, "axis ", a, " repeated");
    out.push_back(n);
  }
  return out;
}

std::vector<int64_t> stridesOf(const Shape &s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

Shape broadcastShapes(const char *op, const Shape &a, const Shape &b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else fail(op, "shapes ", shapeToString(a), " and ", shapeToString(b), " are not broadcastable");
  }
  return out;
}

std::vector<int64_t> broadcastStrides(const Shape &in, const Shape &out) {
  std::vector<int64_t> st(out.size(), 0);
  std::vector<int64_t> inSt = stridesOf(in);
  size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    st[lead + i] = in[i] == 1 ? 0 : inSt[i];
  return st;
}

std::vector<int64_t> broadcastOffsets(const Shape &in, const Shape &out) {
  std::vector<int64_t> offs(static_cast<size_t>(numElements(out)));
  const std::vector<int64_t> st[1] = {broadcastStrides(in, out)};
  forEachBroadcast(out, st, [&](int64_t o, const int64_t *off) { offs[static_cast<size_t>(o)] = off[0]; });
  return offs;
}

void requireDType(const char *op, const Tensor &t, DType want, const char *what) {
  if (t.dtype() != want)
    fail(op, what, " must be ", dtypeName(want), ", got ", dtypeName(t.dtype()));
}

void requireSameDType(const char *op, const Tensor &a, const Tensor &b) {
  if (a.dtype() != b.dtype())
    fail(op, "input dtypes differ (", dtypeName(a.dtype()), " vs ", dtypeName(b.dtype()), ")");
}

bool isIntegerDType(DType t) {
  return t == DType::I64 || t == DType::I32 || t == DType::I8 || t == DType::U8;
}

const Attrs &attrsOf(const KernelArgs &args) {
  static const Attrs empty;
  return args.attrs ? *args.attrs : empty;
}

Tensor &allocOutput(std::vector<Tensor> &outputs, const KernelArgs &args, size_t i, DType dt,
                    const Shape &shape) {
  size_t n = std::max(args.numOutputs, i + 1);
  if (outputs.size() < n) outputs.resize(n);
  outputs[i] = Tensor(dt, shape);
  return outputs[i];
}

void setOutput(std::vector<Tensor> &outputs, const KernelArgs &args, size_t i, Tensor t) {
  size_t n = std::max(args.numOutputs, i + 1);
  if (outputs.size() < n) outputs.resize(n);
  outputs[i] = std::move(t);
}

std::vector<int64_t> intsInput(const char *op, const Tensor *t) {
  if (!t) return {};
  if (!isIntegerDType(t->dtype()))
    fail(op, "expected an integer tensor, got ", dtypeName(t->dtype()));
  return t->toInts();
}

double elementAsDouble(const Tensor &t, int64_t i) {
  switch (t.dtype()) {
  case DType::F32: return t.data<float>()[i];
  case DType::F64: return t.data<double>()[i];
  case DType::F16: return f16ToF32(t.data<uint16_t>()[i]);
  case DType::BF16: return bf16ToF32(t.data<uint16_t>()[i]);
  default: return static_cast<double>(t.intAt(i));
  }
}

double scalarAsDouble(const char *op, const Tensor &t, const char *what) {
  if (t.numel() != 1) fail(op, what, " must have one element, got shape ", shapeToString(t.shape()));
  return elementAsDouble(t, 0);
}

int64_t scalarAsInt(const char *op, const Tensor &t, const char *what) {
  if (t.numel() != 1) fail(op, what, " must have one element, got shape ", shapeToString(t.shape()));
  if (!isIntegerDType(t.dtype())) fail(op, what, " must be an integer, got ", dtypeName(t.dtype()));
  return t.intAt(0);
}

} // namespace resa::cpu
