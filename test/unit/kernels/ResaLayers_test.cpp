// resa's raised layer kernels (kernels/cpu/Layers.cpp) against naive
// references on random inputs, and against the onnx kernels they replace.
#include "TestUtil.h"

using namespace resa;
using namespace resa::test;

namespace {

// y[r, :] = x[r, :] W (+ b), in double.
std::vector<float> refMatmul(const Tensor &x, const Tensor &w, const Tensor *b = nullptr) {
  int64_t K = w.dim(0), N = w.dim(1), M = x.numel() / K;
  std::vector<float> y(size_t(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = b ? f(*b, j) : 0.0;
      for (int64_t k = 0; k < K; ++k) s += double(f(x, i * K + k)) * f(w, k * N + j);
      y[size_t(i * N + j)] = float(s);
    }
  return y;
}

std::vector<float> refNorm(const Tensor &x, const Tensor &w, const Tensor *b, bool rms, double eps,
                           double offset) {
  int64_t D = x.dim(x.rank() - 1), R = x.numel() / D;
  std::vector<float> y(size_t(x.numel()));
  for (int64_t r = 0; r < R; ++r) {
    double m = 0, v = 0;
    if (!rms) {
      for (int64_t c = 0; c < D; ++c) m += f(x, r * D + c);
      m /= D;
    }
    for (int64_t c = 0; c < D; ++c) v += (f(x, r * D + c) - m) * (f(x, r * D + c) - m);
    double inv = 1 / std::sqrt(v / D + eps);
    for (int64_t c = 0; c < D; ++c)
      y[size_t(r * D + c)] = float((f(x, r * D + c) - m) * inv * (f(w, c) + offset) + (b ? f(*b, c) : 0.0));
  }
  return y;
}

double act(const std::string &a, double v) {
  if (a == "silu") return v / (1 + std::exp(-v));
  if (a == "gelu") return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
  return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
}

Attrs attrs(std::initializer_list<std::pair<const char *, AttrValue>> kv) {
  Attrs a;
  for (auto &[k, v] : kv) a.set(k, v);
  return a;
}

} // namespace

TEST(ResaLayers, Embedding) {
  Tensor table = randF({10, 6});
  Tensor ids = make<int64_t>(DType::I64, {2, 3}, {0, 9, 3, -1, 5, -10});
  auto y = run("resa.embedding", {&table, &ids})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 6}));
  std::vector<float> want;
  for (int64_t id : {0, 9, 3, 9, 5, 0})
    for (int64_t c = 0; c < 6; ++c) want.push_back(f(table, id * 6 + c));
  expectClose(y, want, 0.f);
  Tensor ids32 = randI<int32_t>({4}, 0, 9);
  auto y32 = run("resa.embedding", {&table, &ids32})[0];
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t c = 0; c < 6; ++c) EXPECT_EQ(f(y32, i * 6 + c), f(table, ids32.intAt(i) * 6 + c));
  // Same as the Gather it replaces.
  Attrs ax = attrs({{"axis", int64_t(0)}});
  expectClose(y, floats(run("Gather", {&table, &ids}, ax)[0]), 0.f);
  Tensor bad = ints({10});
  EXPECT_THROW(run("resa.embedding", {&table, &bad}), Error);
  Tensor fids = randF({2});
  EXPECT_THROW(run("resa.embedding", {&table, &fids}), Error);
}

TEST(ResaLayers, RMSNorm) {
  Tensor x = randF({2, 5, 16}), w = randF({16});
  for (float offset : {0.f, 1.f}) {
    Attrs at = attrs({{"epsilon", 1e-6f}});
    if (offset != 0.f) at.set("weight_offset", offset);
    auto y = run("resa.rms_norm", {&x, &w}, at)[0];
    expectClose(y, refNorm(x, w, nullptr, true, 1e-6, offset), 1e-5f);
  }
  // Same as RMSNormalization.
  Attrs at = attrs({{"epsilon", 1e-5f}});
  expectClose(run("resa.rms_norm", {&x, &w}, at)[0], floats(run("RMSNormalization", {&x, &w}, at, 23)[0]), 0.f);
  Tensor bad = randF({15});
  EXPECT_THROW(run("resa.rms_norm", {&x, &bad}, at), Error);
}

TEST(ResaLayers, LayerNorm) {
  Tensor x = randF({3, 7, 12}), w = randF({12}), b = randF({12});
  Attrs at = attrs({{"epsilon", 1e-5f}});
  expectClose(run("resa.layer_norm", {&x, &w, &b}, at)[0], refNorm(x, w, &b, false, 1e-5, 0), 1e-5f);
  expectClose(run("resa.layer_norm", {&x, &w, nullptr}, at)[0], refNorm(x, w, nullptr, false, 1e-5, 0), 1e-5f);
  expectClose(run("resa.layer_norm", {&x, &w, &b}, at)[0],
              floats(run("LayerNormalization", {&x, &w, &b}, at)[0]), 0.f);
}

TEST(ResaLayers, LinearAndLogits) {
  Tensor x = randF({2, 3, 8}), w = randF({8, 5}), b = randF({5});
  auto y = run("resa.linear", {&x, &w, &b})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 5}));
  expectClose(y, refMatmul(x, w, &b), 1e-5f);
  // Bit-identical to MatMul (+ Add).
  auto mm = run("MatMul", {&x, &w})[0];
  expectClose(run("resa.linear", {&x, &w, nullptr})[0], floats(mm), 0.f);
  expectClose(y, floats(run("Add", {&mm, &b})[0]), 0.f);
  expectClose(run("resa.logits", {&x, &w})[0], floats(mm), 0.f);
  Tensor x2 = randF({4, 8});
  expectClose(run("resa.linear", {&x2, &w, &b})[0], refMatmul(x2, w, &b), 1e-5f);
  Tensor bad = randF({7, 5});
  EXPECT_THROW(run("resa.linear", {&x, &bad, nullptr}), Error);
  EXPECT_THROW(run("resa.logits", {&x, &bad}), Error);
}

TEST(ResaLayers, AddRmsNormIsAddThenNorm) {
  Tensor a = randF({2, 3, 8}), b = randF({2, 3, 8}), w = randF({8});
  Attrs at;
  at.set("epsilon", 1e-6f);
  at.set("weight_offset", 1.f);
  auto out = run("resa.add_rms_norm", {&a, &b, &w}, at, 18, 2);
  ASSERT_EQ(out.size(), 2u);
  Tensor sum = run("Add", {&a, &b})[0];
  expectClose(out[0], floats(sum), 0.f);
  expectClose(out[1], floats(run("resa.rms_norm", {&sum, &w}, at)[0]), 0.f);
  Tensor wide = randF({1, 3, 8});
  EXPECT_THROW(run("resa.add_rms_norm", {&a, &wide, &w}, at, 18, 2), Error);  // no broadcasting
}

// The fused projection + residual add + norm is bit-identical to its parts:
// a linear projection (one weight) and a gated MLP (fused and separate gate
// and up weights).
TEST(ResaLayers, ProjectionAddRmsNormIsProjectionThenAddNorm) {
  const int64_t K = 12, I = 6, N = 8;
  Tensor x = randF({2, 3, K}), w = randF({K, N}), r = randF({2, 3, N}), nw = randF({N});
  Tensor wg = randF({K, I}, -1, 1), wu = randF({K, I}, -1, 1), wd = randF({I, N}, -1, 1);
  Attrs at;
  at.set("epsilon", 1e-6f);
  at.set("weight_offset", 1.f);
  auto expectParts = [&](const Tensor &p, const std::vector<Tensor> &fused, const char *what) {
    ASSERT_EQ(fused.size(), 2u) << what;
    auto want = run("resa.add_rms_norm", {&r, &p, &nw}, at, 18, 2);
    expectClose(fused[0], floats(want[0]), 0.f, what);
    expectClose(fused[1], floats(want[1]), 0.f, what);
  };
  expectParts(run("resa.linear", {&x, &w})[0], run("resa.projection_add_rms_norm", {&x, &w, &r, &nw}, at, 18, 2),
              "linear");
  at.set("activation", std::string("gelu"));
  const Tensor mlp = run("resa.gated_mlp", {&x, &wg, &wu, &wd}, at)[0];
  expectParts(mlp, run("resa.projection_add_rms_norm", {&x, &wg, &wu, &wd, &r, &nw}, at, 18, 2), "gated MLP");
  Tensor wgu({DType::F32, {K, 2 * I}});
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < I; ++j) {
      wgu.data<float>()[k * 2 * I + j] = f(wg, k * I + j);
      wgu.data<float>()[k * 2 * I + I + j] = f(wu, k * I + j);
    }
  expectParts(mlp, run("resa.projection_add_rms_norm", {&x, &wgu, &wd, &r, &nw}, at, 18, 2), "fused gate-up");
  Tensor narrow = randF({2, 3, N - 1});
  EXPECT_THROW(run("resa.projection_add_rms_norm", {&x, &w, &narrow, &nw}, at, 18, 2), Error);
  EXPECT_THROW(run("resa.projection_add_rms_norm", {&x, &r, &nw}, at, 18, 2), Error);  // no weight
}

TEST(ResaLayers, MultiLinearIsEachLinear) {
  Tensor x = randF({2, 3, 8}), wq = randF({8, 6}), bq = randF({6}), wk = randF({8, 4}), wv = randF({8, 4});
  auto ys = run("resa.multi_linear", {&x, &wq, &bq, &wk, nullptr, &wv, nullptr}, {}, 18, 3);
  ASSERT_EQ(ys.size(), 3u);
  expectClose(ys[0], floats(run("resa.linear", {&x, &wq, &bq})[0]), 0.f);
  expectClose(ys[1], floats(run("resa.linear", {&x, &wk, nullptr})[0]), 0.f);
  expectClose(ys[2], floats(run("resa.linear", {&x, &wv, nullptr})[0]), 0.f);
  ASSERT_EQ(ys[2].shape(), (Shape{2, 3, 4}));
  Tensor bad = randF({7, 4}), badBias = randF({5});
  EXPECT_THROW(run("resa.multi_linear", {&x, &wq, nullptr, &bad, nullptr}), Error);
  EXPECT_THROW(run("resa.multi_linear", {&x, &wq, nullptr, &wk, &badBias}), Error);
  EXPECT_THROW(run("resa.multi_linear", {&x, &wq, nullptr}), Error);  // one projection
}

// The fused form: one weight holding the projections' columns side by side,
// split by widths, and each projection's bias (or none); each output exactly
// what resa.linear of its own columns and bias gives (the same products,
// read through the wider row).
TEST(ResaLayers, FusedMultiLinearIsEachLinear) {
  const std::vector<int64_t> widths = {6, 4, 4};
  Tensor x = randF({2, 3, 8}), w = randF({8, 14}), bq = randF({6}), bv = randF({4});
  const Tensor *biases[] = {&bq, nullptr, &bv};
  Attrs at;
  at.set("widths", widths);
  auto ys = run("resa.multi_linear", {&x, &w, &bq, nullptr, &bv}, at, 18, 3);
  ASSERT_EQ(ys.size(), 3u);
  int64_t offset = 0;
  for (size_t i = 0; i < widths.size(); ++i) {
    Tensor wi(DType::F32, {8, widths[i]});
    for (int64_t r = 0; r < 8; ++r)
      for (int64_t c = 0; c < widths[i]; ++c) wi.data<float>()[r * widths[i] + c] = w.data<float>()[r * 14 + offset + c];
    ASSERT_EQ(ys[i].shape(), (Shape{2, 3, widths[i]}));
    expectClose(ys[i], floats(run("resa.linear", {&x, &wi, biases[i]})[0]), 0.f);
    offset += widths[i];
  }
  Attrs bad;
  bad.set("widths", std::vector<int64_t>{6, 4, 5});
  EXPECT_THROW(run("resa.multi_linear", {&x, &w, nullptr, nullptr, nullptr}, bad, 18, 3), Error); // 15 != 14
  Attrs one;
  one.set("widths", std::vector<int64_t>{14});
  EXPECT_THROW(run("resa.multi_linear", {&x, &w, nullptr}, one, 18, 1), Error); // one projection
  EXPECT_THROW(run("resa.multi_linear", {&x, &w, nullptr}, at, 18, 3), Error);  // a bias per width
  EXPECT_THROW(run("resa.multi_linear", {&x, &w, &bv, nullptr, &bv}, at, 18, 3), Error); // bias 0 is 6 wide
}

// resa.multi_rotary: each output is resa.rotary of its tensor with its own
// num_heads (q with 4 heads in [B, H, S, D], k with 2 in [B, S, H*D]).
TEST(ResaLayers, MultiRotaryIsEachRotary) {
  const int64_t B = 2, S = 3, D = 8;
  Tensor q = randF({B, 4, S, D}), k = randF({B, S, 2 * D}), cos = randF({1, S, D / 2}), sin = randF({1, S, D / 2});
  Attrs at;
  at.set("num_heads", std::vector<int64_t>{4, 2});
  at.set("rotary_dim", int64_t(D));
  at.set("interleaved", int64_t(1));
  auto ys = run("resa.multi_rotary", {&cos, &sin, &q, &k}, at, 18, 2);
  ASSERT_EQ(ys.size(), 2u);
  expectClose(ys[0], floats(run("resa.rotary", {&q, &cos, &sin},
                                attrs({{"num_heads", int64_t(4)}, {"rotary_dim", D}, {"interleaved", int64_t(1)}}))[0]),
              0.f);
  expectClose(ys[1], floats(run("resa.rotary", {&k, &cos, &sin},
                                attrs({{"num_heads", int64_t(2)}, {"rotary_dim", D}, {"interleaved", int64_t(1)}}))[0]),
              0.f);
  Attrs bad = at;
  bad.set("num_heads", std::vector<int64_t>{4});
  EXPECT_THROW(run("resa.multi_rotary", {&cos, &sin, &q, &k}, bad, 18, 2), Error); // a num_heads per tensor
  bad.set("num_heads", std::vector<int64_t>{4, 3});
  EXPECT_THROW(run("resa.multi_rotary", {&cos, &sin, &q, &k}, bad, 18, 2), Error); // 16 wide, 3 heads
}

// Reference rotation: pairs (i1, i2), full or half cos/sin, any layout.
TEST(ResaLayers, Rotary) {
  const int64_t B = 2, H = 3, S = 4, D = 8;
  for (int64_t rank : {4, 3})
    for (int64_t rot : {8, 4})
      for (bool full : {true, false})
        for (int64_t inter : {0, 1})
          for (bool bcast : {true, false}) {
            Tensor x = rank == 4 ? randF({B, H, S, D}) : randF({B, S, H * D});
            int64_t W = full ? rot : rot / 2, Bc = bcast ? 1 : B;
            Tensor cos = randF({Bc, S, W}), sin = randF({Bc, S, W});
            Attrs at = attrs({{"num_heads", H}, {"rotary_dim", rot}, {"interleaved", inter}});
            auto y = run("resa.rotary", {&x, &cos, &sin}, at)[0];
            std::vector<float> want(floats(x));
            for (int64_t b = 0; b < B; ++b)
              for (int64_t h = 0; h < H; ++h)
                for (int64_t s = 0; s < S; ++s) {
                  int64_t off = rank == 4 ? ((b * H + h) * S + s) * D : (b * S + s) * H * D + h * D;
                  int64_t row = ((bcast ? 0 : b) * S + s) * W;
                  for (int64_t i = 0; i < rot / 2; ++i) {
                    int64_t i1 = inter ? 2 * i : i, i2 = inter ? 2 * i + 1 : i + rot / 2;
                    int64_t c1 = full ? i1 : i, c2 = full ? i2 : i;
                    double x1 = f(x, off + i1), x2 = f(x, off + i2);
                    want[size_t(off + i1)] = float(x1 * f(cos, row + c1) - x2 * f(sin, row + c1));
                    want[size_t(off + i2)] = float(x2 * f(cos, row + c2) + x1 * f(sin, row + c2));
                  }
                }
            expectClose(y, want, 1e-5f);
          }
  // Half-width cos/sin at positions: same as RotaryEmbedding-23 without position_ids.
  Tensor x = randF({B, H, S, D}), cos = randF({B, S, D / 2}), sin = randF({B, S, D / 2});
  Attrs at = attrs({{"num_heads", H}, {"rotary_dim", D}, {"interleaved", int64_t(0)}});
  Attrs onnxAt = attrs({{"num_heads", H}});
  expectClose(run("resa.rotary", {&x, &cos, &sin}, at)[0],
              floats(run("RotaryEmbedding", {&x, &cos, &sin}, onnxAt, 23)[0]), 0.f);
  // Full-width cos/sin: the rotate-half decomposition, op by op.
  Tensor cf = randF({1, S, D}), sf = randF({1, S, D});
  auto y = run("resa.rotary", {&x, &cf, &sf}, at)[0];
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t d = i % D, s = (i / D) % S, pair = d < D / 2 ? i + D / 2 : i - D / 2;
    float rot = d < D / 2 ? -f(x, pair) : f(x, pair);
    float want = f(x, i) * f(cf, s * D + d) + rot * f(sf, s * D + d);
    ASSERT_EQ(f(y, i), want) << i;
  }
  Tensor badCos = randF({1, S, 3});
  EXPECT_THROW(run("resa.rotary", {&x, &badCos, &badCos}, at), Error);
  Tensor otherS = randF({1, S + 1, D});
  EXPECT_THROW(run("resa.rotary", {&x, &otherS, &otherS}, at), Error);
}

TEST(ResaLayers, GatedMLP) {
  const int64_t K = 8, I = 6, N = 5;
  Tensor x = randF({2, 3, K}), wg = randF({K, I}, -1, 1), wu = randF({K, I}, -1, 1), wd = randF({I, N}, -1, 1);
  Tensor wgu({DType::F32, {K, 2 * I}});
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < I; ++j) {
      wgu.data<float>()[k * 2 * I + j] = f(wg, k * I + j);
      wgu.data<float>()[k * 2 * I + I + j] = f(wu, k * I + j);
    }
  auto g = refMatmul(x, wg), u = refMatmul(x, wu);
  for (std::string a : {"silu", "gelu_tanh", "gelu"}) {
    std::vector<float> h(g.size());
    for (size_t i = 0; i < g.size(); ++i) h[i] = float(act(a, g[i]) * u[i]);
    Tensor ht = make<float>(DType::F32, {6, I}, h);
    auto want = refMatmul(ht, wd);
    Attrs at = attrs({{"activation", a}});
    auto y = run("resa.gated_mlp", {&x, &wg, &wu, &wd}, at)[0];
    ASSERT_EQ(y.shape(), (Shape{2, 3, N}));
    expectClose(y, want, 1e-4f, a.c_str());
    expectClose(run("resa.gated_mlp", {&x, &wgu, &wd}, at)[0], floats(y), 0.f, "fused");
  }
  // SiLU bit-identical to MatMul, Sigmoid, Mul, Mul, MatMul.
  auto mg = run("MatMul", {&x, &wg})[0], mu = run("MatMul", {&x, &wu})[0];
  auto sg = run("Sigmoid", {&mg})[0];
  auto silu = run("Mul", {&mg, &sg})[0];
  auto prod = run("Mul", {&silu, &mu})[0];
  Attrs silu_at = attrs({{"activation", std::string("silu")}});
  expectClose(run("resa.gated_mlp", {&x, &wg, &wu, &wd}, silu_at)[0], floats(run("MatMul", {&prod, &wd})[0]), 0.f);
  // Many rows (more than one block of 64).
  Tensor big = randF({3, 50, K});
  auto yb = run("resa.gated_mlp", {&big, &wg, &wu, &wd}, silu_at)[0];
  auto bg = refMatmul(big, wg), bu = refMatmul(big, wu);
  std::vector<float> bh(bg.size());
  for (size_t i = 0; i < bg.size(); ++i) bh[i] = float(act("silu", bg[i]) * bu[i]);
  Tensor bht = make<float>(DType::F32, {150, I}, bh);
  expectClose(yb, refMatmul(bht, wd), 1e-4f);
  Attrs badAct = attrs({{"activation", std::string("relu")}});
  EXPECT_THROW(run("resa.gated_mlp", {&x, &wg, &wu, &wd}, badAct), Error);
  Tensor badDown = randF({I + 1, N});
  EXPECT_THROW(run("resa.gated_mlp", {&x, &wg, &wu, &badDown}, silu_at), Error);
}
