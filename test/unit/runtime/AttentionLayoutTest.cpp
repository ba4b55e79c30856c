// The KV-cache steps' input checks both backends share (runtime/src/
// AttentionLayout.h): q/k/v's layout against the open forward, and
// resa.block_attention's selected blocks and the counts of its selection.
#include "AttentionLayout.h"
#include "ThrowsWith.h"

#include <gtest/gtest.h>

#include <string>

namespace {

resa::KVCacheConfig config() {
  resa::KVCacheConfig c;
  c.numLayers = 1;
  c.numKvHeads = 2;
  c.headDim = 8;
  c.pageSize = 4;
  c.numPages = 8;
  return c;
}

using resa::test::throwsWith;

} // namespace

TEST(AttentionLayout, ReadsBothLayoutsAndRefusesOthers) {
  resa::KVCache cache(config());
  cache.addSequence(1);
  cache.addSequence(2);
  cache.beginForward({1, 2}, {0, 0}, {3, 3});
  resa::Attrs attrs;
  attrs.set("num_heads", int64_t(4));
  const resa::AttentionLayout bhsd = resa::attentionLayout({2, 4, 3, 8}, attrs, "num_heads", cache);
  EXPECT_TRUE(bhsd.bhsd);
  EXPECT_EQ(bhsd.batch, 2);
  EXPECT_EQ(bhsd.heads, 4);
  EXPECT_EQ(bhsd.len, 3);
  EXPECT_EQ(bhsd.d, 8);
  attrs.set("layout", std::string("bsd"));
  const resa::AttentionLayout bsd = resa::attentionLayout({2, 3, 32}, attrs, "num_heads", cache);
  EXPECT_FALSE(bsd.bhsd);
  EXPECT_EQ(bsd.len, 3);
  EXPECT_TRUE(throwsWith([&] { resa::attentionLayout({3, 3, 32}, attrs, "num_heads", cache); },
                         "3 rows but its KV-cache forward 2 sequences"));
  EXPECT_TRUE(throwsWith([&] { resa::attentionLayout({2, 3, 24}, attrs, "num_heads", cache); },
                         "does not hold 4 heads of size 8"));
  cache.setLayersWritten();
  cache.endForward();
}

TEST(AttentionLayout, SelectedBlocksAndTheirCounts) {
  EXPECT_NO_THROW(resa::checkSelectedBlocks(resa::DType::I32, {6, 5}, 3, 2));
  for (const auto &bad : {std::pair<resa::DType, resa::Shape>{resa::DType::I64, {6, 5}},
                          {resa::DType::I32, {5, 5}},
                          {resa::DType::I32, {6}}})
    EXPECT_TRUE(throwsWith([&] { resa::checkSelectedBlocks(bad.first, bad.second, 3, 2); },
                           "selected blocks must be int32 [batch * kv_heads, n]"));
  const std::map<int64_t, std::vector<int32_t>> counts = {{3, {4, 5}}};
  EXPECT_EQ(resa::selectionCounts(counts, 3), (std::vector<int32_t>{4, 5}));
  EXPECT_TRUE(throwsWith([&] { resa::selectionCounts(counts, 2); },
                         "resa.block_attention of layer 2 before its resa.block_select"));
}
