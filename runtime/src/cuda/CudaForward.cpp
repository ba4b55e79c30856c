#include "CudaForward.h"
#include "CudaKVStorage.h"
#include "../ProgramPlan.h"

#include "resa/cuda/PagedKVCopy.h"
#include "resa/kernels/BlockSparse.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>

namespace resa::cuda {

namespace {

// One registry kernel on device inputs (layout and type conversions, the
// rotary of q and k): its first numOutputs outputs.
std::vector<DeviceTensor> callKernel(const char *name, const std::vector<const DeviceTensor *> &inputs,
                                     const Attrs &attrs, DeviceContext &ctx, size_t numOutputs = 1) {
  gpu::DeviceKernelFn fn = gpu::findCudaKernel(name);
  if (!fn)
    throw Error(std::string("the CUDA backend has no '") + name + "' kernel");
  gpu::DeviceKernelArgs args;
  args.inputs = inputs;
  args.host.assign(inputs.size(), nullptr);
  args.attrs = &attrs;
  args.numOutputs = numOutputs;
  args.ctx = &ctx;
  std::vector<DeviceTensor> out;
  fn(args, out);
  return out;
}

} // namespace

namespace {

// What the cache's forward tables look like on the device: rows of the page
// table padded to the plan length's pages.
struct HostTables {
  int32_t planLen = 0, pagesPerRow = 0;
  std::vector<int32_t> pageTable; // [batch][pagesPerRow]
};

HostTables hostTables(const KVCache &cache) {
  HostTables t;
  t.planLen = CudaForward::planLengthOf(cache);
  const int32_t ps = cache.config().pageSize, have = cache.maxPagesPerSeq();
  t.pagesPerRow = std::max(have, (t.planLen + ps - 1) / ps);
  const size_t batch = static_cast<size_t>(cache.batchSize());
  t.pageTable.assign(batch * static_cast<size_t>(t.pagesPerRow), 0);
  for (size_t b = 0; b < batch; ++b)
    std::copy(cache.pageTable() + b * have, cache.pageTable() + (b + 1) * have,
              t.pageTable.begin() + b * t.pagesPerRow);
  return t;
}

int32_t longest(const KVCache &cache) {
  const int32_t *lens = cache.seqLens();
  return *std::max_element(lens, lens + cache.batchSize());
}

CudaKVStorage *deviceStorage(KVCache &cache) {
  return dynamic_cast<CudaKVStorage *>(&cache.storage());
}

// Shared-prefix decode pays off when the prefix is long: it adds three small
// launches per layer and saves (B - ceil(B * group / 8)) reads of the
// prefix's K/V. 64 pages (1024 tokens at page size 16) unless
// RESA_SHARED_PREFIX_MIN_PAGES says otherwise (resa-device-check lowers it
// to reach the path with the test models' short prompts; a huge value turns
// it off).
int32_t sharedPrefixMinPages() {
  const char *env = std::getenv("RESA_SHARED_PREFIX_MIN_PAGES");
  if (!env || !*env)
    return 64;
  char *end = nullptr;
  const long long v = std::strtoll(env, &end, 10);
  if (*end != '\0' || v < 1 || v > INT32_MAX)
    throw Error(std::string("RESA_SHARED_PREFIX_MIN_PAGES must be a positive integer, got '") +
                env + "'");
  return static_cast<int32_t>(v);
}

} // namespace

int32_t CudaForward::planLengthOf(const KVCache &cache) {
  const KVCacheConfig &c = cache.config();
  return gpu::planLength(longest(cache), c.numPages * c.pageSize);
}

int32_t CudaForward::sharedPagesOf(const KVCache &cache) {
  const int32_t batch = cache.batchSize();
  if (batch < 2)
    return 0;
  const int32_t *lens = cache.seqLens(), *starts = cache.queryStarts(),
                *newTokens = cache.queryLengths();
  const int32_t ps = cache.config().pageSize, stride = cache.maxPagesPerSeq();
  // Full pages before every sequence's new token (which its own part then
  // always holds), and only in a decode step (anything else keeps 0, and
  // its graph key).
  int32_t n = stride;
  for (int32_t b = 0; b < batch; ++b) {
    if (newTokens[b] != 1 || starts[b] + 1 != lens[b])
      return 0;
    n = std::min(n, (lens[b] - 1) / ps);
  }
  const int32_t *table = cache.pageTable();
  for (int32_t p = 0; p < n; ++p)
    for (int32_t b = 1; b < batch; ++b)
      if (table[static_cast<size_t>(b) * stride + p] != table[p]) {
        n = p; // ends the outer loop too
        break;
      }
  return n >= sharedPrefixMinPages() ? n : 0;
}

void CudaForward::stage(const KVCache &cache, const TableSlots &slots, CallStaging &staging) {
  const HostTables t = hostTables(cache);
  const size_t batch = static_cast<size_t>(cache.batchSize());
  staging.set(slots.pageTable, t.pageTable.data(), t.pageTable.size() * sizeof(int32_t));
  staging.set(slots.seqLens, cache.seqLens(), batch * sizeof(int32_t));
  staging.set(slots.qStarts, cache.queryStarts(), batch * sizeof(int32_t));
  staging.set(slots.qLens, cache.queryLengths(), batch * sizeof(int32_t));
  staging.set(slots.slots, cache.slotMapping(),
              static_cast<size_t>(cache.totalNewTokens()) * sizeof(int32_t));
  const std::vector<KVSummaryUpdate> &updates = cache.summaryUpdates();
  staging.set(slots.updates, updates.data(), updates.size() * sizeof(KVSummaryUpdate));
}

CudaForward::CudaForward(KVCache &cache, gpu::PagedAttentionState &attention, DeviceContext &ctx,
                         gpu::KVDType kvType, DType kvElement, int64_t start,
                         CallStaging *capture)
    : cache_(cache), attention_(attention), ctx_(ctx), kvType_(kvType),
      kvElement_(kvElement), start_(start), capture_(capture) {
  HostTables t = hostTables(cache);
  planLen_ = t.planLen;
  pagesPerRow_ = t.pagesPerRow;
  maxSeqLen_ = longest(cache);
  sharedPages_ = sharedPagesOf(cache);
  const size_t batch = static_cast<size_t>(cache.batchSize());
  pageTable_ = table(t.pageTable.data(), t.pageTable.size(), slots_.pageTable);
  seqLens_ = table(cache.seqLens(), batch, slots_.seqLens);
  qStarts_ = table(cache.queryStarts(), batch, slots_.qStarts);
  qLens_ = table(cache.queryLengths(), batch, slots_.qLens);
  if (capture_) {
    CudaKVStorage *storage = deviceStorage(cache);
    if (!storage)
      throw Error("a CUDA graph needs the KV cache on the device");
    slots_.slots = capture_->add(static_cast<size_t>(cache.totalNewTokens()) * sizeof(int32_t));
    slots_.updates = capture_->add(cache.summaryUpdates().size() * sizeof(KVSummaryUpdate));
    storage->useDeviceTables(static_cast<const int32_t *>(capture_->device(slots_.slots)),
                             static_cast<const KVSummaryUpdate *>(capture_->device(slots_.updates)));
  }
}

CudaForward::~CudaForward() {
  if (capture_)
    if (CudaKVStorage *storage = deviceStorage(cache_))
      storage->useDeviceTables(nullptr, nullptr);
}

const int32_t *CudaForward::table(const int32_t *data, size_t count, int &slot) {
  if (capture_) {
    slot = capture_->add(count * sizeof(int32_t));
    return static_cast<const int32_t *>(capture_->device(slot));
  }
  uploaded_.push_back(gpu::upload(
      Tensor::borrow(DType::I32, {static_cast<int64_t>(count)}, const_cast<int32_t *>(data)),
      kvElement_, ctx_));
  return uploaded_.back().data<int32_t>();
}

PagedAttentionShape CudaForward::attentionShape(int64_t numQHeads) const {
  PagedAttentionShape s = cache_.attentionShape(static_cast<int>(numQHeads));
  s.maxPagesPerSeq = pagesPerRow_;
  return s;
}

CudaForward::Layout CudaForward::layout(const DeviceTensor &t, const Attrs &attrs,
                                        const char *headsAttr) const {
  return attentionLayout(t.shape(), attrs, headsAttr, cache_);
}

DeviceTensor CudaForward::inKVType(const DeviceTensor &t) {
  if (t.dtype() == kvElement_)
    return t;
  Attrs to;
  to.set("to", static_cast<int64_t>(kvElement_));
  return callKernel("Cast", {&t}, to, ctx_).at(0);
}

DeviceTensor CudaForward::transpose0213(const DeviceTensor &t) {
  Attrs perm;
  perm.set("perm", std::vector<int64_t>{0, 2, 1, 3});
  return callKernel("Transpose", {&t}, perm, ctx_).at(0);
}

DeviceTensor CudaForward::headMajor(const DeviceTensor &t, const Layout &l) {
  DeviceTensor x = inKVType(t);
  if (l.bhsd || l.len == 1) // [B, S, H*D] with S = 1 is already [B][H][1][D]
    return x.reshaped({l.batch, l.heads, l.len, l.d});
  return transpose0213(x.reshaped({l.batch, l.len, l.heads, l.d}));
}

DeviceTensor CudaForward::fromHeadMajor(const DeviceTensor &t, const Layout &l,
                                        const Shape &shape) {
  if (l.bhsd || l.len == 1)
    return t.reshaped(shape);
  return transpose0213(t).reshaped(shape);
}

DeviceTensor CudaForward::tokenMajor(const DeviceTensor &t, const Layout &l) {
  DeviceTensor x = inKVType(t);
  const int64_t rows = l.batch * l.len;
  if (!l.bhsd || l.len == 1)
    return x.reshaped({rows, l.heads, l.d});
  return transpose0213(x.reshaped({l.batch, l.heads, l.len, l.d})).reshaped({rows, l.heads, l.d});
}

void CudaForward::cacheWrite(int64_t layer, const DeviceTensor &k, const DeviceTensor &v,
                             const Attrs &attrs) {
  const KVCacheConfig &cfg = cache_.config();
  Layout l = layout(k, attrs, "kv_heads");
  if (l.heads != cfg.numKvHeads || layer < 0 || layer >= cfg.numLayers)
    throw Error("layer " + std::to_string(layer) + " with " + std::to_string(l.heads) +
                " KV heads does not fit the KV cache");
  layout(v, attrs, "kv_heads");
  DeviceTensor kr = tokenMajor(k, l), vr = tokenMajor(v, l);
  cache_.writeLayer(static_cast<int>(layer), kr.raw(), vr.raw());
}

DeviceTensor CudaForward::cacheAttention(int64_t layer, const DeviceTensor &q,
                                         const DeviceTensor &k, const DeviceTensor &v,
                                         const Attrs &attrs) {
  cacheWrite(layer, k, v, attrs);
  Layout l = layout(q, attrs, "num_heads");
  return attendCache(layer, headMajor(q, l), l, q.shape(), attrs);
}

template <typename Args>
Args CudaForward::cacheArgs(int64_t layer, const DeviceTensor &qh, const DeviceTensor &out,
                            const Attrs &attrs) {
  KVStorage &kv = cache_.storage();
  Args a;
  a.q = qh.raw();
  a.kCache = kv.keys(static_cast<int>(layer));
  a.vCache = kv.values(static_cast<int>(layer));
  a.pageTable = pageTable_;
  a.out = out.raw();
  a.scale = attrs.getFloat("scale", 0.0f);
  return a;
}

DeviceTensor CudaForward::attendCache(int64_t layer, const DeviceTensor &qh, const Layout &l,
                                      const Shape &qShape, const Attrs &attrs) {
  DeviceTensor out = ctx_.alloc->allocate(kvElement_, qh.shape());
  PagedAttentionShape shape = attentionShape(l.heads);
  if (isDecodeStep(l)) {
    auto a = cacheArgs<gpu::DecodeAttentionArgs>(layer, qh, out, attrs);
    a.seqLens = seqLens_;
    // This step's K/V were appended just before (cacheWrite or the rotary
    // append); every row before them was written by earlier steps.
    a.freshTokens = static_cast<int32_t>(l.len);
    if (sharedPages_ > 0)
      gpu::pagedDecodeShared(attention_, shape, kvType_, a, sharedPages_, planLen_);
    else
      gpu::pagedDecode(attention_, shape, kvType_, a, planLen_);
  } else {
    auto a = cacheArgs<gpu::PrefillAttentionArgs>(layer, qh, out, attrs);
    a.qStart = qStarts_;
    a.qLens = qLens_;
    gpu::pagedPrefill(attention_, shape, kvType_, a, static_cast<int32_t>(l.len), planLen_);
  }
  return fromHeadMajor(out, l, qShape);
}

bool CudaForward::rotateAppendDecode(int64_t layer, const DeviceTensor &q, const DeviceTensor &k,
                                     const DeviceTensor &v, const DeviceTensor &cos,
                                     const DeviceTensor &sin, const Attrs &attrs,
                                     const gpu::SlicedOutputs *sliced, DeviceTensor &qh) {
  const Layout l = layout(q, attrs, "num_heads");
  const Layout lk = layout(k, attrs, "kv_heads");
  layout(v, attrs, "kv_heads");
  const int64_t rot = attrs.requireInt("rotary_dim");
  // One kernel in a decode step (one token a sequence, all three tensors
  // [B][heads][D] in memory whatever the layout) with float cos/sin (fp32,
  // or bf16/f16 as a 16-bit package stores them) of one row a sequence, or
  // one for all.
  const DType act = q.dtype();
  const bool oneKernel =
      isDecodeStep(l) && gpu::isFloatDType(act) && k.dtype() == act && v.dtype() == act &&
      gpu::isFloatDType(cos.dtype()) && sin.dtype() == cos.dtype() && cos.shape() == sin.shape() &&
      cos.rank() == 3 && cos.dim(1) == 1 && (cos.dim(0) == 1 || cos.dim(0) == l.batch) &&
      lk.heads == cache_.config().numKvHeads;
  // The projection's slices, read by the kernel where they are q, k and v
  // side by side, one row a sequence, without biases (any other reader gets
  // the sums).
  const bool readSlices = oneKernel && sliced && sliced->count == 3 && !sliced->bias[0] &&
                          !sliced->bias[1] && !sliced->bias[2] &&
                          sliced->slices == gpu::kRotaryAppendSlices && sliced->rows == l.batch &&
                          sliced->outType == act && sliced->out[0] == q.raw() &&
                          sliced->out[1] == k.raw() && sliced->out[2] == v.raw() &&
                          sliced->columns[0] == q.numel() / l.batch &&
                          sliced->columns[1] == k.numel() / l.batch;
  if (sliced && !readSlices)
    gpu::sumSlicedOutputs(ctx_, *sliced);
  if (!oneKernel)
    return false;
  if (layer < 0 || layer >= cache_.config().numLayers)
    throw Error("layer " + std::to_string(layer) + " does not fit the KV cache");
  qh = ctx_.alloc->allocate(kvElement_, {l.batch, l.heads, l.len, l.d});
  CudaKVStorage *storage = deviceStorage(cache_);
  if (!storage)
    throw Error("a fused rotary and KV write on CUDA needs the device KV storage");
  // The keys' page summaries refreshed by the same kernel: a decode step
  // updates one page a sequence (KVCache::beginForward lists them in
  // sequence order, one per written page).
  cache_.writeLayerAndSummariesWith(static_cast<int>(layer), [&](const int32_t *slots, int64_t count,
                                                                 const std::vector<KVSummaryUpdate> &updates) {
    if (count != l.batch)
      throw Error("a decode step writes one token a sequence, got " + std::to_string(count) +
                  " for " + std::to_string(l.batch));
    if (!updates.empty() && static_cast<int64_t>(updates.size()) != count)
      throw Error("internal error: a decode step's " + std::to_string(updates.size()) +
                  " summary updates for " + std::to_string(count) + " sequences");
    gpu::RotaryAppendArgs a;
    a.batch = static_cast<int32_t>(l.batch);
    a.numQHeads = static_cast<int32_t>(l.heads);
    a.q = q.raw(), a.k = k.raw(), a.v = v.raw();
    a.actType = act;
    a.cos = cos.raw(), a.sin = sin.raw(), a.cosType = cos.dtype();
    a.cosRows = static_cast<int32_t>(cos.dim(0));
    a.width = static_cast<int32_t>(cos.dim(2));
    a.rotaryDim = static_cast<int32_t>(rot);
    a.interleaved = attrs.getInt("interleaved", 0) != 0;
    if (readSlices) {
      a.sliced.parts = sliced->parts.data<float>();
      a.sliced.count = sliced->slices;
      a.sliced.rowStride = sliced->width;
      for (int i = 0; i < 3; ++i)
        a.sliced.sums[i] = sliced->out[i];
    }
    a.qOut = qh.raw();
    a.slots = storage->slotsOnDevice(slots, count);
    a.kCache = storage->keys(static_cast<int>(layer));
    a.vCache = storage->values(static_cast<int>(layer));
    if (!updates.empty()) {
      a.summaryUpdates = reinterpret_cast<const gpu::BlockSummaryUpdate *>(
          storage->updatesOnDevice(updates.data(), updates.size()));
      a.kmin = storage->keyMin(static_cast<int>(layer));
      a.kmax = storage->keyMax(static_cast<int>(layer));
    }
    gpu::checkCuda(gpu::rotaryAppendDecode(attentionShape(l.heads), kvType_, a, ctx_.stream),
                   "the rotary and K/V append of layer " + std::to_string(layer) + " (rotary_dim " +
                       std::to_string(rot) + ", cos " + shapeToString(cos.shape()) + ")");
  });
  return true;
}

std::vector<DeviceTensor> CudaForward::rotateQK(const DeviceTensor &q, const DeviceTensor &k,
                                                const DeviceTensor &cos, const DeviceTensor &sin,
                                                const Attrs &attrs) {
  return callKernel("resa.multi_rotary", {&cos, &sin, &q, &k}, ProgramPlan::rotaryOf(attrs), ctx_, 2);
}

DeviceTensor CudaForward::rotaryCacheAttention(int64_t layer, const DeviceTensor &q,
                                                const DeviceTensor &k, const DeviceTensor &v,
                                                const DeviceTensor &cos, const DeviceTensor &sin,
                                                const Attrs &attrs, const gpu::SlicedOutputs *sliced) {
  DeviceTensor qh;
  if (rotateAppendDecode(layer, q, k, v, cos, sin, attrs, sliced, qh))
    return attendCache(layer, qh, layout(q, attrs, "num_heads"), q.shape(), attrs);
  // Prefill and rectification: the multi_rotary and cache_attention the
  // step replaces.
  const std::vector<DeviceTensor> qk = rotateQK(q, k, cos, sin, attrs);
  return cacheAttention(layer, qk.at(0), qk.at(1), v, attrs);
}

DeviceTensor CudaForward::rotaryCacheWrite(int64_t layer, const DeviceTensor &q, const DeviceTensor &k,
                                           const DeviceTensor &v, const DeviceTensor &cos,
                                           const DeviceTensor &sin, const Attrs &attrs,
                                           const gpu::SlicedOutputs *sliced) {
  DeviceTensor qh;
  if (rotateAppendDecode(layer, q, k, v, cos, sin, attrs, sliced, qh))
    return fromHeadMajor(qh, layout(q, attrs, "num_heads"), q.shape());
  const std::vector<DeviceTensor> qk = rotateQK(q, k, cos, sin, attrs);
  cacheWrite(layer, qk.at(1), v, attrs);
  return qk.at(0);
}

DeviceTensor CudaForward::blockSelect(int64_t layer, const DeviceTensor &q, const Attrs &attrs) {
  Layout l = layout(q, attrs, "num_heads");
  if (l.len != 1)
    throw Error("block-sparse attention serves one query per call, got " +
                std::to_string(l.len));
  DeviceTensor qh = headMajor(q, l);
  PagedAttentionShape shape = attentionShape(l.heads);
  BlockSelectParams params;
  params.keptRatio = attrs.getFloat("kept_ratio", params.keptRatio);
  params.minBlocks = static_cast<int32_t>(attrs.getInt("min_blocks", params.minBlocks));
  params.localBlocks = static_cast<int32_t>(attrs.getInt("local_blocks", params.localBlocks));
  // Rows of the plan length's budget n, [B * kv_heads, n]; each sequence's
  // own count (its length's budget) is in counts.
  const int32_t n = selectedBlockCount((planLen_ + shape.pageSize - 1) / shape.pageSize, params);
  DeviceTensor blocks = ctx_.alloc->allocate(DType::I32, {l.batch * shape.numKvHeads, n});
  DeviceTensor counts = ctx_.alloc->allocate(DType::I32, {l.batch});
  KVStorage &kv = cache_.storage();
  gpu::BlockSelectArgs a;
  a.q = qh.raw();
  a.kmin = kv.keyMin(static_cast<int>(layer));
  a.kmax = kv.keyMax(static_cast<int>(layer));
  if (!a.kmin || !a.kmax)
    throw Error("block selection needs the KV cache's block summaries, which this cache "
                "does not keep");
  a.pageTable = pageTable_;
  a.seqLens = seqLens_;
  a.selected = blocks.data<int32_t>();
  a.maxSelected = n;
  a.counts = counts.data<int32_t>();
  a.scale = attrs.getFloat("scale", 0.0f);
  gpu::pagedSelect(attention_, shape, kvType_, params, a, planLen_);
  counts_[layer] = counts;
  return blocks;
}

DeviceTensor CudaForward::blockAttention(int64_t layer, const DeviceTensor &q,
                                         const DeviceTensor &blocks, const Attrs &attrs) {
  Layout l = layout(q, attrs, "num_heads");
  if (l.len != 1)
    throw Error("block-sparse attention serves one query per call, got " +
                std::to_string(l.len));
  PagedAttentionShape shape = attentionShape(l.heads);
  checkSelectedBlocks(blocks.dtype(), blocks.shape(), l.batch, shape.numKvHeads);
  const DeviceTensor &counts = selectionCounts(counts_, layer);
  DeviceTensor qh = headMajor(q, l);
  DeviceTensor out = ctx_.alloc->allocate(kvElement_, qh.shape());
  auto a = cacheArgs<gpu::DecodeAttentionArgs>(layer, qh, out, attrs);
  a.seqLens = seqLens_;
  a.selected = blocks.data<int32_t>();
  a.selectedCounts = counts.data<int32_t>();
  a.maxSelected = static_cast<int32_t>(blocks.dim(1));
  gpu::pagedDecode(attention_, shape, kvType_, a, planLen_);
  return fromHeadMajor(out, l, q.shape());
}

} // namespace resa::cuda
