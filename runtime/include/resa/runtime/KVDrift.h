// Comparing a sequence's cached KV with a dense recompute of the same
// tokens: the measure of how far sparse decoding has drifted (ReSA's
// rectification bounds it). Used by the rectification test and the drift
// benchmark.
#pragma once

#include "resa/runtime/Generator.h"

namespace resa {

struct KVDrift {
  double relative = 0; // ||cached - dense|| / ||dense|| over K and V of every layer
  double maxAbs = 0;   // largest elementwise difference
};

// Prefills `tokens` densely in `reference` (as sequence `scratchId`, removed
// again) and compares positions [from, to) of every layer with sequence `id`
// of `cache`.
KVDrift kvDrift(const KVCache &cache, int64_t id, Generator &reference, int64_t scratchId,
                const std::vector<int64_t> &tokens, int64_t from, int64_t to);

} // namespace resa
