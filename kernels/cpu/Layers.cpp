// resa's raised layer ops (dialects/resa/ResaLayerOps.td): embedding,
// rms_norm, layer_norm, linear, logits, rotary, gated_mlp (and
// projection_add_rms_norm, a projection then add_rms_norm). Each reproduces
// the onnx ops it replaces: projections accumulate in fp32 in MatMul's
// order (bit-identical to MatMul [+ Add]), norm statistics are taken in
// double as the Normalization kernels do, the rotation and the activations
// are the fp32 expressions the graphs compute.
#include "Common.h"
#include "resa/kernels/OpShapes.h"
#include "NormRows.h"
#include "Ops.h"

#include <algorithm>
#include <cmath>

namespace resa::cpu {
namespace {

// Rows of width `cols` before the last axis.
int64_t rowsOf(const Tensor &x) { return x.rank() && x.dim(x.rank() - 1) ? x.numel() / x.dim(x.rank() - 1) : 0; }

Shape withLast(const Shape &s, int64_t last) {
  Shape out = s;
  out.back() = last;
  return out;
}

// y[M, N] = x[M, K] w[K, N] (+ b[N]); w is row-major with leading dimension
// ldw (columns [0, N) of a wider matrix when ldw > N). Same i-k-j fp32
// accumulation as the MatMul kernel, then the bias added once.
void project(const float *x, int64_t M, int64_t K, const float *w, int64_t ldw, int64_t N, const float *b, float *y) {
  std::fill(y, y + M * N, 0.f);
  for (int64_t i = 0; i < M; ++i) {
    float *yr = y + i * N;
    for (int64_t k = 0; k < K; ++k) {
      float av = x[i * K + k];
      const float *wr = w + k * ldw;
      for (int64_t j = 0; j < N; ++j) yr[j] += av * wr[j];
    }
    if (b)
      for (int64_t j = 0; j < N; ++j) yr[j] += b[j];
  }
}

// A 2-D float weight [rows, cols] whose rows must equal `in`.
void checkWeight(const char *op, const Tensor &w, int64_t in, const char *what) {
  requireDType(op, w, DType::F32, what);
  if (w.rank() != 2) fail(op, what, " must be 2-D, got ", shapeToString(w.shape()));
  if (w.dim(0) != in) fail(op, what, " ", shapeToString(w.shape()), " does not take inputs of width ", in);
}

const Tensor &inputX(const char *op, const KernelArgs &args) {
  const Tensor &x = args.required(0);
  requireDType(op, x, DType::F32, "x");
  if (x.rank() < 1) fail(op, "x must have rank >= 1");
  return x;
}

// Input i as a projection's bias of n floats, or null when absent.
const Tensor *biasInput(const char *op, const KernelArgs &args, size_t i, int64_t n) {
  const Tensor *b = args.input(i);
  if (b) {
    requireDType(op, *b, DType::F32, "bias");
    if (b->numel() != n) fail(op, "bias ", shapeToString(b->shape()), " does not match ", n, " outputs");
  }
  return b;
}

// Output `out` = x W (+ b): W is input `w`, b input `w + 1` when `hasBias`
// (absent or not).
void linearLike(const char *op, const KernelArgs &args, std::vector<Tensor> &outputs, size_t w,
                bool hasBias, size_t out) {
  const Tensor &x = inputX(op, args);
  int64_t K = x.dim(x.rank() - 1);
  const Tensor &weight = args.required(w);
  checkWeight(op, weight, K, "weight");
  int64_t N = weight.dim(1);
  const Tensor *b = hasBias ? biasInput(op, args, w + 1, N) : nullptr;
  Tensor &y = allocOutput(outputs, args, out, DType::F32, withLast(x.shape(), N));
  project(x.data<float>(), rowsOf(x), K, weight.data<float>(), N, N, b ? b->data<float>() : nullptr,
          y.data<float>());
}

// The per-column parameter of a norm: [cols] floats.
const float *normParam(const char *op, const Tensor *t, int64_t cols, const char *what) {
  if (!t) return nullptr;
  requireDType(op, *t, DType::F32, what);
  if (t->numel() != cols) fail(op, what, " ", shapeToString(t->shape()), " does not match width ", cols);
  return t->data<float>();
}


// y = rms_norm(x) with the weight in input `weightIndex` and the op's
// epsilon and weight_offset (Gemma's 1 + w, added in fp32 as the graph adds it).
void rmsNormInto(const char *op, const Tensor &x, const KernelArgs &args, size_t weightIndex, Tensor &y) {
  int64_t cols = x.dim(x.rank() - 1);
  const Attrs &at = attrsOf(args);
  const float *w = normParam(op, &args.required(weightIndex), cols, "weight");
  float offset = at.getFloat("weight_offset", 0.f);
  std::vector<float> shifted;
  if (offset != 0.f) {
    shifted.assign(w, w + cols);
    for (float &v : shifted) v += offset;
    w = shifted.data();
  }
  normalizeRows(x.data<float>(), y.data<float>(), rowsOf(x), cols, true, at.getFloat("epsilon", 1e-5f),
                Param::columns(w, cols), Param(), nullptr, nullptr);
}

float sigmoidF(float x) {
  if (x >= 0) return 1.f / (1.f + std::exp(-x));
  float e = std::exp(x);
  return e / (1.f + e);
}
float geluErfF(float x) { return 0.5f * x * (1.f + std::erf(x * float(M_SQRT1_2))); }
float geluTanhF(float x) {
  const float c = float(0.7978845608028654); // sqrt(2/pi)
  return 0.5f * x * (1.f + std::tanh(c * (x + 0.044715f * x * x * x)));
}

} // namespace

namespace k {

// table [V, D], ids (int64/int32, any shape) -> ids.shape + [D].
RESA_KERNEL(resa_embedding) {
  const char *op = "resa.embedding";
  const Tensor &table = args.required(0), &ids = args.required(1);
  requireDType(op, table, DType::F32, "table");
  if (table.rank() != 2) fail(op, "table must be 2-D, got ", shapeToString(table.shape()));
  if (ids.dtype() != DType::I64 && ids.dtype() != DType::I32)
    fail(op, "ids must be int64 or int32, got ", dtypeName(ids.dtype()));
  int64_t V = table.dim(0), D = table.dim(1);
  Shape out = ids.shape();
  out.push_back(D);
  Tensor &y = allocOutput(outputs, args, 0, DType::F32, out);
  std::vector<int64_t> idx = ids.toInts();
  const float *t = table.data<float>();
  float *py = y.data<float>();
  for (size_t i = 0; i < idx.size(); ++i) {
    int64_t v = idx[i];
    if (v < -V || v >= V) fail(op, "id ", v, " outside the table of ", V, " rows");
    if (v < 0) v += V;
    std::memcpy(py + int64_t(i) * D, t + v * D, sizeof(float) * size_t(D));
  }
}

// x [..., D], weight [D]; epsilon, weight_offset.
RESA_KERNEL(resa_rms_norm) {
  const char *op = "resa.rms_norm";
  const Tensor &x = inputX(op, args);
  rmsNormInto(op, x, args, 1, allocOutput(outputs, args, 0, DType::F32, x.shape()));
}

// a, b [..., D] (one shape), weight [D]; epsilon, weight_offset -> sum =
// a + b, and resa.rms_norm of the sum: bit-identical to Add then the norm.
RESA_KERNEL(resa_add_rms_norm) {
  const char *op = "resa.add_rms_norm";
  const Tensor &a = inputX(op, args);
  const Tensor &b = args.required(1);
  requireDType(op, b, DType::F32, "b");
  if (b.shape() != a.shape())
    fail(op, "a ", shapeToString(a.shape()), " and b ", shapeToString(b.shape()), " differ (no broadcasting)");
  Tensor &sum = allocOutput(outputs, args, 0, DType::F32, a.shape());
  const float *pa = a.data<float>(), *pb = b.data<float>();
  float *ps = sum.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) ps[i] = pa[i] + pb[i];
  Tensor &y = allocOutput(outputs, args, 1, DType::F32, a.shape());
  rmsNormInto(op, outputs[0], args, 2, y);
}

// x [..., D], weight [D], [bias [D]]; epsilon.
RESA_KERNEL(resa_layer_norm) {
  const char *op = "resa.layer_norm";
  const Tensor &x = inputX(op, args);
  int64_t cols = x.dim(x.rank() - 1);
  const float *w = normParam(op, &args.required(1), cols, "weight");
  const float *b = normParam(op, args.input(2), cols, "bias");
  Tensor &y = allocOutput(outputs, args, 0, DType::F32, x.shape());
  normalizeRows(x.data<float>(), y.data<float>(), rowsOf(x), cols, false,
                attrsOf(args).getFloat("epsilon", 1e-5f), Param::columns(w, cols), Param::columns(b, cols),
                nullptr, nullptr);
}

// x [..., K], weight [K, N], [bias [N]] -> [..., N].
RESA_KERNEL(resa_linear) { linearLike("resa.linear", args, outputs, 1, true, 0); }

// The fused form: x [..., K], weight [K, sum N_i], the widths N_i and a bias
// [N_i] (or none) per output -> output i [..., N_i], the columns after N_1 +
// ... + N_{i-1}: each computed as resa.linear would from its own weight.
void fusedMultiLinear(const char *op, const KernelArgs &args, std::vector<Tensor> &outputs,
                      const std::vector<int64_t> &widths) {
  const Tensor &x = inputX(op, args);
  const int64_t K = x.dim(x.rank() - 1);
  const Tensor &weight = args.required(1);
  checkWeight(op, weight, K, "weight");
  const int64_t N = weight.dim(1);
  checkFusedWidths(op, widths, args.inputs.size(), N);
  int64_t offset = 0;
  for (size_t i = 0; i < widths.size(); ++i) {
    const Tensor *b = biasInput(op, args, 2 + i, widths[i]);
    Tensor &y = allocOutput(outputs, args, i, DType::F32, withLast(x.shape(), widths[i]));
    project(x.data<float>(), rowsOf(x), K, weight.data<float>() + offset, N, widths[i],
            b ? b->data<float>() : nullptr, y.data<float>());
    offset += widths[i];
  }
}

// x [..., K], (weight_i [K, N_i], bias_i [N_i] or none) for each output i ->
// output i [..., N_i]: resa.linear of each pair. With `widths`, the fused
// form (fusedMultiLinear).
RESA_KERNEL(resa_multi_linear) {
  const char *op = "resa.multi_linear";
  if (const std::vector<int64_t> widths = attrsOf(args).getInts("widths"); !widths.empty())
    return fusedMultiLinear(op, args, outputs, widths);
  if (args.inputs.size() < 5 || args.inputs.size() % 2 == 0)
    fail(op, "takes x and a (weight, bias or none) pair per output, >= 2 pairs; got ",
         args.inputs.size(), " inputs");
  for (size_t i = 0; 2 * i + 1 < args.inputs.size(); ++i)
    linearLike(op, args, outputs, 1 + 2 * i, true, i);
}

// x [..., K], weight [K, V] -> [..., V].
RESA_KERNEL(resa_logits) { linearLike("resa.logits", args, outputs, 1, false, 0); }

// y = x rotated: x [B, H, S, D] or [B, S, H*D]; cos, sin [Bc, Sc, W], Bc in
// {1, B}, Sc in {1, S}, W = rotary_dim (full) or rotary_dim / 2 (half).
void rotaryInto(const char *op, const Tensor &x, const Tensor &cos, const Tensor &sin, int64_t H, int64_t rot,
                bool inter, Tensor &y) {
  requireDType(op, x, DType::F32, "x");
  requireDType(op, cos, DType::F32, "cos");
  requireDType(op, sin, DType::F32, "sin");
  int64_t B, S, D, sb, ss, sh;
  if (x.rank() == 4) {
    B = x.dim(0), S = x.dim(2), D = x.dim(3);
    if (x.dim(1) != H) fail(op, "x ", shapeToString(x.shape()), " does not have num_heads = ", H, " heads");
    sh = S * D, ss = D, sb = H * S * D;
  } else if (x.rank() == 3) {
    B = x.dim(0), S = x.dim(1);
    if (H <= 0 || x.dim(2) % H) fail(op, "width ", x.dim(2), " is not a multiple of num_heads = ", H);
    D = x.dim(2) / H;
    sh = D, ss = H * D, sb = S * H * D;
  } else {
    fail(op, "x must be 3-D or 4-D, got ", shapeToString(x.shape()));
  }
  if (rot <= 0 || rot % 2 || rot > D) fail(op, "rotary_dim ", rot, " invalid for head size ", D);
  if (cos.shape() != sin.shape()) fail(op, "cos and sin shapes differ");
  if (cos.rank() != 3) fail(op, "cos must be 3-D, got ", shapeToString(cos.shape()));
  int64_t Bc = cos.dim(0), Sc = cos.dim(1), W = cos.dim(2), half = rot / 2;
  if ((Bc != 1 && Bc != B) || (Sc != 1 && Sc != S) || (W != rot && W != half))
    fail(op, "cos ", shapeToString(cos.shape()), " does not fit x ", shapeToString(x.shape()), " with rotary_dim ",
         rot);
  bool full = W == rot && W != half;
  const float *px = x.data<float>(), *pc = cos.data<float>(), *ps = sin.data<float>();
  float *py = y.data<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s) {
      int64_t row = ((Bc == 1 ? 0 : b) * Sc + (Sc == 1 ? 0 : s)) * W;
      const float *c = pc + row, *sn = ps + row;
      for (int64_t h = 0; h < H; ++h) {
        int64_t off = b * sb + s * ss + h * sh;
        const float *xh = px + off;
        float *yh = py + off;
        for (int64_t i = 0; i < half; ++i) {
          int64_t i1 = inter ? 2 * i : i, i2 = inter ? 2 * i + 1 : i + half;
          int64_t c1 = full ? i1 : i, c2 = full ? i2 : i;
          float x1 = xh[i1], x2 = xh[i2];
          yh[i1] = x1 * c[c1] - x2 * sn[c1];
          yh[i2] = x2 * c[c2] + x1 * sn[c2];
        }
        if (D > rot) std::memcpy(yh + rot, xh + rot, sizeof(float) * size_t(D - rot));
      }
    }
}

// x, cos, sin (rotaryInto); num_heads, rotary_dim, interleaved.
RESA_KERNEL(resa_rotary) {
  const char *op = "resa.rotary";
  const Tensor &x = args.required(0);
  const Attrs &at = attrsOf(args);
  Tensor &y = allocOutput(outputs, args, 0, DType::F32, x.shape());
  rotaryInto(op, x, args.required(1), args.required(2), at.requireInt("num_heads"), at.requireInt("rotary_dim"),
             at.getInt("interleaved", 0) != 0, y);
}

// cos, sin, then x_1 ... x_n; num_heads [n], rotary_dim, interleaved: output
// i is resa.rotary of x_i with num_heads[i].
RESA_KERNEL(resa_multi_rotary) {
  const char *op = "resa.multi_rotary";
  const Attrs &at = attrsOf(args);
  const std::vector<int64_t> heads = at.getInts("num_heads");
  if (args.inputs.size() < 4 || heads.size() != args.inputs.size() - 2)
    fail(op, "takes cos, sin and >= 2 tensors with a num_heads each; got ", args.inputs.size(), " inputs and ",
         heads.size(), " num_heads");
  const int64_t rot = at.requireInt("rotary_dim");
  const bool inter = at.getInt("interleaved", 0) != 0;
  for (size_t i = 0; i < heads.size(); ++i) {
    const Tensor &x = args.required(2 + i);
    Tensor &y = allocOutput(outputs, args, i, DType::F32, x.shape());
    rotaryInto(op, x, args.required(0), args.required(1), heads[i], rot, inter, y);
  }
}

// x [..., K]; (gate [K, I], up [K, I], down [I, N]) or (gate_up [K, 2I],
// down [I, N]); activation silu | gelu_tanh | gelu.
RESA_KERNEL(resa_gated_mlp) {
  const char *op = "resa.gated_mlp";
  const Tensor &x = inputX(op, args);
  int64_t K = x.dim(x.rank() - 1), M = rowsOf(x);
  bool fused = args.inputs.size() == 3;
  if (!fused && args.inputs.size() != 4) fail(op, "takes x and (gate, up, down) or (gate_up, down) weights");
  const Tensor &g = args.required(1);
  checkWeight(op, g, K, "gate weight");
  int64_t I = fused ? g.dim(1) / 2 : g.dim(1);
  if (fused && g.dim(1) % 2) fail(op, "fused gate_up weight has an odd width ", g.dim(1));
  const float *wg = g.data<float>(), *wu = wg + I;
  int64_t ld = fused ? 2 * I : I;
  if (!fused) {
    const Tensor &u = args.required(2);
    checkWeight(op, u, K, "up weight");
    if (u.dim(1) != I) fail(op, "gate and up weights have different widths");
    wu = u.data<float>();
  }
  const Tensor &d = args.required(fused ? 2 : 3);
  checkWeight(op, d, I, "down weight");
  int64_t N = d.dim(1);
  std::string act = attrsOf(args).getString("activation", "silu");
  float (*f)(float) = act == "silu" ? +[](float v) { return v * sigmoidF(v); }
                      : act == "gelu_tanh" ? geluTanhF
                      : act == "gelu"      ? geluErfF
                                           : nullptr;
  if (!f) fail(op, "unknown activation '", act, "'");
  Tensor &y = allocOutput(outputs, args, 0, DType::F32, withLast(x.shape(), N));
  // Row blocks keep the intermediates small.
  const int64_t block = 64;
  std::vector<float> hg(size_t(block * I)), hu(size_t(block * I));
  for (int64_t r0 = 0; r0 < M; r0 += block) {
    int64_t m = std::min(block, M - r0);
    const float *xr = x.data<float>() + r0 * K;
    project(xr, m, K, wg, ld, I, nullptr, hg.data());
    project(xr, m, K, wu, ld, I, nullptr, hu.data());
    for (int64_t i = 0; i < m * I; ++i) hg[size_t(i)] = f(hg[size_t(i)]) * hu[size_t(i)];
    project(hg.data(), m, I, d.data<float>(), N, N, nullptr, y.data<float>() + r0 * N);
  }
}

// x, weights, residual, norm_weight; epsilon, weight_offset, activation ->
// (sum, result): resa.add_rms_norm(residual, p) of the projection p =
// resa.linear(x, W) (one weight) or resa.gated_mlp(x, weights...) (two or
// three), computed by those kernels: bit-identical to the ops it fuses.
RESA_KERNEL(resa_projection_add_rms_norm) {
  const char *op = "resa.projection_add_rms_norm";
  const size_t n = args.inputs.size();
  if (n < 4 || n > 6) fail(op, "takes x, 1 to 3 weights, the residual and the norm weight; got ", n, " inputs");
  KernelArgs proj = args;
  proj.inputs.clear();
  for (size_t i = 0; i + 2 < n; ++i) proj.inputs.push_back(args.inputs[i]);
  proj.numOutputs = 1;
  std::vector<Tensor> p;
  if (n == 4) {
    proj.inputs.push_back(nullptr); // resa.linear's bias: none
    k_resa_linear(proj, p);
  } else {
    k_resa_gated_mlp(proj, p);
  }
  KernelArgs norm = args;
  norm.inputs = {args.inputs[n - 2], &p.at(0), args.inputs[n - 1]};
  k_resa_add_rms_norm(norm, outputs);
}

} // namespace k
} // namespace resa::cpu
