// Expand, Concat, Slice, Split, Transpose, Tile, Trilu, Pad.
#include "TestUtil.h"

using namespace resa;
using namespace resa::test;

TEST(Movement, Expand) {
  Tensor x = randF({3, 1}), s = ints({2, 1, 4});
  auto y = run("Expand", {&x, &s})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(f(y, i), f(x, unravel(i, y.shape())[1]));
  Tensor xi = randI({1, 3}, -5, 5), s2 = ints({2, 1});
  auto yi = run("Expand", {&xi, &s2})[0];
  ASSERT_EQ(yi.shape(), (Shape{2, 3}));
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(yi.data<int64_t>()[i], xi.data<int64_t>()[i % 3]);
  Tensor bad = ints({2, 5});
  EXPECT_THROW(run("Expand", {&x, &bad}), Error);
}

TEST(Movement, Concat) {
  Tensor a = randF({2, 3}), b = randF({2, 1}), c = randF({2, 2});
  Attrs at;
  at.set("axis", int64_t(-1));
  auto y = run("Concat", {&a, &b, &c}, at)[0];
  ASSERT_EQ(y.shape(), (Shape{2, 6}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 6; ++j) {
      float want = j < 3 ? f(a, i * 3 + j) : (j < 4 ? f(b, i) : f(c, i * 2 + j - 4));
      EXPECT_EQ(f(y, i * 6 + j), want);
    }
  Tensor p = ints({1, 2}), q = ints({}), r = ints({3});
  Attrs a0;
  a0.set("axis", int64_t(0));
  expectInts(run("Concat", {&p, &q, &r}, a0)[0], {1, 2, 3});
  Tensor bad = randF({3, 1});
  EXPECT_THROW(run("Concat", {&a, &bad}, at), Error);
  EXPECT_THROW(run("Concat", {&a, &p}, a0), Error);
}

namespace {
// Python-style slicing reference for one axis.
std::vector<int64_t> sliceIdx(int64_t dim, int64_t start, int64_t end, int64_t step) {
  std::vector<int64_t> r;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    for (int64_t i = start; i < end; i += step) r.push_back(i);
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    for (int64_t i = start; i > end; i += step) r.push_back(i);
  }
  return r;
}
} // namespace

TEST(Movement, SliceMatchesPythonSemantics) {
  Tensor x = randF({5, 6});
  struct C { int64_t s0, e0, st0, s1, e1, st1; };
  for (C c : {C{1, 4, 1, 0, 100, 2}, C{-1, -100, -1, 5, 0, -2}, C{10, 1, -3, -2, 6, 1}, C{3, 1, 1, 0, 6, 1},
              C{INT64_MAX, INT64_MIN, -1, INT64_MIN, INT64_MAX, 4}}) {
    Tensor st = ints({c.s0, c.s1}), en = ints({c.e0, c.e1}), ax = ints({0, 1}), sp = ints({c.st0, c.st1});
    auto y = run("Slice", {&x, &st, &en, &ax, &sp})[0];
    auto r0 = sliceIdx(5, c.s0, c.e0, c.st0), r1 = sliceIdx(6, c.s1, c.e1, c.st1);
    ASSERT_EQ(y.shape(), (Shape{int64_t(r0.size()), int64_t(r1.size())}));
    for (size_t i = 0; i < r0.size(); ++i)
      for (size_t j = 0; j < r1.size(); ++j) EXPECT_EQ(f(y, i * r1.size() + j), f(x, r0[i] * 6 + r1[j]));
  }
  // Axes default to 0..n-1; negative axes count from the end; opset < 10 uses attributes.
  Tensor st = ints({1}), en = ints({3}), ax = ints({-1});
  auto y = run("Slice", {&x, &st, &en, &ax})[0];
  EXPECT_EQ(y.shape(), (Shape{5, 2}));
  Attrs old;
  old.set("starts", std::vector<int64_t>{1});
  old.set("ends", std::vector<int64_t>{3});
  EXPECT_EQ(run("Slice", {&x}, old, 9)[0].shape(), (Shape{2, 6}));
  Tensor zero = ints({0});
  EXPECT_THROW(run("Slice", {&x, &st, &en, &ax, &zero}), Error);
}

TEST(Movement, Split) {
  Tensor x = randF({7, 2});
  Attrs n3;
  n3.set("num_outputs", int64_t(3));
  auto parts = run("Split", {&x}, n3, 18, 3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(parts[2].shape(), (Shape{1, 2}));
  for (int64_t i = 0; i < 2; ++i) EXPECT_EQ(f(parts[2], i), f(x, 12 + i));
  Tensor y = randF({2, 6}), sizes = ints({1, 2, 3});
  Attrs a1;
  a1.set("axis", int64_t(1));
  auto s = run("Split", {&y, &sizes}, a1, 13, 3);
  EXPECT_EQ(s[1].shape(), (Shape{2, 2}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(f(s[2], i * 3 + j), f(y, i * 6 + 3 + j));
  Attrs old = a1;
  old.set("split", std::vector<int64_t>{4, 2});
  EXPECT_EQ(run("Split", {&y}, old, 11, 2)[0].shape(), (Shape{2, 4}));
  Tensor wrong = ints({1, 1});
  EXPECT_THROW(run("Split", {&y, &wrong}, a1, 13, 2), Error);
  EXPECT_THROW(run("Split", {&x}, {}, 13, 3), Error); // 7 does not split evenly before opset 18
}

TEST(Movement, Transpose) {
  Tensor x = randF({2, 3, 4});
  Attrs at;
  at.set("perm", std::vector<int64_t>{2, 0, 1});
  auto y = run("Transpose", {&x}, at)[0];
  ASSERT_EQ(y.shape(), (Shape{4, 2, 3}));
  for (int64_t i = 0; i < y.numel(); ++i) {
    auto o = unravel(i, y.shape());
    EXPECT_EQ(f(y, i), f(x, ravel({o[1], o[2], o[0]}, x.shape())));
  }
  auto rev = run("Transpose", {&x})[0];
  EXPECT_EQ(rev.shape(), (Shape{4, 3, 2}));
  Attrs bad;
  bad.set("perm", std::vector<int64_t>{0, 0, 1});
  EXPECT_THROW(run("Transpose", {&x}, bad), Error);
}

TEST(Movement, Tile) {
  Tensor x = randF({2, 3}), r = ints({2, 3});
  auto y = run("Tile", {&x, &r})[0];
  ASSERT_EQ(y.shape(), (Shape{4, 9}));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 9; ++j) EXPECT_EQ(f(y, i * 9 + j), f(x, (i % 2) * 3 + j % 3));
  Tensor bad = ints({2});
  EXPECT_THROW(run("Tile", {&x, &bad}), Error);
}

TEST(Movement, Trilu) {
  Tensor x = randF({2, 4, 5});
  for (int64_t upper : {0, 1})
    for (int64_t k : {-1, 0, 2}) {
      Attrs at;
      at.set("upper", upper);
      Tensor kt = scalarI(k);
      auto y = run("Trilu", {&x, &kt}, at)[0];
      for (int64_t i = 0; i < y.numel(); ++i) {
        auto o = unravel(i, x.shape());
        bool keep = upper ? o[2] - o[1] >= k : o[2] - o[1] <= k;
        EXPECT_EQ(f(y, i), keep ? f(x, i) : 0.f);
      }
    }
}

TEST(Movement, Pad) {
  Tensor x = randF({3, 4});
  // pads = [b0, b1, e0, e1]; reference by index mapping per mode.
  std::vector<int64_t> pads{2, 1, 1, 3};
  Tensor p = ints(pads), cv = scalarF(1.5f);
  for (std::string mode : {"constant", "edge", "reflect", "wrap"}) {
    Attrs at;
    at.set("mode", mode);
    auto y = run("Pad", {&x, &p, mode == "constant" ? &cv : nullptr}, at)[0];
    ASSERT_EQ(y.shape(), (Shape{6, 8}));
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 8; ++j) {
        int64_t si = i - 2, sj = j - 1;
        float want;
        auto map = [&](int64_t s, int64_t n) {
          if (mode == "edge") return std::clamp<int64_t>(s, 0, n - 1);
          if (mode == "wrap") return ((s % n) + n) % n;
          while (s < 0 || s >= n) s = s < 0 ? -s : 2 * (n - 1) - s; // reflect
          return s;
        };
        if (mode == "constant") want = (si >= 0 && si < 3 && sj >= 0 && sj < 4) ? f(x, si * 4 + sj) : 1.5f;
        else want = f(x, map(si, 3) * 4 + map(sj, 4));
        EXPECT_EQ(f(y, i * 8 + j), want) << mode;
      }
  }
  Tensor neg = ints({-1, 1, 0, -2});
  auto c = run("Pad", {&x, &neg})[0];
  ASSERT_EQ(c.shape(), (Shape{2, 3}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(f(c, i * 3 + j), j == 0 ? 0.f : f(x, (i + 1) * 4 + j - 1));
  Tensor z = randF({2, 3, 4}), pa = ints({1, 2, 0, 1}), axes = ints({0, -1});
  EXPECT_EQ(run("Pad", {&z, &pa, nullptr, &axes})[0].shape(), (Shape{3, 3, 7}));
  Tensor bad = ints({1});
  EXPECT_THROW(run("Pad", {&x, &bad}), Error);
}
