#include "resa/runtime/Sampler.h"

#include "resa/kernels/Tensor.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace resa {

Sampler::Sampler(SamplingOptions options) : options_(options), rng_(options.seed) {
  if (!(options.temperature >= 0.0f))
    throw Error("temperature must be >= 0");
  if (!(options.topP > 0.0f && options.topP <= 1.0f))
    throw Error("top-p must be in (0, 1]");
}

int64_t Sampler::next(const float *logits, int64_t vocab) {
  return chooseToken(logits, vocab, options_.temperature, options_.topP, draw());
}

double Sampler::draw() {
  // uniform_real_distribution(0, mass) is this draw times mass (libstdc++:
  // generate_canonical<double, 53>), so a draw taken here and scaled later
  // picks what sampling with the distribution picked.
  return options_.temperature == 0.0f ? 0.0 : std::generate_canonical<double, 53>(rng_);
}

int64_t chooseToken(const float *logits, int64_t vocab, float temperature, float topP, double u) {
  for (int64_t i = 0; i < vocab; ++i)
    if (std::isnan(logits[i]))
      throw Error("logits contain NaN");
  // Greedy: the first maximum, as argmax everywhere does.
  if (temperature == 0.0f)
    return std::max_element(logits, logits + vocab) - logits;
  std::vector<int64_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  std::vector<double> probs(vocab);
  double maxLogit = logits[order[0]], total = 0;
  for (int64_t i = 0; i < vocab; ++i)
    total += probs[i] = std::exp((logits[order[i]] - maxLogit) / temperature);
  // Keep the smallest prefix whose mass reaches top-p.
  int64_t keep = 0;
  double mass = 0;
  while (keep < vocab && mass < topP * total)
    mass += probs[keep++];
  double r = u * mass;
  for (int64_t i = 0; i < keep; ++i) {
    r -= probs[i];
    if (r < 0)
      return order[i];
  }
  return order[keep - 1];
}

float logProbability(const float *logits, int64_t vocab, int64_t token) {
  double maxLogit = *std::max_element(logits, logits + vocab), total = 0;
  for (int64_t i = 0; i < vocab; ++i)
    total += std::exp(double(logits[i]) - maxLogit);
  return static_cast<float>(double(logits[token]) - maxLogit - std::log(total));
}

} // namespace resa
