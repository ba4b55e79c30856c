// resa.rotary: rotary position embedding with cos/sin as the graph computes
// them (dialects/resa/ResaLayerOps.td). One thread per output element: it
// reads its element and its pair partner and writes one rotated value, so
// the layouts need no shared memory.
#include "LayerKernels.h"

#include <cstdint>

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

template <typename T, typename C>
__global__ void rotaryKernel(const T *x, const C *cosT, const C *sinT, T *y, RotaryShape r, int64_t n) {
  detail::pdlWait();
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = e % r.D;
    if (d >= r.rot) {
      y[e] = x[e];
      continue;
    }
    int64_t s, b;
    if (r.headsFirst) {
      s = (e / r.D) % r.S;
      b = e / (r.D * r.S * r.H);
    } else {
      s = (e / (r.D * r.H)) % r.S;
      b = e / (r.D * r.H * r.S);
    }
    bool first;
    int64_t pair, partner;
    if (r.interleaved) {
      first = d % 2 == 0;
      pair = d / 2;
      partner = first ? e + 1 : e - 1;
    } else {
      first = d < r.half;
      pair = first ? d : d - r.half;
      partner = first ? e + r.half : e - r.half;
    }
    const int64_t row = ((r.Bc == 1 ? 0 : b) * r.Sc + (r.Sc == 1 ? 0 : s)) * r.W;
    const int64_t ci = row + (r.full ? d : pair);
    const float c = toFloat(cosT[ci]), sn = toFloat(sinT[ci]);
    const float xv = toFloat(x[e]), xp = toFloat(x[partner]);
    // first: y[i1] = x1 cos - x2 sin; second: y[i2] = x2 cos + x1 sin.
    y[e] = fromFloat<T>(first ? xv * c - xp * sn : xv * c + xp * sn);
  }
  detail::pdlLaunchDependents();
}

} // namespace

// x [B, H, S, D] or [B, S, H*D]; cos, sin [Bc, Sc, W]; num_heads, rotary_dim,
// interleaved.
void rotary(const DeviceKernelArgs &args, Outputs &outputs) {
  const char *op = "resa.rotary";
  const DeviceTensor &x = floatInput(op, args, 0, "x");
  const DeviceTensor &cos = floatInput(op, args, 1, "cos");
  const DeviceTensor &sin = floatInput(op, args, 2, "sin");
  const Attrs &at = attrsOf(args);
  const int64_t H = at.requireInt("num_heads"), rot = at.requireInt("rotary_dim");
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
  r.interleaved = at.getInt("interleaved", 0) != 0;
  DeviceTensor &y = allocOutput(outputs, args, 0, x.dtype(), x.shape());
  const int64_t n = x.numel();
  if (n == 0) return;
  dispatchFloat(
      x.dtype(),
      [&](auto xt) {
        using T = typename decltype(xt)::type;
        dispatchFloat(
            cos.dtype(),
            [&](auto ct) {
              using C = typename decltype(ct)::type;
              launchLayerKernel(op, rotaryKernel<T, C>, gridFor(n), kBlock, args.ctx->stream, x.data<T>(),
                                cos.data<C>(), sin.data<C>(), y.data<T>(), r, n);
            },
            op);
      },
      op);
  checkLaunch(op);
}

} // namespace resa::gpu::ops::layers
