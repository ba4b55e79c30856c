// Exact fp32 reference of dense decode attention over the paged KV cache
// (layout in resa/kernels/PagedKV.h). Naive on purpose: it is the yardstick
// the CUDA kernels are checked against, and the CPU runtime's decode path.
#include "resa/kernels/PagedKV.h"
#include "resa/kernels/Tensor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace resa {

void checkPagedAttentionShape(const PagedAttentionShape &s) {
  auto fail = [](const std::string &what) {
    throw Error("paged attention: " + what);
  };
  if (s.batch < 0)
    fail("batch " + std::to_string(s.batch) + " is negative");
  if (s.numQHeads <= 0 || s.numKvHeads <= 0)
    fail("head counts must be positive (numQHeads " + std::to_string(s.numQHeads) +
         ", numKvHeads " + std::to_string(s.numKvHeads) + ")");
  if (s.numQHeads % s.numKvHeads != 0)
    fail("numQHeads " + std::to_string(s.numQHeads) + " is not a multiple of numKvHeads " +
         std::to_string(s.numKvHeads));
  if (s.headDim <= 0)
    fail("headDim " + std::to_string(s.headDim) + " is not positive");
  if (s.pageSize <= 0)
    fail("pageSize " + std::to_string(s.pageSize) + " is not positive");
  if (s.numPages < 0 || s.maxPagesPerSeq < 0)
    fail("numPages and maxPagesPerSeq must not be negative");
}

void pagedDecodeAttentionCpu(const PagedAttentionShape &s, const float *q,
                             const float *kCache, const float *vCache,
                             const int32_t *pageTable, const int32_t *seqLens, float scale,
                             float *out) {
  checkPagedAttentionShape(s);
  if (scale == 0.0f)
    scale = defaultAttentionScale(s.headDim);
  const int32_t group = s.group();
  const int64_t d = s.headDim;
  std::vector<double> scores;
  std::vector<double> acc(static_cast<size_t>(d));

  for (int32_t b = 0; b < s.batch; ++b) {
    const int32_t len = seqLens[b];
    if (len < 0 || static_cast<int64_t>(len) > static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize)
      throw Error("paged attention: seqLens[" + std::to_string(b) + "] = " +
                  std::to_string(len) + " is outside [0, maxPagesPerSeq * pageSize = " +
                  std::to_string(static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize) + "]");
    const int32_t *pages = pageTable + static_cast<int64_t>(b) * s.maxPagesPerSeq;
    const int32_t usedPages = (len + s.pageSize - 1) / s.pageSize;
    for (int32_t p = 0; p < usedPages; ++p)
      if (pages[p] < 0 || pages[p] >= s.numPages)
        throw Error("paged attention: pageTable[" + std::to_string(b) + "][" +
                    std::to_string(p) + "] = " + std::to_string(pages[p]) +
                    " is outside [0, numPages = " + std::to_string(s.numPages) + ")");
    scores.assign(static_cast<size_t>(len), 0.0);

    for (int32_t h = 0; h < s.numQHeads; ++h) {
      const int32_t kvh = h / group;
      const float *qh = q + queryOffset(s, b, h);
      float *oh = out + queryOffset(s, b, h);
      if (len == 0) {
        std::fill(oh, oh + d, 0.0f);
        continue;
      }
      double maxScore = -std::numeric_limits<double>::infinity();
      for (int32_t t = 0; t < len; ++t) {
        const float *kt = kCache + pagedKVOffset(s, pages[t / s.pageSize], kvh, t % s.pageSize);
        double dot = 0.0;
        for (int64_t j = 0; j < d; ++j)
          dot += static_cast<double>(qh[j]) * static_cast<double>(kt[j]);
        scores[static_cast<size_t>(t)] = dot * static_cast<double>(scale);
        maxScore = std::max(maxScore, scores[static_cast<size_t>(t)]);
      }
      double sum = 0.0;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int32_t t = 0; t < len; ++t) {
        const double p = std::exp(scores[static_cast<size_t>(t)] - maxScore);
        sum += p;
        const float *vt = vCache + pagedKVOffset(s, pages[t / s.pageSize], kvh, t % s.pageSize);
        for (int64_t j = 0; j < d; ++j)
          acc[static_cast<size_t>(j)] += p * static_cast<double>(vt[j]);
      }
      for (int64_t j = 0; j < d; ++j)
        oh[j] = static_cast<float>(acc[static_cast<size_t>(j)] / sum);
    }
  }
}

} // namespace resa
