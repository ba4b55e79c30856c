// The KV-cache steps of one cached-program call on CUDA (resa.cache_write,
// resa.cache_attention, resa.block_select, resa.block_attention): the device
// counterpart of the CPU backend's forward context. The KV cache's forward is
// open over the call's B sequences, whose new tokens all start at `start`.
//
// Kernels are planned for the plan length (gpu::planLength of the longest
// sequence: a power of two), never for the exact lengths, which the kernels
// read from the device: the launches of a call then depend only on the batch
// and the plan length, so a CUDA graph captured once serves every step until
// the sequences outgrow it. Page-table rows are padded to the plan length's
// pages for the same reason.
//
// A decode step of several sequences that share a long page-table prefix
// (GSR's candidates, forked from one prompt) runs shared-prefix decode
// attention (gpu::pagedDecodeShared), whose launches also depend on the
// number of shared pages: sharedPagesOf, part of the graph key.
#pragma once

#include "../AttentionLayout.h"
#include "CallStaging.h"

#include "resa/cuda/DeviceKernel.h"
#include "resa/cuda/PagedAttention.h"
#include "resa/runtime/KVCache.h"

#include <map>
#include <vector>

namespace resa::cuda {

using gpu::DeviceContext;
using gpu::DeviceTensor;

class CudaForward {
public:
  // The staging slots of the forward's tables in a captured graph.
  struct TableSlots {
    int pageTable = -1, seqLens = -1, qStarts = -1, qLens = -1, slots = -1, updates = -1;
  };

  // capture: null for an eager call (tables uploaded now); else the tables
  // get slots there (filled before each replay by stage()) and the KV
  // storage reads its write tables from them until this forward ends.
  CudaForward(KVCache &cache, gpu::PagedAttentionState &attention, DeviceContext &ctx,
              gpu::KVDType kvType, DType kvElement, int64_t start, CallStaging *capture = nullptr);
  ~CudaForward();
  CudaForward(const CudaForward &) = delete;
  CudaForward &operator=(const CudaForward &) = delete;

  // The plan length of the cache's open forward (what a graph is keyed on).
  static int32_t planLengthOf(const KVCache &cache);
  // The pages a decode step of the cache's open forward runs as one shared
  // prefix (what a graph is keyed on besides): the full pages that begin
  // every sequence's page-table row alike and end before its new token, when
  // the batch has >= 2 sequences, each decoding one token at its end, and
  // there are at least RESA_SHARED_PREFIX_MIN_PAGES of them (default 64);
  // else 0.
  static int32_t sharedPagesOf(const KVCache &cache);
  // Before a replay: the open forward's tables into the slots a capture of
  // the same batch and plan length made.
  static void stage(const KVCache &cache, const TableSlots &slots, CallStaging &staging);

  const TableSlots &tableSlots() const { return slots_; }
  int64_t start() const { return start_; }
  void cacheWrite(int64_t layer, const DeviceTensor &k, const DeviceTensor &v, const Attrs &attrs);
  DeviceTensor cacheAttention(int64_t layer, const DeviceTensor &q, const DeviceTensor &k,
                              const DeviceTensor &v, const Attrs &attrs);
  // resa.rotary_cache_attention: q and k rotated as resa.multi_rotary would
  // (ProgramPlan::rotaryOf), then cacheAttention; in a decode step one kernel
  // rotates q, rotates k into the cache and copies v there
  // (gpu::rotaryAppendDecode), elsewhere the two steps it replaces.
  // `sliced` (or null): q, k and v are its outputs, not yet summed (the
  // projection before deferred them, gpu::SlicedOutputs): the one kernel
  // sums them as it reads them, or they are summed first.
  DeviceTensor rotaryCacheAttention(int64_t layer, const DeviceTensor &q, const DeviceTensor &k,
                                    const DeviceTensor &v, const DeviceTensor &cos,
                                    const DeviceTensor &sin, const Attrs &attrs,
                                    const gpu::SlicedOutputs *sliced = nullptr);
  // resa.rotary_cache_write: the same rotations, then cacheWrite; returns
  // the rotated q (in a decode step head-major in the KV type, which the
  // block selection and attention read as they are).
  DeviceTensor rotaryCacheWrite(int64_t layer, const DeviceTensor &q, const DeviceTensor &k,
                                const DeviceTensor &v, const DeviceTensor &cos, const DeviceTensor &sin,
                                const Attrs &attrs, const gpu::SlicedOutputs *sliced = nullptr);
  DeviceTensor blockSelect(int64_t layer, const DeviceTensor &q, const Attrs &attrs);
  DeviceTensor blockAttention(int64_t layer, const DeviceTensor &q, const DeviceTensor &blocks,
                              const Attrs &attrs);

private:
  // How a [B, H, S, D] ("bhsd") or [B, S, H*D] ("bsd") tensor is laid out.
  using Layout = AttentionLayout;
  Layout layout(const DeviceTensor &t, const Attrs &attrs, const char *headsAttr) const;
  // [B, H, S, D] head-major rows (what the attention kernels read), in the
  // KV element type, and back to the step's layout.
  DeviceTensor headMajor(const DeviceTensor &t, const Layout &l);
  DeviceTensor fromHeadMajor(const DeviceTensor &t, const Layout &l, const Shape &shape);
  // One new token at the end of each sequence: a decode step.
  bool isDecodeStep(const Layout &l) const { return l.len == 1 && start_ + 1 == maxSeqLen_; }
  // What every paged attention call over layer `layer` takes (decode or
  // prefill arguments; each adds its own lengths): head-major q, the layer's
  // pools, the forward's page table, out, the step's scale.
  template <typename Args>
  Args cacheArgs(int64_t layer, const DeviceTensor &qh, const DeviceTensor &out, const Attrs &attrs);
  // The attention of head-major queries qh over the cache (layer written),
  // returned in the layout of qShape.
  DeviceTensor attendCache(int64_t layer, const DeviceTensor &qh, const Layout &l, const Shape &qShape,
                           const Attrs &attrs);
  // A decode step's rotary of q and k and append of k and v in one kernel
  // (gpu::rotaryAppendDecode), the rotated q into qh, head-major in the KV
  // type; false, with nothing done but q, k and v summed where `sliced`
  // holds them, where the step or its tensors do not allow it.
  bool rotateAppendDecode(int64_t layer, const DeviceTensor &q, const DeviceTensor &k,
                          const DeviceTensor &v, const DeviceTensor &cos, const DeviceTensor &sin,
                          const Attrs &attrs, const gpu::SlicedOutputs *sliced, DeviceTensor &qh);
  // q and k rotated by the resa.multi_rotary the fused steps replace.
  std::vector<DeviceTensor> rotateQK(const DeviceTensor &q, const DeviceTensor &k,
                                     const DeviceTensor &cos, const DeviceTensor &sin,
                                     const Attrs &attrs);
  // [B * S, H, D] token-major rows (what the cache's writeTokens takes).
  DeviceTensor tokenMajor(const DeviceTensor &t, const Layout &l);
  DeviceTensor inKVType(const DeviceTensor &t);
  DeviceTensor transpose0213(const DeviceTensor &t);
  // A table on the device: uploaded (eager) or in a new staging slot.
  const int32_t *table(const int32_t *data, size_t count, int &slot);
  PagedAttentionShape attentionShape(int64_t numQHeads) const;

  KVCache &cache_;
  gpu::PagedAttentionState &attention_;
  DeviceContext &ctx_;
  gpu::KVDType kvType_;
  DType kvElement_; // the pools' element type: q and the attention outputs use it
  int64_t start_;
  CallStaging *capture_;
  int32_t planLen_, maxSeqLen_, pagesPerRow_, sharedPages_;
  TableSlots slots_;
  std::vector<DeviceTensor> uploaded_; // the eager call's tables
  // The forward's batch tables on the device.
  const int32_t *pageTable_ = nullptr, *seqLens_ = nullptr, *qStarts_ = nullptr,
                *qLens_ = nullptr;
  std::map<int64_t, DeviceTensor> counts_; // per layer, from blockSelect
};

} // namespace resa::cuda
