// Attention (opset 23), com.microsoft GroupQueryAttention and
// MultiHeadAttention against a textbook softmax(QK^T)V loop.
#include "TestUtil.h"

#include <functional>
#include <limits>

using namespace resa;
using namespace resa::test;

namespace {
const float kInf = std::numeric_limits<float>::infinity();

// Element (b, h, s, d) of a [B, H, S, D] buffer.
struct Bnsh {
  const float *p;
  int64_t H, S, D;
  float at(int64_t b, int64_t h, int64_t s, int64_t d) const { return p[((b * H + h) * S + s) * D + d]; }
};

// out[b,h,i,:] for query heads Hq over keys/values with Hkv heads;
// score(b,h,i,j,raw) returns the final logit (-inf = masked).
std::vector<float> refAttention(Bnsh q, Bnsh k, Bnsh v, int64_t B, int64_t Hq, float scale,
                                std::function<float(int64_t, int64_t, int64_t, int64_t, float)> score) {
  std::vector<float> out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < q.S; ++i) {
        int64_t kh = h / (Hq / k.H);
        std::vector<double> w(k.S);
        double mx = -kInf;
        for (int64_t j = 0; j < k.S; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < q.D; ++d) dot += double(q.at(b, h, i, d)) * k.at(b, kh, j, d);
          w[j] = score(b, h, i, j, static_cast<float>(dot * scale));
          mx = std::max(mx, w[j]);
        }
        double sum = 0;
        for (auto &x : w) sum += (x = (mx == -kInf ? 0 : std::exp(x - mx)));
        for (int64_t d = 0; d < v.D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < k.S; ++j) acc += (sum ? w[j] / sum : 0) * v.at(b, kh, j, d);
          out.push_back(static_cast<float>(acc));
        }
      }
  return out;
}

// [B, S, H*D] -> [B, H, S, D]
std::vector<float> toHeads(const Tensor &x, int64_t H) {
  int64_t B = x.dim(0), S = x.dim(1), D = x.dim(2) / H;
  std::vector<float> y(x.numel());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < D; ++d) y[((b * H + h) * S + s) * D + d] = f(x, (b * S + s) * H * D + h * D + d);
  return y;
}

std::vector<float> fromHeads(const std::vector<float> &y, int64_t B, int64_t H, int64_t S, int64_t D) {
  std::vector<float> x(y.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s)
        for (int64_t d = 0; d < D; ++d) x[(b * S + s) * H * D + h * D + d] = y[((b * H + h) * S + s) * D + d];
  return x;
}

std::vector<float> concatSeq(const Tensor &past, const std::vector<float> &cur, int64_t B, int64_t H, int64_t L,
                             int64_t D) {
  int64_t P = past.dim(2);
  std::vector<float> r;
  for (int64_t bh = 0; bh < B * H; ++bh) {
    r.insert(r.end(), past.data<float>() + bh * P * D, past.data<float>() + (bh + 1) * P * D);
    r.insert(r.end(), cur.begin() + bh * L * D, cur.begin() + (bh + 1) * L * D);
  }
  return r;
}
} // namespace

TEST(Attention, Onnx23CausalWithPastGqaAndBoolMask) {
  const int64_t B = 2, Hq = 4, Hkv = 2, S = 3, P = 4, D = 8, T = P + S;
  Tensor q = randF({B, Hq, S, D}), k = randF({B, Hkv, S, D}), v = randF({B, Hkv, S, D});
  Tensor pk = randF({B, Hkv, P, D}), pv = randF({B, Hkv, P, D}), mask = randBool({B, 1, S, T});
  for (int64_t i = 0; i < mask.numel(); i += 3) mask.data<uint8_t>()[i] = 1;
  Attrs at;
  at.set("is_causal", int64_t(1));
  auto out = run("Attention", {&q, &k, &v, &mask, &pk, &pv}, at, 23, 3);
  std::vector<float> kk = concatSeq(pk, floats(k), B, Hkv, S, D), vv = concatSeq(pv, floats(v), B, Hkv, S, D);
  expectClose(out[1], kk, 0, "present_key");
  expectClose(out[2], vv, 0, "present_value");
  auto want = refAttention({q.data<float>(), Hq, S, D}, {kk.data(), Hkv, T, D}, {vv.data(), Hkv, T, D}, B, Hq,
                           1 / std::sqrt(8.f), [&](int64_t b, int64_t, int64_t i, int64_t j, float s) {
                             bool ok = j <= P + i && mask.data<uint8_t>()[(b * S + i) * T + j];
                             return ok ? s : -kInf;
                           });
  expectClose(out[0], want, 2e-5f);
}

TEST(Attention, Onnx23ThreeDFloatMaskSoftcapScale) {
  const int64_t B = 2, Hq = 2, Hkv = 1, S = 4, L = 5, D = 8, Dv = 4;
  Tensor q = randF({B, S, Hq * D}), k = randF({B, L, Hkv * D}), v = randF({B, L, Hkv * Dv}), mask = randF({S, L});
  Attrs at;
  at.set("q_num_heads", Hq);
  at.set("kv_num_heads", Hkv);
  at.set("softcap", 1.5f);
  at.set("scale", 0.7f);
  auto out = run("Attention", {&q, &k, &v, &mask}, at, 23)[0];
  ASSERT_EQ(out.shape(), (Shape{B, S, Hq * Dv}));
  auto qh = toHeads(q, Hq), kh = toHeads(k, Hkv), vh = toHeads(v, Hkv);
  auto want = refAttention({qh.data(), Hq, S, D}, {kh.data(), Hkv, L, D}, {vh.data(), Hkv, L, Dv}, B, Hq, 0.7f,
                           [&](int64_t, int64_t, int64_t i, int64_t j, float s) {
                             return 1.5f * std::tanh(s / 1.5f) + f(mask, i * L + j);
                           });
  expectClose(out, fromHeads(want, B, Hq, S, Dv), 2e-5f);
}

TEST(Attention, Onnx23QkOutputAndErrors) {
  Tensor q = randF({1, 2, 3, 4}), k = randF({1, 2, 5, 4}), v = randF({1, 2, 5, 4});
  Attrs at;
  at.set("qk_matmul_output_mode", int64_t(3));
  auto out = run("Attention", {&q, &k, &v}, at, 23, 4);
  ASSERT_EQ(out[3].shape(), (Shape{1, 2, 3, 5}));
  for (int64_t r = 0; r < 6; ++r) {
    double s = 0;
    for (int64_t j = 0; j < 5; ++j) s += f(out[3], r * 5 + j);
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
  Tensor k3 = randF({1, 3, 5, 4}), v3 = randF({1, 3, 5, 4});
  EXPECT_THROW(run("Attention", {&q, &k3, &v3}, {}, 23), Error); // 2 q heads, 3 kv heads
  Tensor q3 = randF({1, 3, 8});
  EXPECT_THROW(run("Attention", {&q3, &q3, &q3}, {}, 23), Error); // 3-D without head counts
  Tensor badMask = randF({4, 5});
  EXPECT_THROW(run("Attention", {&q, &k, &v, &badMask}, {}, 23), Error);
}

TEST(GroupQueryAttention, DecodeWithPastAndRaggedBatch) {
  const int64_t B = 2, N = 4, KV = 2, H = 8, Pbuf = 6;
  Tensor q = randF({B, 1, N * H}), k = randF({B, 1, KV * H}), v = randF({B, 1, KV * H});
  Tensor pk = randF({B, KV, Pbuf, H}), pv = randF({B, KV, Pbuf, H});
  Tensor seqlens = make<int32_t>(DType::I32, {B}, {6, 3}), total = make<int32_t>(DType::I32, {}, {7});
  Attrs at;
  at.set("num_heads", N);
  at.set("kv_num_heads", KV);
  auto out = run("com.microsoft.GroupQueryAttention", {&q, &k, &v, &pk, &pv, &seqlens, &total}, at, 18, 3);
  const int64_t T = 7;
  ASSERT_EQ(out[1].shape(), (Shape{B, KV, T, H}));
  // present: past[:past_b], the new token at past_b, zeros after.
  std::vector<float> kk(B * KV * T * H, 0.f), vv(kk.size(), 0.f);
  int64_t pastB[2] = {6, 3};
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < KV; ++h)
      for (int64_t t = 0; t <= pastB[b]; ++t)
        for (int64_t d = 0; d < H; ++d) {
          int64_t o = ((b * KV + h) * T + t) * H + d;
          kk[o] = t < pastB[b] ? f(pk, ((b * KV + h) * Pbuf + t) * H + d) : f(k, (b * KV + h) * H + d);
          vv[o] = t < pastB[b] ? f(pv, ((b * KV + h) * Pbuf + t) * H + d) : f(v, (b * KV + h) * H + d);
        }
  expectClose(out[1], kk, 0, "present_key");
  expectClose(out[2], vv, 0, "present_value");
  auto qh = toHeads(q, N);
  auto want = refAttention({qh.data(), N, 1, H}, {kk.data(), KV, T, H}, {vv.data(), KV, T, H}, B, N,
                           1 / std::sqrt(8.f), [&](int64_t b, int64_t, int64_t i, int64_t j, float s) {
                             return j <= pastB[b] + i ? s : -kInf;
                           });
  expectClose(out[0], fromHeads(want, B, N, 1, H), 2e-5f);
}

TEST(GroupQueryAttention, PromptWithLocalWindowAndRotary) {
  const int64_t N = 2, KV = 1, H = 16, S = 6, W = 2;
  Tensor q = randF({1, S, N * H}), k = randF({1, S, KV * H}), v = randF({1, S, KV * H});
  Tensor seqlens = make<int32_t>(DType::I32, {1}, {S - 1}), total = make<int32_t>(DType::I32, {}, {S});
  Tensor cos = randF({16, 8}), sin = randF({16, 8});
  Attrs at;
  at.set("num_heads", N);
  at.set("kv_num_heads", KV);
  at.set("local_window_size", W);
  at.set("do_rotary", int64_t(1));
  auto out = run("com.microsoft.GroupQueryAttention",
                 {&q, &k, &v, nullptr, nullptr, &seqlens, &total, &cos, &sin}, at, 18, 3);
  // Rotate q and k (non-interleaved halves) at positions 0..S-1.
  auto rot = [&](std::vector<float> x, int64_t heads) {
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < S; ++s) {
        float *p = x.data() + (h * S + s) * H;
        for (int64_t i = 0; i < 8; ++i) {
          float a = p[i], b = p[i + 8], c = f(cos, s * 8 + i), sn = f(sin, s * 8 + i);
          p[i] = a * c - b * sn;
          p[i + 8] = b * c + a * sn;
        }
      }
    return x;
  };
  auto qh = rot(toHeads(q, N), N), kh = rot(toHeads(k, KV), KV), vh = toHeads(v, KV);
  expectClose(out[1], kh, 1e-6f, "present_key");
  auto want = refAttention({qh.data(), N, S, H}, {kh.data(), KV, S, H}, {vh.data(), KV, S, H}, 1, N,
                           1 / std::sqrt(16.f), [&](int64_t, int64_t, int64_t i, int64_t j, float s) {
                             return (j <= i && j > i - W) ? s : -kInf;
                           });
  expectClose(out[0], fromHeads(want, 1, N, S, H), 2e-5f);
  Tensor badSeq = make<int32_t>(DType::I32, {2}, {1, 1});
  EXPECT_THROW(run("com.microsoft.GroupQueryAttention", {&q, &k, &v, nullptr, nullptr, &badSeq, &total}, at), Error);
}

TEST(MultiHeadAttention, BiasPaddingMaskCausalPast) {
  const int64_t B = 2, N = 2, H = 4, S = 3, P = 2, T = P + S;
  Tensor q = randF({B, S, N * H}), k = randF({B, S, N * H}), v = randF({B, S, N * H}), bias = randF({3 * N * H});
  Tensor pk = randF({B, N, P, H}), pv = randF({B, N, P, H});
  Tensor mask = make<int32_t>(DType::I32, {B, T}, {1, 1, 1, 0, 1, 0, 1, 1, 1, 1});
  Attrs at;
  at.set("num_heads", N);
  at.set("unidirectional", int64_t(1));
  auto out = run("com.microsoft.MultiHeadAttention", {&q, &k, &v, &bias, &mask, nullptr, &pk, &pv}, at, 18, 3);
  auto addBias = [&](const Tensor &x, int64_t part) {
    Tensor y(DType::F32, x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) y.data<float>()[i] = f(x, i) + f(bias, part * N * H + i % (N * H));
    return y;
  };
  auto qh = toHeads(addBias(q, 0), N);
  auto kk = concatSeq(pk, toHeads(addBias(k, 1), N), B, N, S, H), vv = concatSeq(pv, toHeads(addBias(v, 2), N), B, N, S, H);
  expectClose(out[1], kk, 1e-6f, "present_key");
  auto want = refAttention({qh.data(), N, S, H}, {kk.data(), N, T, H}, {vv.data(), N, T, H}, B, N, 0.5f,
                           [&](int64_t b, int64_t, int64_t i, int64_t j, float s) {
                             if (mask.data<int32_t>()[b * T + j] == 0) s += -10000.f;
                             if (j > P + i) s += -10000.f;
                             return s;
                           });
  expectClose(out[0], fromHeads(want, B, N, S, H), 2e-5f);
  Tensor bad = randF({B, S, 6});
  EXPECT_THROW(run("com.microsoft.MultiHeadAttention", {&q, &bad, &bad}, at), Error);
}
