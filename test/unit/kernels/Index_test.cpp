// Gather/Scatter family and NonZero.
#include "TestUtil.h"

using namespace resa;
using namespace resa::test;

TEST(Index, Gather) {
  Tensor x = randF({3, 5, 2});
  Tensor idx = make<int32_t>(DType::I32, {2, 2}, {4, 0, -2, 1});
  Attrs at;
  at.set("axis", int64_t(1));
  auto y = run("Gather", {&x, &idx}, at)[0];
  ASSERT_EQ(y.shape(), (Shape{3, 2, 2, 2}));
  for (int64_t i = 0; i < y.numel(); ++i) {
    auto o = unravel(i, y.shape());
    int64_t k = idx.intAt(o[1] * 2 + o[2]);
    if (k < 0) k += 5;
    EXPECT_EQ(f(y, i), f(x, ravel({o[0], k, o[3]}, x.shape())));
  }
  Tensor s = scalarI(2);
  auto row = run("Gather", {&x, &s})[0];
  EXPECT_EQ(row.shape(), (Shape{5, 2}));
  Tensor oob = ints({3});
  EXPECT_THROW(run("Gather", {&x, &oob}), Error);
  Tensor fl = randF({1});
  EXPECT_THROW(run("Gather", {&x, &fl}), Error);
}

TEST(Index, GatherND) {
  Tensor x = randF({3, 4, 5});
  Tensor idx = make<int64_t>(DType::I64, {2, 2}, {0, 1, 2, -1});
  auto y = run("GatherND", {&x, &idx})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 5}));
  for (int64_t j = 0; j < 5; ++j) {
    EXPECT_EQ(f(y, j), f(x, (0 * 4 + 1) * 5 + j));
    EXPECT_EQ(f(y, 5 + j), f(x, (2 * 4 + 3) * 5 + j));
  }
  Tensor xb = randF({2, 4, 5}), ib = make<int64_t>(DType::I64, {2, 2, 1}, {1, 3, 0, 2});
  Attrs at;
  at.set("batch_dims", int64_t(1));
  auto yb = run("GatherND", {&xb, &ib}, at)[0];
  ASSERT_EQ(yb.shape(), (Shape{2, 2, 5}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 2; ++t)
      for (int64_t j = 0; j < 5; ++j)
        EXPECT_EQ(f(yb, (b * 2 + t) * 5 + j), f(xb, (b * 4 + ib.intAt(b * 2 + t)) * 5 + j));
}

TEST(Index, GatherElementsAndScatterElements) {
  Tensor x = randF({3, 4}), idx = randI({3, 2}, -4, 3);
  Attrs at;
  at.set("axis", int64_t(1));
  auto y = run("GatherElements", {&x, &idx}, at)[0];
  ASSERT_EQ(y.shape(), (Shape{3, 2}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 2; ++j) {
      int64_t k = idx.intAt(i * 2 + j);
      EXPECT_EQ(f(y, i * 2 + j), f(x, i * 4 + (k < 0 ? k + 4 : k)));
    }
  Tensor sidx = make<int64_t>(DType::I64, {3, 2}, {1, 0, 3, 2, 0, 1}), upd = randF({3, 2});
  for (std::string red : {"none", "add", "mul", "max", "min"}) {
    Attrs sa = at;
    sa.set("reduction", red);
    auto s = run("ScatterElements", {&x, &sidx, &upd}, sa)[0];
    std::vector<float> want = floats(x);
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        float &w = want[i * 4 + sidx.intAt(i * 2 + j)];
        float u = f(upd, i * 2 + j);
        w = red == "none" ? u : red == "add" ? w + u : red == "mul" ? w * u : red == "max" ? std::max(w, u) : std::min(w, u);
      }
    expectClose(s, want, 1e-6f, red.c_str());
  }
}

TEST(Index, ScatterND) {
  Tensor x = randF({4, 3}), idx = make<int64_t>(DType::I64, {2, 1}, {1, -1}), upd = randF({2, 3});
  auto y = run("ScatterND", {&x, &idx, &upd})[0];
  std::vector<float> want = floats(x);
  for (int64_t j = 0; j < 3; ++j) {
    want[1 * 3 + j] = f(upd, j);
    want[3 * 3 + j] = f(upd, 3 + j);
  }
  expectClose(y, want, 0);
  Tensor pidx = make<int64_t>(DType::I64, {2, 2}, {1, 2, 1, 2}), pu = randF({2});
  Attrs add;
  add.set("reduction", std::string("add"));
  auto z = run("ScatterND", {&x, &pidx, &pu}, add)[0];
  EXPECT_NEAR(f(z, 5), f(x, 5) + f(pu, 0) + f(pu, 1), 1e-6);
  Tensor badU = randF({2, 2});
  EXPECT_THROW(run("ScatterND", {&x, &idx, &badU}), Error);
}

TEST(Index, NonZero) {
  Tensor x = randI({3, 4}, -1, 1);
  auto y = run("NonZero", {&x})[0];
  std::vector<int64_t> rows, cols;
  for (int64_t i = 0; i < 12; ++i)
    if (x.data<int64_t>()[i]) {
      rows.push_back(i / 4);
      cols.push_back(i % 4);
    }
  ASSERT_EQ(y.shape(), (Shape{2, int64_t(rows.size())}));
  rows.insert(rows.end(), cols.begin(), cols.end());
  expectInts(y, rows);
}
