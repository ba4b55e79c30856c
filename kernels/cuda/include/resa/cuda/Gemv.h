// The few-row projections of a decode step, Y[M, N] = X[M, K] W[K, N]
// (+ bias[N]) for M <= kGemvMaxRows, on CUDA cores: a stream of the weights
// at the memory's rate, where a GEMM's tiles are mostly idle (M = 1 of 64+
// rows) and its ramp and tail repeat for each of a step's ~130 projections.
//
// Each thread block covers 64 columns (8 per lane, one 16-byte load of W per
// row and lane, 8 lanes a 128-byte line) and a range of K over its 32 row
// slots; blocks of the same columns split K further (at most 8, where the
// columns alone give fewer than two blocks per SM) as one thread-block
// cluster and add their partial sums through distributed shared memory in a
// fixed order, so the result does not depend on timing (graph replays equal
// eager runs bit for bit). The weights of the first rows are loaded before the kernel waits for
// the previous one (programmatic dependent launch: W never depends on it).
//
// Same arguments as gemm() (resa/cuda/Gemm.h); gemm() routes the calls gemv
// applies to through it when RESA_GEMV=1 (opt-in until measured against
// cuBLASLt on the GPU machine: bench/kernels/GemmBench.cu).
#pragma once

#include "resa/cuda/Gemm.h"

namespace resa::gpu {

constexpr int64_t kGemvMaxRows = 4;

// Whether gemv() takes these arguments: 1 <= M <= kGemvMaxRows, K >= 1, X
// and W both BF16 or both F16, Y (and the bias) of that type or F32, N and
// ldw multiples of 8 and W 16-byte aligned (a row of 8 columns is one load).
bool gemvApplies(const GemmArgs &args);

// Enqueues Y = X W (+ bias) on ctx.stream. Throws resa::Error when
// !gemvApplies(args) or the launch fails.
void gemv(DeviceContext &ctx, const GemmArgs &args);

// RESA_GEMV=1 in the environment (read once).
bool gemvEnabled();

} // namespace resa::gpu
