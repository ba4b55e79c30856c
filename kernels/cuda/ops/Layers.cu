// resa's layer ops on the device: the registry entries of every layer
// kernel, and the projections (resa.linear, resa.logits, resa.gated_mlp,
// resa.projection_add_rms_norm) on cuBLASLt (resa/cuda/Gemm.h). The other
// families live in LayerNorm.cu, LayerRotary.cu and LayerEmbedding.cu.
//
// A GEMM takes both operands in the weight's dtype (weights stay as the
// package stored them; an activation of another float type is converted
// first) and writes that dtype or F32; an output of a third type goes
// through an fp32 scratch and a conversion.
#include "Convert.h"
#include "LayerKernels.h"
#include "resa/cuda/Gemm.h"
#include "resa/kernels/OpShapes.h"

#include <cmath>
#include <cstdint>
#include <string>

namespace resa::gpu::ops::layers {
namespace {

// A 2-D float weight [rows, cols] whose rows must equal `in`.
void checkWeight(const char *op, const DeviceTensor &w, int64_t in, const char *what) {
  if (!isFloatDType(w.dtype())) fail(op, what, " must be float32, bfloat16 or float16, got ", dtypeName(w.dtype()));
  if (w.rank() != 2) fail(op, what, " must be 2-D, got ", shapeToString(w.shape()));
  if (w.dim(0) != in) fail(op, what, " ", shapeToString(w.shape()), " does not take inputs of width ", in);
}

const DeviceTensor &inputX(const char *op, const DeviceKernelArgs &args) {
  const DeviceTensor &x = floatInput(op, args, 0, "x");
  if (x.rank() < 1) fail(op, "x must have rank >= 1");
  return x;
}

Shape withLast(const Shape &s, int64_t last) {
  Shape out = s;
  out.back() = last;
  return out;
}

// `src` as dtype `to`: src's own bytes, or a converted copy kept in `keep`.
const void *asDType(DeviceContext &ctx, const DeviceTensor &src, DType to, DeviceTensor &keep) {
  if (src.dtype() == to) return src.raw();
  keep = ctx.alloc->allocate(to, src.shape());
  convertOnDevice(src.raw(), src.dtype(), keep.raw(), to, src.numel(), ctx.stream);
  return keep.raw();
}

// y [M, N] = x [M, K] w[:, col0 : col0 + N] (+ bias [N]); x is in w's
// dtype, y (a whole contiguous tensor) in any float dtype.
void projectColumnsInto(DeviceContext &ctx, const void *x, int64_t M, int64_t K, const DeviceTensor &w,
                        int64_t col0, int64_t N, const DeviceTensor *bias, DeviceTensor &y) {
  const DType gemmOut = y.dtype() == w.dtype() || y.dtype() == DType::F32 ? y.dtype() : DType::F32;
  DeviceTensor wide, biasCopy;
  GemmArgs g;
  g.M = M, g.N = N, g.K = K;
  g.x = x, g.ldx = K;
  g.w = static_cast<const char *>(w.raw()) + col0 * int64_t(dtypeSize(w.dtype())), g.ldw = w.dim(1);
  g.inType = w.dtype();
  g.outType = gemmOut;
  if (gemmOut != y.dtype()) wide = ctx.alloc->allocate(DType::F32, {M, N});
  g.y = gemmOut == y.dtype() ? y.raw() : wide.raw();
  g.ldy = N;
  if (bias) g.bias = asDType(ctx, *bias, gemmOut, biasCopy);
  gemm(ctx, g);
  if (gemmOut != y.dtype()) convertOnDevice(wide.raw(), DType::F32, y.raw(), y.dtype(), M * N, ctx.stream);
}

// y [M, N] = x [M, K] w [K, N] (+ bias [N]), as projectColumnsInto.
void projectInto(DeviceContext &ctx, const void *x, int64_t M, int64_t K, const DeviceTensor &w,
                 const DeviceTensor *bias, DeviceTensor &y) {
  projectColumnsInto(ctx, x, M, K, w, 0, w.dim(1), bias, y);
}

// parts [slices][M][N] = the products of x's and w's slices of the inner
// dimension K (cuBLASLt's strided batch; the slices' count is parts' first
// dim), in parts' dtype: fp32, or w's where there is one slice. x is in w's
// dtype. The kernel after sums them (the norm, the rotary append).
void projectSlicesInto(DeviceContext &ctx, const void *x, int64_t M, int64_t K, const DeviceTensor &w,
                       DeviceTensor &parts) {
  GemmArgs g;
  g.M = M, g.N = w.dim(1), g.K = K;
  g.x = x, g.ldx = K;
  g.w = w.raw(), g.ldw = w.dim(1);
  g.inType = w.dtype();
  g.outType = parts.dtype();
  g.y = parts.raw(), g.ldy = w.dim(1);
  g.kSplit = static_cast<int>(parts.dim(0));
  gemm(ctx, g);
}

// x in a weight's dtype for the GEMMs, converted at most once per dtype
// (resa.multi_linear's projections share it).
struct GemmInput {
  explicit GemmInput(const DeviceTensor &x) : x(x) {}
  const DeviceTensor &x;
  DeviceTensor copy;
  const void *data = nullptr;
  DType type = DType::F32;
  const void *as(DeviceContext &ctx, DType to) {
    if (!data || type != to) {
      data = asDType(ctx, x, to, copy);
      type = to;
    }
    return data;
  }
};

// Input i as a projection's bias of n floats, or null when absent.
const DeviceTensor *biasInput(const char *op, const DeviceKernelArgs &args, size_t i, int64_t n) {
  const DeviceTensor *b = args.input(i);
  if (b) {
    floatInput(op, args, i, "bias");
    if (b->numel() != n) fail(op, "bias ", shapeToString(b->shape()), " does not match ", n, " outputs");
  }
  return b;
}

// Output `out` = x W (+ b), W input `w`, b input `w + 1` when `hasBias`
// (present or not), in `outType`.
void projection(const char *op, const DeviceKernelArgs &args, Outputs &outputs, GemmInput &in,
                size_t w, bool hasBias, size_t out, DType outType) {
  const DeviceTensor &x = in.x;
  const int64_t K = x.dim(x.rank() - 1), M = rowsOf(x);
  const DeviceTensor &weight = args.required(w);
  checkWeight(op, weight, K, "weight");
  const int64_t N = weight.dim(1);
  const DeviceTensor *b = hasBias ? biasInput(op, args, w + 1, N) : nullptr;
  DeviceTensor &y = allocOutput(outputs, args, out, outType, withLast(x.shape(), N));
  if (M == 0 || N == 0) return;
  DeviceContext &ctx = contextOf(args);
  projectInto(ctx, in.as(ctx, weight.dtype()), M, K, weight, b, y);
}

// x [..., K], weight [K, N], [bias [N]] -> [..., N] in x's dtype (linear),
// or x [..., K], weight [K, V] -> fp32 logits [..., V] (logits).
void linearLike(const char *op, const DeviceKernelArgs &args, Outputs &outputs, bool logits) {
  GemmInput in(inputX(op, args));
  projection(op, args, outputs, in, 1, !logits, 0, logits ? DType::F32 : in.x.dtype());
}

// The rows from which the gated activation takes 16 bytes a thread and the
// fused projection runs a GEMM per output: a prefill's; a decode step's few
// rows want every element its own thread (vectors there cost ~1 us a call,
// session 16) and one GEMM over the fused weight.
constexpr int64_t kVecMinRows = 64;

// SlicedOutputs' outputs, summed: element (r, c) of the [M, N] product is the
// sum of parts[s][r][c] over the slices (fp32; or one product already in T),
// plus its block's bias, rounded to T. Rows along the grid's y, columns
// along x (rowGridFor): no index division. Slices: the count where fixed at
// compile time (1: a biased projection's one product, whose copy ran 0.7 us
// a call slower with the runtime count's loop, Qwen2.5-7B shape 8x16K +35 us
// a step; as fast as before the slices with it, session 19), or 0 (`slices`).
template <typename T> struct ColumnBlocks {
  T *y[SlicedOutputs::kMaxOutputs];
  const void *bias[SlicedOutputs::kMaxOutputs];
  DType biasType[SlicedOutputs::kMaxOutputs];
  int64_t width[SlicedOutputs::kMaxOutputs], offset[SlicedOutputs::kMaxOutputs];
  int count;
};

__device__ __forceinline__ float biasAt(const void *b, DType t, int64_t c) { return b ? floatAt(b, t, c) : 0.f; }

template <typename S, typename T, int Slices>
__global__ void sumColumnBlocks(const S *parts, int slices, int64_t N, int64_t M, ColumnBlocks<T> blocks) {
  detail::pdlWait();
  for (int64_t r = blockIdx.y; r < M; r += gridDim.y)
    for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < N; c += int64_t(gridDim.x) * blockDim.x) {
      int p = 0;
      while (p + 1 < blocks.count && c >= blocks.offset[p + 1]) ++p;
      const int64_t j = c - blocks.offset[p];
      float sum = 0.f;
      for (int s = 0; s < (Slices ? Slices : slices); ++s) sum += toFloat(parts[(s * M + r) * N + c]);
      blocks.y[p][r * blocks.width[p] + j] = fromFloat<T>(sum + biasAt(blocks.bias[p], blocks.biasType[p], j));
    }
  detail::pdlLaunchDependents();
}

// gpu::sumSlicedOutputs.
void sumSlices(DeviceContext &ctx, const SlicedOutputs &s) {
  const char *op = "summing a projection's slices";
  if (s.rows == 0 || s.width == 0) return;
  const bool one = s.parts.dtype() == s.outType && s.slices == 1; // one product in T
  if (s.count < 1 || s.count > SlicedOutputs::kMaxOutputs || s.slices < 1 ||
      (s.parts.dtype() != DType::F32 && !one) || s.parts.numel() != s.slices * s.rows * s.width)
    fail(op, s.count, " outputs, ", s.slices, " slices of ", s.rows, " x ", s.width, ": parts ",
         shapeToString(s.parts.shape()), " do not match");
  dispatchFloat(
      s.outType,
      [&](auto ot) {
        using T = typename decltype(ot)::type;
        ColumnBlocks<T> blocks{};
        blocks.count = s.count;
        int64_t offset = 0;
        for (int i = 0; i < s.count; ++i) {
          blocks.y[i] = static_cast<T *>(s.out[i]);
          blocks.bias[i] = s.bias[i];
          blocks.biasType[i] = s.biasType[i];
          blocks.width[i] = s.columns[i];
          blocks.offset[i] = offset;
          offset += s.columns[i];
        }
        if (offset != s.width) fail(op, "outputs of ", offset, " columns for a product of ", s.width);
        if (one)
          launchLayerKernel(op, sumColumnBlocks<T, T, 1>, rowGridFor(s.rows, s.width), kBlock, ctx.stream,
                            s.parts.data<T>(), s.slices, s.width, s.rows, blocks);
        else
          launchLayerKernel(op, sumColumnBlocks<float, T, 0>, rowGridFor(s.rows, s.width), kBlock, ctx.stream,
                            s.parts.data<float>(), s.slices, s.width, s.rows, blocks);
      },
      op);
  checkLaunch(op);
}

// Slices of the inner dimension K for a projection of M rows whose partial
// products the kernel after it sums (resa-bench-gemm --ksplit, H200: a
// batched GEMM of 4 slices at M = 1 and 8 moves the o and down projections'
// weights as fast as cuBLASLt's own split-K or faster, and its reduction
// kernel goes: dense decode 0.1-0.16 ms a step faster on the Llama-3-8B
// shape, the norm summing them; the q/k/v projection's, 18.0 -> 16.0 us at M
// = 1, the rotary append summing them). Larger M (prefill) fill the GPU
// without slicing.
int64_t kSlicesFor(int64_t M, int64_t K) { return M <= 16 && K >= 1024 && K % 4 == 0 ? 4 : 1; }

// The fused form: x [..., K], weight [K, sum N_i], the widths N_i and a bias
// [N_i] (or none) per output -> output i [..., N_i] in x's dtype, the columns
// after N_1 + ... + N_{i-1} of the product, plus b_i. Many rows (a
// prefill's, kVecMinRows): a GEMM per output over its columns of the weight,
// straight into it (copying a 128K-token q/k/v out of one product cost 3.9
// ms a layer for 0.8 of bytes, session 17). Few rows (decode): one GEMM over
// the whole weight; without biases, where the executor allows
// (args.deferSum: the rotary append adds them up) in fp32 slices of K as
// kSlicesFor cuts it, left unsummed (dense Llama-3-8B shape 8x16K: -60 us a
// step; with Qwen2.5-7B's biases +38, so not there, session 18); otherwise
// one product in x's dtype whose column blocks one kernel copies out with
// their biases (an fp32 product there: +59 us a step on the Qwen shape), or
// for one row without biases the product itself is the outputs side by side
// (views of it).
void fusedMultiLinear(const char *op, const DeviceKernelArgs &args, Outputs &outputs, GemmInput &in,
                      const std::vector<int64_t> &widths) {
  const DeviceTensor &x = in.x;
  const int64_t K = x.dim(x.rank() - 1), M = rowsOf(x);
  const DeviceTensor &weight = args.required(1);
  checkWeight(op, weight, K, "weight");
  const int64_t N = weight.dim(1);
  checkFusedWidths(op, widths, args.inputs.size(), N);
  if (widths.size() > size_t(SlicedOutputs::kMaxOutputs))
    fail(op, "at most ", SlicedOutputs::kMaxOutputs, " widths, got ", widths.size());
  bool biased = false;
  for (size_t i = 0; i < widths.size(); ++i) biased = biasInput(op, args, 2 + i, widths[i]) || biased;
  DeviceContext &ctx = contextOf(args);
  const bool deferred = args.deferSum && !biased && kSlicesFor(M, K) > 1;
  const int64_t slices = deferred ? kSlicesFor(M, K) : 1;
  const bool views = !biased && M <= 1;
  // Outputs before scratch (the product), as in every kernel: the layer
  // tests hand the first free block of the output's size to the output.
  DeviceTensor all;
  if (views) {
    all = ctx.alloc->allocate(x.dtype(), withLast(x.shape(), N));
    int64_t offset = 0;
    for (size_t i = 0; i < widths.size(); ++i) {
      setOutput(outputs, args, i, all.view(withLast(x.shape(), widths[i]), offset));
      offset += widths[i];
    }
  } else {
    for (size_t i = 0; i < widths.size(); ++i) allocOutput(outputs, args, i, x.dtype(), withLast(x.shape(), widths[i]));
  }
  if (M == 0) return;
  const void *xw = in.as(ctx, weight.dtype());
  if (M >= kVecMinRows) {
    int64_t col0 = 0;
    for (size_t i = 0; i < widths.size(); ++i) {
      projectColumnsInto(ctx, xw, M, K, weight, col0, widths[i], args.input(2 + i), outputs[i]);
      col0 += widths[i];
    }
    return;
  }
  if (views && !deferred) {
    projectInto(ctx, xw, M, K, weight, nullptr, all);
    return;
  }
  SlicedOutputs s;
  s.parts = ctx.alloc->allocate(deferred ? DType::F32 : x.dtype(), {slices, M, N});
  s.rows = M, s.width = N;
  s.slices = static_cast<int>(slices);
  s.count = static_cast<int>(widths.size());
  s.outType = x.dtype();
  for (size_t i = 0; i < widths.size(); ++i) {
    const DeviceTensor *b = args.input(2 + i);
    s.columns[i] = widths[i];
    s.bias[i] = b ? b->raw() : nullptr;
    s.biasType[i] = b ? b->dtype() : DType::F32;
    s.out[i] = outputs[i].raw();
  }
  if (!deferred) {
    projectInto(ctx, xw, M, K, weight, nullptr, s.parts);
    return sumSlices(ctx, s);
  }
  projectSlicesInto(ctx, xw, M, K, weight, s.parts);
  *args.deferSum = std::move(s);
}

// x [..., K], (weight_i [K, N_i], bias_i [N_i] or absent) per output i ->
// output i [..., N_i] in x's dtype, as resa.linear gives each: x is converted
// to a weight's dtype once for all the weights of that dtype. With `widths`,
// the fused form (fusedMultiLinear).
void multiLinear(const DeviceKernelArgs &args, Outputs &outputs) {
  const char *op = "resa.multi_linear";
  GemmInput in(inputX(op, args));
  if (const std::vector<int64_t> widths = attrsOf(args).getInts("widths"); !widths.empty())
    return fusedMultiLinear(op, args, outputs, in, widths);
  if (args.inputs.size() < 5 || args.inputs.size() % 2 == 0)
    fail(op, "takes x and a (weight, bias or none) pair per output, >= 2 pairs; got ", args.inputs.size(),
         " inputs");
  for (size_t i = 0; 2 * i + 1 < args.inputs.size(); ++i)
    projection(op, args, outputs, in, 1 + 2 * i, true, i, in.x.dtype());
}

enum class Activation { Silu, GeluTanh, Gelu };

// The CPU kernel's fp32 expressions; silu's v / (1 + e^-v) in the fast
// intrinsics (one exp2 and one reciprocal on the SFU, a few ulp: far below
// the bf16 or f16 rounding of the product) for fewer instructions than the
// accurate expf and IEEE divide (a prefill's activation ran 4.9 ms a layer
// at 128K tokens for 2.7 ms of bytes, session 17). Large negative v: e^-v is
// infinite, its reciprocal 0.
template <Activation A> __device__ __forceinline__ float activate(float v) {
  if constexpr (A == Activation::Silu) return __fdividef(v, 1.f + __expf(-v));
  else if constexpr (A == Activation::GeluTanh)
    return 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  else return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
}

// out[m, j] = act(h[m, j]) * h[m, inter + j] for h [M, 2 * inter]: rows
// along the grid's y, V columns a thread along x (V > 1: one 16-byte load of
// each half and one store, where inter is a multiple of V). No index
// division: a prefill's M x inter runs past 2^31, and the 64-bit divide the
// flat loop did per element bound the kernel (10.3 ms a layer at 128K tokens
// for 2.7 ms of bytes; bench/NOTES.md, session 16). Two rows a pass, both
// rows' loads issued before either's arithmetic and stores (one row a pass
// ran 4.9 ms a layer at 128K tokens, session 17).
template <typename T, Activation A, int V>
__global__ void gatedActivation(const T *__restrict__ h, T *__restrict__ out, int64_t inter, int64_t M) {
  using Vec = Pack<T, V>;
  constexpr int kRows = 2;
  detail::pdlWait();
  const int64_t groups = inter / V, rowStep = gridDim.y;
  for (int64_t m0 = blockIdx.y; m0 < M; m0 += kRows * rowStep) {
    for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < groups;
         g += int64_t(gridDim.x) * blockDim.x) {
      Vec a[kRows], b[kRows];
#pragma unroll
      for (int k = 0; k < kRows; ++k) {
        const int64_t m = m0 + k * rowStep;
        if (m < M) {
          a[k] = reinterpret_cast<const Vec *>(h + m * 2 * inter)[g];
          b[k] = reinterpret_cast<const Vec *>(h + m * 2 * inter + inter)[g];
        }
      }
#pragma unroll
      for (int k = 0; k < kRows; ++k) {
        const int64_t m = m0 + k * rowStep;
        if (m >= M) break;
        Vec r;
#pragma unroll
        for (int i = 0; i < V; ++i) r.v[i] = fromFloat<T>(activate<A>(toFloat(a[k].v[i])) * toFloat(b[k].v[i]));
        reinterpret_cast<Vec *>(out + m * inter)[g] = r;
      }
    }
  }
  detail::pdlLaunchDependents();
}

Activation activationOf(const char *op, const std::string &name) {
  if (name == "silu") return Activation::Silu;
  if (name == "gelu_tanh") return Activation::GeluTanh;
  if (name == "gelu") return Activation::Gelu;
  fail(op, "unknown activation '", name, "'");
}

// A gated MLP's weights, inputs 1 .. count of args: (gate [K, I], up [K, I],
// down [I, N]) or (gate_up [K, 2I], down [I, N]), and its activation.
struct GatedMlp {
  const DeviceTensor *gate = nullptr, *up = nullptr, *down = nullptr;  // up: null when fused
  int64_t inter = 0;
  Activation act = Activation::Silu;
};

GatedMlp gatedMlpOf(const char *op, const DeviceKernelArgs &args, size_t count, int64_t K) {
  if (count != 2 && count != 3) fail(op, "takes x and (gate, up, down) or (gate_up, down) weights");
  GatedMlp m;
  const bool fused = count == 2;
  m.gate = &args.required(1);
  checkWeight(op, *m.gate, K, "gate weight");
  if (fused && m.gate->dim(1) % 2) fail(op, "fused gate_up weight has an odd width ", m.gate->dim(1));
  m.inter = fused ? m.gate->dim(1) / 2 : m.gate->dim(1);
  if (!fused) {
    m.up = &args.required(2);
    checkWeight(op, *m.up, K, "up weight");
    if (m.up->dim(1) != m.inter) fail(op, "gate and up weights have different widths");
  }
  m.down = &args.required(count);
  checkWeight(op, *m.down, m.inter, "down weight");
  if ((m.up && m.up->dtype() != m.gate->dtype()) || m.down->dtype() != m.gate->dtype())
    fail(op, "the weights' dtypes differ");
  m.act = activationOf(op, attrsOf(args).getString("activation", "silu"));
  return m;
}

// act(x W_gate) * (x W_up) [M, I] in the weights' dtype: the gate and up
// products land side by side in one [M, 2I] buffer (one GEMM for the fused
// weight), then one kernel forms the product for the down projection.
DeviceTensor gatedHidden(const char *op, DeviceContext &ctx, const DeviceTensor &x, int64_t M, int64_t K,
                         const GatedMlp &m) {
  const DType T = m.gate->dtype();
  const int64_t I = m.inter;
  DeviceTensor xCopy;
  GemmArgs up;
  up.M = M, up.K = K;
  up.x = asDType(ctx, x, T, xCopy), up.ldx = K;
  up.inType = up.outType = T;
  DeviceTensor h = ctx.alloc->allocate(T, {M, 2 * I});
  up.y = h.raw(), up.ldy = 2 * I;
  if (!m.up) {
    up.w = m.gate->raw(), up.ldw = up.N = 2 * I;
    gemm(ctx, up);
  } else {
    up.w = m.gate->raw(), up.ldw = up.N = I;
    gemm(ctx, up);
    up.w = m.up->raw();
    up.y = static_cast<char *>(h.raw()) + I * int64_t(dtypeSize(T));
    gemm(ctx, up);
  }
  DeviceTensor a = ctx.alloc->allocate(T, {M, I});
  dispatchFloat(
      T,
      [&](auto tag) {
        using E = typename decltype(tag)::type;
        // 16 bytes a thread where a row's halves and the output rows keep
        // that alignment (the allocator's blocks start 256-byte aligned) and
        // the rows are many (kVecMinRows).
        constexpr int kVec = 16 / sizeof(E);
        const auto launch = [&](auto kernel, int v) {
          launchLayerKernel(op, kernel, rowGridFor(M, I / v), kBlock, ctx.stream, h.data<E>(), a.data<E>(), I, M);
        };
        const auto withVector = [&](auto vec, auto one) {
          M >= kVecMinRows && I % kVec == 0 ? launch(vec, kVec) : launch(one, 1);
        };
        switch (m.act) {
        case Activation::Silu:
          withVector(gatedActivation<E, Activation::Silu, kVec>, gatedActivation<E, Activation::Silu, 1>);
          break;
        case Activation::GeluTanh:
          withVector(gatedActivation<E, Activation::GeluTanh, kVec>, gatedActivation<E, Activation::GeluTanh, 1>);
          break;
        case Activation::Gelu:
          withVector(gatedActivation<E, Activation::Gelu, kVec>, gatedActivation<E, Activation::Gelu, 1>);
          break;
        }
      },
      op);
  checkLaunch(op);
  return a;
}

// x [..., K]; (gate, up, down) or (gate_up, down) weights (gatedMlpOf);
// activation.
void gatedMlp(const DeviceKernelArgs &args, Outputs &outputs) {
  const char *op = "resa.gated_mlp";
  const DeviceTensor &x = inputX(op, args);
  const int64_t K = x.dim(x.rank() - 1), M = rowsOf(x);
  const GatedMlp m = gatedMlpOf(op, args, args.inputs.size() - 1, K);
  const int64_t N = m.down->dim(1);
  DeviceTensor &y = allocOutput(outputs, args, 0, x.dtype(), withLast(x.shape(), N));
  if (M == 0 || N == 0) return;
  DeviceContext &ctx = contextOf(args);
  const DeviceTensor a = gatedHidden(op, ctx, x, M, K, m);
  projectInto(ctx, a.raw(), M, m.inter, *m.down, nullptr, y);
}

// x [..., K], weights (one: W [K, N], a linear projection; two or three: a
// gated MLP, as resa.gated_mlp), residual [..., N], norm weight [N];
// epsilon, weight_offset, activation -> (sum, result), as resa.add_rms_norm
// of the residual and the projection (in x's dtype; both in fp32 when the
// residual's dtype differs, as add_rms_norm promotes them). The projection's
// last GEMM writes fp32 partial products over slices of its inner dimension
// (one slice unless kSlicesFor says otherwise; one already in x's dtype where
// it may be) and the norm kernel sums them, rounded to x's dtype as the
// projection's output would be.
void projectionAddRmsNorm(const DeviceKernelArgs &args, Outputs &outputs) {
  const char *op = "resa.projection_add_rms_norm";
  const size_t n = args.inputs.size();
  if (n < 4 || n > 6) fail(op, "takes x, 1 to 3 weights, the residual and the norm weight; got ", n, " inputs");
  const DeviceTensor &x = inputX(op, args);
  const int64_t K = x.dim(x.rank() - 1), M = rowsOf(x);
  const size_t weights = n - 3;
  GatedMlp m;
  const DeviceTensor *w = &args.required(1);
  int64_t inner = K;
  if (weights == 1) {
    checkWeight(op, *w, K, "weight");
  } else {
    m = gatedMlpOf(op, args, weights, K);
    w = m.down;
    inner = m.inter;
  }
  const int64_t N = w->dim(1);
  const DeviceTensor &r = floatInput(op, args, n - 2, "residual");
  if (r.shape() != withLast(x.shape(), N))
    fail(op, "residual ", shapeToString(r.shape()), " is not the projection's ",
         shapeToString(withLast(x.shape(), N)));
  const DType sumType = r.dtype() == x.dtype() ? r.dtype() : DType::F32;
  // Both allocated before either is referenced: the second may grow outputs.
  allocOutput(outputs, args, 0, sumType, r.shape());
  allocOutput(outputs, args, 1, sumType, r.shape());
  DeviceTensor &sum = outputs[0], &y = outputs[1];
  if (M == 0 || N == 0) return;
  DeviceContext &ctx = contextOf(args);
  DeviceTensor rCopy;
  const DeviceTensor *residual = &r;
  if (r.dtype() != sumType) {
    rCopy = ctx.alloc->allocate(sumType, r.shape());
    convertOnDevice(r.raw(), r.dtype(), rCopy.raw(), sumType, r.numel(), ctx.stream);
    residual = &rCopy;
  }
  DeviceTensor xCopy, hidden;
  const void *in;
  if (weights == 1) {
    in = asDType(ctx, x, w->dtype(), xCopy);
  } else {
    hidden = gatedHidden(op, ctx, x, M, K, m);
    in = hidden.raw();
  }
  const int64_t slices = kSlicesFor(M, inner);
  // A prefill's rows, where the sum is in the weights' dtype: one product
  // that the GEMM rounds as the projection's output would be, for the norm to
  // read half the bytes of an fp32 one, a warp a row (128K rows: 2.8 ms a
  // norm from fp32 products a block a row, session 17). A rectification's 32
  // rows keep the fp32 product (with a bf16 one there ReSA steps ran 10-20
  // us slower at 1x4K and 1x64K, session 17).
  const bool rounded =
      slices == 1 && M >= kNormWarpRows && w->dtype() == x.dtype() && sumType == x.dtype();
  DeviceTensor parts = ctx.alloc->allocate(rounded ? x.dtype() : DType::F32, {slices, M, N});
  projectSlicesInto(ctx, in, M, inner, *w, parts);
  addRmsNormOfProjection(op, args, *residual, parts, x.dtype(), n - 1, sum, y);
}

void linear(const DeviceKernelArgs &args, Outputs &outputs) { linearLike("resa.linear", args, outputs, false); }
void logits(const DeviceKernelArgs &args, Outputs &outputs) { linearLike("resa.logits", args, outputs, true); }

} // namespace
} // namespace resa::gpu::ops::layers

namespace resa::gpu {

void sumSlicedOutputs(DeviceContext &ctx, const SlicedOutputs &s) { ops::layers::sumSlices(ctx, s); }

void addLayerKernels(std::vector<DeviceKernelEntry> &table) {
  using namespace ops::layers;
  table.push_back({"resa.add_rms_norm", addRmsNorm});
  table.push_back({"resa.embedding", embedding});
  table.push_back({"resa.gated_mlp", gatedMlp});
  table.push_back({"resa.layer_norm", layerNorm});
  table.push_back({"resa.linear", linear});
  table.push_back({"resa.logits", logits});
  table.push_back({"resa.multi_linear", multiLinear});
  table.push_back({"resa.projection_add_rms_norm", projectionAddRmsNorm});
  table.push_back({"resa.rms_norm", rmsNorm});
  table.push_back({"resa.rotary", rotary});
  table.push_back({"resa.multi_rotary", multiRotary});
}

} // namespace resa::gpu
