// Private machinery shared by every CPU kernel: error messages, axis
// normalisation, numpy broadcasting, dtype dispatch and output allocation.
// Every kernel file includes this header; nothing here is public API.
#pragma once

#include "resa/kernels/Kernel.h"
#include "resa/kernels/OpShapes.h"

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace resa::cpu {

// ---- errors ---------------------------------------------------------------

template <typename... A> std::string cat(const A &...a) {
  std::ostringstream os;
  (os << ... << a);
  return os.str();
}

// Throws resa::Error("<op>: <message>").
template <typename... A> [[noreturn]] void fail(const char *op, const A &...a) {
  throw Error(cat(op, ": ", a...));
}

// ---- axes and shapes ------------------------------------------------------

// normAxis, normAxes, stridesOf, broadcastShapes and broadcastStrides come
// from resa/kernels/OpShapes.h (shared with the CUDA kernels).

// Calls f(outIndex, offsets) for every element of `out` in row-major order,
// where offsets[k] is the element offset into the k-th operand whose
// broadcast strides are strides[k]. The innermost dimension is a tight loop.
template <size_t N, typename F>
void forEachBroadcast(const Shape &out, const std::vector<int64_t> (&strides)[N], F &&f) {
  const int64_t total = numElements(out);
  if (total == 0) return;
  const size_t rank = out.size();
  int64_t off[N] = {};
  if (rank == 0) {
    f(int64_t(0), off);
    return;
  }
  const int64_t inner = out[rank - 1];
  int64_t innerStride[N];
  for (size_t k = 0; k < N; ++k) innerStride[k] = strides[k][rank - 1];
  std::vector<int64_t> idx(rank, 0);
  int64_t o = 0;
  while (o < total) {
    int64_t cur[N];
    for (size_t k = 0; k < N; ++k) cur[k] = off[k];
    for (int64_t i = 0; i < inner; ++i) {
      f(o + i, cur);
      for (size_t k = 0; k < N; ++k) cur[k] += innerStride[k];
    }
    o += inner;
    // advance the odometer over the outer dimensions
    for (size_t d = rank - 1; d-- > 0;) {
      if (++idx[d] < out[d]) {
        for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
        break;
      }
      for (size_t k = 0; k < N; ++k) off[k] -= strides[k][d] * (out[d] - 1);
      idx[d] = 0;
    }
  }
}

// Offset into a tensor of shape `in` for every element of `out` (broadcast).
std::vector<int64_t> broadcastOffsets(const Shape &in, const Shape &out);

// ---- dtypes ---------------------------------------------------------------

template <typename T> struct Tag { using type = T; };

template <typename T> constexpr DType dtypeOf();
template <> constexpr DType dtypeOf<float>() { return DType::F32; }
template <> constexpr DType dtypeOf<double>() { return DType::F64; }
template <> constexpr DType dtypeOf<int64_t>() { return DType::I64; }
template <> constexpr DType dtypeOf<int32_t>() { return DType::I32; }
template <> constexpr DType dtypeOf<int8_t>() { return DType::I8; }
template <> constexpr DType dtypeOf<uint8_t>() { return DType::U8; }

// Bool tensors store one byte per element, 0 or 1.
using Bool = uint8_t;

// Floating types the math kernels accept.
template <typename F> auto dispatchFloat(const char *op, DType t, F &&f) {
  switch (t) {
  case DType::F32: return f(Tag<float>{});
  case DType::F64: return f(Tag<double>{});
  default: fail(op, "unsupported dtype ", dtypeName(t), " (expected float32 or float64)");
  }
}

// Arithmetic types: F32, F64, I64, I32.
template <typename F> auto dispatchArith(const char *op, DType t, F &&f) {
  switch (t) {
  case DType::F32: return f(Tag<float>{});
  case DType::F64: return f(Tag<double>{});
  case DType::I64: return f(Tag<int64_t>{});
  case DType::I32: return f(Tag<int32_t>{});
  default: fail(op, "unsupported dtype ", dtypeName(t), " (expected float32, float64, int64 or int32)");
  }
}

// Every numeric type that has a C++ arithmetic equivalent (Bool as uint8).
template <typename F> auto dispatchNumeric(const char *op, DType t, F &&f) {
  switch (t) {
  case DType::F32: return f(Tag<float>{});
  case DType::F64: return f(Tag<double>{});
  case DType::I64: return f(Tag<int64_t>{});
  case DType::I32: return f(Tag<int32_t>{});
  case DType::I8: return f(Tag<int8_t>{});
  case DType::U8: return f(Tag<uint8_t>{});
  case DType::Bool: return f(Tag<uint8_t>{});
  default: fail(op, "unsupported dtype ", dtypeName(t));
  }
}

// Data movement only needs the element width.
template <typename F> auto dispatchBySize(const char *op, DType t, F &&f) {
  switch (dtypeSize(t)) {
  case 1: return f(Tag<uint8_t>{});
  case 2: return f(Tag<uint16_t>{});
  case 4: return f(Tag<uint32_t>{});
  case 8: return f(Tag<uint64_t>{});
  default: fail(op, "unsupported dtype ", dtypeName(t));
  }
}

void requireDType(const char *op, const Tensor &t, DType want, const char *what);
void requireSameDType(const char *op, const Tensor &a, const Tensor &b);
bool isIntegerDType(DType t);

// ---- kernel arguments -----------------------------------------------------

const Attrs &attrsOf(const KernelArgs &args);
// Output i, allocated with the given dtype and shape; `outputs` is resized to
// the number of declared outputs.
Tensor &allocOutput(std::vector<Tensor> &outputs, const KernelArgs &args, size_t i, DType dt,
                    const Shape &shape);
// Stores an already computed tensor as output i (same resizing rule).
void setOutput(std::vector<Tensor> &outputs, const KernelArgs &args, size_t i, Tensor t);
// The ints of an optional integer input (empty when it is absent).
std::vector<int64_t> intsInput(const char *op, const Tensor *t);
// A scalar (or 1-element) input as double / int64.
double scalarAsDouble(const char *op, const Tensor &t, const char *what);
int64_t scalarAsInt(const char *op, const Tensor &t, const char *what);

// Element i of any numeric tensor as double (slow path for small tensors).
double elementAsDouble(const Tensor &t, int64_t i);

} // namespace resa::cpu
