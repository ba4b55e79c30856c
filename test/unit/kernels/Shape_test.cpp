// Shape-only and constant ops.
#include "TestUtil.h"

using namespace resa;
using namespace resa::test;

TEST(ShapeOps, ShapeAndSize) {
  Tensor x = randF({2, 3, 4, 5});
  expectInts(run("Shape", {&x})[0], {2, 3, 4, 5});
  Attrs at;
  at.set("start", int64_t(1));
  at.set("end", int64_t(-1));
  expectInts(run("Shape", {&x}, at)[0], {3, 4});
  Attrs clamp;
  clamp.set("start", int64_t(-10));
  clamp.set("end", int64_t(10));
  expectInts(run("Shape", {&x}, clamp)[0], {2, 3, 4, 5});
  auto size = run("Size", {&x})[0];
  EXPECT_EQ(size.shape(), Shape{});
  EXPECT_EQ(size.intAt(0), 120);
}

TEST(ShapeOps, Reshape) {
  Tensor x = randF({2, 3, 4});
  Tensor s = ints({0, -1, 2});
  auto y = run("Reshape", {&x, &s})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 6, 2}));
  expectClose(y, floats(x), 0);
  Tensor e(DType::F32, {0, 3}), z = ints({3, 0});
  Attrs az;
  az.set("allowzero", int64_t(1));
  EXPECT_EQ(run("Reshape", {&e, &z}, az, 14)[0].shape(), (Shape{3, 0}));
  Tensor bad = ints({5, -1});
  EXPECT_THROW(run("Reshape", {&x, &bad}), Error);
  Tensor two = ints({-1, -1});
  EXPECT_THROW(run("Reshape", {&x, &two}), Error);
}

TEST(ShapeOps, SqueezeUnsqueezeFlatten) {
  Tensor x = randF({1, 3, 1, 2});
  Tensor ax = ints({0, -2});
  EXPECT_EQ(run("Squeeze", {&x, &ax}, {}, 13)[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(run("Squeeze", {&x}, {}, 13)[0].shape(), (Shape{3, 2}));
  Attrs old;
  old.set("axes", std::vector<int64_t>{2});
  EXPECT_EQ(run("Squeeze", {&x}, old, 11)[0].shape(), (Shape{1, 3, 2}));
  Tensor notOne = ints({1});
  EXPECT_THROW(run("Squeeze", {&x, &notOne}, {}, 13), Error);
  Tensor y = randF({3, 2}), uax = ints({0, -1});
  auto u = run("Unsqueeze", {&y, &uax}, {}, 13)[0];
  EXPECT_EQ(u.shape(), (Shape{1, 3, 2, 1}));
  expectClose(u, floats(y), 0);
  EXPECT_EQ(run("Unsqueeze", {&y}, old, 11)[0].shape(), (Shape{3, 2, 1}));
  Tensor z = randF({2, 3, 4});
  Attrs fa;
  fa.set("axis", int64_t(2));
  EXPECT_EQ(run("Flatten", {&z}, fa)[0].shape(), (Shape{6, 4}));
  fa.set("axis", int64_t(0));
  EXPECT_EQ(run("Flatten", {&z}, fa)[0].shape(), (Shape{1, 24}));
  fa.set("axis", int64_t(-1));
  EXPECT_EQ(run("Flatten", {&z}, fa)[0].shape(), (Shape{6, 4}));
}

TEST(ShapeOps, IdentityDropout) {
  Tensor x = randF({3, 2});
  expectClose(run("Identity", {&x})[0], floats(x), 0);
  auto d = run("Dropout", {&x}, {}, 13, 2);
  expectClose(d[0], floats(x), 0);
  expectInts(d[1], {1, 1, 1, 1, 1, 1});
}

TEST(ShapeOps, Constants) {
  Tensor v = randF({2, 3});
  Attrs a;
  a.set("value", v);
  auto c = run("Constant", {}, a)[0];
  EXPECT_EQ(c.shape(), v.shape());
  expectClose(c, floats(v), 0);
  EXPECT_NE(c.raw(), v.raw());
  Attrs b;
  b.set("value_ints", std::vector<int64_t>{3, -1});
  expectInts(run("Constant", {}, b)[0], {3, -1});
  Attrs fl;
  fl.set("value_float", 2.5f);
  auto cf = run("Constant", {}, fl)[0];
  EXPECT_EQ(cf.shape(), Shape{});
  EXPECT_EQ(f(cf, 0), 2.5f);
  EXPECT_THROW(run("Constant", {}, {}), Error);

  Tensor shape = ints({2, 3});
  auto z = run("ConstantOfShape", {&shape})[0];
  EXPECT_EQ(z.dtype(), DType::F32);
  expectClose(z, std::vector<float>(6, 0.f), 0);
  Attrs val;
  val.set("value", make<int64_t>(DType::I64, {1}, {7}));
  auto sev = run("ConstantOfShape", {&shape}, val)[0];
  expectInts(sev, std::vector<int64_t>(6, 7));
  Tensor empty = ints({});
  EXPECT_EQ(run("ConstantOfShape", {&empty}, val)[0].shape(), Shape{});
}

TEST(ShapeOps, Range) {
  Tensor s = scalarF(0.5f), l = scalarF(4.1f), d = scalarF(0.3f);
  auto r = run("Range", {&s, &l, &d})[0];
  ASSERT_EQ(r.numel(), 12); // ceil(3.6 / 0.3)
  float v = 0.5f;
  for (int64_t i = 0; i < 12; ++i, v += 0.3f) EXPECT_FLOAT_EQ(f(r, i), v);
  Tensor a = scalarI(10), b = scalarI(-3), c = scalarI(-4);
  expectInts(run("Range", {&a, &b, &c})[0], {10, 6, 2, -2});
  Tensor e = scalarI(5), g = scalarI(1), h = scalarI(1);
  EXPECT_EQ(run("Range", {&e, &g, &h})[0].numel(), 0);
  Tensor zero = scalarI(0);
  EXPECT_THROW(run("Range", {&a, &b, &zero}), Error);
  EXPECT_THROW(run("Range", {&s, &b, &c}), Error);
}
