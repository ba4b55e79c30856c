#include "CudaForward.h"

#include "resa/kernels/BlockSparse.h"

#include <string>

namespace resa::cuda {

namespace {

// One registry kernel on device inputs (layout and type conversions).
DeviceTensor callKernel(const char *name, const DeviceTensor &x, const Attrs &attrs,
                        DeviceContext &ctx) {
  gpu::DeviceKernelFn fn = gpu::findCudaKernel(name);
  if (!fn)
    throw Error(std::string("the CUDA backend has no '") + name + "' kernel");
  gpu::DeviceKernelArgs args;
  args.inputs = {&x};
  args.host = {nullptr};
  args.attrs = &attrs;
  args.ctx = &ctx;
  std::vector<DeviceTensor> out;
  fn(args, out);
  return out.at(0);
}

} // namespace

CudaForward::CudaForward(KVCache &cache, gpu::PagedAttentionState &attention, DeviceContext &ctx,
                         gpu::KVDType kvType, DType kvElement, int64_t start)
    : cache_(cache), attention_(attention), ctx_(ctx), kvType_(kvType),
      kvElement_(kvElement), start_(start) {
  const int64_t batch = cache.batchSize();
  pageTable_ = ints(cache.pageTable(), batch * cache.maxPagesPerSeq());
  seqLens_ = ints(cache.seqLens(), batch);
  qStarts_ = ints(cache.queryStarts(), batch);
  qLens_ = ints(cache.queryLengths(), batch);
}

DeviceTensor CudaForward::ints(const int32_t *data, int64_t n) {
  return gpu::upload(Tensor::borrow(DType::I32, {n}, const_cast<int32_t *>(data)), kvElement_,
                     ctx_);
}

CudaForward::Layout CudaForward::layout(const DeviceTensor &t, const Attrs &attrs,
                                        const char *headsAttr) const {
  Layout l;
  l.bhsd = attrs.getString("layout", "bhsd") == "bhsd";
  l.heads = attrs.requireInt(headsAttr);
  l.batch = t.dim(0);
  l.len = t.dim(l.bhsd ? 2 : 1);
  l.d = cache_.config().headDim;
  if (l.batch != cache_.batchSize())
    throw Error("the call has " + std::to_string(l.batch) + " rows but its KV-cache forward " +
                std::to_string(cache_.batchSize()) + " sequences");
  if (t.numel() != l.batch * l.heads * l.len * l.d)
    throw Error("tensor " + shapeToString(t.shape()) + " does not hold " +
                std::to_string(l.heads) + " heads of size " + std::to_string(l.d));
  return l;
}

DeviceTensor CudaForward::inKVType(const DeviceTensor &t) {
  if (t.dtype() == kvElement_)
    return t;
  Attrs to;
  to.set("to", static_cast<int64_t>(kvElement_));
  return callKernel("Cast", t, to, ctx_);
}

DeviceTensor CudaForward::transpose0213(const DeviceTensor &t) {
  Attrs perm;
  perm.set("perm", std::vector<int64_t>{0, 2, 1, 3});
  return callKernel("Transpose", t, perm, ctx_);
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
  DeviceTensor qh = headMajor(q, l);
  DeviceTensor out = ctx_.alloc->allocate(kvElement_, qh.shape());
  PagedAttentionShape shape = cache_.attentionShape(static_cast<int>(l.heads));
  KVStorage &kv = cache_.storage();
  const float scale = attrs.getFloat("scale", 0.0f);
  const int32_t seqLen = cache_.seqLens()[0]; // the same for every sequence of the call
  if (l.len == 1 && start_ + 1 == seqLen) {
    // One new token at the end of each sequence: a decode step.
    gpu::DecodeAttentionArgs a;
    a.q = qh.raw();
    a.kCache = kv.keys(static_cast<int>(layer));
    a.vCache = kv.values(static_cast<int>(layer));
    a.pageTable = pageTable_.data<int32_t>();
    a.seqLens = seqLens_.data<int32_t>();
    a.out = out.raw();
    a.scale = scale;
    gpu::pagedDecode(attention_, shape, kvType_, a, seqLen);
  } else {
    gpu::PrefillAttentionArgs a;
    a.q = qh.raw();
    a.kCache = kv.keys(static_cast<int>(layer));
    a.vCache = kv.values(static_cast<int>(layer));
    a.pageTable = pageTable_.data<int32_t>();
    a.qStart = qStarts_.data<int32_t>();
    a.qLens = qLens_.data<int32_t>();
    a.out = out.raw();
    a.scale = scale;
    gpu::pagedPrefill(attention_, shape, kvType_, a, static_cast<int32_t>(l.len),
                      static_cast<int32_t>(start_ + l.len));
  }
  return fromHeadMajor(out, l, q.shape());
}

DeviceTensor CudaForward::blockSelect(int64_t layer, const DeviceTensor &q, const Attrs &attrs) {
  Layout l = layout(q, attrs, "num_heads");
  if (l.len != 1)
    throw Error("block-sparse attention serves one query per call, got " +
                std::to_string(l.len));
  DeviceTensor qh = headMajor(q, l);
  PagedAttentionShape shape = cache_.attentionShape(static_cast<int>(l.heads));
  BlockSelectParams params;
  params.keptRatio = attrs.getFloat("kept_ratio", params.keptRatio);
  params.minBlocks = static_cast<int32_t>(attrs.getInt("min_blocks", params.minBlocks));
  params.localBlocks = static_cast<int32_t>(attrs.getInt("local_blocks", params.localBlocks));
  // The sequences have one length, hence one budget n: [B * kv_heads, n].
  const int32_t seqLen = cache_.seqLens()[0];
  const int32_t n = selectedBlockCount((seqLen + shape.pageSize - 1) / shape.pageSize, params);
  DeviceTensor blocks = ctx_.alloc->allocate(DType::I32, {l.batch * shape.numKvHeads, n});
  DeviceTensor counts = ctx_.alloc->allocate(DType::I32, {l.batch});
  KVStorage &kv = cache_.storage();
  gpu::BlockSelectArgs a;
  a.q = qh.raw();
  a.kmin = kv.keyMin(static_cast<int>(layer));
  a.kmax = kv.keyMax(static_cast<int>(layer));
  a.pageTable = pageTable_.data<int32_t>();
  a.seqLens = seqLens_.data<int32_t>();
  a.selected = blocks.data<int32_t>();
  a.maxSelected = n;
  a.counts = counts.data<int32_t>();
  a.scale = attrs.getFloat("scale", 0.0f);
  gpu::pagedSelect(attention_, shape, kvType_, params, a, seqLen);
  counts_[layer] = counts;
  return blocks;
}

DeviceTensor CudaForward::blockAttention(int64_t layer, const DeviceTensor &q,
                                         const DeviceTensor &blocks, const Attrs &attrs) {
  Layout l = layout(q, attrs, "num_heads");
  if (l.len != 1)
    throw Error("block-sparse attention serves one query per call, got " +
                std::to_string(l.len));
  PagedAttentionShape shape = cache_.attentionShape(static_cast<int>(l.heads));
  if (blocks.dtype() != DType::I32 || blocks.rank() != 2 ||
      blocks.dim(0) != l.batch * shape.numKvHeads)
    throw Error("selected blocks must be int32 [batch * kv_heads, n], got " +
                shapeToString(blocks.shape()));
  auto counts = counts_.find(layer);
  if (counts == counts_.end())
    throw Error("resa.block_attention of layer " + std::to_string(layer) +
                " before its resa.block_select");
  DeviceTensor qh = headMajor(q, l);
  DeviceTensor out = ctx_.alloc->allocate(kvElement_, qh.shape());
  KVStorage &kv = cache_.storage();
  gpu::DecodeAttentionArgs a;
  a.q = qh.raw();
  a.kCache = kv.keys(static_cast<int>(layer));
  a.vCache = kv.values(static_cast<int>(layer));
  a.pageTable = pageTable_.data<int32_t>();
  a.seqLens = seqLens_.data<int32_t>();
  a.out = out.raw();
  a.scale = attrs.getFloat("scale", 0.0f);
  a.selected = blocks.data<int32_t>();
  a.selectedCounts = counts->second.data<int32_t>();
  a.maxSelected = static_cast<int32_t>(blocks.dim(1));
  gpu::pagedDecode(attention_, shape, kvType_, a, cache_.seqLens()[0]);
  return fromHeadMajor(out, l, q.shape());
}

} // namespace resa::cuda
