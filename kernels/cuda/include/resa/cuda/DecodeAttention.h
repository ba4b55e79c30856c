// Dense decode attention over the paged KV cache, on CUDA (split-KV, "flash
// decoding"). Device pointers and a stream in, no framework types: the runtime
// and the benchmarks call it the same way.
//
// Layout: resa/kernels/PagedKV.h. One call computes, for every sequence b and
// query head h, softmax(scale * q[b,h] . K[b, 0..seqLens[b])) . V[b, ...],
// reading each KV page once for all query heads of its GQA group, with fp32
// accumulation. Work is cut into (split, KV head, sequence) thread blocks; the
// last block of each (KV head, sequence) to finish merges the splits' partial
// softmax states, so one call is one kernel launch.
//
// Use:
//   DecodeAttentionPlan plan;
//   planDecodeAttention(shape, KVDType::BF16, maxSeqLen, &plan);  // host only
//   workspace = cudaMalloc(plan.workspaceBytes) + cudaMemset 0, once
//   decodeAttention(shape, KVDType::BF16, args, plan, workspace, stream);
//
// A plan depends only on the shape, the dtype, maxSeqLen and the device; it
// may be reused for every call with the same three (the bench does). The
// workspace must be zero-filled before its first use; every call leaves it
// zero-filled again. Two calls in flight at once need two workspaces.
//
// Supported: bf16 and f16 storage, headDim 64 and 128, any GQA group (a block
// computes 8 query heads; groups over 8 take several blocks per KV head, each
// reading the KV once), pageSize dividing 32 or a multiple of 32. The kernel
// is launched with programmatic dependent launch: it may start while the
// previous kernel of the stream finishes, and waits for it before its first
// global read.
#pragma once

#include "resa/kernels/PagedKV.h"

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cuda_runtime_api.h>

namespace resa::gpu {

enum class KVDType : int32_t { BF16 = 0, F16 = 1 };

struct DecodeAttentionOptions {
  // 0: the default kernel (tensor cores, 32-token stages, 2 in flight per
  // warp, 4 warps, programmatic dependent launch). 1..N: tuning variants for
  // the benchmark and the tests (decodeAttentionVariantName); bf16 with
  // headDim 128 only, the CUDA-core one for GQA groups of 3 or 4 only.
  int32_t variant = 0;
  // > 0: use exactly this many splits per (sequence, KV head) (tests).
  int32_t forceSplits = 0;
  // Where the kernel has the form and the device fits every cluster at once,
  // the splits of a (sequence, KV head) run as one thread-block cluster and
  // merge through distributed shared memory (no workspace); false: always
  // through the workspace (tests, the benchmark's comparison).
  bool clusterMerge = true;
  // < 0: the current device.
  int32_t device = -1;
};

struct DecodeAttentionPlan {
  // What the plan was made for (decodeAttention checks them).
  PagedAttentionShape shape;
  KVDType dtype = KVDType::BF16;
  int32_t maxSeqLen = 0;       // for a sparse plan: maxSelected * pageSize
  int32_t variant = 0;
  bool sparse = false;         // made by planSparseDecodeAttention
  // The split.
  int32_t headsPerCta = 1;     // query heads a thread block computes (GQA group, padded)
  int32_t headChunks = 1;      // thread blocks per KV head along the group (group > 8)
  int32_t stageTokens = 32;    // tokens per pipeline stage
  int32_t numSplits = 1;       // thread blocks along the context
  int32_t stagesPerSplit = 0;  // stages each of them covers
  int32_t pageTableCapacity = 0;
  int32_t blocksPerSm = 0;     // occupancy of the kernel at this shared-memory size
  int32_t numSms = 0;
  size_t smemBytes = 0;        // dynamic shared memory per thread block
  bool clusterMerge = false;   // the splits merge in a cluster (DecodeAttentionOptions)
  size_t workspaceBytes = 0;   // 0 when numSplits == 1 or clusterMerge
};

// Chooses the split for `maxSeqLen` (>= every seqLens[b] of the calls that use
// the plan) so that the grid fills the device. Returns cudaErrorInvalidValue
// for a shape the kernels do not support (headDim other than 64 or 128, a
// pageSize that neither divides nor is a multiple of the stage, ...).
cudaError_t planDecodeAttention(const PagedAttentionShape &shape, KVDType dtype,
                                int32_t maxSeqLen, DecodeAttentionPlan *plan,
                                const DecodeAttentionOptions &options = {});

// The plan for block-sparse calls that select at most `maxSelected` blocks
// per (sequence, KV head): the dense plan of a sequence of maxSelected pages
// (maxSelected clamped to shape.maxPagesPerSeq).
cudaError_t planSparseDecodeAttention(const PagedAttentionShape &shape, KVDType dtype,
                                      int32_t maxSelected, DecodeAttentionPlan *plan,
                                      const DecodeAttentionOptions &options = {});

struct DecodeAttentionArgs {
  const void *q = nullptr;       // [batch][numQHeads][headDim], dtype
  const void *kCache = nullptr;  // [numPages][numKvHeads][pageSize][headDim], dtype
  const void *vCache = nullptr;  // same
  const int32_t *pageTable = nullptr; // [batch][maxPagesPerSeq]
  const int32_t *seqLens = nullptr;   // [batch], each <= plan.maxSeqLen
  void *out = nullptr;           // [batch][numQHeads][headDim], dtype
  float scale = 0.0f;            // 0: 1/sqrt(headDim)
  // Block-sparse attention (ReSA; resa/cuda/BlockSparse.h): when `selected`
  // is set, sequence b and KV head h attend only to the blocks (pages)
  // selected[(b * numKvHeads + h) * maxSelected + i], i < selectedCounts[b]:
  // logical block indices, ascending, distinct, below ceil(seqLens[b] /
  // pageSize), as selectBlocks writes them. The plan must then come from
  // planSparseDecodeAttention. Same kernel, same merge: the kernel iterates
  // over the selected pages instead of all pages.
  const int32_t *selected = nullptr;       // [batch][numKvHeads][maxSelected]
  const int32_t *selectedCounts = nullptr; // [batch]
  int32_t maxSelected = 0;
  // Partial results that a caller merges (shared-prefix decode,
  // PagedAttention.h's pagedDecodeShared):
  //  - lse, when set: float [batch][numQHeads], each row's log-sum-exp of
  //    the scaled scores in BASE 2, lse = log2(sum_t 2^(scale * log2(e) *
  //    q . k_t)) (the natural-log one times log2(e)); -inf for a sequence
  //    with no token to attend to (whose output is 0). Two states over
  //    disjoint token sets merge as o = (o1 2^(l1-m) + o2 2^(l2-m)) /
  //    (2^(l1-m) + 2^(l2-m)), m = max(l1, l2);
  //  - outF32: out is float [batch][numQHeads][headDim] (16-byte aligned)
  //    instead of dtype, so that a partial result is not rounded twice.
  float *lse = nullptr;
  bool outF32 = false;
  // The two calls of a shared-prefix decode read the step's q and lengths
  // as they are (no packing kernel):
  //  - each sequence's length is min(seqLens[b] - lenOffset, lenCap), at
  //    least 0: its own pages' call subtracts the shared tokens, the shared
  //    pages' call (batch 1) caps the first sequence's length at them;
  //  - qSeqGroup > 0 (the shared pages' call: batch 1, numQHeads = S heads
  //    of each of the S sequences' qSeqGroup-head groups per KV head): query
  //    head kvh * group + s * qSeqGroup + g is head kvh * qSeqGroup + g of
  //    sequence s in q [S][numKvHeads * qSeqGroup][headDim].
  int32_t lenOffset = 0;
  int32_t lenCap = INT32_MAX;
  int32_t qSeqGroup = 0;
  // Dense attention launched right after the kernel that appended this
  // step's K/V (programmatic dependent launch): the tokens at the end of each
  // sequence that kernels of this step write. Rows before them, and the
  // lengths and page table, must be settled before the step's first kernel
  // (written by earlier steps, staged by copies); the tensor-core kernels
  // then load each warp's first stage of them before they wait for the kernel
  // before (the SIMT one ignores it). 0: no row is assumed settled.
  int32_t freshTokens = 0;
};

// Enqueues one decode-attention step on `stream`. All pointers are device
// pointers; q, the caches and out 16-byte aligned. A sequence of length 0
// gets a zero output.
cudaError_t decodeAttention(const DecodeAttentionArgs &args, const DecodeAttentionPlan &plan,
                            void *workspace, cudaStream_t stream);

// Name of a kernel variant ("tc32x2", "tc32x2-nopdl", ...), or null past the
// last one.
const char *decodeAttentionVariantName(int32_t variant);

} // namespace resa::gpu
