// Exact fp32 reference of dense decode attention over the paged KV cache
// (layout in resa/kernels/PagedKV.h). Naive on purpose: it is the yardstick
// the CUDA kernels are checked against, and the CPU runtime's decode path.
#include "resa/kernels/BlockSparse.h"
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

namespace {

// Checks sequence b's length and page ids; returns its page row.
const int32_t *checkedPages(const PagedAttentionShape &s, const int32_t *pageTable,
                            const int32_t *seqLens, int32_t b) {
  const int32_t len = seqLens[b];
  if (len < 0 || static_cast<int64_t>(len) > static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize)
    throw Error("paged attention: seqLens[" + std::to_string(b) + "] = " + std::to_string(len) +
                " is outside [0, maxPagesPerSeq * pageSize = " +
                std::to_string(static_cast<int64_t>(s.maxPagesPerSeq) * s.pageSize) + "]");
  const int32_t *pages = pageTable + static_cast<int64_t>(b) * s.maxPagesPerSeq;
  const int32_t usedPages = (len + s.pageSize - 1) / s.pageSize;
  for (int32_t p = 0; p < usedPages; ++p)
    if (pages[p] < 0 || pages[p] >= s.numPages)
      throw Error("paged attention: pageTable[" + std::to_string(b) + "][" + std::to_string(p) +
                  "] = " + std::to_string(pages[p]) + " is outside [0, numPages = " +
                  std::to_string(s.numPages) + ")");
  return pages;
}

// softmax(scale * q . K) . V of one query head over the tokens of the given
// logical blocks (ascending), the partial last block cut at `len`. Dense
// attention is every block in order, so dense and block-sparse with every
// block selected add the same terms in the same order.
void attendBlocks(const PagedAttentionShape &s, const float *qh, const float *kCache,
                  const float *vCache, const int32_t *pages, int32_t len, int32_t kvh,
                  const int32_t *blocks, int32_t numBlocks, double scale, float *oh,
                  std::vector<double> &scores, std::vector<double> &acc) {
  const int64_t d = s.headDim;
  scores.clear();
  double maxScore = -std::numeric_limits<double>::infinity();
  auto forEachToken = [&](auto &&f) {
    for (int32_t i = 0; i < numBlocks; ++i) {
      const int32_t blk = blocks ? blocks[i] : i;
      const int32_t end = std::min(len, (blk + 1) * s.pageSize);
      for (int32_t t = blk * s.pageSize; t < end; ++t)
        f(pagedKVOffset(s, pages[blk], kvh, t % s.pageSize));
    }
  };
  forEachToken([&](int64_t at) {
    double dot = 0.0;
    for (int64_t j = 0; j < d; ++j)
      dot += static_cast<double>(qh[j]) * static_cast<double>(kCache[at + j]);
    scores.push_back(dot * scale);
    maxScore = std::max(maxScore, scores.back());
  });
  if (scores.empty()) {
    std::fill(oh, oh + d, 0.0f);
    return;
  }
  double sum = 0.0;
  size_t i = 0;
  std::fill(acc.begin(), acc.end(), 0.0);
  forEachToken([&](int64_t at) {
    const double p = std::exp(scores[i++] - maxScore);
    sum += p;
    for (int64_t j = 0; j < d; ++j)
      acc[static_cast<size_t>(j)] += p * static_cast<double>(vCache[at + j]);
  });
  for (int64_t j = 0; j < d; ++j)
    oh[j] = static_cast<float>(acc[static_cast<size_t>(j)] / sum);
}

} // namespace

void pagedDecodeAttentionCpu(const PagedAttentionShape &s, const float *q,
                             const float *kCache, const float *vCache,
                             const int32_t *pageTable, const int32_t *seqLens, float scale,
                             float *out) {
  pagedSparseAttentionCpu(s, q, kCache, vCache, pageTable, seqLens, nullptr, 0, nullptr, scale,
                          out);
}

void pagedSparseAttentionCpu(const PagedAttentionShape &s, const float *q, const float *kCache,
                             const float *vCache, const int32_t *pageTable,
                             const int32_t *seqLens, const int32_t *selected,
                             int32_t maxSelected, const int32_t *counts, float scale,
                             float *out) {
  checkPagedAttentionShape(s);
  if (scale == 0.0f)
    scale = defaultAttentionScale(s.headDim);
  std::vector<double> scores, acc(static_cast<size_t>(s.headDim));
  for (int32_t b = 0; b < s.batch; ++b) {
    const int32_t *pages = checkedPages(s, pageTable, seqLens, b);
    const int32_t len = seqLens[b];
    const int32_t numBlocks = (len + s.pageSize - 1) / s.pageSize;
    for (int32_t h = 0; h < s.numQHeads; ++h) {
      const int32_t kvh = h / s.group();
      const int32_t *blocks =
          selected ? selected + (static_cast<int64_t>(b) * s.numKvHeads + kvh) * maxSelected
                   : nullptr;
      const int32_t n = selected ? counts[b] : numBlocks;
      for (int32_t i = 0; selected && i < n; ++i)
        if (blocks[i] < 0 || blocks[i] >= numBlocks || (i > 0 && blocks[i] <= blocks[i - 1]))
          throw Error("block-sparse attention: selected blocks of sequence " +
                      std::to_string(b) + " are not ascending block indices below " +
                      std::to_string(numBlocks));
      attendBlocks(s, q + queryOffset(s, b, h), kCache, vCache, pages, len, kvh, blocks, n,
                   static_cast<double>(scale), out + queryOffset(s, b, h), scores, acc);
    }
  }
}

} // namespace resa
