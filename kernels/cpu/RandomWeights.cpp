// The host side of resa/kernels/RandomWeights.h.
#include "resa/kernels/RandomWeights.h"

namespace resa {

RandomWeightStream randomWeightStream(uint64_t seed, std::string_view name, const Shape &shape) {
  uint64_t fnv = 0xcbf29ce484222325ull; // FNV-1a 64
  for (char c : name) {
    fnv ^= static_cast<unsigned char>(c);
    fnv *= 0x100000001b3ull;
  }
  RandomWeightStream s;
  s.key = RandomWeightStream::mix(fnv ^ RandomWeightStream::mix(seed + RandomWeightStream::kGolden));
  double bound = 0.1;
  if (shape.size() >= 2) {
    const int64_t n = shape.back();
    const int64_t k = n > 0 ? numElements(shape) / n : 0;
    bound = k > 0 ? 1.0 / std::sqrt(static_cast<double>(k)) : 0.0;
  } else {
    s.offset = 1.0f;
  }
  // m spans (-2^24, 2^24): the step maps it onto (-bound, bound).
  s.step = static_cast<float>(std::ldexp(bound, -24));
  return s;
}

Tensor randomWeight(uint64_t seed, const std::string &name, DType dtype, const Shape &shape) {
  if (dtype != DType::F32 && dtype != DType::BF16 && dtype != DType::F16)
    throw Error("random weight '" + name + "' has dtype " + dtypeName(dtype) +
                "; only float32, bfloat16 and float16 weights can be random");
  Tensor t(dtype, shape);
  const RandomWeightStream s = randomWeightStream(seed, name, shape);
  const int64_t n = t.numel();
  if (dtype == DType::F32) {
    float *out = t.data<float>();
    for (int64_t i = 0; i < n; ++i)
      out[i] = s.at(static_cast<uint64_t>(i));
  } else {
    uint16_t *out = t.data<uint16_t>();
    for (int64_t i = 0; i < n; ++i) {
      const float v = s.at(static_cast<uint64_t>(i));
      out[i] = dtype == DType::BF16 ? f32ToBf16(v) : f32ToF16(v);
    }
  }
  return t;
}

} // namespace resa
