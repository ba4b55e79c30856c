// LayerNormalization, RMS norms, Skip*LayerNormalization, Softmax, LogSoftmax.
#include "TestUtil.h"

using namespace resa;
using namespace resa::test;

namespace {
// Textbook normalisation of rows of `cols` elements.
void refNorm(const std::vector<float> &x, int64_t cols, bool rms, float eps, std::vector<float> &y,
             std::vector<float> &mean, std::vector<float> &inv) {
  int64_t rows = x.size() / cols;
  y.assign(x.size(), 0);
  mean.assign(rows, 0);
  inv.assign(rows, 0);
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (int64_t c = 0; c < cols; ++c) m += x[r * cols + c];
    m /= cols;
    if (rms) m = 0;
    for (int64_t c = 0; c < cols; ++c) v += (x[r * cols + c] - m) * (x[r * cols + c] - m);
    v /= cols;
    mean[r] = m;
    inv[r] = 1 / std::sqrt(v + eps);
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = (x[r * cols + c] - m) * inv[r];
  }
}
} // namespace

TEST(Norm, LayerNormalizationWithStats) {
  Tensor x = randF({2, 3, 16}), s = randF({16}), b = randF({16});
  Attrs at;
  at.set("epsilon", 1e-3f);
  auto out = run("LayerNormalization", {&x, &s, &b}, at, 17, 3);
  std::vector<float> y, m, inv;
  refNorm(floats(x), 16, false, 1e-3f, y, m, inv);
  for (size_t i = 0; i < y.size(); ++i) y[i] = y[i] * f(s, i % 16) + f(b, i % 16);
  expectClose(out[0], y, 1e-5f);
  EXPECT_EQ(out[1].shape(), (Shape{2, 3, 1}));
  expectClose(out[1], m, 1e-6f);
  expectClose(out[2], inv, 1e-4f);
}

TEST(Norm, LayerNormalizationAxisAndBroadcastScale) {
  Tensor x = randF({2, 3, 4}), s = randF({3, 4}), b = randF({4});
  Attrs at;
  at.set("axis", int64_t(1));
  auto out = run("LayerNormalization", {&x, &s, &b}, at, 17)[0];
  std::vector<float> y, m, inv;
  refNorm(floats(x), 12, false, 1e-5f, y, m, inv);
  for (size_t i = 0; i < y.size(); ++i) y[i] = y[i] * f(s, i % 12) + f(b, i % 4);
  expectClose(out, y, 1e-5f);
  Tensor bad = randF({5});
  EXPECT_THROW(run("LayerNormalization", {&x, &bad}, at, 17), Error);
}

TEST(Norm, RmsVariants) {
  Tensor x = randF({2, 3, 16}), s = randF({16});
  Attrs at;
  at.set("epsilon", 1e-6f);
  std::vector<float> y, m, inv;
  refNorm(floats(x), 16, true, 1e-6f, y, m, inv);
  for (size_t i = 0; i < y.size(); ++i) y[i] *= f(s, i % 16);
  expectClose(run("RMSNormalization", {&x, &s}, at, 23)[0], y, 1e-5f);
  auto simp = run("SimplifiedLayerNormalization", {&x, &s}, at, 17, 2);
  expectClose(simp[0], y, 1e-5f);
  EXPECT_EQ(simp[1].shape(), (Shape{2, 3, 1}));
  expectClose(simp[1], inv, 1e-4f);
  expectClose(run("com.microsoft.SimplifiedLayerNormalization", {&x, &s}, at)[0], y, 1e-5f);
}

TEST(Norm, SkipNormalizations) {
  Tensor x = randF({2, 3, 16}), skip = randF({2, 3, 16}), g = randF({16}), beta = randF({16}), bias = randF({16});
  Attrs at;
  at.set("epsilon", 1e-6f);
  std::vector<float> sum(x.numel());
  for (int64_t i = 0; i < x.numel(); ++i) sum[i] = f(x, i) + f(skip, i) + f(bias, i % 16);
  std::vector<float> y, m, inv;
  refNorm(sum, 16, true, 1e-6f, y, m, inv);
  for (size_t i = 0; i < y.size(); ++i) y[i] *= f(g, i % 16);
  auto out = run("com.microsoft.SkipSimplifiedLayerNormalization", {&x, &skip, &g, &bias}, at, 18, 4);
  expectClose(out[0], y, 1e-5f);
  expectClose(out[2], inv, 1e-4f);
  expectClose(out[3], sum, 1e-6f);
  refNorm(sum, 16, false, 1e-6f, y, m, inv);
  for (size_t i = 0; i < y.size(); ++i) y[i] = y[i] * f(g, i % 16) + f(beta, i % 16);
  auto ln = run("com.microsoft.SkipLayerNormalization", {&x, &skip, &g, &beta, &bias}, at, 18, 4);
  expectClose(ln[0], y, 1e-5f);
  expectClose(ln[1], m, 1e-6f);
  Tensor badSkip = randF({2, 4, 16});
  EXPECT_THROW(run("com.microsoft.SkipSimplifiedLayerNormalization", {&x, &badSkip, &g}, at), Error);
}

TEST(Norm, SoftmaxFamily) {
  Tensor x = randF({2, 3, 5}, -8, 8);
  // opset 13: one axis.
  for (int64_t axis : {0, 1, -1}) {
    Attrs at;
    at.set("axis", axis);
    auto sm = run("Softmax", {&x}, at, 13)[0], lsm = run("LogSoftmax", {&x}, at, 13)[0];
    int64_t ax = (axis + 3) % 3;
    for (int64_t i = 0; i < x.numel(); ++i) {
      auto idx = unravel(i, x.shape());
      double den = 0;
      for (int64_t k = 0; k < x.dim(ax); ++k) {
        auto j = idx;
        j[ax] = k;
        den += std::exp(f(x, ravel(j, x.shape())));
      }
      EXPECT_NEAR(f(sm, i), std::exp(f(x, i)) / den, 1e-6);
      EXPECT_NEAR(f(lsm, i), f(x, i) - std::log(den), 1e-5);
    }
  }
  // opset < 13: flattened to [2, 15] at axis 1.
  auto legacy = run("Softmax", {&x}, {}, 11)[0];
  for (int64_t r = 0; r < 2; ++r) {
    double den = 0;
    for (int64_t k = 0; k < 15; ++k) den += std::exp(f(x, r * 15 + k));
    for (int64_t k = 0; k < 15; ++k) EXPECT_NEAR(f(legacy, r * 15 + k), std::exp(f(x, r * 15 + k)) / den, 1e-6);
  }
  Tensor i = randI({3}, 0, 2);
  EXPECT_THROW(run("Softmax", {&i}, {}, 13), Error);
}
