// The two small kernels of shared-prefix ("cascade") decode attention, which
// pagedDecodeShared (resa/cuda/PagedAttention.h) runs around two
// decode-attention calls: one over the pages all B sequences of a batch share
// (their page-table rows agree on them), one over each sequence's own pages.
//
// Layouts (H = numQHeads = numKvHeads * group, D = headDim, rows of D):
//   q, out        [B][H][D] = [B][numKvHeads][group][D], the cache dtype
//   packed q      [numKvHeads][B][group][D]: one virtual sequence whose GQA
//                 group is B * group, so that the decode kernel reads each KV
//                 head's shared K/V for all B * group query heads together;
//                 the shared call's fp32 output and lse rows come back in
//                 this order (packed row (kvh * B + b) * group + g)
//   own out, lse  [B][H] rows, like out
// The lse values are base 2 (DecodeAttentionArgs::lse).
#pragma once

#include "resa/cuda/DecodeAttention.h"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace resa::gpu {

// Writes packed (the queries regrouped, see above; dtype is only their size:
// 2 bytes) and the lengths of the two decode calls: lens[b] = max(0,
// seqLens[b] - sharedTokens) for b < B (the tokens after the shared pages),
// lens[B] = sharedTokens (the shared call's one virtual sequence). One
// launch; cudaErrorInvalidValue for a bad shape or a null pointer.
cudaError_t packSharedQueries(const PagedAttentionShape &shape, const void *q,
                              const int32_t *seqLens, int32_t sharedTokens, void *packed,
                              int32_t *lens, cudaStream_t stream);

// out[b][h] = (o1 2^(l1-m) + o2 2^(l2-m)) / (2^(l1-m) + 2^(l2-m)), m =
// max(l1, l2), where (o1, l1) is the shared call's state of (b, h) (packed
// row) and (o2, l2) the own call's; 0 where both are empty (-inf). One
// launch; cudaErrorInvalidValue for a bad shape or a null pointer.
cudaError_t mergeSharedPrefix(const PagedAttentionShape &shape, KVDType dtype,
                              const float *sharedOut, const float *sharedLse,
                              const float *ownOut, const float *ownLse, void *out,
                              cudaStream_t stream);

} // namespace resa::gpu
