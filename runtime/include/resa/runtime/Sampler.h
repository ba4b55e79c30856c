// Picks the next token from a row of logits: greedy at temperature 0,
// otherwise temperature + top-p (nucleus) sampling from a seeded generator.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace resa {

struct SamplingOptions {
  float temperature = 0.0f; // 0: greedy
  float topP = 1.0f;
  uint64_t seed = 0;
};

class Sampler {
public:
  explicit Sampler(SamplingOptions options);
  // Throws resa::Error on NaN logits. The same as chooseToken(logits, vocab,
  // temperature, topP, draw()).
  int64_t next(const float *logits, int64_t vocab);
  // The uniform draw in [0, 1) of the next sampled token (the generator
  // advances; none at temperature 0, where it returns 0): what chooseToken
  // and the device's sampling kernel (resa/cuda/Sampling.h) take.
  double draw();

private:
  SamplingOptions options_;
  std::mt19937_64 rng_;
};

// The token a Sampler picks from a row of logits with draw `u`: the first
// maximum at temperature 0; otherwise, over the tokens ordered by logit
// (ties by index), the nucleus (the shortest prefix holding top_p of the
// mass of exp((logit - max) / temperature)) and the token where the running
// mass passes u * (nucleus mass). Throws resa::Error on NaN logits.
int64_t chooseToken(const float *logits, int64_t vocab, float temperature, float topP, double u);

// The next token of each row of a call's logits (the last position of each
// sequence): what the sampler of each row picks with its draw. (The backends
// choose on the host or, with CUDA, on the device.)
struct TokenRequest {
  float temperature = 0.0f;  // 0: greedy
  float topP = 1.0f;
  std::vector<double> draws; // one per row (Sampler::draw)
};
struct TokenChoice {
  std::vector<int64_t> tokens;
  std::vector<float> logProbs; // log softmax at temperature 1 (logProbability)
  int64_t vocab = 0;
};

// log softmax(logits)[token], in double: the model's log-probability of a
// token, whatever the sampling temperature.
float logProbability(const float *logits, int64_t vocab, int64_t token);

} // namespace resa
