// Kernel instances for __half storage (one translation unit per dtype, so that
// they compile in parallel).
#include "DecodeAttentionKernel.cuh"

namespace resa::gpu::detail {

bool findKernelF16(int headDim, int headsPerCta, int variant, KernelEntry *e) {
  using T = __half;
#define RESA_CASE(D, HG)                                                                   \
  if (headDim == D && headsPerCta == HG && variant == 0) {                                 \
    *e = Instance<T, D, HG, 32, 4>::entry();                                               \
    return true;                                                                           \
  }
  RESA_CASE(64, 1)
  RESA_CASE(64, 2)
  RESA_CASE(64, 4)
  RESA_CASE(64, 8)
  RESA_CASE(128, 1)
  RESA_CASE(128, 2)
  RESA_CASE(128, 4)
  RESA_CASE(128, 8)
#undef RESA_CASE
  return false;
}

} // namespace resa::gpu::detail
