// The paged KV cache's pools on a CUDA device: per layer K, V [numPages]
// [numKvHeads][pageSize][headDim] and, when the config keeps summaries, kmin,
// kmax [numPages][numKvHeads][headDim] (resa/kernels/PagedKV.h), all in bf16
// or f16, so the attention kernels (resa/cuda/PagedAttention.h) read them in
// place. KVCache keeps the bookkeeping; this class only moves data.
//
// Everything is enqueued on the stream given at construction, in stream
// order with the kernels that read the pools. writeTokens, updateSummaries
// and copyPage never wait for the device: their host arrays (slot mappings,
// summary updates) are copied into member vectors and sent with
// cudaMemcpyAsync from there (the driver stages a pageable source before the
// call returns, and the member copy lets the next layer's call, which gets
// the same array, skip the upload). readTokens synchronises the stream.
#pragma once

#include "resa/cuda/DecodeAttention.h"
#include "resa/runtime/KVCache.h"

#include <cstddef>
#include <cstdint>
#include <vector>

#include <cuda_runtime_api.h>

namespace resa {

class CudaKVStorage final : public KVStorage {
public:
  // Allocates and initialises the pools (K and V zero, kmin +inf, kmax -inf,
  // as CpuKVStorage; no kmin/kmax without summaries) on the current device;
  // waits until they are ready.
  // Failure to allocate is a resa::Error giving the GiB asked for.
  CudaKVStorage(const KVCacheConfig &config, gpu::KVDType dtype, cudaStream_t stream);
  ~CudaKVStorage() override;
  CudaKVStorage(const CudaKVStorage &) = delete;
  CudaKVStorage &operator=(const CudaKVStorage &) = delete;

  gpu::KVDType dtype() const { return dtype_; }

  bool hostF32() const override { return false; }
  void copyPage(int32_t src, int32_t dst) override;
  // k and v: device [numTokens][numKvHeads][headDim] in the pools' dtype.
  void writeTokens(int layer, const int32_t *slotMapping, int64_t numTokens, const void *k,
                   const void *v) override;
  void updateSummaries(int layer, const KVSummaryUpdate *updates, size_t count) override;
  void readTokens(int layer, const int32_t *slotMapping, int64_t numTokens, float *k,
                  float *v) const override;
  // The slot mapping on the device, as writeTokens reads it (the graph's
  // table while useDeviceTables holds one, else uploaded): for a kernel that
  // writes the tokens itself (KVCache::writeLayerWith).
  const int32_t *slotsOnDevice(const int32_t *slotMapping, int64_t numTokens);
  // The summary updates on the device, as updateSummaries reads them: for a
  // kernel that refreshes the summaries itself
  // (KVCache::writeLayerAndSummariesWith).
  const KVSummaryUpdate *updatesOnDevice(const KVSummaryUpdate *updates, size_t count);
  // While set (a CUDA graph capture), writeTokens and updateSummaries read
  // their tables from these device arrays, which the caller refreshes before
  // every replay, instead of uploading the host ones (an upload would be
  // baked into the graph). Null: upload (eager calls).
  void useDeviceTables(const int32_t *slots, const KVSummaryUpdate *updates) {
    deviceSlots_ = slots;
    deviceUpdates_ = updates;
  }
  // Device pointers, 256-byte aligned (keyMin, keyMax: null without
  // summaries).
  void *keys(int layer) override { return at(layer, 0); }
  void *values(int layer) override { return at(layer, 1); }
  void *keyMin(int layer) override { return at(layer, 2); }
  void *keyMax(int layer) override { return at(layer, 3); }

private:
  // A device array that grows (stream-ordered allocations, so growing does
  // not synchronise) and remembers what it holds.
  template <typename T> struct Staged {
    std::vector<T> host;
    void *device = nullptr;
    size_t capacity = 0; // elements
  };
  template <typename T>
  const T *upload(Staged<T> &staged, const T *data, size_t count, const char *what);
  void *at(int layer, int which) const;
  PagedAttentionShape shape() const;

  KVCacheConfig c_;
  gpu::KVDType dtype_;
  cudaStream_t stream_;
  void *pools_ = nullptr; // one allocation: per layer K, V, kmin, kmax (K, V alone
                          // without summaries: summaryBytes_ 0)
  size_t poolBytes_ = 0, summaryBytes_ = 0, layerBytes_ = 0;
  Staged<int32_t> slots_;
  Staged<KVSummaryUpdate> updates_;
  const int32_t *deviceSlots_ = nullptr;
  const KVSummaryUpdate *deviceUpdates_ = nullptr;
};

} // namespace resa
