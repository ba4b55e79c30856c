// fp32 host pools for the paged KV cache, and the config check shared by
// every storage.
#include "resa/kernels/Tensor.h"
#include "resa/runtime/KVCache.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <string>

namespace resa {

void KVCacheConfig::validate() const {
  auto positive = [](const char *name, int64_t v) {
    if (v <= 0)
      throw Error(std::string("KV cache config: ") + name + " must be > 0 (got " +
                  std::to_string(v) + ")");
  };
  positive("numLayers", numLayers);
  positive("numKvHeads", numKvHeads);
  positive("headDim", headDim);
  positive("pageSize", pageSize);
  positive("numPages", numPages);
  // A page is a ReSA block; kernels index slots with shifts and masks.
  if ((pageSize & (pageSize - 1)) != 0)
    throw Error("KV cache config: pageSize must be a power of two (got " +
                std::to_string(pageSize) + ")");
  // Page ids and seqLens are int32 in the kernels' tables.
  if (numPages > std::numeric_limits<int32_t>::max())
    throw Error("KV cache config: numPages must be at most 2147483647 (got " +
                std::to_string(numPages) + ")");
  int64_t elems = 0;
  if (__builtin_mul_overflow(numPages, static_cast<int64_t>(numKvHeads) * pageSize, &elems) ||
      __builtin_mul_overflow(elems, static_cast<int64_t>(headDim), &elems) ||
      elems > std::numeric_limits<int64_t>::max() / 16)
    throw Error("KV cache config: " + std::to_string(numPages) + " pages of " +
                std::to_string(numKvHeads) + " heads x " + std::to_string(pageSize) +
                " tokens x " + std::to_string(headDim) + " do not fit in memory");
}

CpuKVStorage::CpuKVStorage(const KVCacheConfig &config) : c_(config) {
  c_.validate();
  const size_t pool = static_cast<size_t>(c_.poolElements());
  const size_t summary = c_.summaries ? static_cast<size_t>(c_.summaryElements()) : 0;
  try {
    k_.resize(c_.numLayers);
    v_.resize(c_.numLayers);
    for (int l = 0; l < c_.numLayers; ++l) {
      k_[l].assign(pool, 0.0f);
      v_[l].assign(pool, 0.0f);
    }
    if (c_.summaries) {
      kmin_.resize(c_.numLayers);
      kmax_.resize(c_.numLayers);
      for (int l = 0; l < c_.numLayers; ++l) {
        // An empty summary: every key is below kmin and above kmax.
        kmin_[l].assign(summary, std::numeric_limits<float>::infinity());
        kmax_[l].assign(summary, -std::numeric_limits<float>::infinity());
      }
    }
  } catch (const std::bad_alloc &) {
    const double gib = 4.0 * c_.numLayers * (2.0 * pool + 2.0 * summary) / (1 << 30);
    throw Error("KV cache: cannot allocate " + std::to_string(gib) + " GiB of fp32 pools (" +
                std::to_string(c_.numLayers) + " layers x " + std::to_string(c_.numPages) +
                " pages)");
  }
}

void CpuKVStorage::copyPage(int32_t src, int32_t dst) {
  const size_t page = static_cast<size_t>(c_.numKvHeads) * c_.pageSize * c_.headDim;
  const size_t summary = static_cast<size_t>(c_.numKvHeads) * c_.headDim;
  for (int l = 0; l < c_.numLayers; ++l) {
    std::memcpy(&k_[l][dst * page], &k_[l][src * page], page * sizeof(float));
    std::memcpy(&v_[l][dst * page], &v_[l][src * page], page * sizeof(float));
    if (!c_.summaries)
      continue;
    std::memcpy(&kmin_[l][dst * summary], &kmin_[l][src * summary], summary * sizeof(float));
    std::memcpy(&kmax_[l][dst * summary], &kmax_[l][src * summary], summary * sizeof(float));
  }
}

namespace {
PagedAttentionShape shapeOf(const KVCacheConfig &c) {
  PagedAttentionShape s;
  s.numQHeads = s.numKvHeads = c.numKvHeads;
  s.headDim = c.headDim;
  s.pageSize = c.pageSize;
  s.numPages = static_cast<int32_t>(c.numPages);
  return s;
}
} // namespace

void CpuKVStorage::writeTokens(int layer, const int32_t *slotMapping, int64_t numTokens,
                               const void *kData, const void *vData) {
  const PagedAttentionShape s = shapeOf(c_);
  const float *k = static_cast<const float *>(kData), *v = static_cast<const float *>(vData);
  const size_t row = static_cast<size_t>(c_.headDim) * sizeof(float);
  float *kp = k_[layer].data(), *vp = v_[layer].data();
  for (int64_t i = 0; i < numTokens; ++i) {
    const int32_t page = slotMapping[i] / c_.pageSize, slot = slotMapping[i] % c_.pageSize;
    for (int h = 0; h < c_.numKvHeads; ++h) {
      const int64_t from = (i * c_.numKvHeads + h) * c_.headDim;
      const int64_t to = pagedKVOffset(s, page, h, slot);
      std::memcpy(kp + to, k + from, row);
      std::memcpy(vp + to, v + from, row);
    }
  }
}

void CpuKVStorage::readTokens(int layer, const int32_t *slotMapping, int64_t numTokens, float *k,
                              float *v) const {
  const PagedAttentionShape s = shapeOf(c_);
  for (int64_t i = 0; i < numTokens; ++i)
    for (int h = 0; h < c_.numKvHeads; ++h) {
      const int64_t at = pagedKVOffset(s, slotMapping[i] / c_.pageSize, h,
                                       slotMapping[i] % c_.pageSize);
      const int64_t to = (i * c_.numKvHeads + h) * c_.headDim;
      std::copy_n(k_[layer].data() + at, c_.headDim, k + to);
      std::copy_n(v_[layer].data() + at, c_.headDim, v + to);
    }
}

void CpuKVStorage::updateSummaries(int layer, const KVSummaryUpdate *updates, size_t count) {
  if (count > 0 && !c_.summaries)
    throw Error("KV cache: internal error: " + std::to_string(count) +
                " summary updates for a cache that keeps no block summaries");
  const PagedAttentionShape s = shapeOf(c_);
  const float *kp = k_[layer].data();
  const int d = c_.headDim;
  for (size_t u = 0; u < count; ++u) {
    const KVSummaryUpdate &up = updates[u];
    for (int h = 0; h < c_.numKvHeads; ++h) {
      float *mn = kmin_[layer].data() + blockSummaryOffset(s, up.page, h);
      float *mx = kmax_[layer].data() + blockSummaryOffset(s, up.page, h);
      if (up.from == 0) {
        std::fill(mn, mn + d, std::numeric_limits<float>::infinity());
        std::fill(mx, mx + d, -std::numeric_limits<float>::infinity());
      }
      for (int32_t slot = up.from; slot < up.valid; ++slot) {
        const float *key = kp + pagedKVOffset(s, up.page, h, slot);
        for (int j = 0; j < d; ++j) {
          mn[j] = std::min(mn[j], key[j]);
          mx[j] = std::max(mx[j], key[j]);
        }
      }
    }
  }
}

} // namespace resa
