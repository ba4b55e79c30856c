// The KV-cache steps of one cached-program call on CUDA (resa.cache_write,
// resa.cache_attention, resa.block_select, resa.block_attention): the device
// counterpart of the CPU backend's forward context. The KV cache's forward is
// open over the call's B sequences, whose new tokens all start at `start`.
#pragma once

#include "resa/cuda/DeviceKernel.h"
#include "resa/cuda/PagedAttention.h"
#include "resa/runtime/KVCache.h"

#include <map>

namespace resa::cuda {

using gpu::DeviceContext;
using gpu::DeviceTensor;

class CudaForward {
public:
  CudaForward(KVCache &cache, gpu::PagedAttentionState &attention, DeviceContext &ctx,
              gpu::KVDType kvType, DType kvElement, int64_t start);

  int64_t start() const { return start_; }
  void cacheWrite(int64_t layer, const DeviceTensor &k, const DeviceTensor &v, const Attrs &attrs);
  DeviceTensor cacheAttention(int64_t layer, const DeviceTensor &q, const DeviceTensor &k,
                              const DeviceTensor &v, const Attrs &attrs);
  DeviceTensor blockSelect(int64_t layer, const DeviceTensor &q, const Attrs &attrs);
  DeviceTensor blockAttention(int64_t layer, const DeviceTensor &q, const DeviceTensor &blocks,
                              const Attrs &attrs);

private:
  // How a [B, H, S, D] ("bhsd") or [B, S, H*D] ("bsd") tensor is laid out.
  struct Layout {
    bool bhsd;
    int64_t batch, heads, len, d;
  };
  Layout layout(const DeviceTensor &t, const Attrs &attrs, const char *headsAttr) const;
  // [B, H, S, D] head-major rows (what the attention kernels read), in the
  // KV element type, and back to the step's layout.
  DeviceTensor headMajor(const DeviceTensor &t, const Layout &l);
  DeviceTensor fromHeadMajor(const DeviceTensor &t, const Layout &l, const Shape &shape);
  // [B * S, H, D] token-major rows (what the cache's writeTokens takes).
  DeviceTensor tokenMajor(const DeviceTensor &t, const Layout &l);
  DeviceTensor inKVType(const DeviceTensor &t);
  DeviceTensor transpose0213(const DeviceTensor &t);
  DeviceTensor ints(const int32_t *data, int64_t n);

  KVCache &cache_;
  gpu::PagedAttentionState &attention_;
  DeviceContext &ctx_;
  gpu::KVDType kvType_;
  DType kvElement_; // the pools' element type: q and the attention outputs use it
  int64_t start_;
  // The forward's batch tables on the device (uploaded at construction).
  DeviceTensor pageTable_, seqLens_, qStarts_, qLens_;
  std::map<int64_t, DeviceTensor> counts_; // per layer, from blockSelect
};

} // namespace resa::cuda
