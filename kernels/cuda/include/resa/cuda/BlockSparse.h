// ReSA's block-sparse decode on CUDA: the per-block key summaries, block
// selection, and (through decodeAttention with a block list) attention over
// the selected blocks. Semantics are exactly those of the CPU references in
// resa/kernels/BlockSparse.h (selectBlocksCpu, pagedSparseAttentionCpu) and of
// the runtime's summary updates (KVStorage::updateSummaries).
//
// Layout: resa/kernels/PagedKV.h. kmin/kmax [numPages][numKvHeads][headDim]
// are stored in the cache's dtype (bf16 or f16): the min and max of stored
// values are stored values, so nothing is rounded.
//
// One decode step of one layer:
//   appendBlockSummaries(...)               // after the new K is in the cache
//   selectBlocks(selArgs, selPlan, ws, st)  // scores + top-n -> selected, counts
//   decodeAttention(args with selected/counts/maxSelected, sparsePlan, ws2, st)
// Every kernel here is launched with programmatic dependent launch and waits
// for the previous kernel of the stream before its first global read.
#pragma once

#include "resa/cuda/DecodeAttention.h"
#include "resa/kernels/BlockSparse.h"

#include <cstddef>
#include <cstdint>
#include <cuda_runtime_api.h>

namespace resa::gpu {

// ---- Block summaries --------------------------------------------------------

// The key cache and its summaries, device pointers. shape.numKvHeads,
// headDim, pageSize and numPages are used (batch and maxPagesPerSeq only by
// rebuildBlockSummaries).
struct BlockSummaryArgs {
  const void *kCache = nullptr;  // [numPages][numKvHeads][pageSize][headDim], dtype
  void *kmin = nullptr;          // [numPages][numKvHeads][headDim], dtype
  void *kmax = nullptr;          // same
};

// Append time. Tokens i < numTokens were just written to slot
// slotMapping[i] % pageSize of page slotMapping[i] / pageSize (the runtime's
// KVCache::slotMapping()). Each page's new tokens must be consecutive in the
// mapping, in slot order (as the runtime writes them). A page whose first new
// token lands in slot 0 is a fresh page: its summary becomes the min/max of
// the new keys; otherwise the summary (over the slots before) is extended
// with the new keys. Overwrites of valid slots need rebuildBlockSummaries.
cudaError_t appendBlockSummaries(const PagedAttentionShape &shape, KVDType dtype,
                                 const BlockSummaryArgs &args, const int32_t *slotMapping,
                                 int64_t numTokens, cudaStream_t stream);

// Full rebuild (after rectification overwrote keys, or after a prefill): for
// every sequence b, every page holding a token of [firstToken[b], seqLens[b])
// gets the min/max over all its valid slots (from slot 0). firstToken null:
// every page of the sequence. `maxSeqLen` >= every seqLens[b] (sizes the grid).
cudaError_t rebuildBlockSummaries(const PagedAttentionShape &shape, KVDType dtype,
                                  const BlockSummaryArgs &args, const int32_t *pageTable,
                                  const int32_t *seqLens, const int32_t *firstToken,
                                  int32_t maxSeqLen, cudaStream_t stream);

// The runtime's form (resa::KVSummaryUpdate has this layout): page's summary
// already covers slots [0, from) (nothing when from == 0, which resets it) and
// is extended with slots [from, valid). `updates` is a device array.
struct BlockSummaryUpdate {
  int32_t page;
  int32_t from;
  int32_t valid;
};
cudaError_t updateBlockSummaries(const PagedAttentionShape &shape, KVDType dtype,
                                 const BlockSummaryArgs &args, const BlockSummaryUpdate *updates,
                                 int32_t count, cudaStream_t stream);

// ---- Block selection ----------------------------------------------------------

// Which of selection's two kernels a call launches: both (the selection), or
// one alone for timing each (bench/kernels/DecodeBench.cu): the scores alone
// (into the workspace), or the top-n alone over the scores a previous call
// left in the workspace.
enum class BlockSelectParts : int32_t { Both, ScoreOnly, TopNOnly };

struct BlockSelectOptions {
  int32_t device = -1;  // < 0: the current device
  BlockSelectParts parts = BlockSelectParts::Both;
  // Thread blocks a cluster that top-n serves one (sequence, KV head) with:
  // 0 picks: 1 (one thread block of 1024 threads, 512 for sequences of at
  // most 2048 blocks) unless the sequences are long (over 8192 blocks) and
  // (sequence, KV head) pairs few (8 SMs or more each), then about 1024
  // blocks of the sequence a thread block of 256, at most about one thread
  // block an SM. Else a power of two up to 16 (tests
  // force it to cover the cluster's paths).
  int32_t topNCluster = 0;
  // The scoring kernel's summary loads evict-first in L2: -1 picks (for one
  // sequence whose summaries fit in half the L2), 0 or 1 forces (tests cover
  // both kernels).
  int32_t summariesEvictFirst = -1;
};

struct BlockSelectPlan {
  PagedAttentionShape shape;
  KVDType dtype = KVDType::BF16;
  BlockSelectParams params;
  int32_t maxSeqLen = 0;
  int32_t maxBlocks = 0;       // ceil(maxSeqLen / pageSize)
  int32_t maxSelected = 0;     // selectedBlockCount(maxBlocks): the least row stride of `selected`
  int32_t blocksPerCta = 0;    // scoring kernel: blocks of one sequence per thread block
  int32_t topNCluster = 1;     // top-n: thread blocks (a cluster) per (sequence, KV head)
  int32_t topNThreads = 0;     // top-n: threads a thread block
  int32_t topNSliceCap = 0;    // top-n: the most blocks of a sequence one thread block holds
  bool scoresInSmem = false;   // top-n keeps its slice of the scores in shared memory
  bool summariesEvictFirst = false; // scoring loads the summaries evict-first in L2
  size_t selectSmemBytes = 0;  // dynamic shared memory of a top-n thread block
  size_t workspaceBytes = 0;   // the scores, fp64 [batch][numKvHeads][maxBlocks]
  BlockSelectParts parts = BlockSelectParts::Both;
};

// Host only. maxSeqLen >= every seqLens[b] of the calls using the plan.
// Supported: headDim 64, 128 or 256, bf16 or f16.
cudaError_t planBlockSelect(const PagedAttentionShape &shape, KVDType dtype, int32_t maxSeqLen,
                            const BlockSelectParams &params, BlockSelectPlan *plan,
                            const BlockSelectOptions &options = {});

struct BlockSelectArgs {
  const void *q = nullptr;            // [batch][numQHeads][headDim], dtype
  const void *kmin = nullptr;         // [numPages][numKvHeads][headDim], dtype
  const void *kmax = nullptr;
  const int32_t *pageTable = nullptr; // [batch][maxPagesPerSeq]
  const int32_t *seqLens = nullptr;   // [batch]
  int32_t *selected = nullptr;        // out: [batch][numKvHeads][maxSelected]
  int32_t maxSelected = 0;            // row stride, >= plan.maxSelected
  int32_t *counts = nullptr;          // out: [batch], blocks selected per (b, every head)
  float scale = 0.0f;                 // 0: 1/sqrt(headDim) (only its sign matters)
};

// selectBlocksCpu's rule: for every (b, KV head g) the group's queries are
// averaged (times scale), block m scores sum_j max(q_j kmax_j, q_j kmin_j)
// (computed in fp64 from the stored values, as the CPU reference does), the
// localBlocks most recent blocks are kept, and the top n =
// selectedBlockCount(M) by score, ties to the lower block index, are written
// ascending; entries past n are not written. Two kernels: scoring (all SMs,
// streams the summaries once) and top-n (a cluster of thread blocks per
// (b, g), each holding a slice of the scores in shared memory: bucket select
// over the cluster's histogram, exact ranking of the last bucket).
// The workspace (plan.workspaceBytes) needs no initialisation.
cudaError_t selectBlocks(const BlockSelectArgs &args, const BlockSelectPlan &plan,
                         void *workspace, cudaStream_t stream);

} // namespace resa::gpu
