// Tensor storage, dtype helpers and half-precision conversions.
#include "resa/kernels/Tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace resa {

size_t dtypeSize(DType t) {
  switch (t) {
  case DType::F32: case DType::I32: return 4;
  case DType::F64: case DType::I64: return 8;
  case DType::F16: case DType::BF16: return 2;
  case DType::U8: case DType::I8: case DType::Bool: return 1;
  }
  throw Error("unknown dtype " + std::to_string(static_cast<int>(t)));
}

const char *dtypeName(DType t) {
  switch (t) {
  case DType::F32: return "float32";
  case DType::U8: return "uint8";
  case DType::I8: return "int8";
  case DType::I32: return "int32";
  case DType::I64: return "int64";
  case DType::Bool: return "bool";
  case DType::F16: return "float16";
  case DType::F64: return "float64";
  case DType::BF16: return "bfloat16";
  }
  return "unknown";
}

int64_t numElements(const Shape &s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw Error("negative dimension in shape " + shapeToString(s));
    if (__builtin_mul_overflow(n, d, &n))
      throw Error("shape " + shapeToString(s) + " has too many elements");
  }
  return n;
}

std::string shapeToString(const Shape &s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
  os << ']';
  return os.str();
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  size_t bytes = nbytes();
  // Always allocate at least one byte so that data_ is never null.
  void *p = std::calloc(bytes ? bytes : 1, 1);
  if (!p) throw Error("out of memory allocating " + std::to_string(bytes) + " bytes");
  owner_ = std::shared_ptr<void>(p, std::free);
  data_ = p;
}

Tensor Tensor::borrow(DType dtype, Shape shape, void *data) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = data;
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (numElements(shape) != numel())
    throw Error("reshape of " + shapeToString(shape_) + " to " + shapeToString(shape) +
                " changes the element count");
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

int64_t Tensor::intAt(int64_t i) const {
  if (i < 0 || i >= numel())
    throw Error("intAt(" + std::to_string(i) + ") out of range for shape " + shapeToString(shape_));
  switch (dtype_) {
  case DType::I64: return data<int64_t>()[i];
  case DType::I32: return data<int32_t>()[i];
  case DType::I8: return data<int8_t>()[i];
  case DType::U8: return data<uint8_t>()[i];
  case DType::Bool: return data<uint8_t>()[i] != 0;
  default: throw Error(std::string("expected an integer tensor, got ") + dtypeName(dtype_));
  }
}

std::vector<int64_t> Tensor::toInts() const {
  std::vector<int64_t> v(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) v[static_cast<size_t>(i)] = intAt(i);
  return v;
}

static uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16ToF32(uint16_t h) {
  uint32_t sign = (uint32_t(h) & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ffu;
  if (exp == 0x1f) return floatOf(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    // zero or subnormal: man * 2^-24
    float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  return floatOf(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t f32ToF16(float f) {
  uint32_t u = bitsOf(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t absu = u & 0x7fffffffu;
  if (absu >= 0x7f800000u) // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00u | (absu > 0x7f800000u ? 0x200u : 0u));
  if (absu >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u); // rounds to inf
  int32_t exp = static_cast<int32_t>(absu >> 23) - 127;
  if (exp < -14) {
    // subnormal half: value / 2^-24, rounded to nearest even
    float a = floatOf(absu);
    float q = std::nearbyint(std::ldexp(a, 24));
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(q));
  }
  uint32_t man = absu & 0x7fffffu;
  uint32_t h = (static_cast<uint32_t>(exp + 15) << 10) | (man >> 13);
  uint32_t rest = man & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h; // may carry into exponent: fine
  return static_cast<uint16_t>(sign | h);
}

float bf16ToF32(uint16_t b) { return floatOf(uint32_t(b) << 16); }

uint16_t f32ToBf16(float f) {
  uint32_t u = bitsOf(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u); // quiet nan
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

} // namespace resa
