// Picks the next token from a row of logits: greedy at temperature 0,
// otherwise temperature + top-p (nucleus) sampling from a seeded generator.
#pragma once

#include <cstdint>
#include <random>

namespace resa {

struct SamplingOptions {
  float temperature = 0.0f; // 0: greedy
  float topP = 1.0f;
  uint64_t seed = 0;
};

class Sampler {
public:
  explicit Sampler(SamplingOptions options);
  // Throws resa::Error on NaN logits.
  int64_t next(const float *logits, int64_t vocab);

private:
  SamplingOptions options_;
  std::mt19937_64 rng_;
};

// log softmax(logits)[token], in double: the model's log-probability of a
// token, whatever the sampling temperature.
float logProbability(const float *logits, int64_t vocab, int64_t token);

} // namespace resa
