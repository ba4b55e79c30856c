// MatMul (batched, broadcast, 1-D promotion) and Gemm against triple loops.
#include "TestUtil.h"

using namespace resa;
using namespace resa::test;

namespace {
// Textbook reference for a[..., M, K] x b[..., K, N] with batch broadcasting.
std::vector<float> refMatMul(const Tensor &a, const Tensor &b, const Shape &batch, int64_t M, int64_t K, int64_t N) {
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  std::vector<float> out;
  for (int64_t t = 0; t < numElements(batch); ++t) {
    auto idx = unravel(t, batch);
    int64_t oa = ravelBroadcast(idx, ba), ob = ravelBroadcast(idx, bb);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += double(f(a, oa * M * K + i * K + k)) * f(b, ob * K * N + k * N + j);
        out.push_back(static_cast<float>(s));
      }
  }
  return out;
}
} // namespace

TEST(MatMul, BatchedBroadcast) {
  struct C { Shape a, b, batch; };
  for (C c : {C{{2, 1, 3, 4}, {3, 4, 5}, {2, 3}}, C{{3, 4}, {4, 5}, {}}, C{{1, 7, 64}, {64, 33}, {1}},
              C{{2, 3, 2, 6}, {2, 1, 6, 2}, {2, 3}}}) {
    Tensor a = randF(c.a), b = randF(c.b);
    auto out = run("MatMul", {&a, &b})[0];
    int64_t M = c.a[c.a.size() - 2], K = c.a.back(), N = c.b.back();
    Shape want = c.batch;
    want.push_back(M);
    want.push_back(N);
    ASSERT_EQ(out.shape(), want);
    expectClose(out, refMatMul(a, b, c.batch, M, K, N), 1e-4f);
  }
}

TEST(MatMul, VectorPromotion) {
  Tensor v = randF({4}), m = randF({2, 4, 5});
  auto o1 = run("MatMul", {&v, &m})[0];
  ASSERT_EQ(o1.shape(), (Shape{2, 5}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t j = 0; j < 5; ++j) {
      double s = 0;
      for (int64_t k = 0; k < 4; ++k) s += f(v, k) * f(m, b * 20 + k * 5 + j);
      EXPECT_NEAR(f(o1, b * 5 + j), s, 1e-5);
    }
  Tensor m2 = randF({3, 4});
  auto o2 = run("MatMul", {&m2, &v})[0];
  ASSERT_EQ(o2.shape(), (Shape{3}));
  for (int64_t i = 0; i < 3; ++i) {
    double s = 0;
    for (int64_t k = 0; k < 4; ++k) s += f(m2, i * 4 + k) * f(v, k);
    EXPECT_NEAR(f(o2, i), s, 1e-5);
  }
  auto o3 = run("MatMul", {&v, &v})[0];
  EXPECT_EQ(o3.shape(), Shape{});
}

TEST(MatMul, Integer) {
  Tensor a = randI({2, 3}, -5, 5), b = randI({3, 4}, -5, 5);
  auto out = run("MatMul", {&a, &b})[0];
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      int64_t s = 0;
      for (int64_t k = 0; k < 3; ++k) s += a.data<int64_t>()[i * 3 + k] * b.data<int64_t>()[k * 4 + j];
      EXPECT_EQ(out.data<int64_t>()[i * 4 + j], s);
    }
}

TEST(Gemm, TransposesAlphaBetaBroadcastC) {
  for (int64_t ta : {0, 1})
    for (int64_t tb : {0, 1})
      for (Shape cs : {Shape{5}, Shape{3, 1}, Shape{3, 5}, Shape{}}) {
        Tensor a = randF(ta ? Shape{4, 3} : Shape{3, 4}), b = randF(tb ? Shape{5, 4} : Shape{4, 5}), c = randF(cs);
        Attrs at;
        at.set("transA", ta);
        at.set("transB", tb);
        at.set("alpha", 0.75f);
        at.set("beta", -1.5f);
        auto out = run("Gemm", {&a, &b, &c}, at)[0];
        ASSERT_EQ(out.shape(), (Shape{3, 5}));
        for (int64_t i = 0; i < 3; ++i)
          for (int64_t j = 0; j < 5; ++j) {
            double s = 0;
            for (int64_t k = 0; k < 4; ++k)
              s += double(ta ? f(a, k * 3 + i) : f(a, i * 4 + k)) * (tb ? f(b, j * 4 + k) : f(b, k * 5 + j));
            std::vector<int64_t> idx{i, j};
            double want = 0.75 * s - 1.5 * f(c, ravelBroadcast(idx, cs));
            EXPECT_NEAR(f(out, i * 5 + j), want, 1e-5);
          }
      }
  Tensor a = randF({2, 3}), b = randF({3, 2});
  auto noC = run("Gemm", {&a, &b})[0];
  EXPECT_EQ(noC.shape(), (Shape{2, 2}));
}

TEST(MatMul, Errors) {
  Tensor a = randF({2, 3}), b = randF({4, 5}), c = randF({2, 2, 3}), d = randF({3, 3, 4}), s = scalarF(1);
  EXPECT_THROW(run("MatMul", {&a, &b}), Error);
  EXPECT_THROW(run("MatMul", {&c, &d}), Error); // batch 2 vs 3
  EXPECT_THROW(run("MatMul", {&s, &a}), Error);
  EXPECT_THROW(run("Gemm", {&a, &b}), Error);
  Tensor bb = randF({3, 4}), badC = randF({3});
  EXPECT_THROW(run("Gemm", {&a, &bb, &badC}), Error);
}
