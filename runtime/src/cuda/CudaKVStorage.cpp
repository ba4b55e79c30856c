// The KV pools on a CUDA device: see CudaKVStorage.h.
#include "cuda/CudaKVStorage.h"

#include "resa/cuda/BlockSparse.h"
#include "resa/cuda/DeviceKernel.h"
#include "resa/cuda/PagedKVCopy.h"
#include "resa/kernels/Tensor.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>

namespace resa {
namespace {

using gpu::checkCuda;

constexpr size_t kAlign = 256;
size_t alignUp(size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

// Bit patterns of +inf and -inf: an empty summary (every key is below kmin
// and above kmax), as in CpuKVStorage; the summary kernels reset a page to
// the same values when they recompute it from slot 0.
uint16_t plusInf(gpu::KVDType t) { return t == gpu::KVDType::BF16 ? 0x7f80 : 0x7c00; }
uint16_t minusInf(gpu::KVDType t) { return t == gpu::KVDType::BF16 ? 0xff80 : 0xfc00; }
const char *dtypeName(gpu::KVDType t) { return t == gpu::KVDType::BF16 ? "bf16" : "f16"; }

// Stream-ordered scratch, released (in stream order) when it goes.
struct AsyncScratch {
  void *p = nullptr;
  cudaStream_t stream;
  AsyncScratch(size_t bytes, cudaStream_t s, const char *what) : stream(s) {
    checkCuda(cudaMallocAsync(&p, bytes, stream), what);
  }
  ~AsyncScratch() { (void)cudaFreeAsync(p, stream); }
  AsyncScratch(const AsyncScratch &) = delete;
  AsyncScratch &operator=(const AsyncScratch &) = delete;
};

} // namespace

CudaKVStorage::CudaKVStorage(const KVCacheConfig &config, gpu::KVDType dtype, cudaStream_t stream)
    : c_(config), dtype_(dtype), stream_(stream) {
  c_.validate();
  poolBytes_ = alignUp(static_cast<size_t>(c_.poolElements()) * 2);
  // Without summaries a layer is its K and V alone.
  summaryBytes_ = c_.summaries ? alignUp(static_cast<size_t>(c_.summaryElements()) * 2) : 0;
  layerBytes_ = 2 * poolBytes_ + 2 * summaryBytes_;
  size_t total = 0;
  const bool overflow =
      __builtin_mul_overflow(layerBytes_, static_cast<size_t>(c_.numLayers), &total);
  if (overflow || cudaMalloc(&pools_, total) != cudaSuccess) {
    (void)cudaGetLastError();
    pools_ = nullptr;
    char gib[32];
    std::snprintf(gib, sizeof gib, "%.2f",
                  static_cast<double>(layerBytes_) * c_.numLayers / (1 << 30));
    throw Error(std::string("KV cache: cannot allocate ") + gib + " GiB of " + dtypeName(dtype) +
                " device pools (" + std::to_string(c_.numLayers) + " layers x " +
                std::to_string(c_.numPages) + " pages)");
  }
  try {
    checkCuda(cudaMemsetAsync(pools_, 0, total, stream_), "KV cache: clearing the device pools");
    for (int l = 0; c_.summaries && l < c_.numLayers; ++l) {
      checkCuda(gpu::fill16(keyMin(l), plusInf(dtype_), c_.summaryElements(), stream_),
                "KV cache: initialising kmin");
      checkCuda(gpu::fill16(keyMax(l), minusInf(dtype_), c_.summaryElements(), stream_),
                "KV cache: initialising kmax");
    }
    checkCuda(cudaStreamSynchronize(stream_), "KV cache: initialising the device pools");
  } catch (...) {
    (void)cudaFree(pools_);
    throw;
  }
}

CudaKVStorage::~CudaKVStorage() {
  for (void *p : {slots_.device, updates_.device})
    if (p)
      (void)cudaFreeAsync(p, stream_);
  (void)cudaStreamSynchronize(stream_);
  (void)cudaFree(pools_);
  (void)cudaGetLastError(); // no stale error for the next caller to find
}

// A layer's K, V, kmin and kmax (which = 0..3) lie one after the other; kmin
// and kmax are null without summaries.
void *CudaKVStorage::at(int layer, int which) const {
  if (which >= 2 && !c_.summaries)
    return nullptr;
  const size_t w = static_cast<size_t>(which);
  const size_t offset = w < 2 ? w * poolBytes_ : 2 * poolBytes_ + (w - 2) * summaryBytes_;
  return static_cast<char *>(pools_) + static_cast<size_t>(layer) * layerBytes_ + offset;
}

PagedAttentionShape CudaKVStorage::shape() const {
  PagedAttentionShape s;
  s.numQHeads = s.numKvHeads = c_.numKvHeads;
  s.headDim = c_.headDim;
  s.pageSize = c_.pageSize;
  s.numPages = static_cast<int32_t>(c_.numPages);
  return s;
}

template <typename T>
const T *CudaKVStorage::upload(Staged<T> &staged, const T *data, size_t count, const char *what) {
  if (staged.device && staged.host.size() == count &&
      std::memcmp(staged.host.data(), data, count * sizeof(T)) == 0)
    return static_cast<const T *>(staged.device); // the previous call's array, still there
  staged.host.clear();
  if (count > staged.capacity) {
    if (staged.device)
      checkCuda(cudaFreeAsync(staged.device, stream_), what);
    staged.device = nullptr;
    const size_t capacity = std::max(count, 2 * staged.capacity);
    staged.capacity = 0;
    checkCuda(cudaMallocAsync(&staged.device, capacity * sizeof(T), stream_), what);
    staged.capacity = capacity;
  }
  staged.host.assign(data, data + count);
  const cudaError_t err = cudaMemcpyAsync(staged.device, staged.host.data(), count * sizeof(T),
                                          cudaMemcpyHostToDevice, stream_);
  if (err != cudaSuccess)
    staged.host.clear();
  checkCuda(err, what);
  return static_cast<const T *>(staged.device);
}

void CudaKVStorage::copyPage(int32_t src, int32_t dst) {
  const size_t page = static_cast<size_t>(c_.numKvHeads) * c_.pageSize * c_.headDim * 2;
  const size_t summary = static_cast<size_t>(c_.numKvHeads) * c_.headDim * 2;
  const int pools = c_.summaries ? 4 : 2; // K, V (, kmin, kmax)
  for (int l = 0; l < c_.numLayers; ++l)
    for (int which = 0; which < pools; ++which) {
      const size_t bytes = which < 2 ? page : summary;
      char *base = static_cast<char *>(at(l, which));
      checkCuda(cudaMemcpyAsync(base + dst * bytes, base + src * bytes, bytes,
                                cudaMemcpyDeviceToDevice, stream_),
                "KV cache: copying page " + std::to_string(src) + " to " + std::to_string(dst));
    }
}

const int32_t *CudaKVStorage::slotsOnDevice(const int32_t *slotMapping, int64_t numTokens) {
  return deviceSlots_ ? deviceSlots_
                      : upload(slots_, slotMapping, static_cast<size_t>(numTokens),
                               "KV cache: uploading the slot mapping");
}

const KVSummaryUpdate *CudaKVStorage::updatesOnDevice(const KVSummaryUpdate *updates,
                                                      size_t count) {
  return deviceUpdates_ ? deviceUpdates_
                        : upload(updates_, updates, count, "KV cache: uploading summary updates");
}

void CudaKVStorage::writeTokens(int layer, const int32_t *slotMapping, int64_t numTokens,
                                const void *k, const void *v) {
  if (numTokens <= 0)
    return;
  const int32_t *slots = slotsOnDevice(slotMapping, numTokens);
  checkCuda(gpu::scatterKVTokens(shape(), slots, numTokens, k, v, keys(layer), values(layer),
                                 stream_),
            "KV cache: writing " + std::to_string(numTokens) + " tokens");
}

void CudaKVStorage::updateSummaries(int layer, const KVSummaryUpdate *updates, size_t count) {
  static_assert(sizeof(KVSummaryUpdate) == sizeof(gpu::BlockSummaryUpdate) &&
                    offsetof(KVSummaryUpdate, from) == offsetof(gpu::BlockSummaryUpdate, from) &&
                    offsetof(KVSummaryUpdate, valid) == offsetof(gpu::BlockSummaryUpdate, valid),
                "the summary kernels read the runtime's updates as they are");
  if (count == 0)
    return;
  if (!c_.summaries)
    throw Error("KV cache: internal error: " + std::to_string(count) +
                " summary updates for a cache that keeps no block summaries");
  if (count > static_cast<size_t>(INT32_MAX))
    throw Error("KV cache: " + std::to_string(count) + " summary updates in one call");
  const KVSummaryUpdate *dev = updatesOnDevice(updates, count);
  gpu::BlockSummaryArgs args;
  args.kCache = keys(layer);
  args.kmin = keyMin(layer);
  args.kmax = keyMax(layer);
  checkCuda(gpu::updateBlockSummaries(shape(), dtype_, args,
                                      reinterpret_cast<const gpu::BlockSummaryUpdate *>(dev),
                                      static_cast<int32_t>(count), stream_),
            "KV cache: updating block summaries");
}

void CudaKVStorage::readTokens(int layer, const int32_t *slotMapping, int64_t numTokens, float *k,
                               float *v) const {
  if (numTokens <= 0)
    return;
  const size_t n = static_cast<size_t>(numTokens) * c_.numKvHeads * c_.headDim;
  const size_t slotBytes = alignUp(static_cast<size_t>(numTokens) * sizeof(int32_t));
  const size_t rowsBytes = alignUp(n * sizeof(float));
  AsyncScratch scratch(slotBytes + 2 * rowsBytes, stream_, "KV cache: reading tokens");
  char *base = static_cast<char *>(scratch.p);
  int32_t *slots = reinterpret_cast<int32_t *>(base);
  float *dk = reinterpret_cast<float *>(base + slotBytes);
  float *dv = reinterpret_cast<float *>(base + slotBytes + rowsBytes);
  checkCuda(cudaMemcpyAsync(slots, slotMapping, static_cast<size_t>(numTokens) * sizeof(int32_t),
                            cudaMemcpyHostToDevice, stream_),
            "KV cache: reading tokens");
  checkCuda(gpu::gatherKVTokens(shape(), dtype_, slots, numTokens, at(layer, 0), at(layer, 1), dk,
                                dv, stream_),
            "KV cache: reading tokens");
  checkCuda(cudaMemcpyAsync(k, dk, n * sizeof(float), cudaMemcpyDeviceToHost, stream_),
            "KV cache: reading tokens");
  checkCuda(cudaMemcpyAsync(v, dv, n * sizeof(float), cudaMemcpyDeviceToHost, stream_),
            "KV cache: reading tokens");
  checkCuda(cudaStreamSynchronize(stream_), "KV cache: reading tokens");
}

} // namespace resa
