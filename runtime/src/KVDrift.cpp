#include "resa/runtime/KVDrift.h"

#include <cmath>

namespace resa {

KVDrift kvDrift(const KVCache &cache, int64_t id, Generator &reference, int64_t scratchId,
                const std::vector<int64_t> &tokens, int64_t from, int64_t to) {
  reference.prefill(scratchId, tokens);
  const KVCacheConfig &cfg = cache.config();
  size_t n = static_cast<size_t>((to - from) * cfg.numKvHeads * cfg.headDim);
  std::vector<float> k(n), v(n), kRef(n), vRef(n);
  double diff = 0, norm = 0;
  KVDrift drift;
  for (int layer = 0; layer < cfg.numLayers; ++layer) {
    cache.readTokens(id, layer, from, to, k.data(), v.data());
    reference.cache().readTokens(scratchId, layer, from, to, kRef.data(), vRef.data());
    for (size_t i = 0; i < n; ++i)
      for (auto [got, want] : {std::pair{k[i], kRef[i]}, std::pair{v[i], vRef[i]}}) {
        double d = double(got) - double(want);
        diff += d * d;
        norm += double(want) * double(want);
        drift.maxAbs = std::max(drift.maxAbs, std::fabs(d));
      }
  }
  reference.cache().removeSequence(scratchId);
  drift.relative = norm > 0 ? std::sqrt(diff / norm) : 0;
  return drift;
}

} // namespace resa
