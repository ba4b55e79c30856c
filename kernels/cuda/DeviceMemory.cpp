// Device tensors, the caching allocator, kernel-argument accessors and the
// host <-> device transfers of resa/cuda/DeviceKernel.h.
#include "resa/cuda/DeviceKernel.h"

#include "ops/Convert.h"

#include <cuda_runtime.h>

#include <limits>
#include <map>
#include <string>

namespace resa::gpu {

void checkCuda(cudaError_t err, const std::string &what) {
  if (err == cudaSuccess) return;
  // Clear a non-sticky error so that the next check does not report it again.
  (void)cudaGetLastError();
  throw Error(what + ": " + cudaGetErrorString(err));
}

// ---- DeviceTensor -----------------------------------------------------------

DeviceTensor::DeviceTensor(DType dtype, Shape shape, std::shared_ptr<void> owner, void *data)
    : dtype_(dtype), shape_(std::move(shape)), owner_(std::move(owner)), data_(data) {}

DeviceTensor DeviceTensor::borrow(DType dtype, Shape shape, void *data) {
  return DeviceTensor(dtype, std::move(shape), nullptr, data);
}

DeviceTensor DeviceTensor::reshaped(Shape shape) const {
  if (numElements(shape) != numel())
    throw Error("cannot view a device tensor of shape " + shapeToString(shape_) + " as " +
                shapeToString(shape) + ": the element count differs");
  return DeviceTensor(dtype_, std::move(shape), owner_, data_);
}

DeviceTensor DeviceTensor::view(Shape shape, int64_t offset) const {
  if (offset < 0 || offset + numElements(shape) > numel())
    throw Error("cannot view elements from " + std::to_string(offset) + " of a device tensor of shape " +
                shapeToString(shape_) + " as " + shapeToString(shape));
  return DeviceTensor(dtype_, std::move(shape), owner_,
                      static_cast<char *>(data_) + offset * static_cast<int64_t>(dtypeSize(dtype_)));
}

// ---- DeviceAllocator --------------------------------------------------------

namespace {

constexpr size_t kSmallQuantum = 512;           // sizes below kLargeFrom round up to this
constexpr size_t kLargeFrom = size_t(1) << 20;  // 1 MiB
constexpr size_t kLargeQuantum = size_t(2) << 20; // sizes from 1 MiB round up to 2 MiB

// Makes `device` current for its scope (cudaMalloc/cudaFree act on the
// current device), restoring the caller's afterwards.
class DeviceGuard {
public:
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&prev_) == cudaSuccess && prev_ != device)
      switched_ = cudaSetDevice(device) == cudaSuccess;
  }
  ~DeviceGuard() {
    if (switched_) (void)cudaSetDevice(prev_);
  }
  DeviceGuard(const DeviceGuard &) = delete;
  DeviceGuard &operator=(const DeviceGuard &) = delete;

private:
  int prev_ = 0;
  bool switched_ = false;
};

} // namespace

// The cache itself. Every buffer handed out holds a shared_ptr to it in its
// deleter, so a buffer freed after its allocator is gone still finds it (and
// then goes straight back to cudaFree).
struct DeviceAllocator::Pool {
  int device = 0;
  DeviceAllocator *owner = nullptr; // null once the allocator is destroyed
  std::multimap<size_t, void *> cache; // rounded size -> free block

  static size_t rounded(size_t bytes) {
    const size_t q = bytes < kLargeFrom ? kSmallQuantum : kLargeQuantum;
    return (bytes + q - 1) / q * q;
  }

  [[noreturn]] static void outOfMemory(size_t bytes, const DeviceAllocator &a) {
    throw Error("CUDA: out of device memory allocating " + std::to_string(bytes) + " bytes (in use " +
                std::to_string(a.inUse_) + ", cached " + std::to_string(a.cached_) + ")");
  }

  // A block of exactly `size` bytes (already rounded): from the cache, else
  // from cudaMalloc; on out-of-memory the cache is released once and the
  // allocation retried.
  void *acquire(DeviceAllocator &a, size_t size, size_t requested) {
    if (auto it = cache.find(size); it != cache.end()) {
      void *p = it->second;
      cache.erase(it);
      a.cached_ -= size;
      a.inUse_ += size;
      return p;
    }
    DeviceGuard guard(device);
    void *p = nullptr;
    cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      releaseCache(a);
      err = cudaMalloc(&p, size);
      if (err == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        outOfMemory(requested, a);
      }
    }
    checkCuda(err, "cudaMalloc of " + std::to_string(size) + " bytes");
    ++a.mallocs_;
    a.inUse_ += size;
    return p;
  }

  // Called by the deleter of every block handed out; never throws.
  void release(void *p, size_t size) {
    if (owner) {
      cache.emplace(size, p);
      owner->inUse_ -= size;
      owner->cached_ += size;
    } else {
      DeviceGuard guard(device);
      (void)cudaFree(p);
    }
  }

  void releaseCache(DeviceAllocator &a) {
    DeviceGuard guard(device);
    for (const auto &[size, p] : cache) (void)cudaFree(p);
    cache.clear();
    a.cached_ = 0;
  }
};

DeviceAllocator::DeviceAllocator(int device) : pool_(std::make_shared<Pool>()) {
  if (device < 0) checkCuda(cudaGetDevice(&device), "cudaGetDevice");
  pool_->device = device;
  pool_->owner = this;
}

DeviceAllocator::~DeviceAllocator() {
  pool_->releaseCache(*this);
  pool_->owner = nullptr;
}

std::shared_ptr<void> DeviceAllocator::allocateBytes(size_t bytes) {
  if (bytes == 0) return nullptr;
  if (bytes > std::numeric_limits<size_t>::max() - kLargeQuantum) Pool::outOfMemory(bytes, *this);
  const size_t size = Pool::rounded(bytes);
  void *p = pool_->acquire(*this, size, bytes);
  std::shared_ptr<Pool> pool = pool_;
  return std::shared_ptr<void>(p, [pool, size](void *q) { pool->release(q, size); });
}

DeviceTensor DeviceAllocator::allocate(DType dtype, Shape shape) {
  const size_t elem = dtypeSize(dtype);
  size_t bytes = elem;
  for (int64_t d : shape) {
    if (d < 0) throw Error("cannot allocate a device tensor of shape " + shapeToString(shape));
    const auto ud = static_cast<size_t>(d);
    if (ud != 0 && bytes > std::numeric_limits<size_t>::max() / ud)
      throw Error("CUDA: out of device memory allocating a tensor of shape " + shapeToString(shape));
    bytes *= ud;
  }
  std::shared_ptr<void> owner = allocateBytes(bytes);
  void *data = owner.get();
  return DeviceTensor(dtype, std::move(shape), std::move(owner), data);
}

// ---- DeviceKernelArgs -------------------------------------------------------

const DeviceTensor &DeviceKernelArgs::required(size_t i) const {
  const DeviceTensor *t = input(i);
  if (!t) throw Error("missing required input " + std::to_string(i));
  return *t;
}

const Tensor &DeviceKernelArgs::requiredHost(size_t i) const {
  if (i < host.size() && host[i]) return *host[i];
  if (!input(i)) throw Error("missing required input " + std::to_string(i));
  throw Error("input " + std::to_string(i) +
              " is computed on the device, but the kernel needs its value on the host");
}

// ---- transfers --------------------------------------------------------------

namespace {

bool isFloat(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64; }

DeviceAllocator &allocatorOf(const DeviceContext &ctx, const char *what) {
  if (!ctx.alloc) throw Error(std::string(what) + ": the device context has no allocator");
  return *ctx.alloc;
}

} // namespace

// The host bytes may go as soon as this returns: cudaMemcpyAsync from
// pageable memory returns once it has staged them.
DeviceTensor upload(const Tensor &host, DType floatType, DeviceContext &ctx) {
  DeviceAllocator &alloc = allocatorOf(ctx, "upload");
  if (!host.defined()) throw Error("upload: the host tensor has no data");
  DType to = host.dtype();
  if (isFloat(host.dtype())) {
    if (floatType != DType::F32 && floatType != DType::F16 && floatType != DType::BF16)
      throw Error(std::string("upload: ") + dtypeName(floatType) + " is not a device float type");
    to = floatType;
  }
  DeviceTensor dev = alloc.allocate(to, host.shape());
  if (host.numel() == 0) return dev;
  if (to == host.dtype()) {
    checkCuda(cudaMemcpyAsync(dev.raw(), host.raw(), host.nbytes(), cudaMemcpyHostToDevice, ctx.stream),
              "upload");
    return dev;
  }
  // Copy as is, convert on the device; the staging block returns to the
  // cache at once, which is safe: its next user is ordered after the
  // conversion on the same stream.
  std::shared_ptr<void> staging = alloc.allocateBytes(host.nbytes());
  checkCuda(cudaMemcpyAsync(staging.get(), host.raw(), host.nbytes(), cudaMemcpyHostToDevice, ctx.stream),
            "upload");
  convertOnDevice(staging.get(), host.dtype(), dev.raw(), to, host.numel(), ctx.stream);
  return dev;
}

Tensor download(const DeviceTensor &dev, DeviceContext &ctx) {
  DeviceAllocator &alloc = allocatorOf(ctx, "download");
  if (!dev.defined()) throw Error("download: the device tensor has no data");
  const DType to = isFloat(dev.dtype()) ? DType::F32 : dev.dtype();
  Tensor host(to, dev.shape());
  if (host.numel() > 0) {
    const void *src = dev.raw();
    std::shared_ptr<void> staging;
    if (to != dev.dtype()) {
      staging = alloc.allocateBytes(host.nbytes());
      convertOnDevice(dev.raw(), dev.dtype(), staging.get(), to, dev.numel(), ctx.stream);
      src = staging.get();
    }
    checkCuda(cudaMemcpyAsync(host.raw(), src, host.nbytes(), cudaMemcpyDeviceToHost, ctx.stream), "download");
  }
  checkCuda(cudaStreamSynchronize(ctx.stream), "download");
  return host;
}

} // namespace resa::gpu
