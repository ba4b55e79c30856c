// RotaryEmbedding (opset 23) and com.microsoft.RotaryEmbedding against the
// textbook rotation written per element.
#include "TestUtil.h"

using namespace resa;
using namespace resa::test;

namespace {
// Rotated value of element d of a head vector x (length D), rotary dim R,
// with angle tables c/s of R/2 values.
float refRope(const float *x, int64_t D, int64_t R, const float *c, const float *s, bool inter, int64_t d) {
  if (d >= R) return x[d];
  int64_t half = R / 2;
  if (inter) {
    int64_t i = d / 2;
    return d % 2 == 0 ? x[2 * i] * c[i] - x[2 * i + 1] * s[i] : x[2 * i + 1] * c[i] + x[2 * i] * s[i];
  }
  return d < half ? x[d] * c[d] - x[d + half] * s[d] : x[d] * c[d - half] + x[d - half] * s[d - half];
  (void)D;
}
} // namespace

TEST(Rotary, Onnx23FourDWithPositions) {
  const int64_t B = 2, H = 3, S = 5, D = 16;
  Tensor x = randF({B, H, S, D}), cos = randF({32, 8}), sin = randF({32, 8}), pos = randI({B, S}, 0, 31);
  for (int64_t inter : {0, 1}) {
    Attrs at;
    at.set("interleaved", inter);
    auto y = run("RotaryEmbedding", {&x, &cos, &sin, &pos}, at, 23)[0];
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t s = 0; s < S; ++s) {
          int64_t p = pos.intAt(b * S + s), off = ((b * H + h) * S + s) * D;
          for (int64_t d = 0; d < D; ++d)
            EXPECT_NEAR(f(y, off + d), refRope(x.data<float>() + off, D, D, cos.data<float>() + p * 8,
                                               sin.data<float>() + p * 8, inter, d), 1e-6);
        }
  }
}

TEST(Rotary, Onnx23ThreeDPartialNoPositions) {
  const int64_t B = 2, S = 4, N = 2, D = 16, R = 8;
  Tensor x = randF({B, S, N * D}), cos = randF({B, S, R / 2}), sin = randF({B, S, R / 2});
  Attrs at;
  at.set("num_heads", N);
  at.set("rotary_embedding_dim", R);
  auto y = run("RotaryEmbedding", {&x, &cos, &sin}, at, 23)[0];
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t n = 0; n < N; ++n) {
        int64_t off = (b * S + s) * N * D + n * D, row = (b * S + s) * R / 2;
        for (int64_t d = 0; d < D; ++d)
          EXPECT_NEAR(f(y, off + d), refRope(x.data<float>() + off, D, R, cos.data<float>() + row,
                                             sin.data<float>() + row, false, d), 1e-6);
      }
  Attrs noHeads;
  EXPECT_THROW(run("RotaryEmbedding", {&x, &cos, &sin}, noHeads, 23), Error);
}

TEST(Rotary, MicrosoftPositionIdsAndOffset) {
  const int64_t B = 2, S = 5, N = 4, D = 16;
  Tensor x = randF({B, S, N * D}), cos = randF({32, 8}), sin = randF({32, 8});
  Tensor pos = randI({B, S}, 0, 31), offset = ints({7});
  Attrs at;
  at.set("num_heads", N);
  for (const Tensor *p : {&pos, &offset}) {
    auto y = run("com.microsoft.RotaryEmbedding", {&x, p, &cos, &sin}, at)[0];
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = 0; s < S; ++s) {
        int64_t ps = p == &offset ? 7 + s : pos.intAt(b * S + s);
        for (int64_t n = 0; n < N; ++n) {
          int64_t off = (b * S + s) * N * D + n * D;
          for (int64_t d = 0; d < D; ++d)
            EXPECT_NEAR(f(y, off + d), refRope(x.data<float>() + off, D, D, cos.data<float>() + ps * 8,
                                               sin.data<float>() + ps * 8, false, d), 1e-6);
        }
      }
  }
  Tensor far = ints({40});
  EXPECT_THROW(run("com.microsoft.RotaryEmbedding", {&x, &far, &cos, &sin}, at), Error);
}
