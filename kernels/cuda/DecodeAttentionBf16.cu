// Kernel instances for __nv_bfloat16 storage (one translation unit per dtype, so that
// they compile in parallel). Variant numbers: decodeAttentionVariantName.
#include "DecodeAttentionKernel.cuh"

namespace resa::gpu::detail {

bool findKernelBf16(int headDim, int group, int variant, KernelEntry *e) {
  using T = __nv_bfloat16;
  if (variant == 0)
    return findDefaultKernel<T>(headDim, group, e);
  // Tuning variants of the bench shape (head dim 128).
  if (headDim != 128)
    return false;
  switch (variant) {
  case 1: *e = TcInstance<T, 128, 32, 2, 4, false>::entry(); return true;
  case 2: *e = TcInstance<T, 128, 16, 3, 4, false>::entry(); return true;
  case 3: *e = TcInstance<T, 128, 32, 3, 2>::entry(); return true;
  case 4: *e = TcInstance<T, 128, 32, 2, 2>::entry(); return true;
  case 5: *e = TcInstance<T, 128, 64, 2, 2>::entry(); return true;
  default: break;
  }
  // The first kernel (CUDA cores), kept for comparison: groups of 3 or 4.
  if (group < 3 || group > 4)
    return false;
  switch (variant) {
  case 6: *e = SimtInstance<T, 128, 4, 32, 2>::entry(); return true;
  default: break;
  }
  return false;
}

} // namespace resa::gpu::detail
