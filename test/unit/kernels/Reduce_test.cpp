// Reductions, ArgMax/ArgMin and CumSum against explicit loops.
#include "TestUtil.h"

#include <limits>

using namespace resa;
using namespace resa::test;

namespace {
// Reference reduction of a [A,B,C] float tensor over the axes marked in `red`.
std::vector<float> refReduce(const Tensor &x, const std::vector<bool> &red, const std::string &kind) {
  Shape s = x.shape(), o = s;
  for (size_t d = 0; d < s.size(); ++d)
    if (red[d]) o[d] = 1;
  int64_t n = numElements(o);
  std::vector<double> acc(n, kind == "ReduceProd" ? 1.0 : (kind == "ReduceMax" ? -1e30 : (kind == "ReduceMin" ? 1e30 : 0.0)));
  std::vector<int64_t> cnt(n, 0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    auto idx = unravel(i, s);
    for (size_t d = 0; d < s.size(); ++d)
      if (red[d]) idx[d] = 0;
    int64_t k = ravel(idx, o);
    double v = f(x, i);
    if (kind == "ReduceSum" || kind == "ReduceMean") acc[k] += v;
    else if (kind == "ReduceProd") acc[k] *= v;
    else if (kind == "ReduceMax") acc[k] = std::max(acc[k], v);
    else if (kind == "ReduceMin") acc[k] = std::min(acc[k], v);
    else if (kind == "ReduceSumSquare" || kind == "ReduceL2") acc[k] += v * v;
    else if (kind == "ReduceL1") acc[k] += std::fabs(v);
    else if (kind == "ReduceLogSumExp") acc[k] += std::exp(v);
    cnt[k]++;
  }
  std::vector<float> r(n);
  for (int64_t k = 0; k < n; ++k) {
    double v = acc[k];
    if (kind == "ReduceMean") v /= cnt[k];
    if (kind == "ReduceL2") v = std::sqrt(v);
    if (kind == "ReduceLogSumExp") v = std::log(v);
    r[k] = static_cast<float>(v);
  }
  return r;
}
} // namespace

TEST(Reduce, AllKindsAxesAsInputAndAttribute) {
  const char *kinds[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                         "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSumExp"};
  std::vector<std::vector<int64_t>> axesSets = {{1}, {0, 2}, {-1}, {}};
  for (const char *kind : kinds)
    for (auto axes : axesSets)
      for (int64_t keep : {0, 1}) {
        Tensor x = randF({2, 3, 4}, 0.5f, 1.5f);
        std::vector<bool> red(3, axes.empty());
        for (int64_t a : axes) red[(a + 3) % 3] = true;
        Attrs at;
        at.set("keepdims", keep);
        Tensor ax = ints(axes);
        auto out = run(kind, {&x, axes.empty() ? nullptr : &ax}, at, 18)[0];
        Shape want;
        for (int64_t d = 0; d < 3; ++d)
          if (!red[d] || keep) want.push_back(red[d] ? 1 : x.dim(d));
        ASSERT_EQ(out.shape(), want) << kind;
        expectClose(out, refReduce(x, red, kind), 2e-5f, kind);
        // Older opsets take the axes as an attribute (ReduceSum: before 13).
        Attrs old = at;
        if (!axes.empty()) old.set("axes", axes);
        auto legacy = run(kind, {&x}, old, std::string(kind) == "ReduceSum" ? 11 : 13)[0];
        expectClose(legacy, refReduce(x, red, kind), 2e-5f, kind);
      }
}

TEST(Reduce, NoopWithEmptyAxesAndIntegers) {
  Tensor x = randF({2, 3}), empty = ints({});
  Attrs noop;
  noop.set("noop_with_empty_axes", int64_t(1));
  expectClose(run("ReduceSum", {&x, &empty}, noop, 13)[0], floats(x), 0);
  Tensor xi = randI({3, 4}, -9, 9), ax = ints({1});
  auto out = run("ReduceMax", {&xi, &ax})[0];
  for (int64_t i = 0; i < 3; ++i) {
    int64_t m = std::numeric_limits<int64_t>::min();
    for (int64_t j = 0; j < 4; ++j) m = std::max(m, xi.data<int64_t>()[i * 4 + j]);
    EXPECT_EQ(out.data<int64_t>()[i], m);
  }
}

TEST(Reduce, ArgMaxArgMin) {
  Tensor x = randI({4, 6}, 0, 3); // ties are likely
  Tensor xf(DType::F32, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) xf.data<float>()[i] = float(x.data<int64_t>()[i]);
  for (int64_t last : {0, 1}) {
    Attrs at;
    at.set("axis", int64_t(1));
    at.set("select_last_index", last);
    auto mx = run("ArgMax", {&xf}, at)[0], mn = run("ArgMin", {&xf}, at)[0];
    ASSERT_EQ(mx.shape(), (Shape{4, 1}));
    for (int64_t i = 0; i < 4; ++i) {
      int64_t bi = 0, si = 0;
      for (int64_t j = 1; j < 6; ++j) {
        float v = f(xf, i * 6 + j);
        if (last ? v >= f(xf, i * 6 + bi) : v > f(xf, i * 6 + bi)) bi = j;
        if (last ? v <= f(xf, i * 6 + si) : v < f(xf, i * 6 + si)) si = j;
      }
      EXPECT_EQ(mx.data<int64_t>()[i], bi);
      EXPECT_EQ(mn.data<int64_t>()[i], si);
    }
  }
  Attrs nk;
  nk.set("keepdims", int64_t(0));
  EXPECT_EQ(run("ArgMax", {&xf}, nk)[0].shape(), (Shape{6}));
}

TEST(Reduce, CumSum) {
  Tensor x = randF({3, 5});
  for (int64_t excl : {0, 1})
    for (int64_t rev : {0, 1}) {
      Attrs at;
      at.set("exclusive", excl);
      at.set("reverse", rev);
      Tensor axis = make<int32_t>(DType::I32, {}, {-1});
      auto out = run("CumSum", {&x, &axis}, at)[0];
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 5; ++j) {
          double want = 0;
          for (int64_t k = 0; k < 5; ++k) {
            bool in = rev ? (excl ? k > j : k >= j) : (excl ? k < j : k <= j);
            if (in) want += f(x, i * 5 + k);
          }
          EXPECT_NEAR(f(out, i * 5 + j), want, 1e-5);
        }
    }
}

TEST(Reduce, Errors) {
  Tensor x = randF({2, 3}), bad = ints({2}), dup = ints({1, -1});
  EXPECT_THROW(run("ReduceSum", {&x, &bad}, {}, 13), Error);
  EXPECT_THROW(run("ReduceMean", {&x, &dup}), Error);
  Tensor fl = randF({1});
  EXPECT_THROW(run("ReduceMean", {&x, &fl}), Error);
  Attrs ax;
  ax.set("axis", int64_t(5));
  EXPECT_THROW(run("ArgMax", {&x}, ax), Error);
  Tensor two = ints({0, 1});
  EXPECT_THROW(run("CumSum", {&x, &two}), Error);
}
