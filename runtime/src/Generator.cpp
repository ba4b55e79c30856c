#include "resa/runtime/Generator.h"

#include "Backend.h"

#include "resa/kernels/BlockSparse.h"

#include "plan.pb.h"

#include <algorithm>
#include <functional>
#include <map>

namespace resa {

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
  cfg.summaries = package.selectsBlocks(); // dense: no kmin/kmax to keep up to date
  return cfg;
}

} // namespace

Generator::Generator(const Package &package, int64_t kvPages, Device device)
    : device_(device),
      backend_(device == Device::Cuda ? makeCudaBackend(package) : makeCpuBackend(package)) {
  KVCacheConfig config = cacheConfig(package, kvPages);
  cache_ = std::make_unique<KVCache>(config, backend_->makeStorage(config));
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

Tensor Generator::tokenInput(const std::vector<std::vector<int64_t>> &tokens) const {
  const int64_t batch = static_cast<int64_t>(tokens.size());
  const int64_t len = static_cast<int64_t>(tokens.at(0).size());
  Tensor input(DType::I64, {batch, len});
  for (int64_t b = 0; b < batch; ++b) {
    if (static_cast<int64_t>(tokens[b].size()) != len)
      throw Error("a batched call takes the same number of tokens per sequence");
    for (int64_t t : tokens[b])
      if (t < 0 || (vocab_ > 0 && t >= vocab_))
        throw Error("token id " + std::to_string(t) + " is outside the vocabulary" +
                    (vocab_ > 0 ? " [0, " + std::to_string(vocab_) + ")" : std::string()));
    std::copy(tokens[b].begin(), tokens[b].end(), input.data<int64_t>() + b * len);
  }
  return input;
}

void Generator::inForward(const std::vector<int64_t> &ids, int64_t start, int64_t len,
                          const std::function<void()> &body) {
  cache_->beginForward(ids, std::vector<int64_t>(ids.size(), start),
                       std::vector<int64_t>(ids.size(), len));
  try {
    body();
  } catch (...) {
    try {
      cache_->endForward(); // closes the forward; the failure below is the one to report
    } catch (const Error &) {
    }
    throw;
  }
  cache_->endForward();
}

Tensor Generator::call(const char *function, const std::vector<int64_t> &ids, int64_t start,
                       const std::vector<std::vector<int64_t>> &tokens) {
  const Tensor input = tokenInput(tokens);
  const int64_t batch = input.dim(0), len = input.dim(1);
  std::vector<Tensor> out;
  inForward(ids, start, len, [&] { out = backend_->run(function, {input}, *cache_, start); });
  if (out.empty())
    return Tensor();
  const Tensor &logits = out[0];
  // @prefill compiled with --prefill-logits=last computes the last
  // position's logits only.
  const bool prefill = std::string(function) == "prefill";
  if (logits.rank() != 3 || logits.dim(0) != batch ||
      (logits.dim(1) != len && !(prefill && logits.dim(1) == 1)))
    throw Error("logits must be [" + std::to_string(batch) + ", " + std::to_string(len) +
                (prefill && len != 1 ? " (or 1: the last position)" : "") + ", vocab], got " +
                shapeToString(logits.shape()));
  vocab_ = logits.dim(2);
  return logits.reshaped({batch * logits.dim(1), logits.dim(2)});
}

Tensor Generator::prefill(int64_t id, const std::vector<int64_t> &tokens) {
  if (tokens.empty())
    throw Error("cannot prefill an empty prompt");
  if (!cache_->hasSequence(id))
    cache_->addSequence(id);
  prefillTokens_ += static_cast<int64_t>(tokens.size());
  return call("prefill", {id}, cache_->length(id), {tokens});
}

int64_t Generator::graphReplays() const { return backend_->graphReplays(); }

Tensor Generator::decode(int64_t id, int64_t token) { return decode(std::vector<int64_t>{id}, {token}); }

std::vector<std::vector<int64_t>> Generator::decodeRows(const std::vector<int64_t> &ids,
                                                        const std::vector<int64_t> &tokens) {
  if (ids.empty() || ids.size() != tokens.size())
    throw Error("decode takes one token for each of one or more sequences");
  const int64_t length = cache_->length(ids[0]);
  std::vector<std::vector<int64_t>> rows;
  for (size_t b = 0; b < ids.size(); ++b) {
    if (cache_->length(ids[b]) != length)
      throw Error("sequences decoded in one batch must have one length (" +
                  std::to_string(cache_->length(ids[b])) + " vs " + std::to_string(length) + ")");
    rows.push_back({tokens[b]});
  }
  decodeTokens_ += static_cast<int64_t>(ids.size());
  return rows;
}

Tensor Generator::decode(const std::vector<int64_t> &ids, const std::vector<int64_t> &tokens) {
  const std::vector<std::vector<int64_t>> rows = decodeRows(ids, tokens);
  return call("decode", ids, cache_->length(ids[0]), rows);
}

TokenChoice Generator::decodeAndChoose(const std::vector<int64_t> &ids,
                                       const std::vector<int64_t> &tokens,
                                       const TokenRequest &request) {
  if (decodesInFlight() > 0)
    throw Error("decodeAndChoose with " + std::to_string(decodesInFlight()) +
                " enqueued decode steps not taken");
  enqueueDecode(ids, tokens, request);
  return takeDecoded();
}

void Generator::enqueueStep(const std::vector<int64_t> &ids, const std::vector<int64_t> &tokens,
                            const TokenRequest &request, bool chained) {
  if (request.draws.size() != ids.size())
    throw Error("a decode step takes one draw per sequence");
  if (chained && ids != lastEnqueued_)
    throw Error("a chained decode step must decode the sequences of the step enqueued before "
                "it, in their order");
  const Tensor input = tokenInput(decodeRows(ids, tokens));
  const int64_t start = cache_->length(ids[0]);
  inForward(ids, start, 1, [&] {
    backend_->enqueueChoice("decode", {input}, *cache_, start, request, chained);
  });
  lastEnqueued_ = ids;
}

void Generator::enqueueDecode(const std::vector<int64_t> &ids, const std::vector<int64_t> &tokens,
                              const TokenRequest &request) {
  enqueueStep(ids, tokens, request, false);
}

void Generator::enqueueChainedDecode(const std::vector<int64_t> &ids,
                                     const TokenRequest &request) {
  // The ids' placeholders: the backend takes the tokens from the step before.
  enqueueStep(ids, std::vector<int64_t>(ids.size(), 0), request, true);
}

TokenChoice Generator::takeDecoded() {
  TokenChoice c = backend_->takeChoice();
  for (int64_t t : c.tokens)
    if (t < 0)
      throw Error("logits contain NaN");
  vocab_ = c.vocab;
  return c;
}

size_t Generator::decodesInFlight() const { return backend_->pendingChoices(); }

void Generator::rectify(int64_t id, int64_t start, const std::vector<int64_t> &tokens) {
  rectify(std::vector<int64_t>{id}, start, {tokens});
}

void Generator::rectify(const std::vector<int64_t> &ids, int64_t start,
                        const std::vector<std::vector<int64_t>> &windows) {
  if (ids.empty() || ids.size() != windows.size())
    throw Error("rectify takes one window of tokens for each of one or more sequences");
  call("rectify", ids, start, windows);
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
    // The sequences of the decode step queued behind the one being read
    // (chained: it decodes the tokens that one chooses); empty when none.
    std::vector<size_t> ahead;
    // Every live sequence takes its sampled token; those that go on decode
    // the next one, sequences of one length together in one batch (GSR's
    // candidates, forked from one prompt, decode as one batch throughout).
    while (std::find(live.begin(), live.end(), true) != live.end()) {
      std::map<int64_t, std::vector<size_t>> byLength;
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
        byLength[cache_->length(s.id)].push_back(i);
      }
      for (const auto &group : byLength) {
        const std::vector<size_t> &members = group.second;
        auto idsOf = [&](const std::vector<size_t> &of) {
          std::vector<int64_t> ids;
          for (size_t i : of)
            ids.push_back(streams[i].id);
          return ids;
        };
        // Each sequence's next token is chosen where the logits are (on
        // CUDA: on the device), with its own sampler's draw.
        auto requestFor = [&](const std::vector<size_t> &of) {
          TokenRequest request;
          request.temperature = options.sampling.temperature;
          request.topP = options.sampling.topP;
          for (size_t i : of)
            request.draws.push_back(streams[i].sampler.draw());
          return request;
        };
        // This step: queued ahead (its rows the sequences of `ahead`, of
        // which those that stopped on the token it decodes are no longer
        // members), or enqueued now.
        std::vector<size_t> rows;
        rows.swap(ahead);
        if (rows.empty()) {
          rows = members;
          std::vector<int64_t> tokens;
          for (size_t i : rows)
            tokens.push_back(streams[i].next);
          enqueueDecode(idsOf(rows), tokens, requestFor(rows));
        }
        // The next step is queued before this one's tokens are read when
        // nothing but a stop token can change it: the same sequences, all
        // of them decoding again (no maximum reached, no rectification due
        // after this step, which needs this step's tokens on the host).
        bool chain = byLength.size() == 1 && rows == members;
        for (size_t i : members) {
          const Stream &s = streams[i];
          chain = chain &&
                  static_cast<int64_t>(s.result.tokens.size()) + 1 < options.maxNewTokens &&
                  !(rectifyEvery_ > 0 && s.sinceRectify + 1 == rectifyEvery_);
        }
        if (chain) {
          enqueueChainedDecode(idsOf(members), requestFor(members));
          ahead = members;
        }
        const TokenChoice choice = takeDecoded();
        // The group's sequences due for rectification are rectified in one
        // call: they have one length, so one window start (no step is queued
        // after this one: the cache's length is the step's end).
        std::vector<int64_t> due;
        std::vector<std::vector<int64_t>> windows;
        for (size_t i : members) {
          const size_t row = static_cast<size_t>(std::find(rows.begin(), rows.end(), i) - rows.begin());
          Stream &s = streams[i];
          s.history.push_back(s.next);
          s.next = choice.tokens[row];
          s.nextLogProb = choice.logProbs[row];
          if (rectifyEvery_ > 0 && ++s.sinceRectify == rectifyEvery_) {
            due.push_back(s.id);
            windows.emplace_back(s.history.end() - rectifyWindow_, s.history.end());
            s.sinceRectify = 0;
            ++rectifications_;
          }
        }
        if (!due.empty())
          rectify(due, cache_->length(due.front()) - rectifyWindow_, windows);
      }
    }
    // A step queued for sequences that have all stopped since: unused.
    if (!ahead.empty())
      backend_->takeChoice();
  } catch (...) {
    // Steps still queued are not read; their sequences go with the rest.
    try {
      while (decodesInFlight() > 0)
        backend_->takeChoice();
    } catch (const Error &) { // the failure being reported comes first
    }
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
