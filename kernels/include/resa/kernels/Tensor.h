// Tensors as the kernels and the runtime see them: a dtype, a shape and a
// contiguous row-major buffer. No MLIR, no protobuf: this header is the
// boundary between the runtime and every kernel backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace resa {

// Every failure the runtime and the kernels report is one of these; the
// message is meant to be printed as is, on one line.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Values match ONNX TensorProto.DataType so that the importer and the package
// need no translation table.
enum class DType : int32_t {
  F32 = 1,
  U8 = 2,
  I8 = 3,
  I32 = 6,
  I64 = 7,
  Bool = 9,
  F16 = 10,
  F64 = 11,
  BF16 = 16,
};

size_t dtypeSize(DType t);
const char *dtypeName(DType t);

using Shape = std::vector<int64_t>;

int64_t numElements(const Shape &s);
std::string shapeToString(const Shape &s);

// IEEE half and bfloat16 conversions (round to nearest even, NaN preserved).
float f16ToF32(uint16_t h);
uint16_t f32ToF16(float f);
float bf16ToF32(uint16_t b);
uint16_t f32ToBf16(float f);

// A tensor owns its bytes through a shared buffer (so views such as Reshape
// can alias without copying) or borrows them from memory that outlives it
// (weights mapped from a package).
class Tensor {
public:
  Tensor() = default;
  // Allocates zero-initialised storage.
  Tensor(DType dtype, Shape shape);
  // Borrows `data`; the caller keeps it alive.
  static Tensor borrow(DType dtype, Shape shape, void *data);
  // Same bytes, another shape with the same element count.
  Tensor reshaped(Shape shape) const;

  DType dtype() const { return dtype_; }
  const Shape &shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_.at(static_cast<size_t>(i)); }
  int64_t numel() const { return numElements(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtypeSize(dtype_); }
  bool defined() const { return data_ != nullptr || numel() == 0; }

  void *raw() const { return data_; }
  template <typename T> T *data() const { return static_cast<T *>(data_); }

  // Reads element i (row-major) of an integer tensor as int64; used for the
  // small shape/index tensors that steer kernels (Reshape's shape, axes...).
  int64_t intAt(int64_t i) const;
  std::vector<int64_t> toInts() const;

private:
  DType dtype_ = DType::F32;
  Shape shape_;
  std::shared_ptr<void> owner_;
  void *data_ = nullptr;
};

} // namespace resa
