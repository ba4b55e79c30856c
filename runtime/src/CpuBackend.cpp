#include "AttentionLayout.h"
#include "Backend.h"

#include "resa/kernels/BlockSparse.h"
#include "resa/runtime/Executor.h"

#include <algorithm>
#include <map>

namespace resa {
namespace {

// One call of a cached program: the forward context that resa.positions and
// the KV-cache steps read. The call's batch is the cache forward's batch: B
// sequences whose new tokens all start at the same position `start` (the
// program's positions are shared by its rows), B = 1 for prefill and
// rectification, B >= 1 for decode.
class CachedCall : public ForwardContext {
public:
  CachedCall(KVCache &cache, int64_t start) : cache_(cache), start_(start) {}
  int64_t start() const override { return start_; }

  Tensor cacheAttention(int64_t layer, const Tensor &q, const Tensor &k, const Tensor &v,
                        const Attrs &attrs) override {
    cacheWrite(layer, k, v, attrs);
    Layout l = layout(q, attrs, "num_heads");
    std::vector<float> qr = rows(q, l);
    // Query s of sequence b sits at position start + s and sees keys 0..its
    // position: one attention row per query over its sequence's pages.
    PagedAttentionShape shape = cache_.attentionShape(static_cast<int>(l.heads));
    const int32_t stride = cache_.maxPagesPerSeq();
    const int64_t rowsN = l.batch * l.len;
    shape.batch = static_cast<int32_t>(rowsN);
    std::vector<int32_t> table(static_cast<size_t>(rowsN * stride)), lens(rowsN);
    for (int64_t b = 0; b < l.batch; ++b)
      for (int64_t s = 0; s < l.len; ++s) {
        std::copy_n(cache_.pageTable() + b * stride, stride,
                    table.data() + (b * l.len + s) * stride);
        lens[b * l.len + s] = static_cast<int32_t>(start_ + s + 1);
      }
    std::vector<float> out(qr.size());
    pagedDecodeAttentionCpu(shape, qr.data(), cache_.keys(static_cast<int>(layer)),
                            cache_.values(static_cast<int>(layer)), table.data(), lens.data(),
                            attrs.getFloat("scale", 0.0f), out.data());
    return fromRows(out, q.shape(), l);
  }

  void cacheWrite(int64_t layer, const Tensor &k, const Tensor &v, const Attrs &attrs) override {
    const KVCacheConfig &cfg = cache_.config();
    Layout l = layout(k, attrs, "kv_heads");
    if (l.heads != cfg.numKvHeads || layer < 0 || layer >= cfg.numLayers)
      throw Error("layer " + std::to_string(layer) + " with " + std::to_string(l.heads) +
                  " KV heads does not fit the KV cache");
    std::vector<float> kr = rows(k, l), vr = rows(v, l);
    cache_.writeLayer(static_cast<int>(layer), kr.data(), vr.data());
  }

  Tensor blockSelect(int64_t layer, const Tensor &q, const Attrs &attrs) override {
    Layout l = singleQuery(q, attrs);
    std::vector<float> qr = rows(q, l);
    PagedAttentionShape shape = cache_.attentionShape(static_cast<int>(l.heads));
    BlockSelectParams params;
    params.keptRatio = attrs.getFloat("kept_ratio", params.keptRatio);
    params.minBlocks = static_cast<int32_t>(attrs.getInt("min_blocks", params.minBlocks));
    params.localBlocks = static_cast<int32_t>(attrs.getInt("local_blocks", params.localBlocks));
    // The sequences have one length, hence one budget n: [B * kv_heads, n].
    int32_t numBlocks = (cache_.seqLens()[0] + shape.pageSize - 1) / shape.pageSize;
    int32_t n = selectedBlockCount(numBlocks, params);
    Tensor blocks(DType::I32, {l.batch * shape.numKvHeads, n});
    std::vector<int32_t> &counts = counts_[layer];
    counts.assign(static_cast<size_t>(l.batch), 0);
    selectBlocksCpu(shape, qr.data(), cache_.keyMin(static_cast<int>(layer)),
                    cache_.keyMax(static_cast<int>(layer)), cache_.pageTable(), cache_.seqLens(),
                    params, attrs.getFloat("scale", 0.0f), blocks.data<int32_t>(), n,
                    counts.data());
    return blocks;
  }

  Tensor blockAttention(int64_t layer, const Tensor &q, const Tensor &blocks,
                        const Attrs &attrs) override {
    Layout l = singleQuery(q, attrs);
    std::vector<float> qr = rows(q, l), out(qr.size());
    PagedAttentionShape shape = cache_.attentionShape(static_cast<int>(l.heads));
    checkSelectedBlocks(blocks.dtype(), blocks.shape(), l.batch, shape.numKvHeads);
    const std::vector<int32_t> &counts = selectionCounts(counts_, layer);
    pagedSparseAttentionCpu(shape, qr.data(), cache_.keys(static_cast<int>(layer)),
                            cache_.values(static_cast<int>(layer)), cache_.pageTable(),
                            cache_.seqLens(), blocks.data<int32_t>(),
                            static_cast<int32_t>(blocks.dim(1)), counts.data(),
                            attrs.getFloat("scale", 0.0f), out.data());
    return fromRows(out, q.shape(), l);
  }

private:
  KVCache &cache_;
  int64_t start_;
  std::map<int64_t, std::vector<int32_t>> counts_; // per layer, from blockSelect

  // How a [B, H, S, D] ("bhsd") or [B, S, H*D] ("bsd") tensor is laid out.
  using Layout = AttentionLayout;
  Layout layout(const Tensor &t, const Attrs &attrs, const char *headsAttr) const {
    return attentionLayout(t.shape(), attrs, headsAttr, cache_);
  }
  Layout singleQuery(const Tensor &q, const Attrs &attrs) const {
    Layout l = layout(q, attrs, "num_heads");
    if (l.len != 1)
      throw Error("block-sparse attention serves one query per call, got " +
                  std::to_string(l.len));
    return l;
  }
  // [B * S][heads][D] rows (sequence-major, then position) from either
  // layout, and back.
  static std::vector<float> rows(const Tensor &t, const Layout &l) {
    std::vector<float> out(static_cast<size_t>(l.batch * l.len * l.heads * l.d));
    for (int64_t b = 0; b < l.batch; ++b)
      for (int64_t s = 0; s < l.len; ++s)
        for (int64_t h = 0; h < l.heads; ++h)
          std::copy_n(t.data<float>() + offset(l, b, s, h), l.d,
                      out.data() + ((b * l.len + s) * l.heads + h) * l.d);
    return out;
  }
  static Tensor fromRows(const std::vector<float> &r, const Shape &shape, const Layout &l) {
    Tensor t(DType::F32, shape);
    for (int64_t b = 0; b < l.batch; ++b)
      for (int64_t s = 0; s < l.len; ++s)
        for (int64_t h = 0; h < l.heads; ++h)
          std::copy_n(r.data() + ((b * l.len + s) * l.heads + h) * l.d, l.d,
                      t.data<float>() + offset(l, b, s, h));
    return t;
  }
  static int64_t offset(const Layout &l, int64_t b, int64_t s, int64_t h) {
    return l.bhsd ? ((b * l.heads + h) * l.len + s) * l.d : ((b * l.len + s) * l.heads + h) * l.d;
  }
};

class CpuBackend final : public ProgramBackend {
public:
  explicit CpuBackend(const Package &package) {
    for (const char *name : {"prefill", "decode", "rectify"})
      executors_.emplace(name, std::make_unique<Executor>(package, name));
  }
  std::unique_ptr<KVStorage> makeStorage(const KVCacheConfig &config) override {
    return std::make_unique<CpuKVStorage>(config);
  }
  std::vector<Tensor> run(const std::string &function, const std::vector<Tensor> &inputs,
                          KVCache &cache, int64_t start) override {
    CachedCall context(cache, start);
    return executors_.at(function)->run(inputs, &context);
  }

private:
  std::map<std::string, std::unique_ptr<Executor>> executors_;
};

} // namespace

std::unique_ptr<ProgramBackend> makeCpuBackend(const Package &package) {
  return std::make_unique<CpuBackend>(package);
}

} // namespace resa
