// The paged KV cache against a reference that stores each sequence's K and V
// as flat vectors: data, page sharing and copy-on-write, summaries (checked
// by brute force over each page's valid slots), capacity errors that leave
// the cache unchanged, argument errors, and a randomized stress run.
#include "ThrowsWith.h"
#include "resa/runtime/KVCache.h"

#include "resa/kernels/PagedKV.h"
#include "resa/kernels/Tensor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

using resa::KVCache;
using resa::KVCacheConfig;

namespace {

// 2 layers, 2 KV heads, headDim 8, pages of 4 tokens: small enough to reach
// page boundaries, shared partial pages and capacity limits quickly.
KVCacheConfig smallConfig(int64_t pages = 64) {
  KVCacheConfig c;
  c.numLayers = 2;
  c.numKvHeads = 2;
  c.headDim = 8;
  c.pageSize = 4;
  c.numPages = pages;
  return c;
}

resa::PagedAttentionShape poolShape(const KVCacheConfig &c) {
  resa::PagedAttentionShape s;
  s.numQHeads = s.numKvHeads = c.numKvHeads;
  s.headDim = c.headDim;
  s.pageSize = c.pageSize;
  s.numPages = static_cast<int32_t>(c.numPages);
  return s;
}

using resa::test::throwsWith;

// One sequence of the reference: per layer, K and V as [length][H][D].
struct RefSeq {
  std::vector<std::vector<float>> k, v;
  int64_t len = 0;
};

// Everything observable about the cache, to check that a failed call changed
// nothing.
struct Snapshot {
  std::map<int64_t, std::pair<std::vector<int32_t>, int64_t>> seqs;
  std::vector<int32_t> refs;
  int64_t free = 0;
  std::vector<std::vector<float>> pools;
  bool operator==(const Snapshot &o) const {
    return seqs == o.seqs && refs == o.refs && free == o.free && pools == o.pools;
  }
};

// A cache and its reference, driven together.
class Harness {
public:
  explicit Harness(KVCacheConfig c, unsigned seed = 1,
                   std::unique_ptr<resa::KVStorage> storage = nullptr)
      : c_(c), cache(c, std::move(storage)), rng(seed) {}

  const KVCacheConfig c_;
  KVCache cache;
  std::mt19937 rng;
  std::map<int64_t, RefSeq> ref;
  // Called inside every forward(), between beginForward and the writes.
  std::function<void()> onBegin;

  void add(int64_t id) {
    cache.addSequence(id);
    RefSeq r;
    r.k.resize(c_.numLayers);
    r.v.resize(c_.numLayers);
    ref[id] = r;
  }
  void fork(int64_t parent, int64_t child) {
    cache.forkSequence(parent, child);
    ref[child] = ref[parent];
  }
  void remove(int64_t id) {
    cache.removeSequence(id);
    ref.erase(id);
  }
  void pop(int64_t id, int64_t n) {
    cache.popTokens(id, n);
    RefSeq &r = ref[id];
    r.len -= n;
    for (int l = 0; l < c_.numLayers; ++l) {
      r.k[l].resize(static_cast<size_t>(r.len * row()));
      r.v[l].resize(static_cast<size_t>(r.len * row()));
    }
  }

  // Random K/V per layer for `total` tokens: normal * scale, never zero.
  std::vector<float> randomRows(int64_t total, float scale) {
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(total * row()));
    for (float &e : x) {
      e = d(rng) * scale;
      if (e == 0.0f)
        e = 0.5f * scale;
    }
    return x;
  }

  // A full forward: begin, write every layer, end; mirrored in the reference.
  void forward(const std::vector<int64_t> &ids, const std::vector<int64_t> &starts,
               const std::vector<int64_t> &lengths, float scale = 1.0f) {
    int64_t total = 0;
    for (int64_t n : lengths)
      total += n;
    std::vector<std::vector<float>> k(c_.numLayers), v(c_.numLayers);
    for (int l = 0; l < c_.numLayers; ++l) {
      k[l] = randomRows(total, scale);
      v[l] = randomRows(total, scale);
    }
    cache.beginForward(ids, starts, lengths);
    if (onBegin)
      onBegin();
    for (int l = 0; l < c_.numLayers; ++l)
      cache.writeLayer(l, k[l].data(), v[l].data());
    cache.endForward();
    int64_t at = 0;
    for (size_t b = 0; b < ids.size(); ++b) {
      RefSeq &r = ref[ids[b]];
      r.len = std::max(r.len, starts[b] + lengths[b]);
      for (int l = 0; l < c_.numLayers; ++l) {
        r.k[l].resize(static_cast<size_t>(r.len * row()));
        r.v[l].resize(static_cast<size_t>(r.len * row()));
        std::copy_n(k[l].begin() + at * row(), lengths[b] * row(),
                    r.k[l].begin() + starts[b] * row());
        std::copy_n(v[l].begin() + at * row(), lengths[b] * row(),
                    r.v[l].begin() + starts[b] * row());
      }
      at += lengths[b];
    }
  }
  void append(int64_t id, int64_t n, float scale = 1.0f) {
    forward({id}, {cache.length(id)}, {n}, scale);
  }

  // Key (or value) element j of head h at position pos of sequence id, read
  // from the pools through the sequence's pages.
  float pooled(bool key, int64_t id, int layer, int64_t pos, int h, int j) const {
    const int32_t page = cache.pagesOf(id)[static_cast<size_t>(pos / c_.pageSize)];
    const float *pool = key ? cache.keys(layer) : cache.values(layer);
    return pool[resa::pagedKVOffset(poolShape(c_), page, h,
                                    static_cast<int32_t>(pos % c_.pageSize)) +
                j];
  }

  // Everything the cache promises, against the reference.
  ::testing::AssertionResult verify() const {
    const int64_t ps = c_.pageSize;
    std::vector<int64_t> ids;
    std::map<int32_t, int32_t> holders;
    for (const auto &[id, r] : ref) {
      ids.push_back(id);
      if (!cache.hasSequence(id) || cache.length(id) != r.len)
        return ::testing::AssertionFailure() << "sequence " << id << " length";
      const std::vector<int32_t> pages = cache.pagesOf(id);
      if (static_cast<int64_t>(pages.size()) != (r.len + ps - 1) / ps)
        return ::testing::AssertionFailure() << "sequence " << id << " holds " << pages.size()
                                             << " pages for " << r.len << " tokens";
      for (int32_t p : pages)
        ++holders[p];
    }
    if (cache.sequences() != ids)
      return ::testing::AssertionFailure() << "sequence ids differ";
    for (int32_t p = 0; p < c_.numPages; ++p)
      if (cache.refCount(p) != (holders.count(p) ? holders[p] : 0))
        return ::testing::AssertionFailure() << "page " << p << " refcount " << cache.refCount(p);
    if (cache.freePages() != c_.numPages - static_cast<int64_t>(holders.size()) ||
        cache.usedPages() != static_cast<int64_t>(holders.size()))
      return ::testing::AssertionFailure() << "free pages " << cache.freePages();
    const resa::PagedAttentionShape s = poolShape(c_);
    for (const auto &[id, r] : ref) {
      for (int l = 0; l < c_.numLayers; ++l)
        for (int64_t pos = 0; pos < r.len; ++pos)
          for (int h = 0; h < c_.numKvHeads; ++h)
            for (int j = 0; j < c_.headDim; ++j) {
              const size_t at = static_cast<size_t>((pos * c_.numKvHeads + h) * c_.headDim + j);
              if (pooled(true, id, l, pos, h, j) != r.k[l][at] ||
                  pooled(false, id, l, pos, h, j) != r.v[l][at])
                return ::testing::AssertionFailure()
                       << "sequence " << id << " layer " << l << " position " << pos
                       << " head " << h << " differs from the reference";
            }
      // Summaries: brute-force min/max over each page's valid keys.
      const std::vector<int32_t> pages = cache.pagesOf(id);
      for (size_t i = 0; c_.summaries && i < pages.size(); ++i) {
        const int64_t valid = std::min<int64_t>(ps, r.len - static_cast<int64_t>(i) * ps);
        for (int l = 0; l < c_.numLayers; ++l)
          for (int h = 0; h < c_.numKvHeads; ++h)
            for (int j = 0; j < c_.headDim; ++j) {
              float mn = INFINITY, mx = -INFINITY;
              for (int64_t t = 0; t < valid; ++t) {
                const int64_t pos = static_cast<int64_t>(i) * ps + t;
                const float key =
                    r.k[l][static_cast<size_t>((pos * c_.numKvHeads + h) * c_.headDim + j)];
                mn = std::min(mn, key);
                mx = std::max(mx, key);
              }
              const int64_t at = resa::blockSummaryOffset(s, pages[i], h) + j;
              if (cache.keyMin(l)[at] != mn || cache.keyMax(l)[at] != mx)
                return ::testing::AssertionFailure()
                       << "sequence " << id << " page " << pages[i] << " (block " << i
                       << ", " << valid << " valid) layer " << l << " head " << h << " dim "
                       << j << ": summary [" << cache.keyMin(l)[at] << ", "
                       << cache.keyMax(l)[at] << "], brute force [" << mn << ", " << mx << "]";
            }
      }
    }
    return ::testing::AssertionSuccess();
  }

  Snapshot snapshot() const {
    Snapshot s;
    for (int64_t id : cache.sequences())
      s.seqs[id] = {cache.pagesOf(id), cache.length(id)};
    for (int32_t p = 0; p < c_.numPages; ++p)
      s.refs.push_back(cache.refCount(p));
    s.free = cache.freePages();
    for (int l = 0; l < c_.numLayers; ++l) {
      const float *pools[] = {cache.keys(l), cache.values(l)};
      for (const float *p : pools)
        s.pools.emplace_back(p, p + c_.poolElements());
      if (!c_.summaries)
        continue;
      const float *sums[] = {cache.keyMin(l), cache.keyMax(l)};
      for (const float *p : sums)
        s.pools.emplace_back(p, p + c_.summaryElements());
    }
    return s;
  }

private:
  int64_t row() const { return static_cast<int64_t>(c_.numKvHeads) * c_.headDim; }
};

// Counts the copies the cache asks of its storage (and, when given a
// counter, the summary updates), forwarding both to the CPU pools, to check
// copy-on-write copies exactly what it must.
class CountingStorage final : public resa::KVStorage {
public:
  CountingStorage(const KVCacheConfig &c, int *copies, size_t *updates = nullptr)
      : cpu_(c), copies_(copies), updates_(updates) {}
  void copyPage(int32_t src, int32_t dst) override {
    ++*copies_;
    cpu_.copyPage(src, dst);
  }
  bool hostF32() const override { return true; }
  void writeTokens(int layer, const int32_t *slots, int64_t n, const void *k,
                   const void *v) override {
    cpu_.writeTokens(layer, slots, n, k, v);
  }
  void readTokens(int layer, const int32_t *slots, int64_t n, float *k, float *v) const override {
    cpu_.readTokens(layer, slots, n, k, v);
  }
  void updateSummaries(int layer, const resa::KVSummaryUpdate *u, size_t n) override {
    if (updates_)
      *updates_ += n;
    cpu_.updateSummaries(layer, u, n);
  }
  void *keys(int l) override { return cpu_.keys(l); }
  void *values(int l) override { return cpu_.values(l); }
  void *keyMin(int l) override { return cpu_.keyMin(l); }
  void *keyMax(int l) override { return cpu_.keyMax(l); }

private:
  resa::CpuKVStorage cpu_;
  int *copies_;
  size_t *updates_;
};

} // namespace

TEST(KVCache, ConfigIsValidated) {
  auto make = [](KVCacheConfig c) { return [c] { KVCache cache(c); }; };
  KVCacheConfig c = smallConfig();
  c.numLayers = 0;
  EXPECT_TRUE(throwsWith(make(c), "numLayers must be > 0 (got 0)"));
  c = smallConfig();
  c.numKvHeads = -1;
  EXPECT_TRUE(throwsWith(make(c), "numKvHeads must be > 0"));
  c = smallConfig();
  c.headDim = 0;
  EXPECT_TRUE(throwsWith(make(c), "headDim must be > 0"));
  c = smallConfig();
  c.pageSize = 12;
  EXPECT_TRUE(throwsWith(make(c), "pageSize must be a power of two (got 12)"));
  c = smallConfig();
  c.pageSize = 0;
  EXPECT_TRUE(throwsWith(make(c), "pageSize must be > 0"));
  c = smallConfig();
  c.numPages = 0;
  EXPECT_TRUE(throwsWith(make(c), "numPages must be > 0"));
  c = smallConfig();
  c.numPages = int64_t(1) << 31;
  EXPECT_TRUE(throwsWith(make(c), "numPages must be at most 2147483647"));
  c = smallConfig();
  c.numPages = (int64_t(1) << 31) - 1;
  c.numKvHeads = 1 << 20;
  c.headDim = 1 << 20;
  EXPECT_TRUE(throwsWith(make(c), "do not fit in memory"));
  c = smallConfig();
  c.pageSize = 1; // the smallest power of two is fine
  EXPECT_NO_THROW(make(c)());
}

TEST(KVCache, AddRemoveAndLengths) {
  Harness h(smallConfig(16), 11);
  EXPECT_EQ(h.cache.freePages(), 16);
  h.add(7);
  h.add(-3); // any int64 is an id
  EXPECT_TRUE(h.cache.hasSequence(7));
  EXPECT_FALSE(h.cache.hasSequence(8));
  EXPECT_EQ(h.cache.length(7), 0);
  EXPECT_TRUE(h.cache.pagesOf(7).empty());
  EXPECT_EQ(h.cache.sequences(), (std::vector<int64_t>{-3, 7}));
  h.append(7, 10); // 4 + 4 + 2
  EXPECT_EQ(h.cache.length(7), 10);
  EXPECT_EQ(h.cache.pagesOf(7).size(), 3u);
  EXPECT_EQ(h.cache.usedPages(), 3);
  h.append(7, 2); // fills the partial page: no new page
  EXPECT_EQ(h.cache.usedPages(), 3);
  h.append(7, 1);
  EXPECT_EQ(h.cache.usedPages(), 4);
  h.append(-3, 5);
  ASSERT_TRUE(h.verify());
  h.remove(7);
  EXPECT_FALSE(h.cache.hasSequence(7));
  EXPECT_EQ(h.cache.usedPages(), 2);
  ASSERT_TRUE(h.verify());
  h.remove(-3);
  EXPECT_EQ(h.cache.freePages(), 16);
  ASSERT_TRUE(h.verify());
}

// A sequence's pages come out of the pool in ascending order, also after a
// removal or a pop released others (the CUDA prefill loads consecutive pages
// as one box a tile).
TEST(KVCache, ReleasedPagesAreHandedOutAgainInOrder) {
  Harness h(smallConfig(16), 21);
  h.add(1);
  h.append(1, 12); // pages 0, 1, 2
  EXPECT_EQ(h.cache.pagesOf(1), (std::vector<int32_t>{0, 1, 2}));
  h.remove(1);
  h.add(2);
  h.append(2, 16);
  EXPECT_EQ(h.cache.pagesOf(2), (std::vector<int32_t>{0, 1, 2, 3}));
  h.pop(2, 12); // releases pages 1, 2, 3
  h.append(2, 12);
  EXPECT_EQ(h.cache.pagesOf(2), (std::vector<int32_t>{0, 1, 2, 3}));
  ASSERT_TRUE(h.verify());
}

TEST(KVCache, BatchTablesFollowPagedKVLayout) {
  Harness h(smallConfig(), 12);
  h.add(1);
  h.add(2);
  h.add(3);
  h.append(1, 9);
  h.append(2, 2);
  h.append(3, 5);
  // A mixed batch: decode 1, prefill-like append 7, rectify 3 of 5.
  std::normal_distribution<float> d;
  const std::vector<int64_t> ids = {1, 2, 3}, starts = {9, 2, 2}, lengths = {1, 7, 3};
  h.cache.beginForward(ids, starts, lengths);
  EXPECT_TRUE(h.cache.inForward());
  EXPECT_EQ(h.cache.batchSize(), 3);
  EXPECT_EQ(h.cache.totalNewTokens(), 11);
  const std::vector<int32_t> seqLens(h.cache.seqLens(), h.cache.seqLens() + 3);
  EXPECT_EQ(seqLens, (std::vector<int32_t>{10, 9, 5}));
  EXPECT_EQ(std::vector<int32_t>(h.cache.queryStarts(), h.cache.queryStarts() + 3),
            (std::vector<int32_t>{9, 2, 2}));
  EXPECT_EQ(std::vector<int32_t>(h.cache.queryLengths(), h.cache.queryLengths() + 3),
            (std::vector<int32_t>{1, 7, 3}));
  EXPECT_EQ(std::vector<int32_t>(h.cache.queryOffsets(), h.cache.queryOffsets() + 4),
            (std::vector<int32_t>{0, 1, 8, 11}));
  const int32_t stride = h.cache.maxPagesPerSeq();
  EXPECT_EQ(stride, 3);
  const resa::PagedAttentionShape s = h.cache.attentionShape(6);
  EXPECT_EQ(s.batch, 3);
  EXPECT_EQ(s.numQHeads, 6);
  EXPECT_EQ(s.numKvHeads, 2);
  EXPECT_EQ(s.headDim, 8);
  EXPECT_EQ(s.pageSize, 4);
  EXPECT_EQ(s.numPages, 64);
  EXPECT_EQ(s.maxPagesPerSeq, 3);
  // Rows hold each sequence's pages in token order, padded with page 0.
  for (int b = 0; b < 3; ++b) {
    const std::vector<int32_t> pages = h.cache.pagesOf(ids[b]);
    for (int i = 0; i < stride; ++i)
      EXPECT_EQ(h.cache.pageTable()[b * stride + i], i < int(pages.size()) ? pages[i] : 0);
  }
  // The slot mapping names the page and slot of every new token.
  int at = 0;
  for (int b = 0; b < 3; ++b)
    for (int64_t pos = starts[b]; pos < starts[b] + lengths[b]; ++pos, ++at)
      EXPECT_EQ(h.cache.slotMapping()[at], h.cache.pagesOf(ids[b])[pos / 4] * 4 + pos % 4);
  std::vector<float> k(11 * 16), v(11 * 16);
  for (float &x : k)
    x = d(h.rng);
  for (float &x : v)
    x = d(h.rng);
  h.cache.writeLayer(0, k.data(), v.data());
  // Layer 0 is readable through the tables before layer 1 is written.
  const resa::PagedAttentionShape ps = poolShape(h.c_);
  at = 0;
  for (int b = 0; b < 3; ++b)
    for (int64_t pos = starts[b]; pos < starts[b] + lengths[b]; ++pos, ++at) {
      const int32_t page = h.cache.pageTable()[b * stride + pos / 4];
      for (int hd = 0; hd < 2; ++hd)
        for (int j = 0; j < 8; ++j) {
          const int64_t off = resa::pagedKVOffset(ps, page, hd, pos % 4) + j;
          EXPECT_EQ(h.cache.keys(0)[off], k[(at * 2 + hd) * 8 + j]);
          EXPECT_EQ(h.cache.values(0)[off], v[(at * 2 + hd) * 8 + j]);
        }
    }
  h.cache.writeLayer(1, k.data(), v.data());
  h.cache.endForward();
  EXPECT_FALSE(h.cache.inForward());
}

TEST(KVCache, ForkSharesPrefixAndDivergesOnAppend) {
  int copies = 0;
  Harness h(smallConfig(32), 21, std::make_unique<CountingStorage>(smallConfig(32), &copies));
  h.add(1);
  h.append(1, 10); // pages: full, full, partial (2 of 4)
  const std::vector<int32_t> prefix = h.cache.pagesOf(1);
  h.fork(1, 2);
  h.fork(1, 3);
  EXPECT_EQ(h.cache.pagesOf(2), prefix);
  EXPECT_EQ(h.cache.pagesOf(3), prefix);
  for (int32_t p : prefix)
    EXPECT_EQ(h.cache.refCount(p), 3);
  EXPECT_EQ(h.cache.usedPages(), 3); // a fork allocates nothing
  EXPECT_EQ(h.cache.length(2), 10);
  EXPECT_EQ(copies, 0);
  ASSERT_TRUE(h.verify());

  // The child writes into the shared partial page: it gets its own copy.
  EXPECT_EQ(h.cache.pagesNeeded({2}, {10}, {1}), 1);
  h.append(2, 1);
  EXPECT_EQ(copies, 1);
  const std::vector<int32_t> child = h.cache.pagesOf(2);
  EXPECT_EQ(child[0], prefix[0]);
  EXPECT_EQ(child[1], prefix[1]);
  EXPECT_NE(child[2], prefix[2]);
  EXPECT_EQ(h.cache.refCount(prefix[0]), 3);
  EXPECT_EQ(h.cache.refCount(prefix[2]), 2);
  EXPECT_EQ(h.cache.refCount(child[2]), 1);
  EXPECT_EQ(h.cache.length(1), 10); // the parent does not see the child's token
  ASSERT_TRUE(h.verify());          // parent data and summaries unchanged

  // The child crosses into a fresh page: no further copy.
  h.append(2, 5);
  EXPECT_EQ(copies, 1);
  // The other child also diverges: a second copy; then the parent is the
  // last holder of the partial page and writes it in place.
  h.append(3, 1);
  EXPECT_EQ(copies, 2);
  EXPECT_EQ(h.cache.refCount(prefix[2]), 1);
  EXPECT_EQ(h.cache.pagesNeeded({1}, {10}, {1}), 0);
  h.append(1, 1);
  EXPECT_EQ(copies, 2);
  EXPECT_EQ(h.cache.pagesOf(1), prefix);
  ASSERT_TRUE(h.verify());

  // Removing the parent keeps the shared full pages alive for the children.
  h.remove(1);
  EXPECT_EQ(h.cache.refCount(prefix[0]), 2);
  EXPECT_EQ(h.cache.refCount(prefix[2]), 0);
  ASSERT_TRUE(h.verify());
}

TEST(KVCache, ForkAtPageBoundaryCopiesNothing) {
  int copies = 0;
  Harness h(smallConfig(32), 22, std::make_unique<CountingStorage>(smallConfig(32), &copies));
  h.add(1);
  h.append(1, 8); // two full pages
  h.fork(1, 2);
  h.append(2, 3);
  h.append(1, 6);
  EXPECT_EQ(copies, 0);
  EXPECT_EQ(h.cache.refCount(h.cache.pagesOf(1)[0]), 2);
  EXPECT_EQ(h.cache.refCount(h.cache.pagesOf(1)[1]), 2);
  EXPECT_NE(h.cache.pagesOf(1)[2], h.cache.pagesOf(2)[2]);
  ASSERT_TRUE(h.verify());
}

TEST(KVCache, SharedPageWrittenByTwoSequencesOfOneBatchIsCopiedOnce) {
  int copies = 0;
  Harness h(smallConfig(32), 23, std::make_unique<CountingStorage>(smallConfig(32), &copies));
  h.add(1);
  h.append(1, 6);
  h.fork(1, 2);
  // Both append to the shared partial page: the first writer copies it, the
  // second is then its only holder.
  EXPECT_EQ(h.cache.pagesNeeded({1, 2}, {6, 6}, {1, 1}), 1);
  const int64_t before = h.cache.freePages();
  h.forward({1, 2}, {6, 6}, {1, 1});
  EXPECT_EQ(copies, 1);
  EXPECT_EQ(h.cache.freePages(), before - 1);
  EXPECT_NE(h.cache.pagesOf(1)[1], h.cache.pagesOf(2)[1]);
  EXPECT_EQ(h.cache.pagesOf(1)[0], h.cache.pagesOf(2)[0]);
  ASSERT_TRUE(h.verify());
  // The GSR shape: N candidates forked from one prompt decode as one batch.
  h.fork(1, 3);
  h.fork(1, 4);
  h.fork(1, 5);
  EXPECT_EQ(h.cache.pagesNeeded({1, 3, 4, 5}, {7, 7, 7, 7}, {1, 1, 1, 1}), 3);
  for (int step = 0; step < 6; ++step)
    h.forward({1, 3, 4, 5}, {7 + step, 7 + step, 7 + step, 7 + step}, {1, 1, 1, 1});
  ASSERT_TRUE(h.verify());
}

TEST(KVCache, RectificationOverwritesInPlaceAndRecomputesSummaries) {
  int copies = 0;
  Harness h(smallConfig(32), 31, std::make_unique<CountingStorage>(smallConfig(32), &copies));
  h.add(1);
  h.append(1, 14);
  const std::vector<int32_t> pages = h.cache.pagesOf(1);
  // New keys 100x smaller than the old: a stale min/max would show.
  h.forward({1}, {5}, {6}, 0.01f);
  EXPECT_EQ(h.cache.pagesOf(1), pages); // an exclusive page is written in place
  EXPECT_EQ(h.cache.length(1), 14);
  EXPECT_EQ(copies, 0);
  ASSERT_TRUE(h.verify());
  // Overwrite the tail and run past the end in one forward.
  h.forward({1}, {12}, {7}, 0.01f);
  EXPECT_EQ(h.cache.length(1), 19);
  ASSERT_TRUE(h.verify());
  // Overwrite a whole page exactly.
  h.forward({1}, {4}, {4}, 100.0f);
  ASSERT_TRUE(h.verify());
  // A window of zero tokens writes nothing.
  h.forward({1}, {19}, {0});
  EXPECT_EQ(h.cache.length(1), 19);
  ASSERT_TRUE(h.verify());
}

TEST(KVCache, RectificationOfSharedPagesCopiesThem) {
  int copies = 0;
  Harness h(smallConfig(32), 32, std::make_unique<CountingStorage>(smallConfig(32), &copies));
  h.add(1);
  h.append(1, 12); // pages 0..2, full
  h.fork(1, 2);
  const std::vector<int32_t> shared = h.cache.pagesOf(1);
  // The child rewrites positions [6, 10): pages 1 and 2 are copied, page 0
  // stays shared; the parent keeps its pages and data.
  EXPECT_EQ(h.cache.pagesNeeded({2}, {6}, {4}), 2);
  h.forward({2}, {6}, {4}, 0.01f);
  EXPECT_EQ(copies, 2);
  const std::vector<int32_t> child = h.cache.pagesOf(2);
  EXPECT_EQ(child[0], shared[0]);
  EXPECT_NE(child[1], shared[1]);
  EXPECT_NE(child[2], shared[2]);
  EXPECT_EQ(h.cache.pagesOf(1), shared);
  EXPECT_EQ(h.cache.refCount(shared[0]), 2);
  EXPECT_EQ(h.cache.refCount(shared[1]), 1);
  ASSERT_TRUE(h.verify());
  // ReSA's rectification of the last f tokens on a parent whose partial last
  // page is shared.
  h.append(1, 2);
  h.fork(1, 3);
  h.forward({1}, {11}, {3}, 0.01f);
  EXPECT_NE(h.cache.pagesOf(1)[2], h.cache.pagesOf(3)[2]);
  EXPECT_NE(h.cache.pagesOf(1)[3], h.cache.pagesOf(3)[3]);
  EXPECT_EQ(h.cache.pagesOf(1)[1], h.cache.pagesOf(3)[1]);
  ASSERT_TRUE(h.verify());
}

TEST(KVCache, PopsRecomputeSummariesAndFreePages) {
  int copies = 0;
  Harness h(smallConfig(32), 41, std::make_unique<CountingStorage>(smallConfig(32), &copies));
  h.add(1);
  h.append(1, 15);
  h.pop(1, 0);
  ASSERT_TRUE(h.verify());
  h.pop(1, 2); // within the last page
  EXPECT_EQ(h.cache.usedPages(), 4);
  ASSERT_TRUE(h.verify());
  h.pop(1, 4); // 9 tokens: drops a page, leaves a partial one
  EXPECT_EQ(h.cache.usedPages(), 3);
  ASSERT_TRUE(h.verify());
  h.pop(1, 1); // 8: ends on a page boundary
  EXPECT_EQ(h.cache.usedPages(), 2);
  ASSERT_TRUE(h.verify());
  h.append(1, 3); // summaries of a reused page start fresh
  ASSERT_TRUE(h.verify());
  h.pop(1, 11);
  EXPECT_EQ(h.cache.length(1), 0);
  EXPECT_EQ(h.cache.usedPages(), 0);
  ASSERT_TRUE(h.verify());
  EXPECT_EQ(copies, 0);
  h.append(1, 6);
  ASSERT_TRUE(h.verify());
}

TEST(KVCache, PoppingIntoASharedPageCopiesIt) {
  int copies = 0;
  Harness h(smallConfig(32), 42, std::make_unique<CountingStorage>(smallConfig(32), &copies));
  h.add(1);
  h.append(1, 11);
  h.fork(1, 2);
  const std::vector<int32_t> shared = h.cache.pagesOf(1);
  // The child drops 3 tokens: its new last page (block 1, 3 of 4 valid) is
  // shared, so it is copied and only the copy's summary shrinks.
  h.pop(2, 5);
  EXPECT_EQ(copies, 1);
  EXPECT_EQ(h.cache.pagesOf(2)[0], shared[0]);
  EXPECT_NE(h.cache.pagesOf(2)[1], shared[1]);
  EXPECT_EQ(h.cache.pagesOf(1), shared);
  EXPECT_EQ(h.cache.refCount(shared[2]), 1);
  ASSERT_TRUE(h.verify());
  // Dropping whole shared pages copies nothing.
  h.fork(1, 3);
  h.pop(3, 7);
  EXPECT_EQ(copies, 1);
  EXPECT_EQ(h.cache.refCount(shared[0]), 3);
  ASSERT_TRUE(h.verify());
}

// A cache without summaries (a dense package's): forwards record no summary
// updates and the storage gets none, keyMin/keyMax throw and the storage has
// no kmin/kmax pools; K and V still follow the reference through forks,
// copy-on-write, rectification and pops, and a pop into a shared page copies
// nothing (the first write after it does).
// A writer that refreshes the summaries itself (the CUDA rotary append) gets
// the forward's updates, one per written page, and the storage's
// updateSummaries is not called for its layer; writeLayerWith's layers
// still get theirs. Each layer is written once either way.
TEST(KVCache, WriterThatRefreshesSummariesGetsTheUpdates) {
  int copies = 0;
  size_t updates = 0;
  Harness h(smallConfig(16), 90, std::make_unique<CountingStorage>(smallConfig(16), &copies, &updates));
  h.add(1);
  h.add(2);
  h.append(1, 5);
  h.append(2, 2);
  const size_t before = updates;
  h.cache.beginForward({1, 2}, {5, 2}, {1, 1});
  const std::vector<resa::KVSummaryUpdate> listed = h.cache.summaryUpdates();
  ASSERT_EQ(listed.size(), 2u);
  int64_t written = 0;
  std::vector<resa::KVSummaryUpdate> got;
  h.cache.writeLayerAndSummariesWith(
      0, [&](const int32_t *, int64_t count, const std::vector<resa::KVSummaryUpdate> &u) {
        written = count;
        got = u;
      });
  EXPECT_EQ(written, 2);
  ASSERT_EQ(got.size(), listed.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].page, listed[i].page);
    EXPECT_EQ(got[i].from, listed[i].from);
    EXPECT_EQ(got[i].valid, listed[i].valid);
  }
  // Sequence 1's token 5 is slot 1 of its second page; sequence 2's token 2
  // slot 2 of its first.
  EXPECT_EQ(got[0].page, h.cache.pagesOf(1)[1]);
  EXPECT_EQ(got[0].from, 1);
  EXPECT_EQ(got[0].valid, 2);
  EXPECT_EQ(got[1].page, h.cache.pagesOf(2)[0]);
  EXPECT_EQ(got[1].from, 2);
  EXPECT_EQ(got[1].valid, 3);
  EXPECT_EQ(updates, before);
  EXPECT_TRUE(throwsWith(
      [&] {
        h.cache.writeLayerAndSummariesWith(
            0, [](const int32_t *, int64_t, const std::vector<resa::KVSummaryUpdate> &) {});
      },
      "layer 0 already written in this forward"));
  h.cache.writeLayerWith(1, [](const int32_t *, int64_t) {});
  EXPECT_EQ(updates, before + 2);
  h.cache.endForward();
}

TEST(KVCache, WithoutSummariesKeepsKeysAndValuesOnly) {
  // The same forward with summaries records updates: the contrast below.
  {
    Harness on(smallConfig(8), 80);
    on.add(1);
    size_t recorded = 0;
    on.onBegin = [&] { recorded = on.cache.summaryUpdates().size(); };
    on.append(1, 6);
    EXPECT_EQ(recorded, 2u);
  }
  KVCacheConfig c = smallConfig(32);
  c.summaries = false;
  int copies = 0;
  size_t updates = 0;
  Harness h(c, 81, std::make_unique<CountingStorage>(c, &copies, &updates));
  EXPECT_EQ(h.cache.storage().keyMin(0), nullptr);
  EXPECT_EQ(h.cache.storage().keyMax(1), nullptr);
  EXPECT_TRUE(throwsWith([&] { h.cache.keyMin(0); },
                         "keyMin: this cache keeps no block summaries (its package selects no "
                         "blocks)"));
  EXPECT_TRUE(throwsWith([&] { h.cache.keyMax(1); }, "keyMax: this cache keeps no block summaries"));
  EXPECT_TRUE(throwsWith([&] { h.cache.keyMax(2); }, "layer 2 out of"));

  int64_t forwards = 0, tokens = 0;
  h.onBegin = [&] {
    ++forwards;
    tokens += h.cache.totalNewTokens();
    EXPECT_TRUE(h.cache.summaryUpdates().empty());
  };
  h.add(1);
  h.append(1, 10); // pages: full, full, partial (2 of 4)
  ASSERT_TRUE(h.verify());
  const std::vector<int32_t> prefix = h.cache.pagesOf(1);
  h.fork(1, 2);
  h.append(2, 1); // copy-on-write of the shared partial page
  EXPECT_EQ(copies, 1);
  EXPECT_NE(h.cache.pagesOf(2)[2], prefix[2]);
  EXPECT_EQ(h.cache.pagesOf(1), prefix);
  ASSERT_TRUE(h.verify());

  // Rectification of shared pages copies them and rewrites the copies.
  h.fork(1, 3);
  h.forward({3}, {5}, {4}, 0.01f);
  EXPECT_EQ(copies, 3);
  EXPECT_EQ(h.cache.pagesOf(1), prefix);
  ASSERT_TRUE(h.verify());

  // A pop into a shared page copies nothing and needs no free page...
  h.fork(1, 4);
  const int64_t used = h.cache.usedPages();
  h.pop(4, 5); // 5 tokens: block 1 (1 of 4 valid) stays shared with 1
  EXPECT_EQ(copies, 3);
  EXPECT_EQ(h.cache.usedPages(), used); // no copy (and its block 2 is still 1's)
  EXPECT_EQ(h.cache.pagesOf(4)[1], prefix[1]);
  EXPECT_EQ(h.cache.refCount(prefix[1]), 3); // held by 1, 2 and 4
  ASSERT_TRUE(h.verify());
  // ...and the next write to it copies it first: the others keep their data.
  h.append(4, 2);
  EXPECT_EQ(copies, 4);
  EXPECT_NE(h.cache.pagesOf(4)[1], prefix[1]);
  EXPECT_EQ(h.cache.refCount(prefix[1]), 2);
  ASSERT_TRUE(h.verify());
  h.remove(1);
  h.append(2, 9);
  ASSERT_TRUE(h.verify());

  EXPECT_EQ(forwards, 5);
  EXPECT_EQ(tokens, 10 + 1 + 4 + 2 + 9);
  EXPECT_EQ(updates, 0u);

  // The storage refuses summary updates it has no pools for.
  resa::CpuKVStorage storage(c);
  const resa::KVSummaryUpdate up{0, 0, 1};
  EXPECT_NO_THROW(storage.updateSummaries(0, &up, 0));
  EXPECT_TRUE(throwsWith([&] { storage.updateSummaries(0, &up, 1); },
                         "1 summary updates for a cache that keeps no block summaries"));
}

TEST(KVCache, CapacityErrorsLeaveTheCacheUnchanged) {
  Harness h(smallConfig(4), 51);
  h.add(1);
  h.add(2);
  h.append(1, 12); // 3 of 4 pages
  const Snapshot before = h.snapshot();
  EXPECT_EQ(h.cache.pagesNeeded({2}, {0}, {8}), 2);
  EXPECT_TRUE(throwsWith([&] { h.cache.beginForward({2}, {0}, {8}); },
                         "KV cache full: needs 2 more pages, 1 free (capacity 4 pages of 4 "
                         "tokens)"));
  EXPECT_FALSE(h.cache.inForward());
  EXPECT_TRUE(h.snapshot() == before);
  // A batch whose first sequence fits but second does not: nothing happens.
  EXPECT_TRUE(throwsWith([&] { h.cache.beginForward({1, 2}, {12, 0}, {1, 4}); },
                         "needs 2 more pages, 1 free"));
  EXPECT_TRUE(h.snapshot() == before);
  ASSERT_TRUE(h.verify());
  // Recovery: free a sequence and retry.
  h.remove(1);
  h.append(2, 8);
  ASSERT_TRUE(h.verify());

  // Copy-on-write needs a page too.
  Harness f(smallConfig(3), 52);
  f.add(1);
  f.append(1, 10); // 3 pages: the cache is full
  f.fork(1, 2);
  const Snapshot full = f.snapshot();
  EXPECT_TRUE(throwsWith([&] { f.cache.beginForward({2}, {8}, {1}); },
                         "KV cache full: needs 1 more pages, 0 free"));
  EXPECT_TRUE(throwsWith([&] { f.cache.beginForward({2}, {2}, {1}); }, "needs 1 more pages"));
  EXPECT_TRUE(throwsWith([&] { f.cache.popTokens(2, 3); }, "KV cache full: needs 1 more"));
  EXPECT_TRUE(f.snapshot() == full);
  ASSERT_TRUE(f.verify());

  // A pop whose own released pages make room for its copy succeeds on a
  // full cache.
  Harness g(smallConfig(3), 53);
  g.add(1);
  g.append(1, 4); // page A
  g.fork(1, 2);
  g.append(2, 6); // the child adds B and C: the cache is full
  EXPECT_EQ(g.cache.freePages(), 0);
  g.pop(2, 7); // 3 tokens: releases B and C, copies the shared A
  EXPECT_NE(g.cache.pagesOf(2)[0], g.cache.pagesOf(1)[0]);
  EXPECT_EQ(g.cache.freePages(), 1);
  ASSERT_TRUE(g.verify());
}

TEST(KVCache, InvalidArgumentsThrow) {
  Harness h(smallConfig(16), 61);
  h.add(1);
  h.append(1, 5);
  h.add(2);
  KVCache &c = h.cache;
  EXPECT_TRUE(throwsWith([&] { c.addSequence(1); }, "sequence 1 already exists"));
  EXPECT_TRUE(throwsWith([&] { c.removeSequence(9); }, "removeSequence: no sequence 9"));
  EXPECT_TRUE(throwsWith([&] { c.forkSequence(9, 10); }, "forkSequence: no sequence 9"));
  EXPECT_TRUE(throwsWith([&] { c.forkSequence(1, 2); }, "child sequence 2 already exists"));
  EXPECT_TRUE(throwsWith([&] { c.forkSequence(1, 1); }, "already exists"));
  EXPECT_TRUE(throwsWith([&] { c.popTokens(9, 1); }, "no sequence 9"));
  EXPECT_TRUE(throwsWith([&] { c.popTokens(1, 6); }, "cannot pop 6 tokens of sequence 1"));
  EXPECT_TRUE(throwsWith([&] { c.popTokens(1, -1); }, "cannot pop -1"));
  EXPECT_TRUE(throwsWith([&] { c.length(9); }, "length: no sequence 9"));
  EXPECT_TRUE(throwsWith([&] { c.pagesOf(9); }, "no sequence 9"));
  EXPECT_TRUE(throwsWith([&] { c.refCount(16); }, "page 16 out of [0, 16)"));
  EXPECT_TRUE(throwsWith([&] { c.refCount(-1); }, "out of"));
  EXPECT_TRUE(throwsWith([&] { c.keys(2); }, "layer 2 out of [0, 2)"));
  EXPECT_TRUE(throwsWith([&] { c.keyMax(-1); }, "layer -1"));

  EXPECT_TRUE(throwsWith([&] { c.beginForward({}, {}, {}); }, "empty batch"));
  EXPECT_TRUE(throwsWith([&] { c.beginForward({1}, {0, 1}, {1}); }, "1 ids but 2 starts"));
  EXPECT_TRUE(throwsWith([&] { c.beginForward({9}, {0}, {1}); }, "no sequence 9"));
  EXPECT_TRUE(throwsWith([&] { c.beginForward({1, 1}, {5, 5}, {1, 1}); }, "appears twice"));
  EXPECT_TRUE(throwsWith([&] { c.beginForward({1}, {6}, {1}); }, "0 <= start <= length"));
  EXPECT_TRUE(throwsWith([&] { c.beginForward({1}, {-1}, {1}); }, "cannot write"));
  EXPECT_TRUE(throwsWith([&] { c.beginForward({1}, {0}, {-2}); }, "cannot write -2"));
  EXPECT_TRUE(throwsWith([&] { c.beginForward({2}, {0}, {int64_t(1) << 31}); },
                         "over the int32 limit"));
  EXPECT_TRUE(throwsWith([&] { c.pagesNeeded({1}, {7}, {1}); }, "cannot write"));

  // Outside a forward.
  std::vector<float> kv(16 * 4, 1.5f);
  EXPECT_TRUE(throwsWith([&] { c.writeLayer(0, kv.data(), kv.data()); },
                         "writeLayer outside a forward"));
  EXPECT_TRUE(throwsWith([&] { c.endForward(); }, "outside a forward"));
  EXPECT_TRUE(throwsWith([&] { c.pageTable(); }, "pageTable outside a forward"));
  EXPECT_TRUE(throwsWith([&] { c.seqLens(); }, "outside a forward"));
  EXPECT_TRUE(throwsWith([&] { c.attentionShape(2); }, "outside a forward"));

  // Inside one.
  c.beginForward({1, 2}, {5, 0}, {1, 3});
  EXPECT_TRUE(throwsWith([&] { c.beginForward({1}, {6}, {1}); }, "while a forward is open"));
  EXPECT_TRUE(throwsWith([&] { c.addSequence(5); }, "addSequence while a forward is open"));
  EXPECT_TRUE(throwsWith([&] { c.removeSequence(1); }, "while a forward is open"));
  EXPECT_TRUE(throwsWith([&] { c.forkSequence(1, 5); }, "while a forward is open"));
  EXPECT_TRUE(throwsWith([&] { c.popTokens(1, 1); }, "while a forward is open"));
  EXPECT_TRUE(throwsWith([&] { c.attentionShape(3); }, "not a positive multiple of 2"));
  EXPECT_TRUE(throwsWith([&] { c.attentionShape(0); }, "not a positive multiple"));
  EXPECT_TRUE(throwsWith([&] { c.writeLayer(2, kv.data(), kv.data()); }, "layer 2 out of"));
  EXPECT_TRUE(throwsWith([&] { c.writeLayer(0, nullptr, kv.data()); }, "null K or V"));
  c.writeLayer(0, kv.data(), kv.data());
  EXPECT_TRUE(throwsWith([&] { c.writeLayer(0, kv.data(), kv.data()); },
                         "layer 0 already written"));
  EXPECT_TRUE(throwsWith([&] { c.endForward(); }, "layer 1 of 2 was not written"));
  EXPECT_FALSE(c.inForward()); // closed despite the error
}

// The cache's tables feed the CPU paged-attention kernel directly: a decode
// step over a batch of forked and unforked sequences matches a naive
// attention over the reference's flat K/V.
TEST(KVCache, FeedsThePagedAttentionKernel) {
  Harness h(smallConfig(), 71);
  h.add(1);
  h.add(2);
  h.append(1, 13);
  h.append(2, 3);
  h.fork(1, 3);
  h.append(3, 4);
  const std::vector<int64_t> ids = {1, 2, 3};
  const std::vector<int64_t> starts = {13, 3, 17};
  h.forward(ids, starts, {1, 1, 1});
  // Re-open a zero-token forward to get the tables for reading.
  h.cache.beginForward(ids, {14, 4, 18}, {0, 0, 0});
  const int numQHeads = 4, D = 8;
  const resa::PagedAttentionShape s = h.cache.attentionShape(numQHeads);
  std::normal_distribution<float> nd;
  std::vector<float> q(s.queryElements()), out(s.queryElements());
  for (float &x : q)
    x = nd(h.rng);
  for (int layer = 0; layer < 2; ++layer) {
    resa::pagedDecodeAttentionCpu(s, q.data(), h.cache.keys(layer), h.cache.values(layer),
                                  h.cache.pageTable(), h.cache.seqLens(), 0.0f, out.data());
    for (int b = 0; b < 3; ++b) {
      const RefSeq &r = h.ref[ids[b]];
      for (int qh = 0; qh < numQHeads; ++qh) {
        const int kvh = qh / (numQHeads / 2);
        std::vector<double> w(static_cast<size_t>(r.len));
        double mx = -1e300, sum = 0;
        for (int64_t t = 0; t < r.len; ++t) {
          double dot = 0;
          for (int j = 0; j < D; ++j)
            dot += double(q[(b * numQHeads + qh) * D + j]) * r.k[layer][(t * 2 + kvh) * D + j];
          w[t] = dot / std::sqrt(double(D));
          mx = std::max(mx, w[t]);
        }
        for (double &x : w)
          sum += (x = std::exp(x - mx));
        for (int j = 0; j < D; ++j) {
          double o = 0;
          for (int64_t t = 0; t < r.len; ++t)
            o += w[t] / sum * r.v[layer][(t * 2 + kvh) * D + j];
          EXPECT_NEAR(out[(b * numQHeads + qh) * D + j], o, 1e-5)
              << "batch " << b << " head " << qh << " dim " << j;
        }
      }
    }
  }
  h.cache.endForward();
}

// Random adds, forks, batched appends and rectifications, pops and removals
// on a cache small enough to run full, each step checked against the
// reference (data, refcounts, free pages, summaries when kept); every
// capacity error must leave the cache as it was.
TEST(KVCache, RandomizedAgainstReference) {
  // Seeds 101, 202, 303 with summaries, then again without.
  for (int run = 0; run < 6; ++run) {
    const unsigned seed = 101u * static_cast<unsigned>(run % 3 + 1);
    const bool summaries = run < 3;
    SCOPED_TRACE("seed " + std::to_string(seed) + (summaries ? "" : ", no summaries"));
    KVCacheConfig config = smallConfig(40);
    config.summaries = summaries;
    Harness h(config, seed);
    std::mt19937 &rng = h.rng;
    auto pick = [&](int64_t lo, int64_t hi) {
      return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    };
    int64_t nextId = 0, fulls = 0, forwards = 0, forks = 0;
    auto live = [&] {
      std::vector<int64_t> ids;
      for (const auto &kv : h.ref)
        ids.push_back(kv.first);
      return ids;
    };
    for (int step = 0; step < 600; ++step) {
      std::vector<int64_t> ids = live();
      const int64_t op = pick(0, 9);
      if (ids.empty() || (op == 0 && ids.size() < 14)) {
        h.add(nextId % 2 ? -nextId : nextId);
        ++nextId;
      } else if (op == 1 && ids.size() < 14) {
        h.fork(ids[pick(0, ids.size() - 1)], nextId % 2 ? -nextId : nextId);
        ++nextId;
        ++forks;
      } else if (op == 2 || (op == 4 && h.cache.freePages() < 8)) {
        // Remove more often when the cache runs full, so that most forwards
        // fit and some do not.
        h.remove(ids[pick(0, ids.size() - 1)]);
      } else if (op == 3) {
        const int64_t id = ids[pick(0, ids.size() - 1)];
        const Snapshot before = h.snapshot();
        const int64_t n = pick(0, h.cache.length(id));
        try {
          h.pop(id, n);
        } catch (const resa::Error &e) {
          ASSERT_NE(std::string(e.what()).find("KV cache full"), std::string::npos) << e.what();
          ASSERT_TRUE(h.snapshot() == before);
          ++fulls;
        }
      } else {
        // A batch of distinct sequences, each appending, decoding or
        // rewriting a window (possibly running past its end).
        std::shuffle(ids.begin(), ids.end(), rng);
        ids.resize(static_cast<size_t>(pick(1, std::min<int64_t>(5, ids.size()))));
        std::vector<int64_t> starts, lengths;
        for (int64_t id : ids) {
          const int64_t len = h.cache.length(id);
          const int64_t mode = pick(0, 2);
          const int64_t start = mode == 2 ? pick(0, len) : len;
          starts.push_back(start);
          lengths.push_back(mode == 0 ? pick(1, 9) : mode == 1 ? 1 : pick(0, 8));
        }
        const int64_t needed = h.cache.pagesNeeded(ids, starts, lengths);
        const int64_t freeBefore = h.cache.freePages();
        const Snapshot before = h.snapshot();
        if (needed > freeBefore) {
          ASSERT_TRUE(throwsWith([&] { h.cache.beginForward(ids, starts, lengths); },
                                 "KV cache full: needs " + std::to_string(needed) +
                                     " more pages, " + std::to_string(freeBefore) + " free"));
          ASSERT_TRUE(h.snapshot() == before);
          ++fulls;
        } else {
          h.forward(ids, starts, lengths, pick(0, 1) ? 1.0f : 0.05f);
          ++forwards;
        }
      }
      ASSERT_TRUE(h.verify()) << "after step " << step << " (op " << op << ")";
    }
    // The run must have exercised the interesting paths.
    EXPECT_GT(fulls, 20);
    EXPECT_GT(forwards, 150);
    EXPECT_GT(forks, 30);
  }
}
