// The runtime's one entry to paged attention on CUDA. Each call runs the fast
// kernel where it supports the shape (DecodeAttention.h, PrefillAttention.h,
// BlockSparse.h: their plan functions say so) and the generic one
// (GenericAttention.h) otherwise; plans are made once per shape and cached,
// workspaces come from the caller's DeviceAllocator and are kept.
//
// Which kernel a shape gets:
//   prefill  "prefill-wgmma" bf16/f16, headDim 128, GQA group <= 128, on
//                            sm_90a, unless the environment says
//                            RESA_PREFILL_KERNEL=mma
//            "prefill-mma"   bf16/f16, headDim 64 or 128, GQA group <= 128
//                            (where the wgmma kernel does not serve)
//            "prefill-generic" otherwise (headDim <= 256)
//   decode   "decode-tc"     headDim 64 or 128, pageSize dividing 32 or a
//                            multiple of 32 (dense and block-sparse;
//                            shared-prefix decode runs on it alone)
//            "decode-generic" otherwise
//   select   "select-fast"   headDim 64, 128 or 256
//            "select-generic" otherwise
// provided the data pointers (q, out, the caches, kmin/kmax) are 16-byte
// aligned, as DeviceAllocator's are (256); unaligned ones get the generic
// kernel. pagedPrefillKernel and friends return the name (for logs).
//
// Failures (a bad argument, an unsupported shape, a CUDA error) throw
// resa::Error. Nothing synchronises the host.
#pragma once

#include "resa/cuda/BlockSparse.h"
#include "resa/cuda/DecodeAttention.h"
#include "resa/cuda/DeviceKernel.h"
#include "resa/cuda/PrefillAttention.h"

#include <cstddef>
#include <cstdint>
#include <memory>

#include <cuda_runtime_api.h>

namespace resa::gpu {

// The plans and workspaces of one stream (calls on one stream run in order,
// so they can share workspaces; another stream needs its own state). The
// allocator must outlive the state.
class PagedAttentionState {
public:
  PagedAttentionState(DeviceAllocator &alloc, cudaStream_t stream);
  ~PagedAttentionState();
  PagedAttentionState(const PagedAttentionState &) = delete;
  PagedAttentionState &operator=(const PagedAttentionState &) = delete;

  size_t cachedPlans() const; // prefill, decode and selection plans held

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  friend void pagedPrefill(PagedAttentionState &, const PagedAttentionShape &, KVDType,
                           const PrefillAttentionArgs &, int32_t, int32_t);
  friend void pagedDecode(PagedAttentionState &, const PagedAttentionShape &, KVDType,
                          const DecodeAttentionArgs &, int32_t);
  friend bool pagedDecodeShared(PagedAttentionState &, const PagedAttentionShape &, KVDType,
                                const DecodeAttentionArgs &, int32_t, int32_t);
  friend void pagedSelect(PagedAttentionState &, const PagedAttentionShape &, KVDType,
                          const BlockSelectParams &, const BlockSelectArgs &, int32_t);
};

// Causal chunked prefill (PrefillAttentionArgs' semantics). maxQLen is the
// row stride of q and out (>= every qLens[b]); maxKvLen >= every qStart[b] +
// qLens[b].
void pagedPrefill(PagedAttentionState &state, const PagedAttentionShape &shape, KVDType dtype,
                  const PrefillAttentionArgs &args, int32_t maxQLen, int32_t maxKvLen);

// One decode step (DecodeAttentionArgs' semantics): dense, or block-sparse
// when args.selected is set. maxSeqLen >= every seqLens[b] and <=
// shape.maxPagesPerSeq * shape.pageSize.
void pagedDecode(PagedAttentionState &state, const PagedAttentionShape &shape, KVDType dtype,
                 const DecodeAttentionArgs &args, int32_t maxSeqLen);

// Shared-prefix ("cascade") dense decode for a batch whose page-table rows
// agree on their first `sharedPages` entries (GSR's candidates, forked from
// one prompt: copy-on-write keeps the prompt's full pages shared). The result
// of pagedDecode(state, shape, dtype, args, maxSeqLen), up to rounding,
// computed in three launches (resa/cuda/SharedPrefixDecode.h has the
// layouts):
//   1. decode-tc over the shared pages (row 0's first sharedPages entries)
//      as ONE virtual sequence of kvH * B * group query heads (GQA group
//      B * group), read from q where they are (DecodeAttentionArgs::
//      qSeqGroup): each KV head's shared K/V is read once per HG of those
//      heads (the kernel's heads per thread block: 8, or 16 for groups over
//      8), ceil(B * group / HG) times, instead of B * ceil(group / HG')
//      times (HG' for the own group); GSR's 4 candidates at group 4: once
//      instead of 4 times; fp32 output + lse;
//   2. decode-tc over each sequence's own pages (its row from entry
//      sharedPages on; seqLens[b] - sharedPages * pageSize tokens:
//      DecodeAttentionArgs::lenOffset), fp32 output + lse;
//   3. the two normalised states merged per (sequence, head) by their lse.
// Nothing synchronises; the launches depend only on the shape, dtype,
// sharedPages and planLength(maxSeqLen) (the plans are keyed on them), never
// on device data, so a CUDA graph keyed on those replays correctly.
// Requires a dense call with the output in dtype (args.selected and args.lse
// null, args.outF32 false), sharedPages * pageSize <= maxSeqLen, and every
// seqLens[b] >= sharedPages * pageSize (device data: not checked).
// Falls back to pagedDecode and returns false when the batch has fewer than
// two sequences, sharedPages is 0, decode-tc does not take the shape (the
// generic kernel has no lse output: head dims other than 64 and 128,
// unaligned pointers) or the regrouping would not read the shared K/V fewer
// times (GQA groups of 8 or more); returns true when it ran as above.
bool pagedDecodeShared(PagedAttentionState &state, const PagedAttentionShape &shape,
                       KVDType dtype, const DecodeAttentionArgs &args, int32_t sharedPages,
                       int32_t maxSeqLen);

// Block selection (BlockSelectArgs' semantics). maxSeqLen as for pagedDecode;
// args.maxSelected >= selectedBlockCount(ceil(maxSeqLen / pageSize), params).
void pagedSelect(PagedAttentionState &state, const PagedAttentionShape &shape, KVDType dtype,
                 const BlockSelectParams &params, const BlockSelectArgs &args,
                 int32_t maxSeqLen);

// The length plans are made for: `len` rounded up to a power of two (at
// least 256, at most `cap`, never below `len`), so that a growing sequence
// reuses one plan (and one captured CUDA graph) for many steps.
int32_t planLength(int32_t len, int64_t cap);

// The kernel each call gets for this shape and dtype (aligned pointers).
const char *pagedPrefillKernel(const PagedAttentionShape &shape, KVDType dtype);
const char *pagedDecodeKernel(const PagedAttentionShape &shape, KVDType dtype);
const char *pagedSelectKernel(const PagedAttentionShape &shape, KVDType dtype);

} // namespace resa::gpu
