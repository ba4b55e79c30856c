// Moving tokens in and out of the paged KV pools on the device (layout:
// resa/kernels/PagedKV.h), for the runtime's CUDA KV storage
// (runtime/src/cuda/CudaKVStorage.h). Elements are 16-bit (bf16 or f16);
// `slots` are device arrays of page * pageSize + slot, as
// KVCache::slotMapping() writes them. shape.numKvHeads, headDim and
// pageSize are used. Enqueued on `stream`, never synchronise.
#pragma once

#include "resa/cuda/BlockSparse.h"
#include "resa/cuda/DecodeAttention.h"
#include "resa/kernels/PagedKV.h"
#include "resa/kernels/Tensor.h"

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

// The slices of a fused projection's partial products rotaryAppendDecode
// sums (a constant of the kernel: ops/Layers.cu's kSlicesFor cuts decode
// steps' q/k/v projections into as many).
constexpr int kRotaryAppendSlices = 4;

// A decode step's rotary and K/V append in one launch (one new token per
// sequence): q rotated into qOut, k rotated into the pools at slot slots[b]
// of its sequence b, v copied there, all rounded once to the KV type: what
// resa.multi_rotary (of q and k) then scatterKVTokens store, in one kernel
// instead of two (resa.rotary_cache_attention).
struct RotaryAppendArgs {
  int32_t batch = 0, numQHeads = 0;
  // q [batch][numQHeads][headDim], k and v [batch][numKvHeads][headDim], all
  // of `actType` (F32, BF16 or F16); unused with `sliced` (below).
  const void *q = nullptr, *k = nullptr, *v = nullptr;
  DType actType = DType::F32;
  // cos, sin [cosRows][width] (cosRows 1: shared by every sequence, or
  // batch); width = rotaryDim (a value per rotated element) or rotaryDim / 2
  // (per pair); pairs (i, i + rotaryDim / 2), or (2i, 2i + 1) if interleaved;
  // of `cosType` (F32, BF16 or F16: a bf16 package stores its tables in
  // bf16).
  const void *cos = nullptr, *sin = nullptr;
  DType cosType = DType::F32;
  int32_t cosRows = 1, width = 0, rotaryDim = 0;
  bool interleaved = false;
  // Set (parts non-null): q, k and v are not given yet but are the fused
  // q/k/v projection's fp32 partial products over `count` slices
  // (kRotaryAppendSlices) of its inner dimension, parts [count][batch]
  // [rowStride] (a row: q's numQHeads * headDim columns, then k's, then
  // v's); each element is the sum of its slices, rounded to actType, as the
  // projection would have given it (one without biases); the kernel
  // also writes those sums into sums[0..2] (q, k and v: [batch][heads]
  // [headDim] of actType), for any later reader (SlicedOutputs,
  // resa/cuda/DeviceKernel.h).
  struct Slices {
    const float *parts = nullptr;
    int32_t count = 0;
    int64_t rowStride = 0;
    void *sums[3] = {};
  } sliced;
  void *qOut = nullptr;            // [batch][numQHeads][headDim], the KV type
  const int32_t *slots = nullptr;  // [batch], device
  void *kCache = nullptr, *vCache = nullptr;
  // Non-null: the pools keep block summaries (kmin, kmax [numPages]
  // [numKvHeads][headDim] of the KV type), and the kernel refreshes those of
  // the pages it writes as it writes the keys: summaryUpdates[b] (device) is
  // sequence b's page update, with updateBlockSummaries' meaning (one kernel
  // fewer a layer than the append and then the update).
  const BlockSummaryUpdate *summaryUpdates = nullptr;
  void *kmin = nullptr, *kmax = nullptr;
};
cudaError_t rotaryAppendDecode(const PagedAttentionShape &shape, KVDType kvType, const RotaryAppendArgs &a,
                               cudaStream_t stream);

// Sets `count` 16-bit elements to the bit pattern `bits` (cudaMemset sets bytes).
cudaError_t fill16(void *dst, uint16_t bits, int64_t count, cudaStream_t stream);

} // namespace resa::gpu
