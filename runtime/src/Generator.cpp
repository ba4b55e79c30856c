#include "resa/runtime/Generator.h"

#include "resa/kernels/BlockSparse.h"

#include "plan.pb.h"

#include <algorithm>
#include <functional>

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
  for (int64_t t : tokens)
    if (t < 0 || (vocab_ > 0 && t >= vocab_))
      throw Error("token id " + std::to_string(t) + " is outside the vocabulary" +
                  (vocab_ > 0 ? " [0, " + std::to_string(vocab_) + ")" : std::string()));
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
  prefillTokens_ += static_cast<int64_t>(tokens.size());
  return call(prefill_, id, cache_->length(id), tokens);
}

Tensor Generator::decode(int64_t id, int64_t token) {
  ++decodeTokens_;
  return call(decode_, id, cache_->length(id), {token});
}

void Generator::rectify(int64_t id, int64_t start, const std::vector<int64_t> &tokens) {
  call(rectify_, id, start, tokens);
}

// One sequence being generated: its cache id, every token in its cache, its
// sampler, the token it sampled next, and its own rectification cadence.
struct Generator::Stream {
  Stream(int64_t id, std::vector<int64_t> history, SamplingOptions sampling)
      : id(id), history(std::move(history)), sampler(sampling) {}
  int64_t id;
  std::vector<int64_t> history;
  Sampler sampler;
  int64_t next = 0;
  float nextLogProb = 0;
  int64_t sinceRectify = 0;
  Generation result;
};

namespace {

SamplingOptions streamSampling(const GenerationOptions &options, size_t i) {
  SamplingOptions s = options.sampling;
  s.seed += i; // sequence i samples with seed + i
  return s;
}

} // namespace

void Generator::sample(Stream &s, const float *logits) {
  s.next = s.sampler.next(logits, vocab_);
  s.nextLogProb = logProbability(logits, vocab_, s.next);
}

std::vector<Generation> Generator::generate(const std::vector<std::vector<int64_t>> &prompts,
                                            const GenerationOptions &options) {
  std::vector<Stream> streams;
  for (size_t i = 0; i < prompts.size(); ++i)
    streams.emplace_back(nextId_++, prompts[i], streamSampling(options, i));
  return finish(streams, options, [&] {
    for (Stream &s : streams) {
      Tensor logits = prefill(s.id, s.history);
      sample(s, logits.data<float>() + (logits.dim(0) - 1) * vocab_);
    }
  });
}

std::vector<Generation> Generator::generateShared(const std::vector<int64_t> &prompt, int64_t n,
                                                  const GenerationOptions &options) {
  if (n < 1)
    throw Error("generateShared needs at least one sequence, got " + std::to_string(n));
  std::vector<Stream> streams;
  for (int64_t i = 0; i < n; ++i)
    streams.emplace_back(nextId_++, prompt, streamSampling(options, i));
  return finish(streams, options, [&] {
    // One prefill; the others fork its pages (copy-on-write) and sample
    // their first tokens from the same logits with their own streams.
    Tensor logits = prefill(streams[0].id, prompt);
    const float *last = logits.data<float>() + (logits.dim(0) - 1) * vocab_;
    for (Stream &s : streams) {
      if (s.id != streams[0].id)
        cache_->forkSequence(streams[0].id, s.id);
      sample(s, last);
    }
  });
}

std::vector<Generation> Generator::finish(std::vector<Stream> &streams,
                                          const GenerationOptions &options,
                                          const std::function<void()> &start) {
  auto stops = [&](const Stream &s) {
    return std::find(options.stopTokens.begin(), options.stopTokens.end(), s.next) !=
           options.stopTokens.end();
  };
  try {
    if (options.maxNewTokens > 0)
      start();
    std::vector<bool> live(streams.size(), options.maxNewTokens > 0);
    // Every live sequence takes its sampled token, then decodes the next.
    while (std::find(live.begin(), live.end(), true) != live.end()) {
      for (size_t i = 0; i < streams.size(); ++i) {
        if (!live[i])
          continue;
        Stream &s = streams[i];
        s.result.tokens.push_back(s.next);
        s.result.logProbs.push_back(s.nextLogProb);
        bool stopString = options.stopWhen && options.stopWhen(s.result.tokens);
        if (stops(s) || stopString ||
            static_cast<int64_t>(s.result.tokens.size()) == options.maxNewTokens) {
          s.result.stopReason = stops(s) ? "stop token" : stopString ? "stop string" : "max tokens";
          live[i] = false;
          continue;
        }
        Tensor logits = decode(s.id, s.next);
        s.history.push_back(s.next);
        sample(s, logits.data<float>());
        if (rectifyEvery_ > 0 && ++s.sinceRectify == rectifyEvery_) {
          int64_t len = static_cast<int64_t>(s.history.size());
          rectify(s.id, len - rectifyWindow_,
                  std::vector<int64_t>(s.history.end() - rectifyWindow_, s.history.end()));
          s.sinceRectify = 0;
          ++rectifications_;
        }
      }
    }
  } catch (...) {
    release(streams);
    throw;
  }
  release(streams);
  std::vector<Generation> results;
  for (Stream &s : streams) {
    if (s.result.stopReason.empty())
      s.result.stopReason = "max tokens";
    results.push_back(std::move(s.result));
  }
  return results;
}

void Generator::release(const std::vector<Stream> &streams) {
  for (const Stream &s : streams)
    if (cache_->hasSequence(s.id))
      cache_->removeSequence(s.id);
}

} // namespace resa
