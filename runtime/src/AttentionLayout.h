// How a KV-cache step's q, k or v lies in memory, checked against the
// cache's open forward: [B, H, S, D] ("bhsd", the default) or [B, S, H*D]
// ("bsd"), H the step's `headsAttr` attribute, D the cache's head size.
// Shared by the CPU backend (CpuBackend.cpp) and the CUDA one
// (cuda/CudaForward.cpp).
#pragma once

#include "resa/kernels/Kernel.h"
#include "resa/runtime/KVCache.h"

#include <cstdint>

namespace resa {

struct AttentionLayout {
  bool bhsd;
  int64_t batch, heads, len, d;
};

// Throws resa::Error when the tensor's rows are not the forward's
// sequences, or its elements not batch x heads x len x d.
AttentionLayout attentionLayout(const Shape &shape, const Attrs &attrs, const char *headsAttr,
                                const KVCache &cache);

} // namespace resa
