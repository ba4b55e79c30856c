#include "resa/runtime/Generator.h"

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
    const KVCacheConfig &cfg = cache_.config();
    int64_t heads = attrs.requireInt("num_heads"), kvHeads = attrs.requireInt("kv_heads");
    bool bhsd = attrs.getString("layout", "bhsd") == "bhsd";
    int64_t len = q.dim(bhsd ? 2 : 1), d = cfg.headDim;
    if (q.dim(0) != 1)
      throw Error("a cached program runs one sequence per call, got batch " +
                  std::to_string(q.dim(0)));
    if (kvHeads != cfg.numKvHeads || layer < 0 || layer >= cfg.numLayers)
      throw Error("cache_attention of layer " + std::to_string(layer) +
                  " does not fit the KV cache");
    // [S][heads][D] rows from either layout.
    auto rows = [&](const Tensor &t, int64_t n) {
      std::vector<float> out(static_cast<size_t>(len * n * d));
      const float *src = t.data<float>();
      for (int64_t s = 0; s < len; ++s)
        for (int64_t h = 0; h < n; ++h)
          std::copy_n(src + (bhsd ? (h * len + s) * d : (s * n + h) * d), d,
                      out.data() + (s * n + h) * d);
      return out;
    };
    std::vector<float> kr = rows(k, kvHeads), vr = rows(v, kvHeads), qr = rows(q, heads);
    cache_.writeLayer(static_cast<int>(layer), kr.data(), vr.data());

    // Query s of the call sits at position start + s and sees keys 0..its
    // position: one attention row per query over the sequence's pages.
    PagedAttentionShape shape = cache_.attentionShape(static_cast<int>(heads));
    int32_t stride = cache_.maxPagesPerSeq();
    shape.batch = static_cast<int32_t>(len);
    std::vector<int32_t> table(static_cast<size_t>(len * stride)), lens(len);
    for (int64_t s = 0; s < len; ++s) {
      std::copy_n(cache_.pageTable(), stride, table.data() + s * stride);
      lens[s] = static_cast<int32_t>(start_ + s + 1);
    }
    std::vector<float> out(qr.size());
    pagedDecodeAttentionCpu(shape, qr.data(), cache_.keys(static_cast<int>(layer)),
                            cache_.values(static_cast<int>(layer)), table.data(), lens.data(),
                            attrs.getFloat("scale", 0.0f), out.data());
    Tensor result(DType::F32, q.shape());
    float *dst = result.data<float>();
    for (int64_t s = 0; s < len; ++s)
      for (int64_t h = 0; h < heads; ++h)
        std::copy_n(out.data() + (s * heads + h) * d, d,
                    dst + (bhsd ? (h * len + s) * d : (s * heads + h) * d));
    return result;
  }

private:
  KVCache &cache_;
  int64_t start_;
};

namespace {

KVCacheConfig cacheConfig(const Package &package, int64_t pages, int pageSize) {
  if (!package.plan().has_kv_cache())
    throw Error(package.path() + ": the package has no KV-cache program; recompile it with "
                                 "this resa-compile");
  const plan::KVCacheSpec &spec = package.plan().kv_cache();
  KVCacheConfig cfg;
  cfg.numLayers = spec.layers();
  cfg.numKvHeads = spec.kv_heads();
  cfg.headDim = spec.head_dim();
  cfg.pageSize = pageSize;
  cfg.numPages = pages;
  return cfg;
}

} // namespace

Generator::Generator(const Package &package, int64_t kvPages, int pageSize)
    : package_(package), prefill_(package, "prefill"), decode_(package, "decode"),
      rectify_(package, "rectify"),
      cache_(std::make_unique<KVCache>(cacheConfig(package, kvPages, pageSize))) {}

Generator::~Generator() = default;

int64_t Generator::pagesFor(const std::vector<std::vector<int64_t>> &prompts, int64_t newTokens,
                            int pageSize) {
  int64_t pages = 0;
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
        next[i] = samplers[i].next(logits.data<float>(), vocab_);
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
