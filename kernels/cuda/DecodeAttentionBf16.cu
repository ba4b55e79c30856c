// Kernel instances for __nv_bfloat16 storage (one translation unit per dtype, so that
// they compile in parallel).
#include "DecodeAttentionKernel.cuh"

namespace resa::gpu::detail {

bool findKernelBf16(int headDim, int headsPerCta, int variant, KernelEntry *e) {
  using T = __nv_bfloat16;
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
  // Tuning variants (bench): stage tokens x stages in flight.
  if (headDim == 128 && headsPerCta == 4) {
    switch (variant) {
    case 1: *e = Instance<T, 128, 4, 32, 2>::entry(); return true;
    case 2: *e = Instance<T, 128, 4, 32, 8>::entry(); return true;
    case 3: *e = Instance<T, 128, 4, 64, 4>::entry(); return true;
    case 4: *e = Instance<T, 128, 4, 16, 8>::entry(); return true;
    default: break;
    }
  }
  return false;
}

} // namespace resa::gpu::detail
