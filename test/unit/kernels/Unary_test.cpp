// Unary math, activations, Clip, IsNaN/IsInf against std:: formulas.
#include "TestUtil.h"

#include <functional>
#include <limits>

using namespace resa;
using namespace resa::test;

namespace {
void checkUnary(const std::string &op, std::function<double(double)> ref, float lo, float hi, const Attrs &at = {},
                int64_t opset = 18, double tol = 2e-6) {
  Tensor x = randF({3, 7}, lo, hi);
  auto out = run(op, {&x}, at, opset);
  ASSERT_EQ(out[0].shape(), x.shape()) << op;
  for (int64_t i = 0; i < x.numel(); ++i) {
    double want = ref(f(x, i));
    ASSERT_NEAR(f(out[0], i), want, tol * std::max(1.0, std::fabs(want))) << op << " x=" << f(x, i);
  }
}
} // namespace

TEST(Unary, FloatMath) {
  checkUnary("Neg", [](double v) { return -v; }, -3, 3);
  checkUnary("Abs", [](double v) { return std::fabs(v); }, -3, 3);
  checkUnary("Sqrt", [](double v) { return std::sqrt(v); }, 0, 9);
  checkUnary("Reciprocal", [](double v) { return 1 / v; }, 0.5, 4);
  checkUnary("Exp", [](double v) { return std::exp(v); }, -5, 5);
  checkUnary("Log", [](double v) { return std::log(v); }, 0.01, 9);
  checkUnary("Tanh", [](double v) { return std::tanh(v); }, -4, 4);
  checkUnary("Erf", [](double v) { return std::erf(v); }, -3, 3);
  checkUnary("Sigmoid", [](double v) { return 1 / (1 + std::exp(-v)); }, -20, 20);
  checkUnary("Relu", [](double v) { return v > 0 ? v : 0; }, -3, 3);
  checkUnary("Softplus", [](double v) { return std::log(1 + std::exp(v)); }, -15, 15);
  checkUnary("Softsign", [](double v) { return v / (1 + std::fabs(v)); }, -5, 5);
  checkUnary("Cos", [](double v) { return std::cos(v); }, -6, 6);
  checkUnary("Sin", [](double v) { return std::sin(v); }, -6, 6);
  checkUnary("Tan", [](double v) { return std::tan(v); }, -1, 1);
  checkUnary("Floor", [](double v) { return std::floor(v); }, -5, 5);
  checkUnary("Ceil", [](double v) { return std::ceil(v); }, -5, 5);
  checkUnary("Sign", [](double v) { return v > 0 ? 1 : (v < 0 ? -1 : 0); }, -3, 3);
  checkUnary("Gelu", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }, -5, 5, {}, 20);
  Attrs tanh;
  tanh.set("approximate", std::string("tanh"));
  checkUnary("Gelu", [](double v) {
    return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  }, -5, 5, tanh, 20);
  Attrs alpha;
  alpha.set("alpha", 0.3f);
  checkUnary("LeakyRelu", [](double v) { return v >= 0 ? v : 0.3 * v; }, -3, 3, alpha);
  checkUnary("Elu", [](double v) { return v >= 0 ? v : 0.3 * (std::exp(v) - 1); }, -3, 3, alpha);
  checkUnary("com.microsoft.Gelu", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }, -5, 5);
  checkUnary("com.microsoft.QuickGelu", [](double v) { return v / (1 + std::exp(-1.702 * v)); }, -5, 5);
  checkUnary("HardSigmoid", [](double v) { return std::clamp(0.2 * v + 0.5, 0.0, 1.0); }, -5, 5);
}

TEST(Unary, RoundHalfToEven) {
  Tensor x = make<float>(DType::F32, {6}, {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 1.2f});
  expectClose(run("Round", {&x})[0], {0.f, 2.f, 2.f, -0.f, -2.f, 1.f}, 0);
}

TEST(Unary, IntegerOps) {
  Tensor x = randI({10}, -20, 20);
  auto n = run("Neg", {&x})[0], a = run("Abs", {&x})[0], r = run("Relu", {&x})[0], s = run("Sign", {&x})[0];
  for (int64_t i = 0; i < 10; ++i) {
    int64_t v = x.data<int64_t>()[i];
    EXPECT_EQ(n.data<int64_t>()[i], -v);
    EXPECT_EQ(a.data<int64_t>()[i], v < 0 ? -v : v);
    EXPECT_EQ(r.data<int64_t>()[i], v > 0 ? v : 0);
    EXPECT_EQ(s.data<int64_t>()[i], (v > 0) - (v < 0));
  }
}

TEST(Unary, NotIsNanIsInf) {
  Tensor b = randBool({7});
  auto n = run("Not", {&b})[0];
  for (int64_t i = 0; i < 7; ++i) EXPECT_EQ(n.data<uint8_t>()[i], !b.data<uint8_t>()[i]);
  float inf = std::numeric_limits<float>::infinity();
  Tensor x = make<float>(DType::F32, {5}, {1.f, NAN, inf, -inf, 0.f});
  expectInts(run("IsNaN", {&x})[0], {0, 1, 0, 0, 0});
  expectInts(run("IsInf", {&x})[0], {0, 0, 1, 1, 0});
  Attrs pos;
  pos.set("detect_negative", int64_t(0));
  expectInts(run("IsInf", {&x}, pos)[0], {0, 0, 1, 0, 0});
}

TEST(Unary, Clip) {
  Tensor x = randF({4, 5}), lo = scalarF(-0.5f), hi = scalarF(0.7f);
  auto out = run("Clip", {&x, &lo, &hi}, {}, 13)[0];
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(f(out, i), std::min(std::max(f(x, i), -0.5f), 0.7f));
  auto onlyMax = run("Clip", {&x, nullptr, &hi}, {}, 13)[0];
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(f(onlyMax, i), std::min(f(x, i), 0.7f));
  Attrs old;
  old.set("min", -0.25f);
  auto legacy = run("Clip", {&x}, old, 6)[0];
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(f(legacy, i), std::max(f(x, i), -0.25f));
  Tensor xi = randI({8}, -10, 10), li = scalarI(-2), hiI = scalarI(3);
  auto oi = run("Clip", {&xi, &li, &hiI}, {}, 13)[0];
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(oi.data<int64_t>()[i], std::clamp<int64_t>(xi.data<int64_t>()[i], -2, 3));
}

TEST(Unary, FastGeluWithBias) {
  Tensor x = randF({2, 3, 8}), b = randF({8});
  auto out = run("com.microsoft.FastGelu", {&x, &b})[0];
  for (int64_t i = 0; i < x.numel(); ++i) {
    double v = f(x, i) + f(b, i % 8);
    double want = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    EXPECT_NEAR(f(out, i), want, 1e-5);
  }
}

TEST(Unary, Errors) {
  Tensor i = randI({3}, 0, 3), x = randF({3});
  EXPECT_THROW(run("Sqrt", {&i}), Error);
  EXPECT_THROW(run("Not", {&x}), Error);
  EXPECT_THROW(run("Exp", {}), Error);
  Attrs bad;
  bad.set("approximate", std::string("fast"));
  EXPECT_THROW(run("Gelu", {&x}, bad, 20), Error);
  Tensor two = randF({2});
  EXPECT_THROW(run("Clip", {&x, &two}, {}, 13), Error);
}
