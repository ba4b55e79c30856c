// Dispatch between the fast and the generic paged-attention kernels, with the
// plans cached per shape: see resa/cuda/PagedAttention.h.
#include "resa/cuda/PagedAttention.h"

#include "resa/cuda/GenericAttention.h"
#include "resa/cuda/SharedPrefixDecode.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstdlib>
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

// Pieces carved from one scratch allocation keep DeviceAllocator's alignment.
constexpr size_t kScratchAlign = 256;

size_t alignScratch(size_t bytes) {
  return (bytes + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
}

void checkMaxSeqLen(const PagedAttentionShape &s, int32_t maxSeqLen, const char *what) {
  const int64_t capacity = static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize;
  if (maxSeqLen < 0 || maxSeqLen > capacity)
    throw Error(std::string(what) + ": maxSeqLen " + std::to_string(maxSeqLen) +
                " is outside [0, maxPagesPerSeq * pageSize = " + std::to_string(capacity) + "]");
}

// A decode-tc workspace. It must be zero before a call; the kernel leaves
// its counters (a prefix whose length depends on the plan) zero again and the
// rest holds partial results. So it is zeroed when it is allocated and
// whenever the plan differs from the one of the call that last used it.
struct DecodeWorkspace {
  std::shared_ptr<void> buf;
  size_t bytes = 0;
  const DecodeAttentionPlan *last = nullptr;
};

// The prefill kernel the environment asks for (RESA_PREFILL_KERNEL: wgmma,
// mma, or unset for the default: wgmma where it serves), read once.
PrefillAttentionOptions prefillOptions() {
  static const PrefillAttentionOptions options = [] {
    PrefillAttentionOptions o;
    const char *env = std::getenv("RESA_PREFILL_KERNEL");
    const std::string v = env ? env : "";
    if (v == "wgmma")
      o.kernel = PrefillKernel::Wgmma;
    else if (v == "mma")
      o.kernel = PrefillKernel::Mma;
    else if (!v.empty())
      throw Error("RESA_PREFILL_KERNEL must be wgmma or mma, got '" + v + "'");
    return o;
  }();
  return options;
}

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
  // Decode workspaces: one for plain decode and the own pages of
  // shared-prefix decode, one for the shared pages (its plan alternates with
  // the own pages' one every layer: one workspace would be re-zeroed each
  // time).
  DecodeWorkspace decodeWs, sharedWs;

  Impl(DeviceAllocator &a, cudaStream_t s) : alloc(a), stream(s) {}

  size_t plans() const { return prefill.size() + decode.size() + select.size(); }

  // Keeps the cache bounded (shapes drift as sequences grow and batches
  // change): dropped wholesale when `n` more plans would not fit (so that
  // plans looked up after this call stay valid while n are added).
  void makeRoom(size_t n = 1) {
    if (plans() + n <= kMaxCachedPlans)
      return;
    prefill.clear();
    decode.clear();
    select.clear();
    decodeWs.last = nullptr;
    sharedWs.last = nullptr;
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
      if (planned(planPrefillAttention(s, dtype, maxQLen, kvLen, &plan, prefillOptions()),
                  "prefill attention plan"))
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

  // Enqueues one decode-tc call with `plan`, on workspace w (zeroed first
  // where needed).
  void runDecode(DecodeWorkspace &w, const DecodeAttentionArgs &args,
                 const DecodeAttentionPlan &plan, const char *what) {
    void *ws = nullptr;
    if (plan.workspaceBytes > 0) {
      if (plan.workspaceBytes > w.bytes) {
        w.bytes = std::max(plan.workspaceBytes, 2 * w.bytes);
        w.buf = alloc.allocateBytes(w.bytes);
        checkCuda(cudaMemsetAsync(w.buf.get(), 0, w.bytes, stream),
                  "zeroing the decode-attention workspace");
      } else if (w.last != &plan) {
        checkCuda(cudaMemsetAsync(w.buf.get(), 0, plan.workspaceBytes, stream),
                  "zeroing the decode-attention workspace");
      }
      ws = w.buf.get();
    }
    checkCuda(decodeAttention(args, plan, ws, stream), what);
    if (ws)
      w.last = &plan;
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
  checkMaxSeqLen(s, maxSeqLen, "paged decode");
  const int64_t capacity = static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize;
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
    st.runDecode(st.decodeWs, args, *plan, "paged decode (decode-tc)");
    return;
  }
  if (args.lse || args.outF32)
    throw Error("paged decode: the lse and fp32 outputs need the decode-tc kernel (headDim 64 or "
                "128, 16-byte aligned pointers), got headDim " + std::to_string(s.headDim));
  requireGeneric(s, "paged decode");
  checkCuda(genericDecodeAttention(s, dtype, args, st.stream), genericWhat("paged decode", s));
}

bool pagedDecodeShared(PagedAttentionState &state, const PagedAttentionShape &s, KVDType dtype,
                       const DecodeAttentionArgs &args, int32_t sharedPages, int32_t maxSeqLen) {
  checkPagedAttentionShape(s);
  checkMaxSeqLen(s, maxSeqLen, "shared-prefix decode");
  if (args.selected || args.lse || args.outF32)
    throw Error("shared-prefix decode: dense attention with its output in the cache dtype only "
                "(no selected blocks, lse or fp32 output)");
  const int64_t sharedTokens64 = static_cast<int64_t>(sharedPages) * s.pageSize;
  if (sharedPages < 0 || sharedTokens64 > maxSeqLen)
    throw Error("shared-prefix decode: " + std::to_string(sharedPages) + " shared pages of " +
                std::to_string(s.pageSize) + " tokens do not fit in maxSeqLen " +
                std::to_string(maxSeqLen));
  const int32_t sharedTokens = static_cast<int32_t>(sharedTokens64);
  const int64_t capacity = static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize;
  const int64_t packedHeads = static_cast<int64_t>(s.batch) * s.numQHeads;
  PagedAttentionState::Impl &st = *state.impl_;

  // The shared pages' call: one virtual sequence (row 0 of the page table)
  // whose query heads are all sequences' heads, grouped per KV head.
  PagedAttentionShape packed = s;
  packed.batch = 1;
  packed.numQHeads = static_cast<int32_t>(packedHeads);
  const DecodeAttentionPlan *sharedPlan = nullptr, *ownPlan = nullptr;
  if (s.batch >= 2 && sharedPages > 0 && packedHeads <= INT32_MAX &&
      aligned16({args.q, args.kCache, args.vCache, args.out})) {
    st.makeRoom(2);  // both plans stay valid while the second is added
    sharedPlan = st.decodePlan(packed, dtype, false, sharedTokens);
    // The own pages' plan serves every length of the graph's bucket.
    ownPlan = st.decodePlan(s, dtype, false, planLength(maxSeqLen, capacity) - sharedTokens);
  }
  // Reads of each KV head's shared K/V: one per thread block along its
  // query heads (headChunks), packed versus B sequences apart.
  if (!sharedPlan || !ownPlan ||
      sharedPlan->headChunks >= static_cast<int64_t>(s.batch) * ownPlan->headChunks) {
    pagedDecode(state, s, dtype, args, maxSeqLen);
    return false;
  }

  // Scratch (no initialisation needed), 256-byte aligned pieces: the two
  // calls' fp32 outputs and lse.
  const size_t rows = static_cast<size_t>(packedHeads);
  const size_t oBytes = alignScratch(rows * static_cast<size_t>(s.headDim) * sizeof(float));
  const size_t lseBytes = alignScratch(rows * sizeof(float));
  char *base = static_cast<char *>(st.scratchOf(2 * oBytes + 2 * lseBytes));
  float *sharedOut = reinterpret_cast<float *>(base);
  float *ownOut = reinterpret_cast<float *>(base + oBytes);
  float *sharedLse = reinterpret_cast<float *>(base + 2 * oBytes);
  float *ownLse = reinterpret_cast<float *>(base + 2 * oBytes + lseBytes);

  // Both calls read the step's q and lengths where they are (a packing
  // kernel copied them, 1.9 us a layer on the 4-fork 16K step, session 19):
  // the shared call's heads map onto q's rows (qSeqGroup), its length is
  // the first sequence's capped at the shared tokens, the own call's the
  // sequences' less them. Their rows settled before the step may be loaded
  // before the kernels' waits, as a plain decode's (freshTokens).
  DecodeAttentionArgs shared = args;
  shared.qSeqGroup = s.group();
  shared.lenCap = sharedTokens;
  shared.out = sharedOut;
  shared.lse = sharedLse;
  shared.outF32 = true;
  st.runDecode(st.sharedWs, shared, *sharedPlan, "shared-prefix decode (the shared pages)");
  DecodeAttentionArgs own = args;
  own.pageTable = args.pageTable + sharedPages;  // rows keep their stride
  own.lenOffset = sharedTokens;
  own.out = ownOut;
  own.lse = ownLse;
  own.outF32 = true;
  st.runDecode(st.decodeWs, own, *ownPlan, "shared-prefix decode (the own pages)");
  checkCuda(mergeSharedPrefix(s, dtype, sharedOut, sharedLse, ownOut, ownLse, args.out, st.stream),
            "shared-prefix decode (merging)");
  return true;
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
  if (!planned(planPrefillAttention(s, dtype, 1, 1, &plan, prefillOptions()),
               "prefill attention plan"))
    return "prefill-generic";
  return plan.kernel == PrefillKernel::Wgmma ? "prefill-wgmma" : "prefill-mma";
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
