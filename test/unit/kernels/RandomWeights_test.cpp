// The random-weight generator (resa/kernels/RandomWeights.h): determinism,
// the ranges the shapes ask for, rounding to the weight's dtype, and pinned
// values (a changed generator would silently change every random package's
// weights, and the CPU and CUDA sides must change together).
#include "resa/kernels/RandomWeights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace resa;

namespace {

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

} // namespace

TEST(RandomWeights, SameSeedAndNameGiveTheSameValues) {
  Tensor a = randomWeight(7, "layers.0.q", DType::F32, {64, 32});
  Tensor b = randomWeight(7, "layers.0.q", DType::F32, {64, 32});
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
}

TEST(RandomWeights, SeedAndNameChangeTheValues) {
  Tensor a = randomWeight(7, "layers.0.q", DType::F32, {64, 32});
  for (Tensor b : {randomWeight(8, "layers.0.q", DType::F32, {64, 32}),
                   randomWeight(7, "layers.0.k", DType::F32, {64, 32})}) {
    int64_t same = 0;
    for (int64_t i = 0; i < a.numel(); ++i)
      same += a.data<float>()[i] == b.data<float>()[i];
    EXPECT_LT(same, 4);
  }
}

TEST(RandomWeights, MatricesAreUniformOverPlusMinusOneOverSqrtK) {
  // K: every dim but the last (here 8 * 32 = 256: bound 1/16).
  Tensor t = randomWeight(1, "w", DType::F32, {8, 32, 64});
  const double bound = 1.0 / 16;
  double sum = 0, sq = 0, lo = 1, hi = -1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = t.data<float>()[i];
    sum += v;
    sq += v * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double n = static_cast<double>(t.numel());
  EXPECT_GT(lo, -bound);
  EXPECT_LT(hi, bound);
  EXPECT_LT(lo, -0.99 * bound); // the range is used, not a part of it
  EXPECT_GT(hi, 0.99 * bound);
  EXPECT_NEAR(sum / n, 0.0, 0.02 * bound);
  EXPECT_NEAR(sq / n, bound * bound / 3, 0.03 * bound * bound / 3); // U(-b, b): b^2 / 3
}

TEST(RandomWeights, VectorsAreUniformOverPointNineToOnePointOne) {
  for (Shape shape : {Shape{4096}, Shape{}}) {
    Tensor t = randomWeight(3, "norm", DType::F32, shape);
    double sum = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      float v = t.data<float>()[i];
      EXPECT_GT(v, 0.9f);
      EXPECT_LT(v, 1.1f);
      sum += v;
    }
    if (t.numel() > 1) {
      EXPECT_NEAR(sum / static_cast<double>(t.numel()), 1.0, 0.005);
    }
  }
}

TEST(RandomWeights, HalfTypesAreTheRoundedFloatValues) {
  const Shape shape{16, 40};
  Tensor f = randomWeight(5, "w", DType::F32, shape);
  Tensor bf = randomWeight(5, "w", DType::BF16, shape);
  Tensor h = randomWeight(5, "w", DType::F16, shape);
  for (int64_t i = 0; i < f.numel(); ++i) {
    EXPECT_EQ(bf.data<uint16_t>()[i], f32ToBf16(f.data<float>()[i]));
    EXPECT_EQ(h.data<uint16_t>()[i], f32ToF16(f.data<float>()[i]));
  }
}

TEST(RandomWeights, OtherDTypesAreRefused) {
  try {
    randomWeight(0, "ids", DType::I64, {4});
    FAIL() << "an int64 random weight was made";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("'ids'"), std::string::npos) << e.what();
  }
}

TEST(RandomWeights, EmptyWeightsAreEmpty) {
  EXPECT_EQ(randomWeight(0, "w", DType::F32, {0, 8}).numel(), 0);
  EXPECT_EQ(randomWeight(0, "w", DType::F32, {8, 0}).numel(), 0);
}

// Values an independent implementation of the recipe (Python, exact
// arithmetic) gives.
TEST(RandomWeights, PinnedValues) {
  Tensor m = randomWeight(42, "model.layers.0.self_attn.q_proj.weight", DType::F32, {4096, 8});
  Tensor v = randomWeight(42, "model.norm.weight", DType::F32, {4096});
  const uint32_t wantM[3] = {0x3bd22d32, 0xbb2170a4, 0xbc2036d5};
  const uint32_t wantV[3] = {0x3f79e9ce, 0x3f846c51, 0x3f83749b};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(bitsOf(m.data<float>()[i]), wantM[i]) << "matrix element " << i;
    EXPECT_EQ(bitsOf(v.data<float>()[i]), wantV[i]) << "vector element " << i;
  }
}
