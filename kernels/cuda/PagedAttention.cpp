// Dispatch between the fast and the generic paged-attention kernels, with the
// plans cached per shape: see resa/cuda/PagedAttention.h.
#include "resa/cuda/PagedAttention.h"

#include "resa/cuda/GenericAttention.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>

namespace resa::gpu {
namespace {

// Everything a plan depends on: the shape, the dtype and up to four numbers
// of the call.
using PlanKey = std::array<int64_t, 12>;

PlanKey keyOf(const PagedAttentionShape &s, KVDType dtype, int64_t a, int64_t b = 0,
              int64_t c = 0, int64_t d = 0) {
  return {s.batch,   s.numQHeads,      s.numKvHeads,
          s.headDim, s.pageSize,       s.numPages,
          s.maxPagesPerSeq, static_cast<int64_t>(dtype), a, b, c, d};
}

// True when a plan function made a plan; false when it declined the shape
// (cudaErrorInvalidValue); throws on any other error.
bool planned(cudaError_t err, const char *what) {
  if (err == cudaSuccess)
    return true;
  if (err == cudaErrorInvalidValue) {
    (void)cudaGetLastError();
    return false;
  }
  checkCuda(err, what);
  return false;
}

bool aligned16(std::initializer_list<const void *> ptrs) {
  for (const void *p : ptrs)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0)
      return false;
  return true;
}

void requireGeneric(const PagedAttentionShape &s, const char *what) {
  if (s.headDim > kGenericMaxHeadDim)
    throw Error(std::string(what) + ": no kernel for headDim " + std::to_string(s.headDim) +
                " (the fast kernels take 64 or 128, the generic ones up to " +
                std::to_string(kGenericMaxHeadDim) + ")");
}

std::string genericWhat(const char *what, const PagedAttentionShape &s) {
  return std::string(what) + " (generic kernel, headDim " + std::to_string(s.headDim) + ")";
}

bool validParams(const BlockSelectParams &p) {
  return p.keptRatio >= 0.0f && p.keptRatio <= 1.0f && p.minBlocks >= 0 && p.localBlocks >= 0;
}

int64_t floatBits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

constexpr size_t kMaxCachedPlans = 256;

} // namespace

int32_t planLength(int32_t len, int64_t cap) {
  int64_t b = 256;
  while (b < len)
    b *= 2;
  return static_cast<int32_t>(std::max<int64_t>(len, std::min(b, cap)));
}

struct PagedAttentionState::Impl {
  DeviceAllocator &alloc;
  cudaStream_t stream;
  // A missing plan (nullopt) records that the fast kernel declined the shape.
  std::map<PlanKey, std::optional<PrefillAttentionPlan>> prefill;
  std::map<PlanKey, std::optional<DecodeAttentionPlan>> decode;
  std::map<PlanKey, std::optional<BlockSelectPlan>> select;
  // Scratch for the workspaces that need no initialisation (prefill splits,
  // selection scores); calls on one stream run in order, so they share it.
  std::shared_ptr<void> scratch;
  size_t scratchBytes = 0;
  // The decode workspace must be zero before a call; the kernel leaves its
  // counters (a prefix whose length depends on the plan) zero again and the
  // rest holds partial results. So it is zeroed when it is allocated and
  // whenever the plan differs from the one of the call that last used it.
  std::shared_ptr<void> decodeWs;
  size_t decodeWsBytes = 0;
  const DecodeAttentionPlan *lastDecode = nullptr;

  Impl(DeviceAllocator &a, cudaStream_t s) : alloc(a), stream(s) {}

  size_t plans() const { return prefill.size() + decode.size() + select.size(); }

  // Keeps the cache bounded (shapes drift as sequences grow and batches
  // change): dropped wholesale when full.
  void makeRoom() {
    if (plans() < kMaxCachedPlans)
      return;
    prefill.clear();
    decode.clear();
    select.clear();
    lastDecode = nullptr;
  }

  const PrefillAttentionPlan *prefillPlan(const PagedAttentionShape &s, KVDType dtype,
                                          int32_t maxQLen, int32_t maxKvLen) {
    const int32_t kvLen = planLength(maxKvLen, INT32_MAX);
    const PlanKey key = keyOf(s, dtype, maxQLen, kvLen);
    auto it = prefill.find(key);
    if (it == prefill.end()) {
      makeRoom();
      PrefillAttentionPlan plan;
      std::optional<PrefillAttentionPlan> entry;
      if (planned(planPrefillAttention(s, dtype, maxQLen, kvLen, &plan), "prefill attention plan"))
        entry = plan;
      it = prefill.emplace(key, entry).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  // maxLen: the dense plan's maxSeqLen, or the sparse plan's maxSelected.
  const DecodeAttentionPlan *decodePlan(const PagedAttentionShape &s, KVDType dtype, bool sparse,
                                        int32_t maxLen) {
    const PlanKey key = keyOf(s, dtype, sparse, maxLen);
    auto it = decode.find(key);
    if (it == decode.end()) {
      makeRoom();
      DecodeAttentionPlan plan;
      std::optional<DecodeAttentionPlan> entry;
      const cudaError_t err = sparse ? planSparseDecodeAttention(s, dtype, maxLen, &plan)
                                     : planDecodeAttention(s, dtype, maxLen, &plan);
      if (planned(err, "decode attention plan"))
        entry = plan;
      it = decode.emplace(key, entry).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  const BlockSelectPlan *selectPlan(const PagedAttentionShape &s, KVDType dtype,
                                    const BlockSelectParams &params, int32_t maxSeqLen) {
    const PlanKey key = keyOf(s, dtype, maxSeqLen, floatBits(params.keptRatio), params.minBlocks,
                              params.localBlocks);
    auto it = select.find(key);
    if (it == select.end()) {
      makeRoom();
      BlockSelectPlan plan;
      std::optional<BlockSelectPlan> entry;
      if (planned(planBlockSelect(s, dtype, maxSeqLen, params, &plan), "block selection plan"))
        entry = plan;
      it = select.emplace(key, entry).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  void *scratchOf(size_t bytes) {
    if (bytes == 0)
      return nullptr;
    if (bytes > scratchBytes) {
      scratchBytes = std::max(bytes, 2 * scratchBytes);
      scratch = alloc.allocateBytes(scratchBytes);
    }
    return scratch.get();
  }

  // The zeroed workspace for a call with `plan`, which the caller records
  // in lastDecode once the call is enqueued.
  void *decodeWorkspace(const DecodeAttentionPlan &plan) {
    if (plan.workspaceBytes == 0)
      return nullptr;
    if (plan.workspaceBytes > decodeWsBytes) {
      decodeWsBytes = std::max(plan.workspaceBytes, 2 * decodeWsBytes);
      decodeWs = alloc.allocateBytes(decodeWsBytes);
      lastDecode = nullptr;
      checkCuda(cudaMemsetAsync(decodeWs.get(), 0, decodeWsBytes, stream),
                "zeroing the decode-attention workspace");
    } else if (lastDecode != &plan) {
      checkCuda(cudaMemsetAsync(decodeWs.get(), 0, plan.workspaceBytes, stream),
                "zeroing the decode-attention workspace");
    }
    return decodeWs.get();
  }
};

PagedAttentionState::PagedAttentionState(DeviceAllocator &alloc, cudaStream_t stream)
    : impl_(std::make_unique<Impl>(alloc, stream)) {}

PagedAttentionState::~PagedAttentionState() = default;

size_t PagedAttentionState::cachedPlans() const { return impl_->plans(); }

void pagedPrefill(PagedAttentionState &state, const PagedAttentionShape &s, KVDType dtype,
                  const PrefillAttentionArgs &args, int32_t maxQLen, int32_t maxKvLen) {
  checkPagedAttentionShape(s);
  if (s.batch == 0)
    return;
  if (maxQLen < 1 || maxKvLen < 1)
    throw Error("paged prefill: maxQLen and maxKvLen must be >= 1 (got " +
                std::to_string(maxQLen) + ", " + std::to_string(maxKvLen) + ")");
  PagedAttentionState::Impl &st = *state.impl_;
  const PrefillAttentionPlan *plan =
      aligned16({args.q, args.kCache, args.vCache, args.out})
          ? st.prefillPlan(s, dtype, maxQLen, maxKvLen)
          : nullptr;
  if (plan) {
    checkCuda(prefillAttention(args, *plan, st.scratchOf(plan->workspaceBytes), st.stream),
              "paged prefill (prefill-mma)");
    return;
  }
  requireGeneric(s, "paged prefill");
  checkCuda(genericPrefillAttention(s, dtype, maxQLen, args, st.stream),
            genericWhat("paged prefill", s));
}

void pagedDecode(PagedAttentionState &state, const PagedAttentionShape &s, KVDType dtype,
                 const DecodeAttentionArgs &args, int32_t maxSeqLen) {
  checkPagedAttentionShape(s);
  const int64_t capacity = static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize;
  if (maxSeqLen < 0 || maxSeqLen > capacity)
    throw Error("paged decode: maxSeqLen " + std::to_string(maxSeqLen) +
                " is outside [0, maxPagesPerSeq * pageSize = " + std::to_string(capacity) + "]");
  const bool sparse = args.selected != nullptr;
  if (sparse && (args.maxSelected <= 0 || !args.selectedCounts))
    throw Error("paged decode: block-sparse decode needs selectedCounts and maxSelected > 0");
  if (s.batch == 0)
    return;
  PagedAttentionState::Impl &st = *state.impl_;
  const DecodeAttentionPlan *plan =
      aligned16({args.q, args.kCache, args.vCache, args.out})
          ? st.decodePlan(s, dtype, sparse,
                          sparse ? args.maxSelected : planLength(maxSeqLen, capacity))
          : nullptr;
  if (plan) {
    void *ws = st.decodeWorkspace(*plan);
    checkCuda(decodeAttention(args, *plan, ws, st.stream), "paged decode (decode-tc)");
    if (ws)
      st.lastDecode = plan;
    return;
  }
  requireGeneric(s, "paged decode");
  checkCuda(genericDecodeAttention(s, dtype, args, st.stream), genericWhat("paged decode", s));
}

void pagedSelect(PagedAttentionState &state, const PagedAttentionShape &s, KVDType dtype,
                 const BlockSelectParams &params, const BlockSelectArgs &args,
                 int32_t maxSeqLen) {
  checkPagedAttentionShape(s);
  if (!validParams(params))
    throw Error("block selection: kept ratio must be in [0, 1] and block counts >= 0");
  const int64_t capacity = static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize;
  if (maxSeqLen < 0 || maxSeqLen > capacity)
    throw Error("block selection: maxSeqLen " + std::to_string(maxSeqLen) +
                " is outside [0, maxPagesPerSeq * pageSize = " + std::to_string(capacity) + "]");
  const int32_t most = selectedBlockCount((maxSeqLen + s.pageSize - 1) / s.pageSize, params);
  if (args.maxSelected < most)
    throw Error("block selection: rows of " + std::to_string(args.maxSelected) +
                " selected blocks, up to " + std::to_string(most) + " are selected");
  if (s.batch == 0)
    return;
  PagedAttentionState::Impl &st = *state.impl_;
  const BlockSelectPlan *plan = nullptr;
  if (aligned16({args.q, args.kmin, args.kmax})) {
    // A longer plan selects more blocks per row than the caller may have
    // room for; then the exact length's plan.
    plan = st.selectPlan(s, dtype, params, planLength(maxSeqLen, capacity));
    if (plan && plan->maxSelected > args.maxSelected)
      plan = st.selectPlan(s, dtype, params, maxSeqLen);
  }
  if (plan) {
    checkCuda(selectBlocks(args, *plan, st.scratchOf(plan->workspaceBytes), st.stream),
              "block selection (select-fast)");
    return;
  }
  requireGeneric(s, "block selection");
  void *ws = st.scratchOf(genericSelectWorkspaceBytes(s, maxSeqLen));
  checkCuda(genericSelectBlocks(s, dtype, maxSeqLen, params, args, ws, st.stream),
            genericWhat("block selection", s));
}

const char *pagedPrefillKernel(const PagedAttentionShape &shape, KVDType dtype) {
  PagedAttentionShape s = shape;
  s.batch = std::max(s.batch, 1);
  PrefillAttentionPlan plan;
  return planned(planPrefillAttention(s, dtype, 1, 1, &plan), "prefill attention plan")
             ? "prefill-mma"
             : "prefill-generic";
}

const char *pagedDecodeKernel(const PagedAttentionShape &shape, KVDType dtype) {
  DecodeAttentionPlan plan;
  return planned(planDecodeAttention(shape, dtype, 0, &plan), "decode attention plan")
             ? "decode-tc"
             : "decode-generic";
}

const char *pagedSelectKernel(const PagedAttentionShape &shape, KVDType dtype) {
  BlockSelectPlan plan;
  return planned(planBlockSelect(shape, dtype, 0, BlockSelectParams{}, &plan),
                 "block selection plan")
             ? "select-fast"
             : "select-generic";
}

} // namespace resa::gpu
