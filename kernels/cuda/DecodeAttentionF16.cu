// Kernel instances for __half storage (one translation unit per dtype, so that
// they compile in parallel). Variant numbers: decodeAttentionVariantName.
#include "DecodeAttentionKernel.cuh"

namespace resa::gpu::detail {

bool findKernelF16(int headDim, int group, int variant, KernelEntry *e) {
  using T = __half;
  if (variant == 0) {  // the default: tensor cores, 32-token stages, 2 per warp, 4 warps, PDL;
                       // 16 heads per block for groups over 8 (one K/V read for all)
    if (headDim == 128) {
      *e = group > 8 ? TcDefault<T, 128, 16>::entry() : TcDefault<T, 128, 8>::entry();
      return true;
    }
    if (headDim == 64) {
      *e = group > 8 ? TcDefault<T, 64, 16>::entry() : TcDefault<T, 64, 8>::entry();
      return true;
    }
    return false;
  }
  return false;
}

} // namespace resa::gpu::detail
