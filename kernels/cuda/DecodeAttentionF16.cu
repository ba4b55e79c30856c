// Kernel instances for __half storage (one translation unit per dtype, so that
// they compile in parallel). Variant numbers: decodeAttentionVariantName.
#include "DecodeAttentionKernel.cuh"

namespace resa::gpu::detail {

bool findKernelF16(int headDim, int group, int variant, KernelEntry *e) {
  using T = __half;
  if (variant == 0) {  // the default: tensor cores, 32-token stages, 2 per warp, 4 warps, PDL;
                       // 16 heads per block for groups over 8 (one K/V read for all)
    if (headDim == 128) {
      *e = group > 8 ? TcInstance<T, 128, 32, 2, 4, true, 16>::entry() : TcInstance<T, 128, 32, 2>::entry();
      return true;
    }
    if (headDim == 64) {
      *e = group > 8 ? TcInstance<T, 64, 32, 2, 4, true, 16>::entry() : TcInstance<T, 64, 32, 2>::entry();
      return true;
    }
    return false;
  }
  return false;
}

} // namespace resa::gpu::detail
