// The device side of the kernel interface (resa/kernels/Kernel.h is the host
// side): tensors in device memory, the allocator kernels take their outputs
// from, and the registry of CUDA kernels by name. The runtime's CUDA executor
// (runtime/src/cuda/) runs a package's steps through it.
//
// Dtypes on the device: every floating-point activation is stored in the
// package's compute type (bf16 or f16), except what a kernel documents as
// fp32 (resa.logits writes fp32 logits); kernels accumulate in fp32 and
// accept f32, bf16 and f16 inputs. Integer tensors keep their ONNX type.
//
// Small integer tensors that steer a kernel (Reshape's shape, Slice's starts,
// Unsqueeze's axes, ...) come from constants or shape arithmetic, which the
// executor evaluates on the host: a kernel reads them from
// DeviceKernelArgs::host, never from device memory (no host sync in a step).
#pragma once

#include "resa/kernels/Kernel.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <cuda_runtime_api.h>

struct cublasLtContext;

namespace resa::gpu {

// Throws resa::Error "<what>: <CUDA error string>" unless err is cudaSuccess.
void checkCuda(cudaError_t err, const std::string &what);

// The float dtypes device kernels compute on.
inline bool isFloatDType(DType t) { return t == DType::F32 || t == DType::BF16 || t == DType::F16; }

// A contiguous row-major tensor in device memory. Owns its bytes through a
// shared buffer (views such as Reshape alias without a copy) or borrows them.
class DeviceTensor {
public:
  DeviceTensor() = default;
  DeviceTensor(DType dtype, Shape shape, std::shared_ptr<void> owner, void *data);
  static DeviceTensor borrow(DType dtype, Shape shape, void *data);
  // Same bytes, another shape with the same element count.
  DeviceTensor reshaped(Shape shape) const;
  // The contiguous elements [offset, offset + numel(shape)) as `shape`.
  DeviceTensor view(Shape shape, int64_t offset) const;

  DType dtype() const { return dtype_; }
  const Shape &shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_.at(static_cast<size_t>(i)); }
  int64_t numel() const { return numElements(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtypeSize(dtype_); }
  bool defined() const { return data_ != nullptr || numel() == 0; }
  void *raw() const { return data_; }
  template <typename T> T *data() const { return static_cast<T *>(data_); }

private:
  DType dtype_ = DType::F32;
  Shape shape_;
  std::shared_ptr<void> owner_;
  void *data_ = nullptr;
};

// Device memory for kernel outputs and scratch: a caching allocator. Freed
// blocks are kept by rounded size and handed out again, so a step that
// repeats (a decode step) stops calling cudaMalloc after its first run, and
// replays the same addresses (what CUDA graph capture needs). Not thread-safe:
// one allocator per executor (per stream).
class DeviceAllocator {
public:
  explicit DeviceAllocator(int device = -1);
  ~DeviceAllocator();
  DeviceAllocator(const DeviceAllocator &) = delete;
  DeviceAllocator &operator=(const DeviceAllocator &) = delete;

  // Uninitialised storage, 256-byte aligned; released back to the cache when
  // the last DeviceTensor sharing it goes. Throws resa::Error naming the
  // bytes asked for when the device is out of memory.
  DeviceTensor allocate(DType dtype, Shape shape);
  // Raw scratch of `bytes` (same caching).
  std::shared_ptr<void> allocateBytes(size_t bytes);
  size_t bytesInUse() const { return inUse_; }
  size_t bytesCached() const { return cached_; }
  size_t mallocCalls() const { return mallocs_; }

private:
  struct Pool;
  std::shared_ptr<Pool> pool_; // outlives the tensors that point into it
  size_t inUse_ = 0, cached_ = 0, mallocs_ = 0;
  friend struct Pool;
};

// What every device kernel call gets besides its inputs.
struct DeviceContext {
  cudaStream_t stream = nullptr;
  DeviceAllocator *alloc = nullptr;
  cublasLtContext *blasLt = nullptr; // a cublasLtHandle_t (resa/cuda/Gemm.h)
  void *blasWorkspace = nullptr;     // for cuBLASLt
  size_t blasWorkspaceBytes = 0;
  int device = 0;
};

// Outputs a projection left as fp32 partial products over slices of its
// inner dimension, for the step that reads them to add up (a decode step's
// fused q/k/v projection, resa.multi_linear: cuBLASLt's GEMM of a few rows
// runs faster cut along K, and the rotary append that reads q, k and v sums
// the slices as it goes instead of a reduction kernel before it). The
// outputs exist (allocated, or views of one buffer) but hold nothing until
// the consumer writes the sums into them, or sumSlicedOutputs does.
struct SlicedOutputs {
  static constexpr int kMaxOutputs = 4;
  // fp32 [slices][rows][width], or one product [1][rows][width] of outType;
  // undefined: nothing pending.
  DeviceTensor parts;
  int64_t rows = 0, width = 0;
  int slices = 0, count = 0;
  int64_t columns[kMaxOutputs] = {}; // output i: the next columns[i] columns of a row
  const void *bias[kMaxOutputs] = {}; // [columns[i]] added to the sum, or null
  DType biasType[kMaxOutputs] = {};
  void *out[kMaxOutputs] = {};        // output i [rows][columns[i]], of outType
  DType outType = DType::F32;
};

// Writes every output of `s` (sum of the slices plus bias, rounded to
// outType) on ctx.stream.
void sumSlicedOutputs(DeviceContext &ctx, const SlicedOutputs &s);

struct DeviceKernelArgs {
  // Device inputs in ONNX order; null for an omitted optional input.
  std::vector<const DeviceTensor *> inputs;
  // The host copy of each input, where the executor has one (constants,
  // shape arithmetic, positions); null otherwise.
  std::vector<const Tensor *> host;
  const Attrs *attrs = nullptr;
  int64_t opset = 18;
  size_t numOutputs = 1;
  DeviceContext *ctx = nullptr;
  // Non-null: the kernel may leave its outputs as partial products here
  // (SlicedOutputs) for the next step that reads them, which the executor
  // has made sure sums them; resa.multi_linear's fused form does in a decode
  // step.
  SlicedOutputs *deferSum = nullptr;

  const DeviceTensor *input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  // Throws resa::Error when input i is missing.
  const DeviceTensor &required(size_t i) const;
  // Input i's host copy; throws naming the input when there is none (the
  // value is computed on the device, and the kernel needs it on the host).
  const Tensor &requiredHost(size_t i) const;
};

// Enqueues the kernel on args.ctx->stream and allocates its outputs from
// args.ctx->alloc. Never synchronises. Throws resa::Error on bad inputs.
using DeviceKernelFn = void (*)(const DeviceKernelArgs &args, std::vector<DeviceTensor> &outputs);

// The CUDA kernel for `name` (the same names as findCpuKernel), or null.
DeviceKernelFn findCudaKernel(std::string_view name);
// Every CUDA kernel name, sorted.
std::vector<std::string> cudaKernelNames();

// The registry is one table assembled from the kernel files (Registry.cpp):
// each contributes its entries through one of these.
struct DeviceKernelEntry {
  const char *name;
  DeviceKernelFn fn;
};
void addElementwiseKernels(std::vector<DeviceKernelEntry> &table); // ops/Elementwise.cu
void addMovementKernels(std::vector<DeviceKernelEntry> &table);    // ops/Movement.cu
void addLayerKernels(std::vector<DeviceKernelEntry> &table);       // ops/Layers.cu

// Conversions the executor needs when it moves values between host and
// device: host f32/f16/bf16 -> device `to` (a float type), and device float
// -> host f32. Integer and bool tensors are copied as they are.
DeviceTensor upload(const Tensor &host, DType floatType, DeviceContext &ctx);
Tensor download(const DeviceTensor &dev, DeviceContext &ctx); // synchronises the stream

} // namespace resa::gpu
