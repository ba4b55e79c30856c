// Kernel instances for __half storage (one translation unit per dtype, so that
// they compile in parallel). Variant numbers: decodeAttentionVariantName.
#include "DecodeAttentionKernel.cuh"

namespace resa::gpu::detail {

bool findKernelF16(int headDim, int group, int variant, KernelEntry *e) {
  // The default only: the tuning variants are the bf16 bench shape's.
  return variant == 0 && findDefaultKernel<__half>(headDim, group, e);
}

} // namespace resa::gpu::detail
