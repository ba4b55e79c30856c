// Rotary position embedding of one head vector; shared by the RotaryEmbedding
// kernels and GroupQueryAttention's do_rotary path.
#pragma once

#include <cstdint>
#include <cstring>

namespace resa::cpu {

// y[0:rotDim] = rotate(x[0:rotDim]) with cos/sin holding rotDim/2 values;
// y[rotDim:headSize] = x[rotDim:headSize]. Non-interleaved rotates the halves
// (x[i], x[i + rotDim/2]); interleaved rotates pairs (x[2i], x[2i+1]).
inline void ropeApply(const float *x, float *y, int64_t headSize, int64_t rotDim, const float *cos, const float *sin,
                      bool interleaved) {
  const int64_t half = rotDim / 2;
  for (int64_t i = 0; i < half; ++i) {
    int64_t i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + half;
    float x1 = x[i1], x2 = x[i2], c = cos[i], s = sin[i];
    y[i1] = x1 * c - x2 * s;
    y[i2] = x2 * c + x1 * s;
  }
  if (headSize > rotDim && x != y) std::memcpy(y + rotDim, x + rotDim, sizeof(float) * (headSize - rotDim));
}

} // namespace resa::cpu
