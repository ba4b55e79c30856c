// How long a prompt may be. A package records no maximum context of its own
// (a model with a learned position table refuses positions past it, in its
// embedding step); the limit a run sets is its KV cache's capacity.
#pragma once

#include "resa/runtime/KVCache.h"
#include "resa/kernels/Tensor.h"

#include <string>

namespace resa {

// Throws resa::Error, saying how many tokens the cache holds, when a prompt of
// `tokens` tokens cannot fit an empty KV cache of this configuration (before
// any work is done, rather than as "KV cache full" part way through the
// prefill). `hint` says how to raise the limit.
inline void requirePromptFits(const KVCacheConfig &cache, int64_t tokens, const std::string &hint) {
  if ((tokens + cache.pageSize - 1) / cache.pageSize <= cache.numPages)
    return;
  throw Error("the prompt is " + std::to_string(tokens) +
              " tokens, longer than the KV cache holds (" + std::to_string(cache.numPages) +
              " pages of " + std::to_string(cache.pageSize) + " tokens = " +
              std::to_string(cache.numPages * cache.pageSize) + " tokens); " + hint);
}

} // namespace resa
