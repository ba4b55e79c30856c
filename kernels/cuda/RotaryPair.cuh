// resa.rotary's pairing of a head's elements, shared by the rotary kernels
// (ops/LayerRotary.cu) and the decode step's rotary K/V append
// (PagedKVCopy.cu): element d < rotary_dim is rotated with its partner,
// (i, i + rotary_dim / 2), or (2i, 2i + 1) when interleaved.
#pragma once

#include <cstdint>

namespace resa::gpu::detail {

struct RotaryPair {
  bool first;      // the pair's first element (y = x cos - x' sin), else second (x cos + x' sin)
  int64_t pair;    // the pair's index: the cos/sin column when they hold one value a pair
  int64_t partner; // the partner's offset from d
};

__device__ __forceinline__ RotaryPair rotaryPair(int64_t d, int64_t rotaryDim, bool interleaved) {
  const int64_t half = rotaryDim / 2;
  if (interleaved) {
    const bool first = d % 2 == 0;
    return {first, d / 2, first ? 1 : -1};
  }
  const bool first = d < half;
  return {first, first ? d : d - half, first ? half : -half};
}

// The CPU kernel's fp32 expression for x, its partner's value xp, and the
// pair's cos c and sin s.
__device__ __forceinline__ float rotatePair(const RotaryPair &p, float x, float xp, float c, float s) {
  return p.first ? x * c - xp * s : x * c + xp * s;
}

} // namespace resa::gpu::detail
