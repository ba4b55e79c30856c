#include "resa/runtime/Generator.h"

#include "resa/kernels/BlockSparse.h"

#include "plan.pb.h"

#include <algorithm>

namespace resa {

// One call of a cached program for one sequence: the forward context that
// resa.positions and resa.cache_attention read.
class Generator::CachedCall : public ForwardContext {
public:
  CachedCall(KVCache &cache, int64_t start) : cache_(cache), start_(start) {}
  int64_t start() const override { return start_; }

  Tensor cacheAttention(int64_t layer, const Tensor &q, const Tensor &k, const Tensor &v,
                        const Attrs &attrs) override {
    cacheWrite(layer, k, v, attrs);
    Layout l = layout(q, attrs, "num_heads");
    std::vector<float> qr = rows(q, l);
    // Query s of the call sits at position start + s and sees keys 0..its
    // position: one attention row per query over the sequence's pages.
    PagedAttentionShape shape = cache_.attentionShape(static_cast<int>(l.heads));
    int32_t stride = cache_.maxPagesPerSeq();
    shape.batch = static_cast<int32_t>(l.len);
    std::vector<int32_t> table(static_cast<size_t>(l.len * stride)), lens(l.len);
    for (int64_t s = 0; s < l.len; ++s) {
      std::copy_n(cache_.pageTable(), stride, table.data() + s * stride);
      lens[s] = static_cast<int32_t>(start_ + s + 1);
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
    int32_t numBlocks = (cache_.seqLens()[0] + shape.pageSize - 1) / shape.pageSize;
    int32_t n = selectedBlockCount(numBlocks, params);
    Tensor blocks(DType::I32, {shape.numKvHeads, n});
    int32_t count = 0;
    selectBlocksCpu(shape, qr.data(), cache_.keyMin(static_cast<int>(layer)),
                    cache_.keyMax(static_cast<int>(layer)), cache_.pageTable(), cache_.seqLens(),
                    params, attrs.getFloat("scale", 0.0f), blocks.data<int32_t>(), n, &count);
    return blocks;
  }

  Tensor blockAttention(int64_t layer, const Tensor &q, const Tensor &blocks,
                        const Attrs &attrs) override {
    Layout l = singleQuery(q, attrs);
    std::vector<float> qr = rows(q, l), out(qr.size());
    PagedAttentionShape shape = cache_.attentionShape(static_cast<int>(l.heads));
    if (blocks.dtype() != DType::I32 || blocks.rank() != 2 || blocks.dim(0) != shape.numKvHeads)
      throw Error("selected blocks must be int32 [kv_heads, n], got " +
                  shapeToString(blocks.shape()));
    int32_t n = static_cast<int32_t>(blocks.dim(1));
    pagedSparseAttentionCpu(shape, qr.data(), cache_.keys(static_cast<int>(layer)),
                            cache_.values(static_cast<int>(layer)), cache_.pageTable(),
                            cache_.seqLens(), blocks.data<int32_t>(), n, &n,
                            attrs.getFloat("scale", 0.0f), out.data());
    return fromRows(out, q.shape(), l);
  }

private:
  KVCache &cache_;
  int64_t start_;

  // How a [1, H, S, D] ("bhsd") or [1, S, H*D] ("bsd") tensor is laid out.
  struct Layout {
    bool bhsd;
    int64_t heads, len, d;
  };
  Layout layout(const Tensor &t, const Attrs &attrs, const char *headsAttr) const {
    Layout l;
    l.bhsd = attrs.getString("layout", "bhsd") == "bhsd";
    l.heads = attrs.requireInt(headsAttr);
    l.len = t.dim(l.bhsd ? 2 : 1);
    l.d = cache_.config().headDim;
    if (t.dim(0) != 1)
      throw Error("a cached program runs one sequence per call, got batch " +
                  std::to_string(t.dim(0)));
    if (t.numel() != l.heads * l.len * l.d)
      throw Error("tensor " + shapeToString(t.shape()) + " does not hold " +
                  std::to_string(l.heads) + " heads of size " + std::to_string(l.d));
    return l;
  }
  Layout singleQuery(const Tensor &q, const Attrs &attrs) const {
    Layout l = layout(q, attrs, "num_heads");
    if (l.len != 1)
      throw Error("block-sparse attention serves one query per call, got " +
                  std::to_string(l.len));
    return l;
  }
  // [S][heads][D] rows from either layout, and back.
  static std::vector<float> rows(const Tensor &t, const Layout &l) {
    std::vector<float> out(static_cast<size_t>(l.len * l.heads * l.d));
    for (int64_t s = 0; s < l.len; ++s)
      for (int64_t h = 0; h < l.heads; ++h)
        std::copy_n(t.data<float>() + offset(l, s, h), l.d,
                    out.data() + (s * l.heads + h) * l.d);
    return out;
  }
  static Tensor fromRows(const std::vector<float> &r, const Shape &shape, const Layout &l) {
    Tensor t(DType::F32, shape);
    for (int64_t s = 0; s < l.len; ++s)
      for (int64_t h = 0; h < l.heads; ++h)
        std::copy_n(r.data() + (s * l.heads + h) * l.d, l.d, t.data<float>() + offset(l, s, h));
    return t;
  }
  static int64_t offset(const Layout &l, int64_t s, int64_t h) {
    return l.bhsd ? (h * l.len + s) * l.d : (s * l.heads + h) * l.d;
  }
};

namespace {

KVCacheConfig cacheConfig(const Package &package, int64_t pages) {
  if (!package.plan().has_kv_cache())
    throw Error(package.path() + ": the package has no KV-cache program; recompile it with "
                                 "this resa-compile");
  const plan::KVCacheSpec &spec = package.plan().kv_cache();
  KVCacheConfig cfg;
  cfg.numLayers = spec.layers();
  cfg.numKvHeads = spec.kv_heads();
  cfg.headDim = spec.head_dim();
  cfg.pageSize = spec.block_size() > 0 ? spec.block_size() : 16;
  cfg.numPages = pages;
  return cfg;
}

} // namespace

Generator::Generator(const Package &package, int64_t kvPages)
    : package_(package), prefill_(package, "prefill"), decode_(package, "decode"),
      rectify_(package, "rectify"),
      cache_(std::make_unique<KVCache>(cacheConfig(package, kvPages))) {
  if (package.plan().has_rectify()) {
    const plan::RectifySchedule &r = package.plan().rectify();
    if (r.function() != "rectify" || r.interval() <= 0 || r.window() <= 0 ||
        r.window() > r.interval())
      throw Error(package.path() + ": bad rectification schedule (function '" + r.function() +
                  "', every " + std::to_string(r.interval()) + ", window " +
                  std::to_string(r.window()) + ")");
    rectifyEvery_ = r.interval();
    rectifyWindow_ = r.window();
  }
}

Generator::~Generator() = default;

int64_t Generator::pagesFor(const Package &package,
                            const std::vector<std::vector<int64_t>> &prompts, int64_t newTokens) {
  int64_t pageSize = cacheConfig(package, 1).pageSize, pages = 0;
  for (const auto &p : prompts)
    pages += (static_cast<int64_t>(p.size()) + newTokens + pageSize - 1) / pageSize;
  return std::max<int64_t>(pages, 1);
}

Tensor Generator::call(const Executor &exec, int64_t id, int64_t start,
                       const std::vector<int64_t> &tokens) {
  Tensor ids(DType::I64, {1, static_cast<int64_t>(tokens.size())});
  std::copy(tokens.begin(), tokens.end(), ids.data<int64_t>());
  cache_->beginForward({id}, {start}, {static_cast<int64_t>(tokens.size())});
  std::vector<Tensor> out;
  try {
    CachedCall context(*cache_, start);
    out = exec.run({ids}, &context);
  } catch (...) {
    try {
      cache_->endForward(); // closes the forward; the failure below is the one to report
    } catch (const Error &) {
    }
    throw;
  }
  cache_->endForward();
  if (out.empty())
    return Tensor();
  const Tensor &logits = out[0];
  if (logits.rank() != 3 || logits.dim(0) != 1)
    throw Error("logits must be [1, seq, vocab], got " + shapeToString(logits.shape()));
  vocab_ = logits.dim(2);
  return logits.reshaped({logits.dim(1), logits.dim(2)});
}

Tensor Generator::prefill(int64_t id, const std::vector<int64_t> &tokens) {
  if (tokens.empty())
    throw Error("cannot prefill an empty prompt");
  if (!cache_->hasSequence(id))
    cache_->addSequence(id);
  return call(prefill_, id, cache_->length(id), tokens);
}

Tensor Generator::decode(int64_t id, int64_t token) {
  return call(decode_, id, cache_->length(id), {token});
}

void Generator::rectify(int64_t id, int64_t start, const std::vector<int64_t> &tokens) {
  call(rectify_, id, start, tokens);
}

std::vector<Generation> Generator::generate(const std::vector<std::vector<int64_t>> &prompts,
                                            const GenerationOptions &options) {
  std::vector<Generation> results(prompts.size());
  std::vector<Sampler> samplers;
  for (size_t i = 0; i < prompts.size(); ++i) {
    SamplingOptions s = options.sampling;
    s.seed += i;
    samplers.emplace_back(s);
  }
  auto isStop = [&](int64_t t) {
    return std::find(options.stopTokens.begin(), options.stopTokens.end(), t) !=
           options.stopTokens.end();
  };
  std::vector<int64_t> ids(prompts.size());
  // Per sequence: every token in its cache, and decode steps since the last
  // rectification (each sequence keeps its own cadence).
  std::vector<std::vector<int64_t>> history = prompts;
  std::vector<int64_t> sinceRectify(prompts.size(), 0);
  try {
    std::vector<int64_t> next(prompts.size());
    std::vector<bool> live(prompts.size(), options.maxNewTokens > 0);
    for (size_t i = 0; i < prompts.size(); ++i) {
      ids[i] = static_cast<int64_t>(i);
      if (!live[i])
        continue;
      Tensor logits = prefill(ids[i], prompts[i]);
      const float *last = logits.data<float>() + (logits.dim(0) - 1) * vocab_;
      next[i] = samplers[i].next(last, vocab_);
    }
    // Every live sequence takes its sampled token, then decodes the next.
    while (std::find(live.begin(), live.end(), true) != live.end()) {
      for (size_t i = 0; i < prompts.size(); ++i) {
        if (!live[i])
          continue;
        results[i].tokens.push_back(next[i]);
        if (isStop(next[i]) || static_cast<int64_t>(results[i].tokens.size()) ==
                                   options.maxNewTokens) {
          results[i].stopReason = isStop(next[i]) ? "stop token" : "max tokens";
          live[i] = false;
          continue;
        }
        Tensor logits = decode(ids[i], next[i]);
        history[i].push_back(next[i]);
        next[i] = samplers[i].next(logits.data<float>(), vocab_);
        if (rectifyEvery_ > 0 && ++sinceRectify[i] == rectifyEvery_) {
          int64_t len = static_cast<int64_t>(history[i].size());
          rectify(ids[i], len - rectifyWindow_,
                  std::vector<int64_t>(history[i].end() - rectifyWindow_, history[i].end()));
          sinceRectify[i] = 0;
          ++rectifications_;
        }
      }
    }
  } catch (...) {
    for (int64_t id : ids)
      if (cache_->hasSequence(id))
        cache_->removeSequence(id);
    throw;
  }
  for (int64_t id : ids)
    if (cache_->hasSequence(id))
      cache_->removeSequence(id);
  for (size_t i = 0; i < prompts.size(); ++i)
    if (results[i].stopReason.empty())
      results[i].stopReason = "max tokens";
  return results;
}

} // namespace resa
