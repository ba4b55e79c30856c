// The merge of shared-prefix ("cascade") decode attention, which
// pagedDecodeShared (resa/cuda/PagedAttention.h) runs after two
// decode-attention calls: one over the pages all B sequences of a batch share
// (their page-table rows agree on them), one over each sequence's own pages.
//
// Layouts (H = numQHeads = numKvHeads * group, D = headDim, rows of D):
//   q, out        [B][H][D] = [B][numKvHeads][group][D], the cache dtype
//   shared out,   [numKvHeads][B][group] rows: the shared call is one virtual
//   lse           sequence whose GQA group is B * group (it reads each KV
//                 head's shared K/V once for all B * group query heads, q's
//                 rows mapped by DecodeAttentionArgs::qSeqGroup); packed row
//                 (kvh * B + b) * group + g
//   own out, lse  [B][H] rows, like out
// The lse values are base 2 (DecodeAttentionArgs::lse).
#pragma once

#include "resa/cuda/DecodeAttention.h"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace resa::gpu {

// out[b][h] = (o1 2^(l1-m) + o2 2^(l2-m)) / (2^(l1-m) + 2^(l2-m)), m =
// max(l1, l2), where (o1, l1) is the shared call's state of (b, h) (packed
// row) and (o2, l2) the own call's; 0 where both are empty (-inf). One
// launch; cudaErrorInvalidValue for a bad shape or a null pointer.
cudaError_t mergeSharedPrefix(const PagedAttentionShape &shape, KVDType dtype,
                              const float *sharedOut, const float *sharedLse,
                              const float *ownOut, const float *ownLse, void *out,
                              cudaStream_t stream);

} // namespace resa::gpu
