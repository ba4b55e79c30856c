// Paged attention and block selection on CUDA for any head dim up to 256,
// any GQA group, bf16 or f16, with no alignment needed beyond the element's.
// The fast kernels (DecodeAttention.h, PrefillAttention.h, BlockSparse.h)
// cover head dims 64 and 128 (selection: 64, 128, 256); the project's test
// models have head dims such as 16, 32 or 80, which land here. The runtime
// reaches both through resa/cuda/PagedAttention.h, which picks one per shape.
//
// Simple kernels, correct before fast:
//  - attention (prefill and decode share one kernel): one thread block of 4
//    warps per (query row, query head); the warps take interleaved tokens,
//    the lanes split the head dim, each warp keeps its own online softmax in
//    fp32 (base 2), and the four states are merged in shared memory at the end;
//  - selection: one thread block per (sequence, KV head) computes the block
//    scores exactly as selectBlocksCpu does (fp64, sequential sum over the
//    head dim, IEEE products and sums, so bit-identical scores), then finds
//    the n-th largest score by an 8-pass radix select and writes the blocks
//    above it, plus the lowest-indexed ties, ascending.
// Plain launches (no programmatic dependent launch); nothing synchronises.
#pragma once

#include "resa/cuda/BlockSparse.h"
#include "resa/cuda/DecodeAttention.h"
#include "resa/cuda/PrefillAttention.h"

#include <cstddef>
#include <cstdint>
#include <cuda_runtime_api.h>

namespace resa::gpu {

constexpr int32_t kGenericMaxHeadDim = 256;

// Causal chunked prefill with PrefillAttentionArgs' semantics (head-major
// q/out [batch][numQHeads][maxQLen][headDim]; query i of sequence b sits at
// position qStart[b] + i and sees cache positions 0 ..= that; rows
// i >= qLens[b] are neither read nor written). maxQLen is the row stride.
// cudaErrorInvalidValue for an unsupported shape or a null pointer.
cudaError_t genericPrefillAttention(const PagedAttentionShape &shape, KVDType dtype,
                                    int32_t maxQLen, const PrefillAttentionArgs &args,
                                    cudaStream_t stream);

// Decode with DecodeAttentionArgs' semantics: dense, or block-sparse over
// args.selected / selectedCounts / maxSelected when selected is set. A
// sequence with no token to attend to gets a zero output.
cudaError_t genericDecodeAttention(const PagedAttentionShape &shape, KVDType dtype,
                                   const DecodeAttentionArgs &args, cudaStream_t stream);

// Block selection with BlockSelectArgs' semantics (the rule of
// selectBlocksCpu; a NaN score ranks last, as in selectBlocks). maxSeqLen >=
// every seqLens[b]; args.maxSelected >= selectedBlockCount(ceil(maxSeqLen /
// pageSize), params). The workspace (genericSelectWorkspaceBytes: the fp64
// scores) needs no initialisation.
size_t genericSelectWorkspaceBytes(const PagedAttentionShape &shape, int32_t maxSeqLen);
cudaError_t genericSelectBlocks(const PagedAttentionShape &shape, KVDType dtype,
                                int32_t maxSeqLen, const BlockSelectParams &params,
                                const BlockSelectArgs &args, void *workspace,
                                cudaStream_t stream);

} // namespace resa::gpu
