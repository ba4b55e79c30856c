// resa.rotary and resa.multi_rotary: rotary position embedding with cos/sin
// as the graph computes them (dialects/resa/ResaLayerOps.td). One thread per
// output element: it reads its element and its pair partner and writes one
// rotated value, so the layouts need no shared memory. multi_rotary's
// tensors (a layer's q and k) share one launch: the elements of all of them
// are numbered one after another.
#include "../RotaryPair.cuh"
#include "LayerKernels.h"

#include <cstdint>
#include <vector>

namespace resa::gpu::ops::layers {
namespace {

struct RotaryShape {
  int64_t S, H, D;     // x is [B, H, S, D] (headsFirst) or [B, S, H*D]
  bool headsFirst;
  int64_t rot, half;   // rotated elements per head, and pairs
  bool interleaved;    // pairs (2i, 2i+1), else (i, i + half)
  int64_t Bc, Sc, W;   // cos/sin [Bc, Sc, W]; Bc, Sc broadcast when 1
  bool full;           // W == rot: one cos/sin per rotated element, else per pair
};

constexpr int kMaxParts = 4;

// One launch's tensors: part p is x[p] -> y[p], n[p] elements.
template <typename T> struct RotaryParts {
  const T *x[kMaxParts];
  T *y[kMaxParts];
  RotaryShape r[kMaxParts];
  int64_t n[kMaxParts];
  int count;
  int64_t total;
};

// Elements [e, e + V) of one head vector, all rotated or all copied, their
// partners and cos/sin consecutive too (V > 1: rotaryGroupsOf's conditions).
template <int V, typename T, typename C>
__device__ __forceinline__ void rotateGroup(const T *x, const C *cosT, const C *sinT, T *y, const RotaryShape &r,
                                            int64_t e) {
  using TV = Pack<T, V>;
  using CV = Pack<C, V>;
  const DivMod vec = divMod(e, r.D);  // (e's vector of D, its element d)
  const int64_t d = vec.r;
  if (d >= r.rot) {
    *reinterpret_cast<TV *>(y + e) = *reinterpret_cast<const TV *>(x + e);
    return;
  }
  // [B, H, S, D]: vector (b H + h) S + s; [B, S, H*D]: (b S + s) H + h.
  const DivMod outer = divMod(r.headsFirst ? vec.q : divMod(vec.q, r.H).q, r.S);
  const int64_t s = outer.r;
  const int64_t b = r.headsFirst ? divMod(outer.q, r.H).q : outer.q;
  const detail::RotaryPair p = detail::rotaryPair(d, r.rot, r.interleaved);
  const int64_t row = ((r.Bc == 1 ? 0 : b) * r.Sc + (r.Sc == 1 ? 0 : s)) * r.W;
  const int64_t ci = row + (r.full ? d : p.pair);
  const TV xs = *reinterpret_cast<const TV *>(x + e), partners = *reinterpret_cast<const TV *>(x + e + p.partner);
  const CV cs = *reinterpret_cast<const CV *>(cosT + ci), ss = *reinterpret_cast<const CV *>(sinT + ci);
  TV o;
#pragma unroll
  for (int k = 0; k < V; ++k)
    o.v[k] = fromFloat<T>(
        detail::rotatePair(p, toFloat(xs.v[k]), toFloat(partners.v[k]), toFloat(cs.v[k]), toFloat(ss.v[k])));
  *reinterpret_cast<TV *>(y + e) = o;
}

// Groups of V elements (the parts' element counts are multiples of V).
template <typename T, typename C, int V>
__global__ void rotaryKernel(const C *cosT, const C *sinT, RotaryParts<T> parts) {
  detail::pdlWait();
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < parts.total / V;
       g += int64_t(gridDim.x) * blockDim.x) {
    int p = 0;
    int64_t e = g * V;
    while (e >= parts.n[p]) e -= parts.n[p++];
    rotateGroup<V>(parts.x[p], cosT, sinT, parts.y[p], parts.r[p], e);
  }
  detail::pdlLaunchDependents();
}

// Whether rotaryKernel may take groups of v: pairs as halves (not
// interleaved), head size and half a rotation multiples of v (a group all
// rotated or all copied, its partners and cos/sin columns consecutive), the
// tensors and tables aligned to a group.
template <typename T, typename C>
bool rotaryGroupsOf(int64_t v, const RotaryParts<T> &parts, const C *cosT, const C *sinT) {
  if (!alignedTo(cosT, v * sizeof(C)) || !alignedTo(sinT, v * sizeof(C))) return false;
  for (int i = 0; i < parts.count; ++i) {
    const RotaryShape &r = parts.r[i];
    if (r.interleaved || r.D % v || r.half % v || !alignedTo(parts.x[i], v * sizeof(T)) ||
        !alignedTo(parts.y[i], v * sizeof(T)))
      return false;
  }
  return true;
}

// x's layout against num_heads H, rotary_dim and cos (whose shape and dtype
// sin shares), as rotaryKernel reads them.
RotaryShape rotaryShape(const char *op, const DeviceTensor &x, const DeviceTensor &cos, const DeviceTensor &sin,
                        int64_t H, int64_t rot, bool interleaved) {
  RotaryShape r{};
  int64_t B;
  if (x.rank() == 4) {
    B = x.dim(0), r.S = x.dim(2), r.D = x.dim(3);
    if (x.dim(1) != H) fail(op, "x ", shapeToString(x.shape()), " does not have num_heads = ", H, " heads");
    r.headsFirst = true;
  } else if (x.rank() == 3) {
    B = x.dim(0), r.S = x.dim(1);
    if (H <= 0 || x.dim(2) % H) fail(op, "width ", x.dim(2), " is not a multiple of num_heads = ", H);
    r.D = x.dim(2) / H;
    r.headsFirst = false;
  } else {
    fail(op, "x must be 3-D or 4-D, got ", shapeToString(x.shape()));
  }
  r.H = H;
  if (rot <= 0 || rot % 2 || rot > r.D) fail(op, "rotary_dim ", rot, " invalid for head size ", r.D);
  if (cos.shape() != sin.shape()) fail(op, "cos and sin shapes differ");
  if (cos.dtype() != sin.dtype()) fail(op, "cos and sin dtypes differ");
  if (cos.rank() != 3) fail(op, "cos must be 3-D, got ", shapeToString(cos.shape()));
  r.rot = rot, r.half = rot / 2;
  r.Bc = cos.dim(0), r.Sc = cos.dim(1), r.W = cos.dim(2);
  if ((r.Bc != 1 && r.Bc != B) || (r.Sc != 1 && r.Sc != r.S) || (r.W != rot && r.W != r.half))
    fail(op, "cos ", shapeToString(cos.shape()), " does not fit x ", shapeToString(x.shape()), " with rotary_dim ",
         rot);
  r.full = r.W == rot;
  r.interleaved = interleaved;
  return r;
}

// Rotates inputs first.. (one per entry of heads) into outputs 0.. in one
// launch; cos and sin are inputs cosAt and cosAt + 1.
void rotateAll(const char *op, const DeviceKernelArgs &args, Outputs &outputs, size_t cosAt, size_t first,
               const std::vector<int64_t> &heads) {
  const DeviceTensor &cos = floatInput(op, args, cosAt, "cos");
  const DeviceTensor &sin = floatInput(op, args, cosAt + 1, "sin");
  const Attrs &at = attrsOf(args);
  const int64_t rot = at.requireInt("rotary_dim");
  const bool interleaved = at.getInt("interleaved", 0) != 0;
  if (heads.empty() || heads.size() > size_t(kMaxParts))
    fail(op, "rotates 1 to ", kMaxParts, " tensors in one launch, got ", heads.size());
  const DeviceTensor &x0 = floatInput(op, args, first, "x");
  std::vector<RotaryShape> shapes;
  for (size_t i = 0; i < heads.size(); ++i) {
    const DeviceTensor &x = floatInput(op, args, first + i, "x");
    if (x.dtype() != x0.dtype()) fail(op, "the tensors' dtypes differ");
    shapes.push_back(rotaryShape(op, x, cos, sin, heads[i], rot, interleaved));
    allocOutput(outputs, args, i, x.dtype(), x.shape());
  }
  dispatchFloat(
      x0.dtype(),
      [&](auto xt) {
        using T = typename decltype(xt)::type;
        RotaryParts<T> parts{};
        parts.count = static_cast<int>(heads.size());
        for (size_t i = 0; i < heads.size(); ++i) {
          parts.x[i] = args.input(first + i)->data<T>();
          parts.y[i] = outputs[i].data<T>();
          parts.r[i] = shapes[i];
          parts.n[i] = args.input(first + i)->numel();
          parts.total += parts.n[i];
        }
        if (parts.total == 0) return;
        dispatchFloat(
            cos.dtype(),
            [&](auto ct) {
              using C = typename decltype(ct)::type;
              // 16 bytes of x a thread where the layout allows (a prefill's
              // q and k: 7.5 ms a layer at 128K tokens element by element).
              constexpr int kVec = 16 / sizeof(T);
              if (rotaryGroupsOf(kVec, parts, cos.data<C>(), sin.data<C>()))
                launchLayerKernel(op, rotaryKernel<T, C, kVec>, gridFor(parts.total / kVec), kBlock,
                                  args.ctx->stream, cos.data<C>(), sin.data<C>(), parts);
              else
                launchLayerKernel(op, rotaryKernel<T, C, 1>, gridFor(parts.total), kBlock, args.ctx->stream,
                                  cos.data<C>(), sin.data<C>(), parts);
            },
            op);
      },
      op);
  checkLaunch(op);
}

} // namespace

// x [B, H, S, D] or [B, S, H*D]; cos, sin [Bc, Sc, W]; num_heads, rotary_dim,
// interleaved.
void rotary(const DeviceKernelArgs &args, Outputs &outputs) {
  rotateAll("resa.rotary", args, outputs, 1, 0, {attrsOf(args).requireInt("num_heads")});
}

// cos, sin, then x_1 ... x_n; num_heads [n], rotary_dim, interleaved.
void multiRotary(const DeviceKernelArgs &args, Outputs &outputs) {
  const char *op = "resa.multi_rotary";
  const std::vector<int64_t> heads = attrsOf(args).getInts("num_heads");
  if (args.inputs.size() < 4 || heads.size() != args.inputs.size() - 2)
    fail(op, "takes cos, sin and >= 2 tensors with a num_heads each; got ", args.inputs.size(), " inputs and ",
         heads.size(), " num_heads");
  rotateAll(op, args, outputs, 0, 2, heads);
}

} // namespace resa::gpu::ops::layers
