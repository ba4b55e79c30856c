// ReSA's block selection and block-sparse attention (BlockSparse.h) against
// brute-force references on random caches with random page tables.
#include "resa/kernels/BlockSparse.h"
#include "resa/kernels/Tensor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>

using namespace resa;

namespace {

// A random paged cache: per sequence a shuffled set of pages; kmin/kmax are
// the true min/max of each page's valid keys.
struct RandomCache {
  PagedAttentionShape s;
  std::vector<float> k, v, kmin, kmax, q;
  std::vector<int32_t> table, lens;

  RandomCache(int32_t batch, int32_t qHeads, int32_t kvHeads, int32_t d, int32_t page,
              std::vector<int32_t> seqLens, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist;
    s.batch = batch;
    s.numQHeads = qHeads;
    s.numKvHeads = kvHeads;
    s.headDim = d;
    s.pageSize = page;
    lens = seqLens;
    s.maxPagesPerSeq = 0;
    for (int32_t l : lens)
      s.maxPagesPerSeq = std::max(s.maxPagesPerSeq, (l + page - 1) / page);
    s.numPages = s.maxPagesPerSeq * batch + 3;
    std::vector<int32_t> ids(s.numPages);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    table.assign(static_cast<size_t>(batch * s.maxPagesPerSeq), 0);
    for (int32_t b = 0; b < batch; ++b)
      for (int32_t p = 0; p < s.maxPagesPerSeq; ++p)
        table[b * s.maxPagesPerSeq + p] = ids[b * s.maxPagesPerSeq + p];
    for (auto *buf : {&k, &v}) {
      buf->resize(static_cast<size_t>(s.cacheElements()));
      for (float &x : *buf)
        x = dist(rng);
    }
    q.resize(static_cast<size_t>(s.queryElements()));
    for (float &x : q)
      x = dist(rng);
    kmin.assign(static_cast<size_t>(s.summaryElements()), std::numeric_limits<float>::infinity());
    kmax.assign(static_cast<size_t>(s.summaryElements()), -std::numeric_limits<float>::infinity());
    for (int32_t b = 0; b < batch; ++b)
      for (int32_t t = 0; t < lens[b]; ++t)
        for (int32_t g = 0; g < kvHeads; ++g) {
          int32_t id = table[b * s.maxPagesPerSeq + t / page];
          const float *key = k.data() + pagedKVOffset(s, id, g, t % page);
          for (int32_t j = 0; j < d; ++j) {
            float &lo = kmin[blockSummaryOffset(s, id, g) + j];
            float &hi = kmax[blockSummaryOffset(s, id, g) + j];
            lo = std::min(lo, key[j]);
            hi = std::max(hi, key[j]);
          }
        }
  }
};

// Brute force: score every block by the exact bound, sort (score desc,
// index asc), keep the budget, force the locals.
std::set<int32_t> bruteForceSelect(const RandomCache &c, int32_t b, int32_t g,
                                   const BlockSelectParams &p) {
  const PagedAttentionShape &s = c.s;
  int32_t blocks = (c.lens[b] + s.pageSize - 1) / s.pageSize;
  int32_t n = selectedBlockCount(blocks, p); // the budget rule has its own test

  std::vector<double> mean(s.headDim, 0.0);
  int32_t group = s.numQHeads / s.numKvHeads;
  for (int32_t h = g * group; h < (g + 1) * group; ++h)
    for (int32_t j = 0; j < s.headDim; ++j)
      mean[j] += c.q[queryOffset(s, b, h) + j] / double(group) / std::sqrt(double(s.headDim));
  std::vector<std::pair<double, int32_t>> scored;
  for (int32_t m = 0; m < blocks; ++m) {
    int32_t page = c.table[b * s.maxPagesPerSeq + m];
    double score = 0;
    for (int32_t j = 0; j < s.headDim; ++j)
      score += std::max(mean[j] * c.kmin[blockSummaryOffset(s, page, g) + j],
                        mean[j] * c.kmax[blockSummaryOffset(s, page, g) + j]);
    if (m >= blocks - p.localBlocks)
      score = std::numeric_limits<double>::infinity();
    scored.push_back({-score, m});
  }
  std::sort(scored.begin(), scored.end());
  std::set<int32_t> out;
  for (int32_t i = 0; i < n; ++i)
    out.insert(scored[i].second);
  return out;
}

} // namespace

TEST(BlockSparse, BudgetRule) {
  BlockSelectParams p; // 0.1, 16, 1
  EXPECT_EQ(selectedBlockCount(10, p), 10);   // capped at M
  EXPECT_EQ(selectedBlockCount(100, p), 16);  // n_min
  EXPECT_EQ(selectedBlockCount(160, p), 16);  // 0.1f * 160 is 16, not 17
  EXPECT_EQ(selectedBlockCount(161, p), 17);  // ceil(16.1)
  EXPECT_EQ(selectedBlockCount(1000, p), 100);
  p.minBlocks = 0;
  p.keptRatio = 0.0f;
  p.localBlocks = 3;
  EXPECT_EQ(selectedBlockCount(100, p), 3); // the local blocks at least
  EXPECT_EQ(selectedBlockCount(0, p), 0);
}

TEST(BlockSparse, SelectionEqualsBruteForce) {
  for (unsigned seed = 0; seed < 12; ++seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> lens = {int32_t(rng() % 700 + 1), int32_t(rng() % 300 + 17), 33};
    RandomCache c(3, 8, 2, 16, 16, lens, seed);
    BlockSelectParams p;
    p.keptRatio = 0.05f + 0.3f * (seed % 4);
    p.minBlocks = int32_t(seed % 5);
    p.localBlocks = int32_t(seed % 3);
    int32_t maxSel = c.s.maxPagesPerSeq;
    std::vector<int32_t> sel(static_cast<size_t>(3 * 2 * maxSel), -7), counts(3, -7);
    selectBlocksCpu(c.s, c.q.data(), c.kmin.data(), c.kmax.data(), c.table.data(),
                    c.lens.data(), p, 0.0f, sel.data(), maxSel, counts.data());
    for (int32_t b = 0; b < 3; ++b)
      for (int32_t g = 0; g < 2; ++g) {
        std::set<int32_t> want = bruteForceSelect(c, b, g, p);
        const int32_t *row = sel.data() + (b * 2 + g) * maxSel;
        ASSERT_EQ(counts[b], int32_t(want.size())) << "seed " << seed;
        EXPECT_TRUE(std::is_sorted(row, row + counts[b]));
        EXPECT_EQ(std::set<int32_t>(row, row + counts[b]), want) << "seed " << seed << " b " << b;
      }
  }
}

TEST(BlockSparse, EveryBlockSelectedIsExactlyDense) {
  RandomCache c(2, 4, 2, 32, 16, {100, 37}, 5);
  BlockSelectParams all{1.0f, 0, 1};
  int32_t maxSel = c.s.maxPagesPerSeq;
  std::vector<int32_t> sel(static_cast<size_t>(2 * 2 * maxSel)), counts(2);
  selectBlocksCpu(c.s, c.q.data(), c.kmin.data(), c.kmax.data(), c.table.data(), c.lens.data(),
                  all, 0.0f, sel.data(), maxSel, counts.data());
  std::vector<float> dense(c.q.size(), NAN), sparse(c.q.size(), NAN);
  pagedDecodeAttentionCpu(c.s, c.q.data(), c.k.data(), c.v.data(), c.table.data(), c.lens.data(),
                          0.0f, dense.data());
  pagedSparseAttentionCpu(c.s, c.q.data(), c.k.data(), c.v.data(), c.table.data(), c.lens.data(),
                          sel.data(), maxSel, counts.data(), 0.0f, sparse.data());
  for (size_t i = 0; i < dense.size(); ++i)
    ASSERT_EQ(dense[i], sparse[i]) << i; // bit for bit
}

TEST(BlockSparse, SparseAttentionOverSelectedTokensOnly) {
  RandomCache c(1, 4, 2, 16, 16, {90}, 9); // 6 blocks, the last partial
  int32_t maxSel = 3;
  // KV head 0 sees blocks {0, 3, 5}, KV head 1 sees {1, 2, 5}.
  std::vector<int32_t> sel = {0, 3, 5, 1, 2, 5}, counts = {3};
  std::vector<float> out(c.q.size(), NAN);
  pagedSparseAttentionCpu(c.s, c.q.data(), c.k.data(), c.v.data(), c.table.data(), c.lens.data(),
                          sel.data(), maxSel, counts.data(), 0.0f, out.data());
  for (int32_t h = 0; h < 4; ++h) {
    int32_t g = h / 2;
    std::vector<int32_t> tokens;
    for (int32_t i = 0; i < 3; ++i)
      for (int32_t t = sel[g * 3 + i] * 16; t < std::min(90, (sel[g * 3 + i] + 1) * 16); ++t)
        tokens.push_back(t);
    std::vector<double> w;
    for (int32_t t : tokens) {
      const float *key = c.k.data() + pagedKVOffset(c.s, c.table[t / 16], g, t % 16);
      double dot = 0;
      for (int32_t j = 0; j < 16; ++j)
        dot += double(c.q[queryOffset(c.s, 0, h) + j]) * key[j];
      w.push_back(dot / 4.0);
    }
    double mx = *std::max_element(w.begin(), w.end()), total = 0;
    for (double &x : w)
      total += x = std::exp(x - mx);
    for (int32_t j = 0; j < 16; ++j) {
      double want = 0;
      for (size_t i = 0; i < tokens.size(); ++i)
        want += w[i] / total *
                c.v[pagedKVOffset(c.s, c.table[tokens[i] / 16], g, tokens[i] % 16) + j];
      EXPECT_NEAR(out[queryOffset(c.s, 0, h) + j], want, 1e-5) << "head " << h;
    }
  }
}

TEST(BlockSparse, BadSelectionsAreErrors) {
  RandomCache c(1, 2, 1, 8, 16, {40}, 3);
  std::vector<float> out(c.q.size());
  std::vector<int32_t> counts = {2};
  std::vector<int32_t> outOfRange = {0, 3}, unsorted = {2, 1};
  EXPECT_THROW(pagedSparseAttentionCpu(c.s, c.q.data(), c.k.data(), c.v.data(), c.table.data(),
                                       c.lens.data(), outOfRange.data(), 2, counts.data(), 0.0f,
                                       out.data()),
               Error);
  EXPECT_THROW(pagedSparseAttentionCpu(c.s, c.q.data(), c.k.data(), c.v.data(), c.table.data(),
                                       c.lens.data(), unsorted.data(), 2, counts.data(), 0.0f,
                                       out.data()),
               Error);
  BlockSelectParams bad{1.5f, 0, 1};
  std::vector<int32_t> sel(3);
  EXPECT_THROW(selectBlocksCpu(c.s, c.q.data(), c.kmin.data(), c.kmax.data(), c.table.data(),
                               c.lens.data(), bad, 0.0f, sel.data(), 3, counts.data()),
               Error);
}
