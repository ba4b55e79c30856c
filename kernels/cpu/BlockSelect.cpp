// Exact reference of ReSA's block selection (resa/kernels/BlockSparse.h).
#include "resa/kernels/BlockSparse.h"
#include "resa/kernels/Tensor.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace resa {

void selectBlocksCpu(const PagedAttentionShape &s, const float *q, const float *kmin,
                     const float *kmax, const int32_t *pageTable, const int32_t *seqLens,
                     const BlockSelectParams &params, float scale, int32_t *selected,
                     int32_t maxSelected, int32_t *counts) {
  checkPagedAttentionShape(s);
  if (!(params.keptRatio >= 0.0f && params.keptRatio <= 1.0f) || params.minBlocks < 0 ||
      params.localBlocks < 0)
    throw Error("block selection: kept ratio must be in [0, 1] and block counts >= 0");
  if (scale == 0.0f)
    scale = defaultAttentionScale(s.headDim);
  const int64_t d = s.headDim;
  const int32_t group = s.group();
  std::vector<double> pooled(static_cast<size_t>(d)), score;
  std::vector<int32_t> order;
  for (int32_t b = 0; b < s.batch; ++b) {
    const int32_t len = seqLens[b];
    const int32_t numBlocks = (len + s.pageSize - 1) / s.pageSize;
    const int32_t n = selectedBlockCount(numBlocks, params);
    if (n > maxSelected)
      throw Error("block selection: " + std::to_string(n) + " blocks selected, room for " +
                  std::to_string(maxSelected));
    counts[b] = n;
    const int32_t *pages = pageTable + static_cast<int64_t>(b) * s.maxPagesPerSeq;
    for (int32_t g = 0; g < s.numKvHeads; ++g) {
      std::fill(pooled.begin(), pooled.end(), 0.0);
      for (int32_t h = g * group; h < (g + 1) * group; ++h)
        for (int64_t j = 0; j < d; ++j)
          pooled[j] += q[queryOffset(s, b, h) + j];
      for (double &x : pooled)
        x *= static_cast<double>(scale) / group;
      score.assign(static_cast<size_t>(numBlocks), 0.0);
      for (int32_t m = 0; m < numBlocks; ++m) {
        if (m >= numBlocks - params.localBlocks) {
          score[m] = std::numeric_limits<double>::infinity();
          continue;
        }
        const float *lo = kmin + blockSummaryOffset(s, pages[m], g);
        const float *hi = kmax + blockSummaryOffset(s, pages[m], g);
        double total = 0.0;
        for (int64_t j = 0; j < d; ++j)
          total += std::max(pooled[j] * hi[j], pooled[j] * lo[j]);
        score[m] = total;
      }
      order.resize(static_cast<size_t>(numBlocks));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int32_t a, int32_t c) { return score[a] > score[c]; });
      int32_t *out = selected + (static_cast<int64_t>(b) * s.numKvHeads + g) * maxSelected;
      std::copy_n(order.begin(), n, out);
      std::sort(out, out + n);
    }
  }
}

} // namespace resa
