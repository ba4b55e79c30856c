// The host's token choice (ProgramBackend::runAndChoose's default): the
// logits come back from run() and each row's sampler rule picks from its
// last position; its pipelined form runs each step when it is enqueued.
#include "Backend.h"

#include <algorithm>

namespace resa {

namespace {

TokenChoice chooseFromLogits(const Tensor &logits, const TokenRequest &request) {
  const int64_t rows = static_cast<int64_t>(request.draws.size());
  checkChoiceLogits(logits.dtype(), logits.shape(), rows);
  TokenChoice c;
  const int64_t len = logits.dim(1);
  c.vocab = logits.dim(2);
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = logits.data<float>() + (r * len + len - 1) * c.vocab;
    const int64_t token = chooseToken(row, c.vocab, request.temperature, request.topP,
                                      request.draws[static_cast<size_t>(r)]);
    c.tokens.push_back(token);
    c.logProbs.push_back(logProbability(row, c.vocab, token));
  }
  return c;
}

} // namespace

void checkChoiceLogits(DType dtype, const Shape &shape, int64_t rows) {
  if (dtype != DType::F32 || shape.size() != 3 || shape[0] != rows || shape[1] < 1)
    throw Error("logits must be float32 [" + std::to_string(rows) + ", len, vocab], got " +
                dtypeName(dtype) + " " + shapeToString(shape));
}

TokenChoice ProgramBackend::runAndChoose(const std::string &function,
                                         const std::vector<Tensor> &inputs, KVCache &cache,
                                         int64_t start, const TokenRequest &request) {
  std::vector<Tensor> out = run(function, inputs, cache, start);
  if (out.empty())
    throw Error("'" + function + "' returns no logits");
  return chooseFromLogits(out[0], request);
}

void checkChainedRows(int64_t lastRows, int64_t rows) {
  if (lastRows < 0)
    throw Error("a chained step needs a step enqueued before it");
  if (lastRows != rows)
    throw Error("a chained step has " + std::to_string(rows) + " rows, the step before " +
                std::to_string(lastRows));
}

std::shared_ptr<ProgramBackend::PendingChoice>
ProgramBackend::startChoice(const std::string &function, const std::vector<Tensor> &inputs,
                            KVCache &cache, int64_t start, const TokenRequest &request,
                            const PendingChoice *chainedFrom) {
  // The host's kind of step: run when started, its choice kept for a
  // chained step after it.
  class HostChoice final : public PendingChoice {
  public:
    explicit HostChoice(TokenChoice c) : choice(std::move(c)) {}
    TokenChoice take() override { return choice; }
    const TokenChoice choice;
  };
  std::vector<Tensor> in = inputs;
  if (chainedFrom) {
    const TokenChoice &from = chainedStep<HostChoice>(chainedFrom).choice;
    Tensor ids(DType::I64, in.at(0).shape());
    std::copy(from.tokens.begin(), from.tokens.end(), ids.data<int64_t>());
    in[0] = std::move(ids);
  }
  return std::make_shared<HostChoice>(runAndChoose(function, in, cache, start, request));
}

void ProgramBackend::enqueueChoice(const std::string &function, const std::vector<Tensor> &inputs,
                                   KVCache &cache, int64_t start, const TokenRequest &request,
                                   bool chained) {
  if (pending_.size() >= maxPendingChoices())
    throw Error("more than " + std::to_string(maxPendingChoices()) +
                " decode steps enqueued and not taken");
  if (chained)
    checkChainedRows(lastRows_, inputs.at(0).numel());
  std::shared_ptr<PendingChoice> step =
      startChoice(function, inputs, cache, start, request, chained ? last_.get() : nullptr);
  lastRows_ = static_cast<int64_t>(request.draws.size());
  pending_.push_back(step);
  last_ = std::move(step);
}

TokenChoice ProgramBackend::takeChoice() {
  if (pending_.empty())
    throw Error("no enqueued step to take a choice from");
  std::shared_ptr<PendingChoice> step = std::move(pending_.front());
  pending_.pop_front();
  return step->take();
}

} // namespace resa
