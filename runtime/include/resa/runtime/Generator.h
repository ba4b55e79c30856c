// Generation with a compiled KV-cache program: prefill each prompt once,
// then decode one token per step, over the runtime's paged KV cache.
//
// A cached program's rows share their positions, so one call serves
// sequences of one length: prefill and rectification run one sequence per
// call; each decode step runs one call per group of live sequences of equal
// length (a batch of prompts of different lengths decodes in several calls,
// GSR's candidates in one). Each sequence samples with its own stream.
#pragma once

#include "resa/runtime/Device.h"
#include "resa/runtime/Executor.h"
#include "resa/runtime/KVCache.h"
#include "resa/runtime/Sampler.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace resa {

class ProgramBackend; // runtime/src/Backend.h

struct GenerationOptions {
  int64_t maxNewTokens = 16;
  std::vector<int64_t> stopTokens; // e.g. EOS; generation of a sequence stops after one
  // Called with a sequence's generated tokens after each one; true stops it
  // (stop strings: the pipeline decodes the text and checks its end).
  std::function<bool(const std::vector<int64_t> &)> stopWhen;
  SamplingOptions sampling; // sequence i samples with seed + i
};

struct Generation {
  std::vector<int64_t> tokens; // the generated ids (a stop token included)
  std::vector<float> logProbs; // log p(token) under the model (temperature 1)
  std::string stopReason;      // "stop token", "stop string" or "max tokens"
};

class Generator {
public:
  // `kvPages` sizes the cache (pages of the package's block size, shared by
  // every sequence). Throws when the package has no KV-cache program, or
  // (CUDA) when a step has no CUDA kernel or the device lacks memory.
  Generator(const Package &package, int64_t kvPages, Device device = Device::Cpu);
  ~Generator();

  // Prefills and decodes each prompt; throws resa::Error on capacity or
  // token problems, leaving the cache empty again.
  std::vector<Generation> generate(const std::vector<std::vector<int64_t>> &prompts,
                                   const GenerationOptions &options);

  // n samples that continue one prompt: the prompt is prefilled once and
  // the n sequences share its KV pages (fork, copy-on-write); they decode as
  // one batch, sequence i sampling with seed + i.
  std::vector<Generation> generateShared(const std::vector<int64_t> &prompt, int64_t n,
                                         const GenerationOptions &options);

  // The steps generate() is made of, for tests and pipelines. Each runs one
  // call for sequence `id` with `tokens` at positions start.., where start is
  // the sequence's current length (or `start` for rectify).
  // Logits [S, vocab], or [1, vocab] (the last position's: read the last
  // row, (rows - 1) * vocab, to serve both) for a package compiled with
  // resa-compile --prefill-logits=last.
  Tensor prefill(int64_t id, const std::vector<int64_t> &tokens);
  Tensor decode(int64_t id, int64_t token); // logits [1, vocab]
  // One decode step for several sequences of one length, in one call:
  // logits [ids.size(), vocab].
  Tensor decode(const std::vector<int64_t> &ids, const std::vector<int64_t> &tokens);
  // The same step returning each sequence's next token (and its
  // log-probability) chosen from its logits with `request` (one draw per
  // sequence): what generate() runs. On CUDA the logits stay on the device.
  TokenChoice decodeAndChoose(const std::vector<int64_t> &ids, const std::vector<int64_t> &tokens,
                              const TokenRequest &request);
  // decodeAndChoose in two halves, so that a step can be queued before the
  // host reads the one before it (generate() keeps one queued): enqueueDecode
  // starts a step, takeDecoded returns the oldest enqueued step's choice (and
  // throws on NaN logits, as decodeAndChoose). A chained step decodes, for
  // the sequences of the step enqueued just before it and in their order,
  // the tokens that step chose: on CUDA they go from its sampling to this
  // step's input on the device, which runs this step while the host reads
  // them. The cache advances when a step is enqueued.
  void enqueueDecode(const std::vector<int64_t> &ids, const std::vector<int64_t> &tokens,
                     const TokenRequest &request);
  void enqueueChainedDecode(const std::vector<int64_t> &ids, const TokenRequest &request);
  TokenChoice takeDecoded();
  // Steps enqueued and not yet taken.
  size_t decodesInFlight() const;
  void rectify(int64_t id, int64_t start, const std::vector<int64_t> &tokens);
  // Rectification of several sequences' windows, all at positions start..,
  // in one call (what generate() does for sequences due at the same step).
  void rectify(const std::vector<int64_t> &ids, int64_t start,
               const std::vector<std::vector<int64_t>> &windows);

  KVCache &cache() { return *cache_; }
  Device device() const { return device_; }
  int64_t vocabSize() const { return vocab_; }
  // KV pages that prompts of these lengths need for `newTokens` more each.
  static int64_t pagesFor(const Package &package, const std::vector<std::vector<int64_t>> &prompts,
                          int64_t newTokens);
  // Dense rectifications generate() has run (each over the schedule's window).
  int64_t rectifications() const { return rectifications_; }
  // Tokens run through prefill and through decode so far (decode: every row
  // of every step, a step queued ahead for a sequence that then stopped
  // included: the work done, not the tokens kept).
  int64_t prefillTokens() const { return prefillTokens_; }
  int64_t decodeTokens() const { return decodeTokens_; }
  // Calls served by replaying a captured CUDA graph (0 on the CPU).
  int64_t graphReplays() const;

private:
  struct Stream;
  void sample(Stream &s, const float *logits);
  // Runs `start` (prefills, first samples), then decodes every stream to its
  // end; the streams' sequences are removed from the cache afterwards.
  std::vector<Generation> finish(std::vector<Stream> &streams, const GenerationOptions &options,
                                 const std::function<void()> &start);
  void release(const std::vector<Stream> &streams);
  // One call of `function` for the sequences `ids`, each given the same
  // number of tokens from position `start`; logits [ids.size() * len, vocab].
  Tensor call(const char *function, const std::vector<int64_t> &ids, int64_t start,
              const std::vector<std::vector<int64_t>> &tokens);
  // The [rows, len] id tensor of a call (ids checked against the vocabulary).
  Tensor tokenInput(const std::vector<std::vector<int64_t>> &tokens) const;
  // Runs `body` inside the cache's forward for `ids` (closed on failure too).
  void inForward(const std::vector<int64_t> &ids, int64_t start, int64_t len,
                 const std::function<void()> &body);
  void enqueueStep(const std::vector<int64_t> &ids, const std::vector<int64_t> &tokens,
                   const TokenRequest &request, bool chained);
  // A decode step's rows (one token per sequence, all of one length), counted.
  std::vector<std::vector<int64_t>> decodeRows(const std::vector<int64_t> &ids,
                                               const std::vector<int64_t> &tokens);
  Device device_;
  std::unique_ptr<ProgramBackend> backend_;
  std::unique_ptr<KVCache> cache_;
  int64_t vocab_ = 0;
  int64_t rectifyEvery_ = 0, rectifyWindow_ = 0; // 0: never (dense and sparse policies)
  int64_t rectifications_ = 0;
  int64_t prefillTokens_ = 0, decodeTokens_ = 0;
  int64_t nextId_ = 1 << 30; // generate()'s sequence ids, apart from callers' own
  std::vector<int64_t> lastEnqueued_; // the sequences of the last enqueued decode step
};

} // namespace resa
