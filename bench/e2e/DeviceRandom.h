// Pseudo-random 16-bit floats written on the device, so that a benchmark's
// stand-in KV (hundreds of MiB at long contexts) never crosses PCIe.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace resa::bench {

// Fills n bf16 (or, with f16 set, f16) values, about uniform in [-1, 1) and
// never zero, a pure function of (seed, index). Enqueued on `stream`.
cudaError_t fillRandom16(void *dst, size_t n, bool f16, uint32_t seed, cudaStream_t stream);

} // namespace resa::bench
