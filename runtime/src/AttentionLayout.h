// How a KV-cache step's q, k or v lies in memory, checked against the
// cache's open forward: [B, H, S, D] ("bhsd", the default) or [B, S, H*D]
// ("bsd"), H the step's `headsAttr` attribute, D the cache's head size.
// Shared by the CPU backend (CpuBackend.cpp) and the CUDA one
// (cuda/CudaForward.cpp).
#pragma once

#include "resa/kernels/Kernel.h"
#include "resa/runtime/KVCache.h"

#include <cstdint>
#include <map>
#include <string>

namespace resa {

struct AttentionLayout {
  bool bhsd;
  int64_t batch, heads, len, d;
};

// Throws resa::Error when the tensor's rows are not the forward's
// sequences, or its elements not batch x heads x len x d.
AttentionLayout attentionLayout(const Shape &shape, const Attrs &attrs, const char *headsAttr,
                                const KVCache &cache);

// resa.block_attention's inputs, checked alike by both backends: the
// selected blocks int32 [batch * kvHeads, n] (else resa::Error), and the
// per-layer counts its resa.block_select left in `counts`, returned (else
// resa::Error: the layer's selection has not run).
void checkSelectedBlocks(DType dtype, const Shape &shape, int64_t batch, int64_t kvHeads);
template <typename Counts>
const Counts &selectionCounts(const std::map<int64_t, Counts> &counts, int64_t layer) {
  auto it = counts.find(layer);
  if (it == counts.end())
    throw Error("resa.block_attention of layer " + std::to_string(layer) +
                " before its resa.block_select");
  return it->second;
}

} // namespace resa
