// Next-token choice on the device from rows of fp32 logits, with the rules of
// the CPU Sampler (runtime/src/Sampler.cpp), so that the runtime can keep
// logits on the device and download one token (and its log-probability) per
// row:
//   - temperature 0: the first maximum (ties -> the lowest index);
//   - otherwise: tokens ordered by logit, descending, ties by index (the
//     CPU's stable sort); p_i = exp((logit_i - max) / temperature) in double;
//     the nucleus is the shortest prefix of that order whose mass reaches
//     top_p * total; r = u * (nucleus mass) with the row's uniform draw u, and
//     the token is the first of the nucleus whose running mass exceeds r (the
//     last of the nucleus when rounding leaves r unreached).
// u is the draw the CPU Sampler makes (std::generate_canonical<double, 53> on
// the runtime's seeded engine, which uniform_real_distribution(0, mass)
// scales by mass), passed as a double so the choice is the CPU's for the same
// engine state. Sums are taken in double in another order than the CPU's, so
// a draw within ~1e-15 of a boundary may pick the neighbouring token.
//
// The log-probability is log softmax(logits)[token] at temperature 1, as
// resa::logProbability computes it in double, but from fp32 exponentials
// (summed in double): within ~1e-6 of the CPU's.
//
// A row that contains NaN gets token -1 and log-probability NaN (the CPU
// Sampler throws "logits contain NaN": the runtime checks for -1).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace resa::gpu {

struct SampleArgs {
  // Row r is logits[r * rowStride, r * rowStride + vocab) (rowStride >= vocab:
  // the last position of each sequence of [batch, seq, vocab] logits is
  // logits + (seq - 1) * vocab with rowStride = seq * vocab).
  const float *logits = nullptr;
  int64_t rows = 0, vocab = 0, rowStride = 0;
  float temperature = 0.0f; // 0: greedy
  float topP = 1.0f;        // in (0, 1]
  // [rows] draws in [0, 1), device memory; unused (may be null) when greedy.
  const double *uniforms = nullptr;
  int64_t *tokens = nullptr; // [rows], device memory
  float *logProbs = nullptr; // [rows], device memory, or null
};

// Enqueues one kernel on `stream` (a cluster of 8 thread blocks per row). Throws
// resa::Error for invalid arguments (temperature < 0, top_p outside (0, 1],
// vocab < 1, rowStride < vocab, missing pointers) or a failed launch.
void sampleTokens(const SampleArgs &args, cudaStream_t stream);

} // namespace resa::gpu
