// Moving tokens in and out of the paged KV pools on the device (layout:
// resa/kernels/PagedKV.h), for the runtime's CUDA KV storage
// (runtime/src/cuda/CudaKVStorage.h). Elements are 16-bit (bf16 or f16);
// `slots` are device arrays of page * pageSize + slot, as
// KVCache::slotMapping() writes them. shape.numKvHeads, headDim and
// pageSize are used. Enqueued on `stream`, never synchronise.
#pragma once

#include "resa/cuda/DecodeAttention.h"
#include "resa/kernels/PagedKV.h"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace resa::gpu {

// Token i of k and v ([numTokens][numKvHeads][headDim]) goes to slot
// slots[i] % pageSize of page slots[i] / pageSize of kCache and vCache.
cudaError_t scatterKVTokens(const PagedAttentionShape &shape, const int32_t *slots,
                            int64_t numTokens, const void *k, const void *v, void *kCache,
                            void *vCache, cudaStream_t stream);

// The reverse, converted to fp32: k and v [numTokens][numKvHeads][headDim].
cudaError_t gatherKVTokens(const PagedAttentionShape &shape, KVDType dtype, const int32_t *slots,
                           int64_t numTokens, const void *kCache, const void *vCache, float *k,
                           float *v, cudaStream_t stream);

// Sets `count` 16-bit elements to the bit pattern `bits` (cudaMemset sets bytes).
cudaError_t fill16(void *dst, uint16_t bits, int64_t count, cudaStream_t stream);

} // namespace resa::gpu
