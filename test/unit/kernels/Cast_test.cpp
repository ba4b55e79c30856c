// Cast / CastLike and the half-precision helpers.
#include "TestUtil.h"

#include <cstring>
#include <limits>

using namespace resa;
using namespace resa::test;

namespace {
Tensor castTo(const Tensor &x, DType to) {
  Attrs at;
  at.set("to", static_cast<int64_t>(to));
  return run("Cast", {&x}, at)[0];
}
} // namespace

TEST(Cast, FloatToIntegersTruncates) {
  Tensor x = randF({50}, -100, 100);
  auto i64 = castTo(x, DType::I64), i32 = castTo(x, DType::I32), i8 = castTo(x, DType::I8);
  for (int64_t i = 0; i < 50; ++i) {
    EXPECT_EQ(i64.data<int64_t>()[i], static_cast<int64_t>(f(x, i)));
    EXPECT_EQ(i32.data<int32_t>()[i], static_cast<int32_t>(f(x, i)));
    EXPECT_EQ(i8.data<int8_t>()[i], static_cast<int8_t>(static_cast<int32_t>(f(x, i))));
  }
}

TEST(Cast, BoolAndIntegerConversions) {
  Tensor x = make<float>(DType::F32, {4}, {0.f, -0.5f, 2.f, NAN});
  expectInts(castTo(x, DType::Bool), {0, 1, 1, 1});
  Tensor b = randBool({6});
  auto bf = castTo(b, DType::F32);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(f(bf, i), b.data<uint8_t>()[i] ? 1.f : 0.f);
  Tensor i = randI({6}, -1000, 1000);
  auto fi = castTo(i, DType::F32);
  for (int64_t k = 0; k < 6; ++k) EXPECT_EQ(f(fi, k), float(i.data<int64_t>()[k]));
  auto ii = castTo(i, DType::I32);
  for (int64_t k = 0; k < 6; ++k) EXPECT_EQ(ii.data<int32_t>()[k], int32_t(i.data<int64_t>()[k]));
  Tensor big = make<int64_t>(DType::I64, {1}, {(int64_t(1) << 40) + 3});
  EXPECT_EQ(castTo(castTo(big, DType::I64), DType::I64).data<int64_t>()[0], (int64_t(1) << 40) + 3);
  Tensor like = randI<int32_t>({1}, 0, 1);
  EXPECT_EQ(run("CastLike", {&x, &like})[0].dtype(), DType::I32);
}

TEST(Cast, HalfRoundTrips) {
  Tensor x = randF({200}, -70000, 70000);
  Tensor h = castTo(x, DType::F16), back = castTo(h, DType::F32);
  for (int64_t i = 0; i < 200; ++i) {
    float v = f(x, i);
    if (std::fabs(v) > 65504.f) {
      // beyond the largest half rounds to infinity once past the rounding midpoint
      if (std::fabs(v) >= 65520.f) {
        EXPECT_TRUE(std::isinf(f(back, i)));
      }
      continue;
    }
    EXPECT_LE(std::fabs(f(back, i) - v), std::ldexp(std::fabs(v), -11) + 1e-7) << v;
  }
  Tensor bf = castTo(x, DType::BF16), bback = castTo(bf, DType::F32);
  for (int64_t i = 0; i < 200; ++i) EXPECT_LE(std::fabs(f(bback, i) - f(x, i)), std::ldexp(std::fabs(f(x, i)), -8));
  Tensor d = randD({5});
  auto df = castTo(d, DType::F32);
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(f(df, i), static_cast<float>(d.data<double>()[i]));
}

TEST(Cast, HalfHelpersExact) {
  EXPECT_EQ(f32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(f32ToF16(-2.0f), 0xc000);
  EXPECT_EQ(f32ToF16(65504.f), 0x7bff);
  EXPECT_EQ(f32ToF16(1e6f), 0x7c00);
  EXPECT_EQ(f32ToF16(std::ldexp(1.f, -24)), 0x0001);           // smallest subnormal
  EXPECT_EQ(f32ToF16(1.f + std::ldexp(1.f, -11)), 0x3c00);     // tie rounds to even
  EXPECT_EQ(f32ToF16(1.f + 3 * std::ldexp(1.f, -11)), 0x3c02); // tie rounds to even (up)
  EXPECT_TRUE(std::isnan(f16ToF32(f32ToF16(NAN))));
  for (uint32_t h = 0; h < 0x7c00; h += 7) EXPECT_EQ(f32ToF16(f16ToF32(uint16_t(h))), h);
  EXPECT_EQ(f32ToBf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16ToF32(0x4049), 3.140625f);
  EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBf16(NAN))));
}

TEST(Cast, Errors) {
  Tensor x = randF({2});
  Attrs bad;
  bad.set("to", int64_t(8)); // string
  EXPECT_THROW(run("Cast", {&x}, bad), Error);
  EXPECT_THROW(run("Cast", {&x}), Error); // missing "to"
}
