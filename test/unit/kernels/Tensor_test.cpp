// Tensor, dtype and Attrs helpers.
#include "TestUtil.h"

using namespace resa;
using namespace resa::test;

TEST(Tensor, BasicsAndViews) {
  Tensor t(DType::F32, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(f(t, i), 0.f); // zero-initialised
  Tensor r = t.reshaped({3, 2});
  EXPECT_EQ(r.raw(), t.raw());
  EXPECT_THROW(t.reshaped({4}), Error);
  float buf[4] = {1, 2, 3, 4};
  Tensor b = Tensor::borrow(DType::F32, {4}, buf);
  EXPECT_EQ(b.data<float>(), buf);
  Tensor e(DType::I64, {0, 5});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_TRUE(e.defined());
  EXPECT_FALSE(Tensor().defined());
  EXPECT_EQ(shapeToString({2, 3}), "[2,3]");
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_STREQ(dtypeName(DType::Bool), "bool");
}

TEST(Tensor, IntAtAllIntegerTypes) {
  std::vector<int64_t> v{-3, 0, 7};
  EXPECT_EQ(make<int64_t>(DType::I64, {3}, v).toInts(), v);
  EXPECT_EQ(make<int32_t>(DType::I32, {3}, {-3, 0, 7}).toInts(), v);
  EXPECT_EQ(make<int8_t>(DType::I8, {3}, {-3, 0, 7}).toInts(), v);
  EXPECT_EQ(make<uint8_t>(DType::U8, {2}, {200, 7}).toInts(), (std::vector<int64_t>{200, 7}));
  EXPECT_EQ(make<uint8_t>(DType::Bool, {2}, {1, 0}).toInts(), (std::vector<int64_t>{1, 0}));
  EXPECT_THROW(randF({2}).intAt(0), Error);
  EXPECT_THROW(ints({1}).intAt(1), Error);
}

TEST(Attrs, GettersAndDefaults) {
  Attrs a;
  a.set("i", int64_t(3));
  a.set("f", 0.5f);
  a.set("s", std::string("x"));
  a.set("is", std::vector<int64_t>{1, 2});
  EXPECT_EQ(a.getInt("i", 0), 3);
  EXPECT_EQ(a.getInt("missing", 9), 9);
  EXPECT_EQ(a.getFloat("f", 0), 0.5f);
  EXPECT_EQ(a.getString("s", ""), "x");
  EXPECT_EQ(a.getInts("is"), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(a.getInts("none").empty());
  EXPECT_EQ(a.getTensor("none"), nullptr);
  EXPECT_THROW(a.getInt("s", 0), Error);
  EXPECT_THROW(a.requireInt("none"), Error);
  KernelArgs k;
  EXPECT_THROW(k.required(0), Error);
}
