// The programs of one package on one device, as the generator drives them:
// it opens a KV-cache forward for one sequence, the backend runs one cached
// function (prefill, decode or rectify) over it and hands back host fp32
// outputs. CpuBackend.cpp runs the exact CPU kernels; cuda/CudaBackend.cpp
// the CUDA ones.
#pragma once

#include "resa/runtime/Device.h"
#include "resa/runtime/KVCache.h"
#include "resa/runtime/Package.h"
#include "resa/runtime/Sampler.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace resa {

class ProgramBackend {
public:
  virtual ~ProgramBackend() = default;
  // The KV pools the backend's attention reads.
  virtual std::unique_ptr<KVStorage> makeStorage(const KVCacheConfig &config) = 0;
  // Runs `function` over the cache's open forward, whose tokens start at
  // position `start` of their sequence. Outputs are host tensors; float
  // outputs are fp32.
  virtual std::vector<Tensor> run(const std::string &function, const std::vector<Tensor> &inputs,
                                  KVCache &cache, int64_t start) = 0;
  // Runs `function` like run() and returns, instead of its logits (output 0,
  // [rows, len, vocab]), the next token of each row chosen from its last
  // position. This one chooses on the host from run()'s logits; the CUDA
  // backend chooses on the device, and only the tokens travel.
  virtual TokenChoice runAndChoose(const std::string &function, const std::vector<Tensor> &inputs,
                                   KVCache &cache, int64_t start, const TokenRequest &request);
  // Pipelined token choice (what Generator::generate runs): enqueueChoice
  // starts a step like runAndChoose, takeChoice returns the oldest enqueued
  // step's choice. With `chained`, the rows' token ids (inputs[0], [rows, 1],
  // then placeholders) are the tokens the step enqueued just before chose,
  // same rows in the same order, whether or not that choice was taken. The
  // queue is this class's; each backend starts its steps (startChoice): the
  // host's choice runs each step when it is enqueued, the CUDA backend queues
  // it on the device behind the step before, its ids copied there, so that
  // the device runs step N + 1 while the host reads step N's tokens.
  void enqueueChoice(const std::string &function, const std::vector<Tensor> &inputs,
                     KVCache &cache, int64_t start, const TokenRequest &request, bool chained);
  TokenChoice takeChoice();
  // Steps enqueued and not yet taken.
  size_t pendingChoices() const { return pending_.size(); }
  // Calls served by replaying a captured CUDA graph.
  virtual int64_t graphReplays() const { return 0; }

protected:
  // An enqueued step: its choice, and what a chained step after it takes its
  // token ids from (the backend's own kind of step).
  class PendingChoice {
  public:
    virtual ~PendingChoice() = default;
    // The step's choice (waits for the step where it still runs). Called
    // once; the step may outlive it as the source of a chained step's ids.
    virtual TokenChoice take() = 0;
  };
  // Starts a step like runAndChoose. chainedFrom (null unless chained): the
  // step enqueued just before, of this backend's kind, its rows checked.
  // This one runs the step now and chooses on the host.
  virtual std::shared_ptr<PendingChoice> startChoice(const std::string &function,
                                                     const std::vector<Tensor> &inputs,
                                                     KVCache &cache, int64_t start,
                                                     const TokenRequest &request,
                                                     const PendingChoice *chainedFrom);
  // The most steps enqueued and not taken at a time.
  virtual size_t maxPendingChoices() const { return SIZE_MAX; }
  // chainedFrom as the backend's own kind of step S (startChoice).
  template <class S> static const S &chainedStep(const PendingChoice *chainedFrom) {
    const auto *step = dynamic_cast<const S *>(chainedFrom);
    if (!step)
      throw Error("a chained step follows a step of another backend");
    return *step;
  }

private:
  std::deque<std::shared_ptr<PendingChoice>> pending_;
  std::shared_ptr<PendingChoice> last_; // the last enqueued step (taken or not)
  int64_t lastRows_ = -1;               // and its rows (-1: none yet)
};

// Throws unless a chained step of `rows` rows can follow a step of
// `lastRows` (-1: no step was enqueued before it).
void checkChainedRows(int64_t lastRows, int64_t rows);

// Throws unless `logits` (a call's output 0) is float32 [rows, len >= 1,
// vocab]: what runAndChoose chooses from.
void checkChoiceLogits(DType dtype, const Shape &shape, int64_t rows);

std::unique_ptr<ProgramBackend> makeCpuBackend(const Package &package);
// Throws resa::Error when the runtime was built without CUDA.
std::unique_ptr<ProgramBackend> makeCudaBackend(const Package &package);

} // namespace resa
