// Shared kernel machinery (see Common.h).
#include "Common.h"

namespace resa::cpu {

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
