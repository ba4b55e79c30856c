// What the end-to-end check drivers share: seeded random prompts, the
// comparison of generations, the message a call throws.
#pragma once

#include "resa/runtime/Generator.h"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

namespace resa::check {

// One prompt per length, token ids in [1, 200] (inside every test model's
// vocabulary), from `rng`.
inline std::vector<std::vector<int64_t>> randomPrompts(std::mt19937 &rng,
                                                       std::initializer_list<int64_t> lengths) {
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t len : lengths) {
    std::vector<int64_t> p;
    for (int64_t i = 0; i < len; ++i)
      p.push_back(rng() % 200 + 1);
    prompts.push_back(p);
  }
  return prompts;
}

// The same tokens, log-probabilities and stop reasons, in order.
inline bool sameGenerations(const std::vector<Generation> &a, const std::vector<Generation> &b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].tokens != b[i].tokens || a[i].logProbs != b[i].logProbs ||
        a[i].stopReason != b[i].stopReason)
      return false;
  return true;
}

// The message of the resa::Error `f` throws ("" when it throws none).
inline std::string errorOf(const std::function<void()> &f) {
  try {
    f();
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

} // namespace resa::check
