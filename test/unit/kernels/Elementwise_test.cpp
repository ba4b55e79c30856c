// Broadcasting binary ops, comparisons, logic and Where against scalar loops.
#include "TestUtil.h"

#include <functional>

using namespace resa;
using namespace resa::test;

namespace {

const std::vector<std::pair<Shape, Shape>> kShapes = {
    {{2, 3, 4}, {3, 1}}, {{4}, {2, 1, 4}}, {{2, 3}, {}}, {{3, 1, 5}, {1, 4, 1}}, {{0, 3}, {3}}, {{5}, {5}}};

// Reference: out[idx] = fn(a[bcast(idx)], b[bcast(idx)]) over the broadcast shape.
template <typename T, typename R, typename Fn>
void checkBinary(const std::string &op, const Tensor &a, const Tensor &b, const Shape &outShape, Fn fn,
                 const Attrs &at = {}, double tol = 0) {
  auto out = run(op, {&a, &b}, at);
  ASSERT_EQ(out[0].shape(), outShape) << op;
  for (int64_t i = 0; i < out[0].numel(); ++i) {
    auto idx = unravel(i, outShape);
    R want = fn(a.data<T>()[ravelBroadcast(idx, a.shape())], b.data<T>()[ravelBroadcast(idx, b.shape())]);
    if constexpr (std::is_floating_point_v<R>) {
      ASSERT_NEAR(out[0].data<R>()[i], want, tol) << op << " at " << i;
    } else {
      ASSERT_EQ(out[0].data<R>()[i], want) << op << " at " << i;
    }
  }
}

Shape bshape(const Shape &a, const Shape &b) {
  size_t r = std::max(a.size(), b.size());
  Shape o(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i + a.size() >= r ? a[i + a.size() - r] : 1;
    int64_t db = i + b.size() >= r ? b[i + b.size() - r] : 1;
    o[i] = da == 1 ? db : da;
  }
  return o;
}

} // namespace

TEST(Elementwise, FloatArithmeticBroadcasts) {
  std::vector<std::pair<std::string, std::function<float(float, float)>>> ops = {
      {"Add", [](float x, float y) { return x + y; }},
      {"Sub", [](float x, float y) { return x - y; }},
      {"Mul", [](float x, float y) { return x * y; }},
      {"Div", [](float x, float y) { return x / y; }},
      {"Max", [](float x, float y) { return x > y ? x : y; }},
      {"Min", [](float x, float y) { return x < y ? x : y; }},
  };
  for (auto &[op, fn] : ops)
    for (auto &[sa, sb] : kShapes) {
      Tensor a = randF(sa), b = randF(sb, 0.5f, 3.f);
      checkBinary<float, float>(op, a, b, bshape(sa, sb), fn, {}, 1e-6);
    }
}

TEST(Elementwise, DoubleAdd) {
  Tensor a = randD({3, 4}), b = randD({4});
  checkBinary<double, double>("Add", a, b, {3, 4}, [](double x, double y) { return x + y; }, {}, 1e-12);
}

TEST(Elementwise, IntegerArithmetic) {
  Tensor a = randI({4, 5}, -50, 50), b = randI({5}, 1, 9);
  for (int64_t i = 0; i < 5; i += 2) b.data<int64_t>()[i] = -b.data<int64_t>()[i]; // negative divisors
  checkBinary<int64_t, int64_t>("Add", a, b, {4, 5}, [](int64_t x, int64_t y) { return x + y; });
  checkBinary<int64_t, int64_t>("Mul", a, b, {4, 5}, [](int64_t x, int64_t y) { return x * y; });
  checkBinary<int64_t, int64_t>("Div", a, b, {4, 5}, [](int64_t x, int64_t y) { return x / y; });
  // Mod with fmod = 0: the result takes the divisor's sign (Python %).
  checkBinary<int64_t, int64_t>("Mod", a, b, {4, 5}, [](int64_t x, int64_t y) {
    int64_t r = x - y * static_cast<int64_t>(std::floor(double(x) / double(y)));
    return r;
  });
  Attrs fm;
  fm.set("fmod", int64_t(1));
  checkBinary<int64_t, int64_t>("Mod", a, b, {4, 5}, [](int64_t x, int64_t y) { return x % y; }, fm);
  Tensor c = randI<int32_t>({3, 1}, -20, 20), d = randI<int32_t>({1, 4}, -20, 20);
  checkBinary<int32_t, int32_t>("Sub", c, d, {3, 4}, [](int32_t x, int32_t y) { return x - y; });
}

TEST(Elementwise, FloatFmod) {
  Tensor a = randF({6}, -9, 9), b = randF({6}, 1, 3);
  Attrs fm;
  fm.set("fmod", int64_t(1));
  checkBinary<float, float>("Mod", a, b, {6}, [](float x, float y) { return std::fmod(x, y); }, fm, 1e-6);
}

TEST(Elementwise, Pow) {
  Tensor a = randF({3, 4}, 0.1f, 3.f), b = randF({4}, -2.f, 2.f);
  checkBinary<float, float>("Pow", a, b, {3, 4}, [](float x, float y) { return std::pow(x, y); }, {}, 1e-5);
  Tensor base = randF({5}, -3.f, 3.f), e = scalarI(3);
  auto out = run("Pow", {&base, &e});
  for (int64_t i = 0; i < 5; ++i) EXPECT_NEAR(f(out[0], i), std::pow(f(base, i), 3.f), 1e-5);
  Tensor ib = randI({6}, -4, 4), ie = randI({6}, 0, 5);
  auto io = run("Pow", {&ib, &ie});
  for (int64_t i = 0; i < 6; ++i) {
    int64_t want = 1;
    for (int64_t k = 0; k < ie.data<int64_t>()[i]; ++k) want *= ib.data<int64_t>()[i];
    EXPECT_EQ(io[0].data<int64_t>()[i], want);
  }
}

TEST(Elementwise, Variadic) {
  Tensor a = randF({2, 3}), b = randF({3}), c = randF({2, 1});
  for (std::string op : {"Max", "Min", "Sum", "Mean"}) {
    auto out = run(op, {&a, &b, &c});
    ASSERT_EQ(out[0].shape(), (Shape{2, 3}));
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j) {
        float x = f(a, i * 3 + j), y = f(b, j), z = f(c, i), want;
        if (op == "Max") want = std::max({x, y, z});
        else if (op == "Min") want = std::min({x, y, z});
        else if (op == "Sum") want = x + y + z;
        else want = (x + y + z) / 3;
        EXPECT_NEAR(f(out[0], i * 3 + j), want, 1e-6) << op;
      }
  }
  auto single = run("Sum", {&a});
  EXPECT_NE(single[0].raw(), a.raw()); // a copy, never an alias
  expectClose(single[0], floats(a), 0);
}

TEST(Elementwise, Comparisons) {
  Tensor a = randI({3, 4}, 0, 3), b = randI({4}, 0, 3);
  checkBinary<int64_t, uint8_t>("Equal", a, b, {3, 4}, [](int64_t x, int64_t y) { return uint8_t(x == y); });
  checkBinary<int64_t, uint8_t>("Less", a, b, {3, 4}, [](int64_t x, int64_t y) { return uint8_t(x < y); });
  checkBinary<int64_t, uint8_t>("LessOrEqual", a, b, {3, 4}, [](int64_t x, int64_t y) { return uint8_t(x <= y); });
  checkBinary<int64_t, uint8_t>("Greater", a, b, {3, 4}, [](int64_t x, int64_t y) { return uint8_t(x > y); });
  checkBinary<int64_t, uint8_t>("GreaterOrEqual", a, b, {3, 4}, [](int64_t x, int64_t y) { return uint8_t(x >= y); });
  Tensor x = randF({2, 5}), y = randF({2, 1});
  checkBinary<float, uint8_t>("Less", x, y, {2, 5}, [](float p, float q) { return uint8_t(p < q); });
  Tensor p = randBool({4}), q = randBool({3, 4});
  checkBinary<uint8_t, uint8_t>("Equal", p, q, {3, 4}, [](uint8_t s, uint8_t t) { return uint8_t(s == t); });
  EXPECT_EQ(run("Equal", {&x, &y})[0].dtype(), DType::Bool);
}

TEST(Elementwise, Logic) {
  Tensor a = randBool({3, 4}), b = randBool({4});
  checkBinary<uint8_t, uint8_t>("And", a, b, {3, 4}, [](uint8_t x, uint8_t y) { return uint8_t(x && y); });
  checkBinary<uint8_t, uint8_t>("Or", a, b, {3, 4}, [](uint8_t x, uint8_t y) { return uint8_t(x || y); });
  checkBinary<uint8_t, uint8_t>("Xor", a, b, {3, 4}, [](uint8_t x, uint8_t y) { return uint8_t(x != y); });
}

TEST(Elementwise, Where) {
  Tensor c = randBool({3, 1}), x = randF({3, 4}), y = randF({4});
  auto out = run("Where", {&c, &x, &y});
  ASSERT_EQ(out[0].shape(), (Shape{3, 4}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_EQ(f(out[0], i * 4 + j), c.data<uint8_t>()[i] ? f(x, i * 4 + j) : f(y, j));
  Tensor xi = randI({2, 3}, -9, 9), yi = randI({1}, -9, 9), ci = randBool({2, 3});
  auto oi = run("Where", {&ci, &xi, &yi});
  for (int64_t k = 0; k < 6; ++k)
    EXPECT_EQ(oi[0].data<int64_t>()[k], ci.data<uint8_t>()[k] ? xi.data<int64_t>()[k] : yi.data<int64_t>()[0]);
}

TEST(Elementwise, Errors) {
  Tensor a = randF({2, 3}), b = randF({4}), i = randI({2, 3}, 1, 3), z = make<int64_t>(DType::I64, {1}, {0});
  EXPECT_THROW(run("Add", {&a, &b}), Error);
  EXPECT_THROW(run("Add", {&a, &i}), Error);
  EXPECT_THROW(run("Div", {&i, &z}), Error);
  EXPECT_THROW(run("And", {&a, &a}), Error);
  EXPECT_THROW(run("Add", {&a}), Error);
  Tensor bo = randBool({2, 3});
  EXPECT_THROW(run("Where", {&a, &a, &a}), Error);
  EXPECT_THROW(run("Where", {&bo, &a, &i}), Error);
  try {
    run("Mul", {&a, &b});
    FAIL();
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("Mul"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}
