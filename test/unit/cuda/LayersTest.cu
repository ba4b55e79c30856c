// The CUDA layer kernels (resa.linear, resa.logits, resa.gated_mlp,
// resa.rms_norm, resa.layer_norm, resa.rotary, resa.embedding: ops/Layer*.cu)
// against the CPU kernels of the same names, and device sampling
// (resa/cuda/Sampling.h) against the CPU Sampler, on fresh random inputs.
//
// Device inputs are BF16 or F16 (weights too; a few cases mix dtypes); the
// CPU reference gets the same values rounded to that type, in fp32. Each
// case runs twice, with a fresh allocator whose cached blocks of the output's
// size are all filled with NaN first, so an element the kernel does not
// write shows. Bounds: relative error per row 2e-2 for the GEMM paths, 1e-2
// for the others; the embedding must copy exactly. Sampling: the greedy
// token and the top-p token must be the CPU's exactly given the same uniform
// draw (the CPU Sampler's first draw for the row's seed), log-probabilities
// within 1e-4.
//
// A plain program: PASS/FAIL per case, "SKIPPED: <case> (no CUDA device)"
// without a device (exit 0), exit 1 on any failure.
//
//   resa-cuda-layers-tests [--filter SUBSTRING] [--seed N]
#include "CudaTestUtil.h"
#include "resa/cuda/DeviceKernel.h"
#include "resa/cuda/Gemm.h"
#include "resa/cuda/Sampling.h"
#include "resa/kernels/Kernel.h"
#include "resa/runtime/Sampler.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using resa::Attrs;
using resa::DType;
using resa::Shape;
using resa::Tensor;
using resa::cudatest::DevBuf;
using resa::cudatest::Failure;
using resa::gpu::DeviceTensor;

// The stream and cuBLASLt handle every case shares (made once a device is known).
struct Env {
  cudaStream_t stream = nullptr;
  std::unique_ptr<resa::gpu::BlasLtHandle> blas;
  int device = 0;
};
Env &env() {
  static Env e;
  return e;
}

const char *shortName(DType t) {
  switch (t) {
  case DType::BF16: return "bf16";
  case DType::F16: return "f16";
  case DType::F32: return "f32";
  default: return resa::dtypeName(t);
  }
}

float roundTo(float v, DType t) {
  if (t == DType::BF16) return resa::bf16ToF32(resa::f32ToBf16(v));
  if (t == DType::F16) return resa::f16ToF32(resa::f32ToF16(v));
  return v;
}

// Normal values * scale + shift, rounded to what `t` stores.
Tensor randn(const Shape &shape, std::mt19937_64 &rng, DType t, float scale = 1.f, float shift = 0.f) {
  std::normal_distribution<float> normal(0.f, 1.f);
  Tensor out(DType::F32, shape);
  for (int64_t i = 0; i < out.numel(); ++i) out.data<float>()[i] = roundTo(normal(rng) * scale + shift, t);
  return out;
}

// One device input: a host tensor and the float type it lives in on the
// device (integers keep their type); null host for an omitted input.
struct In {
  const Tensor *host = nullptr;
  DType dtype = DType::F32;
  bool shifted = false;  // on the device one element past an aligned address (a view)
};

// Runs the CUDA kernel `name` once and downloads output `outIndex` (floats
// as F32). `hostCopies[i]` is the executor's host copy of input i, where given.
Tensor runDevice(const std::string &name, const std::vector<In> &ins, const Attrs &attrs, DType outDType,
                 const Shape &outShape, const std::vector<const Tensor *> &hostCopies = {},
                 size_t outIndex = 0, size_t blockBytes = 0, resa::gpu::SlicedOutputs *defer = nullptr) {
  resa::gpu::DeviceKernelFn fn = resa::gpu::findCudaKernel(name);
  if (!fn) throw Failure{"no CUDA kernel " + name};
  resa::gpu::DeviceAllocator alloc(env().device);
  resa::gpu::DeviceContext ctx;
  ctx.stream = env().stream;
  ctx.alloc = &alloc;
  ctx.device = env().device;
  env().blas->attach(ctx);
  std::vector<DeviceTensor> dev(ins.size());
  std::vector<const DeviceTensor *> ptrs(ins.size(), nullptr);
  for (size_t i = 0; i < ins.size(); ++i)
    if (ins[i].host && ins[i].shifted) {
      const Tensor &h = *ins[i].host;
      Tensor wide(h.dtype(), {h.numel() + 1});
      std::memcpy(static_cast<char *>(wide.raw()) + resa::dtypeSize(h.dtype()), h.raw(), h.nbytes());
      dev[i] = resa::gpu::upload(wide, ins[i].dtype, ctx).view(h.shape(), 1);
      ptrs[i] = &dev[i];
    } else if (ins[i].host) {
      dev[i] = resa::gpu::upload(*ins[i].host, ins[i].dtype, ctx);
      ptrs[i] = &dev[i];
    }

  // Every cached block of the output's size (the uploads' staging included)
  // is taken, filled with NaN and given back: the output gets one of them.
  // Output i > 0 comes after the earlier outputs (and a scratch block each)
  // that may share its size class: 2 i more fresh blocks are poisoned.
  // blockBytes: the size of the block an output that is a view lies in (0:
  // the output's own).
  const size_t outBytes =
      blockBytes ? blockBytes : size_t(resa::numElements(outShape)) * resa::dtypeSize(outDType);
  std::set<void *> poisoned;
  if (outBytes) {
    std::vector<std::shared_ptr<void>> held;
    size_t fresh = 0;
    while (fresh < 1 + 2 * outIndex) {
      const size_t mallocs = alloc.mallocCalls();
      held.push_back(alloc.allocateBytes(outBytes));
      CUDA_OK(cudaMemsetAsync(held.back().get(), 0xff, outBytes, ctx.stream));
      poisoned.insert(held.back().get());
      fresh += alloc.mallocCalls() != mallocs;
    }
  }

  resa::gpu::DeviceKernelArgs args;
  args.inputs = ptrs;
  args.host = hostCopies;
  args.attrs = &attrs;
  args.ctx = &ctx;
  args.deferSum = defer;
  std::vector<DeviceTensor> outputs;
  fn(args, outputs);
  // Outputs left unsummed (defer->count set) are summed as the executor's
  // fallback does; the partial products go before the allocator.
  if (defer && defer->count) {
    resa::gpu::sumSlicedOutputs(ctx, *defer);
    defer->parts = DeviceTensor();
  }
  if (outputs.size() <= outIndex) throw Failure{name + " produced no output " + std::to_string(outIndex)};
  const DeviceTensor &y = outputs[outIndex];
  if (y.dtype() != outDType || y.shape() != outShape)
    throw Failure{name + " output is " + shortName(y.dtype()) + " " + resa::shapeToString(y.shape()) +
                  ", expected " + shortName(outDType) + " " + resa::shapeToString(outShape)};
  const auto *at = static_cast<const char *>(y.raw());
  const bool inPoisoned = std::any_of(poisoned.begin(), poisoned.end(), [&](void *p) {
    return at >= static_cast<const char *>(p) && at + y.nbytes() <= static_cast<const char *>(p) + outBytes;
  });
  if (outBytes && !inPoisoned)
    throw Failure{name + ": the output is not in a poisoned block (allocated after scratch?)"};
  Tensor host = resa::gpu::download(y, ctx);
  CUDA_OK(cudaGetLastError());
  return host;
}

// Output `outIndex` of the CPU kernel `name`.
Tensor runCpu(const std::string &name, const std::vector<const Tensor *> &ins, const Attrs &attrs,
              size_t outIndex = 0) {
  resa::KernelFn fn = resa::findCpuKernel(name);
  if (!fn) throw Failure{"no CPU kernel " + name};
  resa::KernelArgs args;
  args.inputs = ins;
  args.attrs = &attrs;
  args.numOutputs = outIndex + 1;
  std::vector<Tensor> outputs;
  fn(args, outputs);
  return outputs.at(outIndex);
}

// Relative L2 error per row of the last axis; throws on a non-finite value
// or a row over `bound`.
std::string compareRows(const Tensor &got, const Tensor &ref, double bound) {
  if (got.shape() != ref.shape())
    throw Failure{"shape " + resa::shapeToString(got.shape()) + " vs " + resa::shapeToString(ref.shape())};
  const int64_t cols = ref.rank() ? ref.dim(ref.rank() - 1) : 1;
  const int64_t rows = cols ? ref.numel() / cols : 0;
  double worst = 0, errAll = 0, refAll = 0;
  int64_t worstRow = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double e2 = 0, r2 = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = r * cols + c;
      const float g = got.data<float>()[i], f = ref.data<float>()[i];
      if (!std::isfinite(g))
        throw Failure{"element " + std::to_string(i) + " is " + std::to_string(g) + " (reference " +
                      std::to_string(f) + "): unwritten or overflowed"};
      e2 += (double(g) - f) * (double(g) - f);
      r2 += double(f) * f;
    }
    errAll += e2, refAll += r2;
    const double rel = std::sqrt(e2 / std::max(r2, 1e-30));
    if (rel > worst) worst = rel, worstRow = r;
  }
  char line[160];
  std::snprintf(line, sizeof line, "rel %.2e, worst row %.2e at %lld (bound %.0e)",
                refAll > 0 ? std::sqrt(errAll / refAll) : 0.0, worst, static_cast<long long>(worstRow), bound);
  if (worst > bound) throw Failure{std::string("error over bound: ") + line};
  return line;
}

// Runs the device kernel twice (the second with its GEMM plans cached) and
// compares both runs with the CPU's output.
std::string checkTwice(const std::string &name, const std::vector<In> &ins, const Attrs &attrs, DType outDType,
                       const Tensor &ref, double bound) {
  std::string line;
  for (int run = 0; run < 2; ++run) line = compareRows(runDevice(name, ins, attrs, outDType, ref.shape()), ref, bound);
  return line;
}

// ---- projections ----------------------------------------------------------

std::string linearCase(bool logits, DType xt, DType wt, int64_t rows, int64_t K, int64_t N, bool bias,
                       uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Tensor x = randn({1, rows, K}, rng, xt);
  const Tensor w = randn({K, N}, rng, wt, 1.f / std::sqrt(float(K)));
  const Tensor b = randn({N}, rng, wt, 0.5f);
  const char *name = logits ? "resa.logits" : "resa.linear";
  const Attrs attrs;
  const Tensor ref = runCpu(name, {&x, &w, bias ? &b : nullptr}, attrs);
  std::vector<In> ins{{&x, xt}, {&w, wt}};
  if (bias) ins.push_back({&b, wt});
  return checkTwice(name, ins, attrs, logits ? DType::F32 : xt, ref, 2e-2);
}

// resa.multi_linear against the CPU's resa.linear of each (weight, bias):
// three projections of one x (q with a bias, k and v without), every output
// checked on the device (x converted once when its dtype is not the weights').
std::string multiLinearCase(DType xt, DType wt, int64_t rows, int64_t K, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Tensor x = randn({1, rows, K}, rng, xt);
  const float s = 1.f / std::sqrt(float(K));
  const Tensor wq = randn({K, 96}, rng, wt, s), bq = randn({96}, rng, wt, 0.5f);
  const Tensor wk = randn({K, 32}, rng, wt, s), wv = randn({K, 48}, rng, wt, s);
  const Attrs attrs;
  const Tensor *weights[] = {&wq, &wk, &wv}, *biases[] = {&bq, nullptr, nullptr};
  const std::vector<In> ins{{&x, xt}, {&wq, wt}, {&bq, wt}, {&wk, wt}, {}, {&wv, wt}, {}};
  std::string line;
  for (size_t i = 0; i < 3; ++i) {
    const Tensor ref = runCpu("resa.linear", {&x, weights[i], biases[i]}, attrs);
    line += (i ? "; " : "") +
            compareRows(runDevice("resa.multi_linear", ins, attrs, xt, ref.shape(), {}, i), ref, 2e-2);
  }
  return line;
}

std::string gatedMlpCase(DType t, const char *act, bool fused, int64_t rows, int64_t K, int64_t I, int64_t N,
                         uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Tensor x = randn({rows, K}, rng, t);
  const float sk = 1.f / std::sqrt(float(K)), si = 1.f / std::sqrt(float(I));
  const Tensor gu = randn({K, 2 * I}, rng, t, sk);
  const Tensor g = randn({K, I}, rng, t, sk), u = randn({K, I}, rng, t, sk);
  const Tensor d = randn({I, N}, rng, t, si);
  Attrs attrs;
  attrs.set("activation", std::string(act));
  std::vector<const Tensor *> cpuIns = fused ? std::vector<const Tensor *>{&x, &gu, &d}
                                             : std::vector<const Tensor *>{&x, &g, &u, &d};
  const Tensor ref = runCpu("resa.gated_mlp", cpuIns, attrs);
  std::vector<In> ins;
  for (const Tensor *p : cpuIns) ins.push_back({p, t});
  return checkTwice("resa.gated_mlp", ins, attrs, t, ref, 2e-2);
}

// resa.projection_add_rms_norm against the CPU's (the projection, then
// add_rms_norm, in fp32): both outputs. `weights` 1: a linear projection
// [K, N]; 2: a gated MLP with a fused gate-up weight; 3: separate gate and up.
// Up to 16 rows with an inner dimension of at least 1024 take the device's
// sliced GEMM (partial products summed in the norm), the others one slice. The
// residual in rt: the outputs are in fp32 when it is not x's dtype (Gemma's
// fp32 embedding stream beside bf16 projections).
std::string projectionNormCase(DType xt, DType wt, DType rt, int weights, int64_t rows, int64_t K, int64_t I,
                               int64_t N, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Tensor x = randn({1, rows, K}, rng, xt);
  const float sk = 1.f / std::sqrt(float(K)), si = 1.f / std::sqrt(float(I));
  std::vector<Tensor> ws;
  if (weights == 1) {
    ws.push_back(randn({K, N}, rng, wt, sk));
  } else {
    if (weights == 2) {
      ws.push_back(randn({K, 2 * I}, rng, wt, sk));
    } else {
      ws.push_back(randn({K, I}, rng, wt, sk));
      ws.push_back(randn({K, I}, rng, wt, sk));
    }
    ws.push_back(randn({I, N}, rng, wt, si));
  }
  const Tensor r = randn({1, rows, N}, rng, rt, 2.f);
  const Tensor nw = randn({N}, rng, wt, 0.5f, 1.f);
  Attrs attrs;
  attrs.set("epsilon", 1e-6f);
  if (weights > 1) attrs.set("activation", std::string("silu"));
  std::vector<const Tensor *> cpuIns{&x};
  std::vector<In> ins{{&x, xt}};
  for (const Tensor &w : ws) {
    cpuIns.push_back(&w);
    ins.push_back({&w, wt});
  }
  cpuIns.insert(cpuIns.end(), {&r, &nw});
  ins.push_back({&r, rt});
  ins.push_back({&nw, wt});
  const DType out = rt == xt ? xt : DType::F32;
  // The device rounds the projection to x's dtype before the add, as its
  // separate kernels would; the CPU adds it in fp32.
  const char *op = "resa.projection_add_rms_norm";
  std::string line;
  for (size_t i = 0; i < 2; ++i) {
    const Tensor ref = runCpu(op, cpuIns, attrs, i);
    line += (i ? "; " : "") + compareRows(runDevice(op, ins, attrs, out, ref.shape(), {}, i), ref, 2e-2);
  }
  return line;
}

// resa.multi_linear's fused form (one weight, split by widths, a bias or none
// per output) against the CPU's resa.linear of each column block: without
// biases one row gives views of the product; from 64 rows a GEMM per output;
// otherwise one kernel copies the blocks out of the product, adding the
// biases (q's and v's here, k none). `defer`: the kernel is offered to leave
// the sums to the next step (DeviceKernelArgs::deferSum), which it must take
// exactly where it slices K (no biases, up to 16 rows, K from 1024: 4
// slices); runDevice then sums them as the executor's fallback does.
std::string fusedMultiLinearCase(DType xt, DType wt, int64_t rows, int64_t K, bool bias, uint64_t seed,
                                 bool defer = false) {
  std::mt19937_64 rng(seed);
  const std::vector<int64_t> widths = {96, 32, 48};
  const int64_t N = 176;
  const Tensor x = randn({1, rows, K}, rng, xt);
  const Tensor w = randn({K, N}, rng, wt, 1.f / std::sqrt(float(K)));
  const Tensor bq = randn({96}, rng, wt, 0.5f), bv = randn({48}, rng, DType::F32, 0.5f);
  std::vector<const Tensor *> biases(3, nullptr);
  // v's bias in fp32 (a constant's type), q's in the weights' type.
  std::vector<In> ins{{&x, xt}, {&w, wt}, In(), In(), In()};
  if (bias) {
    biases[0] = &bq;
    biases[2] = &bv;
    ins[2] = In{&bq, wt};
    ins[4] = In{&bv, DType::F32};
  }
  Attrs attrs;
  attrs.set("widths", widths);
  std::string line;
  int64_t offset = 0;
  for (size_t i = 0; i < widths.size(); ++i) {
    Tensor wi(DType::F32, {K, widths[i]});
    for (int64_t r = 0; r < K; ++r)
      for (int64_t c = 0; c < widths[i]; ++c) wi.data<float>()[r * widths[i] + c] = w.data<float>()[r * N + offset + c];
    const Tensor ref = runCpu("resa.linear", {&x, &wi, biases[i]}, Attrs());
    const size_t block = rows == 1 && !bias ? size_t(N) * resa::dtypeSize(xt) : 0;
    resa::gpu::SlicedOutputs sliced;
    line += (i ? "; " : "") + compareRows(runDevice("resa.multi_linear", ins, attrs, xt, ref.shape(), {}, i, block,
                                                    defer ? &sliced : nullptr),
                                          ref, 2e-2);
    const bool expected = defer && !bias && rows <= 16 && K >= 1024 && K % 4 == 0;
    if ((sliced.count > 0) != expected)
      throw Failure{std::string("the sums were ") + (sliced.count ? "" : "not ") + "deferred"};
    if (expected && (sliced.count != 3 || sliced.slices != 4 || sliced.rows != rows || sliced.width != N))
      throw Failure{"deferred " + std::to_string(sliced.count) + " outputs in " + std::to_string(sliced.slices) +
                    " slices of " + std::to_string(sliced.rows) + " x " + std::to_string(sliced.width)};
    offset += widths[i];
  }
  return line + (defer ? "; deferred" : "");
}

// ---- norms ----------------------------------------------------------------

// shiftedWeight: the norm weight is a view one element past an aligned
// address (the vectorised path must not read it 16 bytes at a time).
std::string normCase(bool rms, DType xt, DType wt, int64_t rows, int64_t D, float offset, bool bias, uint64_t seed,
                     bool shiftedWeight = false) {
  std::mt19937_64 rng(seed);
  // Layer norm gets a non-zero mean, so that centring matters.
  const Tensor x = randn({1, rows, D}, rng, xt, 2.f, rms ? 0.f : 3.f);
  const Tensor w = randn({D}, rng, wt, 0.5f, 1.f);
  const Tensor b = randn({D}, rng, wt, 0.5f);
  Attrs attrs;
  attrs.set("epsilon", 1e-6f);
  if (rms && offset != 0.f) attrs.set("weight_offset", offset);
  const char *name = rms ? "resa.rms_norm" : "resa.layer_norm";
  const Tensor ref = runCpu(name, {&x, &w, bias ? &b : nullptr}, attrs);
  std::vector<In> ins{{&x, xt}, {&w, wt, shiftedWeight}};
  if (bias) ins.push_back({&b, wt});
  return checkTwice(name, ins, attrs, xt, ref, 1e-2);
}

// resa.add_rms_norm against the CPU's: the sum (output 0) and its norm
// (output 1), both in the addends' dtype, fp32 when they differ (a in fp32,
// b in the weights' dtype: Gemma's scaled embedding beside an attention
// output).
std::string addNormCase(DType at, DType bt, DType wt, int64_t rows, int64_t D, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Tensor a = randn({1, rows, D}, rng, at, 2.f), r = randn({1, rows, D}, rng, bt, 2.f);
  const Tensor w = randn({D}, rng, wt, 0.5f, 1.f);
  const DType st = at == bt ? at : DType::F32;
  Attrs attrs;
  attrs.set("epsilon", 1e-6f);
  // The CPU reference adds in fp32; the device stores the sum in st first, as
  // an Add would: the reference sum is rounded the same way.
  Tensor sum = runCpu("Add", {&a, &r}, attrs);
  for (int64_t i = 0; i < sum.numel(); ++i) sum.data<float>()[i] = roundTo(sum.data<float>()[i], st);
  const Tensor normed = runCpu("resa.rms_norm", {&sum, &w}, attrs);
  const std::vector<In> ins{{&a, at}, {&r, bt}, {&w, wt}};
  return compareRows(runDevice("resa.add_rms_norm", ins, attrs, st, sum.shape(), {}, 0), sum, 1e-2) + "; " +
         compareRows(runDevice("resa.add_rms_norm", ins, attrs, st, normed.shape(), {}, 1), normed, 1e-2);
}

// ---- rotary ---------------------------------------------------------------

struct RotarySetup {
  bool rank4;
  int64_t B, H, S, D, rot;
  bool interleaved, fullWidth, batchCos, seqCos;
};

// cos and sin of random angles, rounded to what `t` stores.
void rotaryTables(const Shape &shape, std::mt19937_64 &rng, DType t, Tensor &cos, Tensor &sin) {
  cos = Tensor(DType::F32, shape);
  sin = Tensor(DType::F32, shape);
  std::uniform_real_distribution<float> angle(-3.2f, 3.2f);
  for (int64_t i = 0; i < cos.numel(); ++i) {
    const float a = angle(rng);
    cos.data<float>()[i] = roundTo(std::cos(a), t);
    sin.data<float>()[i] = roundTo(std::sin(a), t);
  }
}

std::string rotaryCase(DType xt, DType ct, const RotarySetup &r, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Tensor x = randn(r.rank4 ? Shape{r.B, r.H, r.S, r.D} : Shape{r.B, r.S, r.H * r.D}, rng, xt);
  const int64_t W = r.fullWidth ? r.rot : r.rot / 2;
  Tensor cos, sin;
  rotaryTables({r.batchCos ? r.B : 1, r.seqCos ? r.S : 1, W}, rng, ct, cos, sin);
  Attrs attrs;
  attrs.set("num_heads", r.H);
  attrs.set("rotary_dim", r.rot);
  attrs.set("interleaved", int64_t(r.interleaved));
  const Tensor ref = runCpu("resa.rotary", {&x, &cos, &sin}, attrs);
  return checkTwice("resa.rotary", {{&x, xt}, {&cos, ct}, {&sin, ct}}, attrs, xt, ref, 1e-2);
}

// resa.multi_rotary: q [B, 8 heads, S, D] and k [B, S, 2 * D] in one launch,
// each output against the CPU's resa.rotary of its tensor.
std::string multiRotaryCase(DType t, int64_t S, bool interleaved, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t B = 2, D = 64;
  const Tensor q = randn({B, 8, S, D}, rng, t), k = randn({B, S, 2 * D}, rng, t);
  Tensor cos, sin;
  rotaryTables({1, S, D / 2}, rng, t, cos, sin);
  Attrs attrs;
  attrs.set("num_heads", std::vector<int64_t>{8, 2});
  attrs.set("rotary_dim", D);
  attrs.set("interleaved", int64_t(interleaved));
  const std::vector<In> ins{{&cos, t}, {&sin, t}, {&q, t}, {&k, t}};
  const Tensor *xs[] = {&q, &k};
  const int64_t heads[] = {8, 2};
  std::string line;
  for (size_t i = 0; i < 2; ++i) {
    Attrs one;
    one.set("num_heads", heads[i]);
    one.set("rotary_dim", D);
    one.set("interleaved", int64_t(interleaved));
    const Tensor ref = runCpu("resa.rotary", {xs[i], &cos, &sin}, one);
    line += (i ? "; " : "") +
            compareRows(runDevice("resa.multi_rotary", ins, attrs, t, ref.shape(), {}, i), ref, 1e-2);
  }
  return line;
}

// ---- embedding ------------------------------------------------------------

std::string embeddingCase(DType t, DType idType, int64_t V, int64_t D, const Shape &idShape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Tensor table = randn({V, D}, rng, t);
  Tensor ids(idType, idShape);
  std::uniform_int_distribution<int64_t> pick(-V, V - 1); // negative ids wrap
  for (int64_t i = 0; i < ids.numel(); ++i) {
    const int64_t v = i == 0 ? -1 : i == 1 ? V - 1 : pick(rng);
    if (idType == DType::I64) ids.data<int64_t>()[i] = v;
    else ids.data<int32_t>()[i] = static_cast<int32_t>(v);
  }
  const Attrs attrs;
  const Tensor ref = runCpu("resa.embedding", {&table, &ids}, attrs);
  for (int run = 0; run < 2; ++run) {
    const Tensor got = runDevice("resa.embedding", {{&table, t}, {&ids, idType}}, attrs, t, ref.shape());
    for (int64_t i = 0; i < ref.numel(); ++i)
      if (!(got.data<float>()[i] == ref.data<float>()[i]))
        throw Failure{"element " + std::to_string(i) + " is " + std::to_string(got.data<float>()[i]) +
                      ", expected " + std::to_string(ref.data<float>()[i])};
  }
  return "exact, " + std::to_string(ids.numel()) + " rows of " + std::to_string(D);
}

// With the executor's host copy of the ids, an id out of range is the CPU's error.
std::string embeddingRangeCase(uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Tensor table = randn({300, 64}, rng, DType::BF16);
  Tensor ids(DType::I64, {3});
  ids.data<int64_t>()[0] = 5, ids.data<int64_t>()[1] = 300, ids.data<int64_t>()[2] = -7;
  try {
    runDevice("resa.embedding", {{&table, DType::BF16}, {&ids, DType::I64}}, Attrs(), DType::BF16, {3, 64},
              {nullptr, &ids});
  } catch (const resa::Error &e) {
    const std::string msg = e.what();
    if (msg.find("id 300 outside the table of 300 rows") == std::string::npos)
      throw Failure{"unexpected message: " + msg};
    return "rejected: " + msg;
  }
  throw Failure{"id 300 of a 300-row table was accepted"};
}

// ---- sampling -------------------------------------------------------------

// Logit rows: 0 normal, 1 coarse (many exact ties), 2 half the vocabulary
// masked to -inf, 3 the maximum repeated (greedy ties).
Tensor makeLogits(int64_t rows, int64_t stride, int64_t vocab, int mode, std::mt19937_64 &rng) {
  std::normal_distribution<float> normal(0.f, 2.f);
  Tensor l(DType::F32, {rows, stride});
  for (int64_t r = 0; r < rows; ++r) {
    float *row = l.data<float>() + r * stride;
    for (int64_t i = 0; i < stride; ++i) row[i] = normal(rng);
    if (mode == 1)
      for (int64_t i = 0; i < vocab; ++i) row[i] = std::round(row[i] * 2.f) / 4.f;
    if (mode == 2)
      for (int64_t i = 0; i < vocab; i += 2) row[i] = -INFINITY;
    if (mode == 3) {
      const float mx = *std::max_element(row, row + vocab) + 1.f;
      row[vocab / 2] = mx, row[vocab - 1] = mx, row[(r * 7919) % vocab] = mx;
    }
  }
  return l;
}

// rows x vocab logits (row stride `stride`), temperature 0 (greedy) or top-p.
// Row r's seed is seed + r; nanRow >= 0 puts a NaN in that row.
std::string samplingCase(int64_t rows, int64_t vocab, int64_t stride, float temperature, float topP, int mode,
                         int64_t nanRow, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Tensor logits = makeLogits(rows, stride, vocab, mode, rng);
  if (nanRow >= 0) logits.data<float>()[nanRow * stride + vocab / 3] = NAN;
  std::vector<double> uniforms(size_t(rows), 0.0);
  std::vector<int64_t> want(size_t(rows), -1);
  std::vector<float> wantLp(size_t(rows), NAN);
  for (int64_t r = 0; r < rows; ++r) {
    if (r == nanRow) continue;
    const float *row = logits.data<float>() + r * stride;
    std::mt19937_64 engine(seed + uint64_t(r));
    uniforms[size_t(r)] = std::generate_canonical<double, 53>(engine);
    resa::Sampler sampler({temperature, topP, seed + uint64_t(r)});
    want[size_t(r)] = sampler.next(row, vocab);
    wantLp[size_t(r)] = resa::logProbability(row, vocab, want[size_t(r)]);
  }
  DevBuf<float> dl{size_t(logits.numel())};
  DevBuf<double> du{size_t(rows)};
  DevBuf<int64_t> dt{size_t(rows)};
  DevBuf<float> dlp{size_t(rows)};
  CUDA_OK(cudaMemcpy(dl.p, logits.raw(), logits.nbytes(), cudaMemcpyHostToDevice));
  du.upload(uniforms);
  std::vector<int64_t> first;
  for (int run = 0; run < 2; ++run) {
    CUDA_OK(cudaMemset(dt.p, 0xff, size_t(rows) * sizeof(int64_t)));
    CUDA_OK(cudaMemset(dlp.p, 0xff, size_t(rows) * sizeof(float)));
    resa::gpu::SampleArgs a;
    a.logits = dl.p, a.rows = rows, a.vocab = vocab, a.rowStride = stride;
    a.temperature = temperature, a.topP = topP;
    a.uniforms = du.p, a.tokens = dt.p, a.logProbs = dlp.p;
    resa::gpu::sampleTokens(a, env().stream);
    CUDA_OK(cudaStreamSynchronize(env().stream));
    const std::vector<int64_t> got = dt.download();
    const std::vector<float> gotLp = dlp.download();
    for (int64_t r = 0; r < rows; ++r) {
      const size_t i = size_t(r);
      if (got[i] != want[i])
        throw Failure{"row " + std::to_string(r) + ": token " + std::to_string(got[i]) + ", the CPU Sampler's " +
                      std::to_string(want[i]) + " (u = " + std::to_string(uniforms[i]) + ")"};
      const bool lpOk = r == nanRow ? std::isnan(gotLp[i])
                                    : std::fabs(gotLp[i] - wantLp[i]) <= 1e-4f * std::max(1.f, std::fabs(wantLp[i]));
      if (!lpOk)
        throw Failure{"row " + std::to_string(r) + ": log-probability " + std::to_string(gotLp[i]) + ", expected " +
                      std::to_string(wantLp[i])};
    }
    if (run == 1 && got != first) throw Failure{"the two runs differ"};
    first = got;
  }
  return std::to_string(rows) + " rows match the CPU Sampler";
}

// ---- the case list --------------------------------------------------------

std::vector<resa::cudatest::NamedCase> allCases() {
  std::vector<resa::cudatest::NamedCase> cases;
  auto add = [&](std::string name, std::function<std::string(uint64_t)> run) {
    cases.push_back({std::move(name), std::move(run)});
  };
  auto tag = [](const char *op, DType t, int64_t rows, int64_t a, int64_t b = -1) {
    std::string s = std::string(op) + "_" + shortName(t) + "_rows" + std::to_string(rows) + "_" + std::to_string(a);
    if (b >= 0) s += "x" + std::to_string(b);
    return s;
  };

  add("registry", [](uint64_t) {
    for (const char *n : {"resa.add_rms_norm", "resa.embedding", "resa.gated_mlp", "resa.layer_norm", "resa.linear",
                          "resa.logits", "resa.multi_linear", "resa.multi_rotary", "resa.projection_add_rms_norm",
                          "resa.rms_norm", "resa.rotary"})
      if (!resa::gpu::findCudaKernel(n)) throw Failure{std::string("no CUDA kernel ") + n};
    return std::string("11 layer kernels registered");
  });

  const int64_t rowSet[] = {1, 3, 17};
  for (DType t : {DType::BF16, DType::F16}) {
    // resa.linear: K x N over the hidden sizes, with and without bias.
    const std::pair<int64_t, int64_t> kn[] = {{64, 96}, {96, 64}, {4096, 96}, {96, 4096}};
    for (int64_t rows : rowSet)
      for (const auto &p : kn) {
        const int64_t K = p.first, N = p.second; // (a lambda cannot capture a structured binding in C++17)
        const bool bias = (rows + K) % 2 == 1 || rows == 17;
        add(tag("linear", t, rows, K, N) + (bias ? "_bias" : ""),
            [=](uint64_t s) { return linearCase(false, t, t, rows, K, N, bias, s); });
      }
    // resa.multi_linear: x in the weights' dtype, and x in fp32 (the
    // executor's activations: converted once for the three).
    for (int64_t rows : rowSet)
      for (DType xt : {t, DType::F32})
        add(tag("multi_linear", xt, rows, 64) + "_w" + shortName(t),
            [=](uint64_t s) { return multiLinearCase(xt, t, rows, 64, s); });
    for (int64_t rows : rowSet)
      for (DType xt : {t, DType::F32}) {
        for (int withBias = 0; withBias < 2; ++withBias) {
          const bool bias = withBias == 1;
          add(tag("multi_linear_fused", xt, rows, 64) + "_w" + shortName(t) + (bias ? "_bias" : ""),
              [=](uint64_t s) { return fusedMultiLinearCase(xt, t, rows, 64, bias, s); });
        }
      }
    // Rows enough for a GEMM per output (>= 64), x in the weights' dtype
    // and in fp32, with and without biases.
    for (DType xt : {t, DType::F32})
      for (bool bias : {false, true})
        add(tag("multi_linear_fused", xt, 96, 64) + "_w" + shortName(t) + (bias ? "_bias" : "") + "_per_output",
            [=](uint64_t s) { return fusedMultiLinearCase(xt, t, 96, 64, bias, s); });
    // A decode step's K (>= 1024): without biases and where offered, the
    // product left to the next step in 4 fp32 slices of K, up to 16 rows (17
    // rows, or biases: never deferred).
    for (int64_t rows : {1, 8, 17})
      for (bool bias : {false, true})
        for (bool defer : {false, true})
          add(tag("multi_linear_fused", t, rows, 1024) + "_w" + shortName(t) + (bias ? "_bias" : "") +
                  (defer ? "_deferrable" : ""),
              [=](uint64_t s) { return fusedMultiLinearCase(t, t, rows, 1024, bias, s, defer); });
    // More rows than the grid's y holds (65535): a GEMM per output.
    add(tag("multi_linear_fused", t, 70000, 16) + "_w" + shortName(t) + "_bias_rows_past_grid",
        [=](uint64_t s) { return fusedMultiLinearCase(t, t, 70000, 16, true, s); });
    // resa.logits: fp32 out.
    const std::pair<int64_t, int64_t> kv[] = {{64, 300}, {96, 32000}};
    for (int64_t rows : rowSet)
      for (const auto &p : kv) {
        const int64_t K = p.first, V = p.second;
        add(tag("logits", t, rows, K, V), [=](uint64_t s) { return linearCase(true, t, t, rows, K, V, false, s); });
      }
    add(tag("logits", t, 3, 4096, 32000), [=](uint64_t s) { return linearCase(true, t, t, 3, 4096, 32000, false, s); });
    // resa.gated_mlp: each activation, separate and fused gate/up weights.
    int i = 0;
    for (const char *act : {"silu", "gelu_tanh", "gelu"})
      for (bool fused : {false, true}) {
        const int64_t rows = rowSet[i++ % 3];
        const int64_t K = i % 2 ? 64 : 96, I = i % 2 ? 160 : 200;
        add(tag("gated_mlp", t, rows, K, I) + "_" + act + (fused ? "_fused" : ""),
            [=](uint64_t s) { return gatedMlpCase(t, act, fused, rows, K, I, K, s); });
      }
    add(tag("gated_mlp", t, 17, 4096, 1024) + "_silu_fused",
        [=](uint64_t s) { return gatedMlpCase(t, "silu", true, 17, 4096, 1024, 4096, s); });
    add(tag("gated_mlp", t, 3, 96, 4096) + "_gelu_tanh_out64",
        [=](uint64_t s) { return gatedMlpCase(t, "gelu_tanh", false, 3, 96, 4096, 64, s); });
    // An intermediate width of odd size: the activation's element path.
    add(tag("gated_mlp", t, 3, 64, 33) + "_silu_fused_odd_width",
        [=](uint64_t s) { return gatedMlpCase(t, "silu", true, 3, 64, 33, 64, s); });
    // Rows enough for the 16-byte path (>= 64), each activation.
    for (const char *act : {"silu", "gelu_tanh", "gelu"})
      add(tag("gated_mlp", t, 96, 64, 160) + "_" + act + "_fused_vector",
          [=](uint64_t s) { return gatedMlpCase(t, act, true, 96, 64, 160, 64, s); });
    // More rows than the grid's y holds (65535): the row loops' later passes.
    add(tag("gated_mlp", t, 70000, 16, 8) + "_silu_fused_rows_past_grid",
        [=](uint64_t s) { return gatedMlpCase(t, "silu", true, 70000, 16, 8, 16, s); });
    // resa.projection_add_rms_norm: sliced (rows <= 16, K or I >= 1024) and
    // whole GEMMs; x in fp32 beside the weights' dtype; an fp32 residual.
    for (int64_t rows : rowSet) {
      add(tag("projection_add_rms_norm", t, rows, 4096, 256) + "_linear",
          [=](uint64_t s) { return projectionNormCase(t, t, t, 1, rows, 4096, 0, 256, s); });
      add(tag("projection_add_rms_norm", t, rows, 96, 64) + "_linear",
          [=](uint64_t s) { return projectionNormCase(t, t, t, 1, rows, 96, 0, 64, s); });
      add(tag("projection_add_rms_norm", t, rows, 256, 1024) + "_mlp_fused",
          [=](uint64_t s) { return projectionNormCase(t, t, t, 2, rows, 256, 1024, 264, s); });
      add(tag("projection_add_rms_norm", t, rows, 64, 160) + "_mlp",
          [=](uint64_t s) { return projectionNormCase(t, t, t, 3, rows, 64, 160, 100, s); });
      add(tag("projection_add_rms_norm", DType::F32, rows, 2048, 96) + "_linear_w" + shortName(t),
          [=](uint64_t s) { return projectionNormCase(DType::F32, t, DType::F32, 1, rows, 2048, 0, 96, s); });
      add(tag("projection_add_rms_norm", t, rows, 1024, 64) + "_linear_residual_f32",
          [=](uint64_t s) { return projectionNormCase(t, t, DType::F32, 1, rows, 1024, 0, 64, s); });
    }
    // A prefill's rows (>= 256): one product in x's dtype, normed a warp a
    // row; fp32 products where x or the residual is fp32.
    add(tag("projection_add_rms_norm", t, 300, 512, 256) + "_linear_warp",
        [=](uint64_t s) { return projectionNormCase(t, t, t, 1, 300, 512, 0, 256, s); });
    add(tag("projection_add_rms_norm", t, 300, 256, 1024) + "_mlp_fused_warp",
        [=](uint64_t s) { return projectionNormCase(t, t, t, 2, 300, 256, 1024, 264, s); });
    add(tag("projection_add_rms_norm", DType::F32, 300, 512, 96) + "_linear_w" + shortName(t) + "_rows300",
        [=](uint64_t s) { return projectionNormCase(DType::F32, t, DType::F32, 1, 300, 512, 0, 96, s); });
    add(tag("projection_add_rms_norm", t, 300, 512, 64) + "_linear_residual_f32_rows300",
        [=](uint64_t s) { return projectionNormCase(t, t, DType::F32, 1, 300, 512, 0, 64, s); });
    // Norms: 100, 33 and 2500 take the scalar path (not a multiple of 8
    // elements); 2500 and 16400 are wider than the rows kept in registers.
    for (int64_t rows : rowSet)
      for (int64_t D : {64, 96, 100, 4096, 33, 2500, 16400}) {
        const float offset = D == 96 || D == 33 ? 1.f : 0.f;
        add(tag("rms_norm", t, rows, D) + (offset != 0.f ? "_offset1" : ""),
            [=](uint64_t s) { return normCase(true, t, t, rows, D, offset, false, s); });
        const bool bias = D != 64;
        add(tag("layer_norm", t, rows, D) + (bias ? "_bias" : ""),
            [=](uint64_t s) { return normCase(false, t, t, rows, D, 0.f, bias, s); });
        // add_rms_norm: vectorised (64, 4096) and scalar (100, 33) rows,
        // activations in the weights' dtype and in fp32.
        if (D != 96)
          for (DType xt : {t, DType::F32}) {
            add(tag("add_rms_norm", xt, rows, D) + "_w" + shortName(t),
                [=](uint64_t s) { return addNormCase(xt, xt, t, rows, D, s); });
            if (xt == DType::F32)
              add(tag("add_rms_norm", xt, rows, D) + "_b" + shortName(t) + "_w" + shortName(t),
                  [=](uint64_t s) { return addNormCase(xt, t, t, rows, D, s); });
          }
      }
    // Norms over many rows (>= 256: a warp a row): kept in registers (64,
    // 4096), wider than that (8200), and the scalar path (33).
    for (int64_t D : {64, 4096, 8200, 33}) {
      add(tag("rms_norm", t, 300, D) + "_warp",
          [=](uint64_t s) { return normCase(true, t, t, 300, D, D == 33 ? 1.f : 0.f, false, s); });
      add(tag("layer_norm", t, 300, D) + "_bias_warp",
          [=](uint64_t s) { return normCase(false, t, t, 300, D, 0.f, true, s); });
      add(tag("add_rms_norm", t, 300, D) + "_w" + shortName(t) + "_warp",
          [=](uint64_t s) { return addNormCase(t, t, t, 300, D, s); });
    }
    // Rotary: both layouts, interleaved or halves, partial rotary_dim, full
    // or half-width tables, broadcast batch or sequence.
    const std::pair<const char *, RotarySetup> rs[] = {
        {"b4_h3_s5_d64_half", {true, 2, 3, 5, 64, 64, false, false, false, true}},
        {"b4_h3_s5_d64_full_interleaved", {true, 2, 3, 5, 64, 64, true, true, true, true}},
        {"b3_h4_s5_d96_rot64_half_seqbcast", {false, 2, 4, 5, 96, 64, false, false, true, false}},
        {"b3_h2_s17_d64_rot32_full_interleaved", {false, 1, 2, 17, 64, 32, true, true, false, true}},
        {"b3_h8_s1_d128_half", {false, 3, 8, 1, 128, 128, false, false, true, true}},
    };
    for (const auto &named : rs) {
      const RotarySetup r = named.second;
      add(std::string("rotary_") + shortName(t) + "_" + named.first, [=](uint64_t s) { return rotaryCase(t, t, r, s); });
    }
    for (int64_t S : {1, 5})
      for (bool interleaved : {false, true})
        add(std::string("multi_rotary_") + shortName(t) + "_s" + std::to_string(S) + (interleaved ? "_interleaved" : ""),
            [=](uint64_t s) { return multiRotaryCase(t, S, interleaved, s); });
    // Embedding: 16-byte rows (64, 96, 4096) and element copies (33).
    for (int64_t D : {64, 96, 4096, 33}) {
      add(std::string("embedding_") + shortName(t) + "_i64_d" + std::to_string(D),
          [=](uint64_t s) { return embeddingCase(t, DType::I64, 300, D, {2, 3}, s); });
      add(std::string("embedding_") + shortName(t) + "_i32_d" + std::to_string(D),
          [=](uint64_t s) { return embeddingCase(t, DType::I32, 300, D, {17}, s); });
    }
  }

  // Mixed dtypes: activations converted to the weight's type, outputs of a
  // third type through fp32.
  add("linear_x_f32_w_bf16_rows3_96x64_bias",
      [](uint64_t s) { return linearCase(false, DType::F32, DType::BF16, 3, 96, 64, true, s); });
  add("linear_x_f16_w_bf16_rows17_64x96_bias",
      [](uint64_t s) { return linearCase(false, DType::F16, DType::BF16, 17, 64, 96, true, s); });
  add("linear_x_bf16_w_f32_rows3_96x96_bias",
      [](uint64_t s) { return linearCase(false, DType::BF16, DType::F32, 3, 96, 96, true, s); });
  add("logits_x_f32_w_f32_rows3_64x300",
      [](uint64_t s) { return linearCase(true, DType::F32, DType::F32, 3, 64, 300, false, s); });
  add("rms_norm_x_bf16_w_f32_rows3_4096",
      [](uint64_t s) { return normCase(true, DType::BF16, DType::F32, 3, 4096, 0.f, false, s); });
  add("rms_norm_bf16_rows3_4096_weight_view_unaligned",
      [](uint64_t s) { return normCase(true, DType::BF16, DType::BF16, 3, 4096, 0.f, false, s, true); });
  add("layer_norm_x_f16_w_bf16_rows17_96_bias",
      [](uint64_t s) { return normCase(false, DType::F16, DType::BF16, 17, 96, 0.f, true, s); });
  add("rotary_x_bf16_cos_f32_b4_h3_s5_d64",
      [](uint64_t s) { return rotaryCase(DType::BF16, DType::F32, {true, 2, 3, 5, 64, 48, false, true, false, true}, s); });
  add("embedding_f32_i64_d33",
      [](uint64_t s) { return embeddingCase(DType::F32, DType::I64, 300, 33, {5}, s); });
  add("embedding_host_ids_out_of_range", [](uint64_t s) { return embeddingRangeCase(s); });

  // Sampling: greedy and top-p over both vocab sizes and the row counts.
  struct SampleSetup {
    float temperature, topP;
    int mode;
  };
  const std::pair<const char *, SampleSetup> ss[] = {
      {"greedy", {0.f, 1.f, 0}},           {"greedy_ties", {0.f, 1.f, 3}},
      {"greedy_masked", {0.f, 1.f, 2}},    {"t1_p1", {1.f, 1.f, 0}},
      {"t0.7_p0.9", {0.7f, 0.9f, 0}},      {"t1.3_p0.5", {1.3f, 0.5f, 0}},
      {"t0.5_p0.95_ties", {0.5f, 0.95f, 1}}, {"t1_p0.8_masked", {1.f, 0.8f, 2}},
      {"t2_p1_ties", {2.f, 1.f, 1}},
  };
  // Vocabularies shorter than a row's cluster of blocks (5: some blocks read
  // nothing), one slice each of a few tokens (300), and Llama 3's (128256).
  for (const auto &named : ss)
    for (int64_t vocab : {5, 300, 32000, 128256})
      for (int64_t rows : rowSet) {
        const SampleSetup c = named.second;
        add(std::string("sample_") + named.first + "_v" + std::to_string(vocab) + "_rows" + std::to_string(rows),
            [=](uint64_t s) { return samplingCase(rows, vocab, vocab, c.temperature, c.topP, c.mode, -1, s); });
      }
  add("sample_t0.8_p0.9_stride_v32000_rows3", [](uint64_t s) {
    return samplingCase(3, 32000, 3 * 32000, 0.8f, 0.9f, 0, -1, s);
  });
  // Slices too long for shared memory: every pass reads the row itself.
  add("sample_greedy_unstaged_v600000_rows2", [](uint64_t s) {
    return samplingCase(2, 600000, 600000, 0.f, 1.f, 0, -1, s);
  });
  add("sample_t0.9_p0.9_unstaged_v600000_rows2", [](uint64_t s) {
    return samplingCase(2, 600000, 600000, 0.9f, 0.9f, 0, -1, s);
  });
  add("sample_nan_row_v300_rows3", [](uint64_t s) { return samplingCase(3, 300, 300, 0.9f, 0.9f, 0, 1, s); });
  add("sample_greedy_nan_row_v300_rows3", [](uint64_t s) { return samplingCase(3, 300, 300, 0.f, 1.f, 0, 2, s); });
  return cases;
}

} // namespace

int main(int argc, char **argv) {
  const int status =
      resa::cudatest::runTestProgram(argc, argv, "layers", "", allCases(), [] {
        CUDA_OK(cudaGetDevice(&env().device));
        CUDA_OK(cudaStreamCreateWithFlags(&env().stream, cudaStreamNonBlocking));
        env().blas = std::make_unique<resa::gpu::BlasLtHandle>();
      });
  env().blas.reset();
  if (env().stream)
    cudaStreamDestroy(env().stream);
  return status;
}
