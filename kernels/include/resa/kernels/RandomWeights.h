// Seeded random weights (resa-compile --weights=random): a package of a real
// model's shape that holds no weight bytes gets them at load. The generator is
// counter-based, so element i of a weight has the same value wherever and in
// whatever order it is made: on the host (kernels/cpu/RandomWeights.cpp: the
// CPU runtime, and the compiler for the small weights it folds into the plan)
// and on the device (resa/cuda/RandomWeights.h, no host copy).
//
// Element i of weight W under seed S: h = output i of SplitMix64 keyed by
// (S, FNV-1a 64 of W's name); its top 24 bits give an odd integer m in
// (-2^24, 2^24), exact as a float; the value is fma(m, step, offset) (one
// rounding, the same on host and device), then rounded to W's dtype (bf16
// and f16 to nearest even). The range follows W's shape:
//   rank >= 2 ([K, N] MatMul weights; K: every dim but the last):
//             U(-1/sqrt(K), 1/sqrt(K))
//   rank <= 1 (norm scales; biases get it too, harmlessly): U(0.9, 1.1)
#pragma once

#include "resa/kernels/HostDevice.h"
#include "resa/kernels/Tensor.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace resa {

// The values of one weight: randomWeightStream() makes it on the host, at()
// runs on either side.
struct RandomWeightStream {
  uint64_t key = 0;
  float step = 0, offset = 0; // value = fma(m, step, offset)

  static constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;

  // SplitMix64's output function.
  RESA_HOST_DEVICE static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // Element i as float32 (before rounding to the weight's dtype).
  RESA_HOST_DEVICE float at(uint64_t i) const {
    const uint64_t h = mix(key + (i + 1) * kGolden);
    const int32_t m = static_cast<int32_t>(h >> 40) * 2 + 1 - (1 << 24);
#if defined(__CUDA_ARCH__)
    return __fmaf_rn(static_cast<float>(m), step, offset);
#else
    return std::fma(static_cast<float>(m), step, offset);
#endif
  }
};

// The stream of weight `name` of that shape under `seed`.
RandomWeightStream randomWeightStream(uint64_t seed, std::string_view name, const Shape &shape);

// The weight's values as a host tensor of `dtype` (F32, BF16 or F16; throws
// resa::Error naming the weight otherwise).
Tensor randomWeight(uint64_t seed, const std::string &name, DType dtype, const Shape &shape);

} // namespace resa
