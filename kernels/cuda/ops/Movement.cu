// Shape and data-movement device kernels: the views (Reshape, Squeeze,
// Unsqueeze, Flatten, Identity: no copy), the strided copies (Transpose,
// Slice, Expand, Concat, Split: one kernel), Gather, ReduceSum/ReduceMean,
// MatMul and Range. Shapes, axes and opset rules come from the functions the
// CPU kernels use (resa/kernels/OpShapes.h), fed with the host copies of the
// steering inputs; semantics are the CPU kernels' of the same names.
#include "Dispatch.cuh"
#include "IndexMap.cuh"

#include "resa/kernels/OpShapes.h"

#include <algorithm>
#include <cstdint>
#include <deque>

namespace resa::gpu {
namespace ops {
namespace {

using Outputs = std::vector<DeviceTensor>;

// ---- views ----------------------------------------------------------------------

void reshapeOp(const DeviceKernelArgs &args, Outputs &outputs) {
  const DeviceTensor &x = args.required(0);
  setOutput(outputs, args, 0, x.reshaped(reshapeShape(x.shape(), hostView(args, {1}))));
}

void squeezeOp(const DeviceKernelArgs &args, Outputs &outputs) {
  const DeviceTensor &x = args.required(0);
  setOutput(outputs, args, 0, x.reshaped(squeezeShape(x.shape(), hostView(args, {1}))));
}

void unsqueezeOp(const DeviceKernelArgs &args, Outputs &outputs) {
  const DeviceTensor &x = args.required(0);
  setOutput(outputs, args, 0, x.reshaped(unsqueezeShape(x.shape(), hostView(args, {1}))));
}

void flattenOp(const DeviceKernelArgs &args, Outputs &outputs) {
  const DeviceTensor &x = args.required(0);
  setOutput(outputs, args, 0, x.reshaped(flattenShape(x.shape(), hostView(args, {}))));
}

void identityOp(const DeviceKernelArgs &args, Outputs &outputs) { setOutput(outputs, args, 0, args.required(0)); }

// ---- strided copies -------------------------------------------------------------

// dst[off_1(o)] = src[off_0(o)] over the iteration space of `map`.
template <typename T> __global__ void stridedCopyKernel(const T *src, T *dst, IndexMap<2> map, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2];
    map.offsets(i, off);
    dst[off[1]] = src[off[0]];
  }
}

// Whether `map` (two operands, in elements) can walk `vec`-element units:
// the innermost axis contiguous in both and a multiple of vec, every other
// stride a multiple of vec, both starts 16-byte aligned.
bool vectorCopyable(const IndexMap<2> &map, int64_t vec, const void *from, const void *to) {
  if (vec <= 1 || map.rank == 0 || !aligned16(from) || !aligned16(to))
    return false;
  const int last = map.rank - 1;
  if (map.strides[0][last] != 1 || map.strides[1][last] != 1 || map.shape[last] % vec) return false;
  for (int k = 0; k < 2; ++k)
    for (int d = 0; d < last; ++d)
      if (map.strides[k][d] % vec) return false;
  return true;
}

// Copies `iter`'s elements: source element srcBase + sum idx_d * srcStrides[d]
// to destination element dstBase + sum idx_d * dstStrides[d].
void stridedCopy(const char *op, cudaStream_t stream, const Shape &iter, const DeviceTensor &src, int64_t srcBase,
                 const std::vector<int64_t> &srcStrides, DeviceTensor &dst, int64_t dstBase,
                 const std::vector<int64_t> &dstStrides) {
  const int64_t n = numElements(iter);
  if (n == 0) return;
  const std::vector<int64_t> st[2] = {srcStrides, dstStrides};
  IndexMap<2> map = makeIndexMap(op, iter, st);
  // 16 bytes a thread where both sides' innermost axis is contiguous and every
  // offset stays on a 16-byte boundary (a prefill's [S, H, D] layout copies:
  // 3.3 ms each at 128K tokens element by element, session 16): the same map
  // in 16-byte units.
  const int64_t vec = 16 / static_cast<int64_t>(dtypeSize(src.dtype()));
  const char *from = static_cast<const char *>(src.raw()) + srcBase * dtypeSize(src.dtype());
  char *to = static_cast<char *>(dst.raw()) + dstBase * dtypeSize(dst.dtype());
  if (vectorCopyable(map, vec, from, to)) {
    const int last = map.rank - 1;
    map.shape[last] /= vec;
    for (int k = 0; k < 2; ++k)
      for (int d = 0; d < last; ++d) map.strides[k][d] /= vec;
    const int64_t units = n / vec;
    stridedCopyKernel<<<gridFor(units), kBlock, 0, stream>>>(reinterpret_cast<const uint4 *>(from),
                                                             reinterpret_cast<uint4 *>(to), map, units);
    checkLaunch(op);
    return;
  }
  dispatchBySize(
      src.dtype(),
      [&](auto tag) {
        using T = typename decltype(tag)::type;
        stridedCopyKernel<<<gridFor(n), kBlock, 0, stream>>>(src.data<T>() + srcBase, dst.data<T>() + dstBase, map, n);
      },
      op);
  checkLaunch(op);
}

// Output i: a contiguous copy of x read through the view.
// A view whose elements already lie contiguously in x (a Transpose that only
// moves unit dims, as [B, 1, H, D] -> [B, H, 1, D] in a decode step; a Slice
// or Split of whole rows) is x's own bytes under the new shape: no copy, no
// kernel. Only where it starts 256-byte aligned, as the allocator's blocks
// do, since the vectorised and attention kernels take the fast path only on
// aligned data.
bool isContiguousIn(const DeviceTensor &x, const StridedView &v) {
  const std::vector<int64_t> dense = stridesOf(v.shape);
  for (size_t d = 0; d < v.shape.size(); ++d)
    if (v.shape[d] > 1 && v.strides[d] != dense[d]) return false;
  const uintptr_t start = reinterpret_cast<uintptr_t>(x.raw()) + v.base * dtypeSize(x.dtype());
  return start % 256 == 0;
}

void copyView(const char *op, const DeviceKernelArgs &args, Outputs &outputs, size_t i, const DeviceTensor &x,
              const StridedView &v) {
  if (isContiguousIn(x, v)) {
    setOutput(outputs, args, i, x.view(v.shape, v.base));
    return;
  }
  DeviceTensor &y = allocOutput(outputs, args, i, x.dtype(), v.shape);
  stridedCopy(op, contextOf(args).stream, v.shape, x, v.base, v.strides, y, 0, stridesOf(v.shape));
}

void transposeOp(const DeviceKernelArgs &args, Outputs &outputs) {
  const DeviceTensor &x = args.required(0);
  copyView("Transpose", args, outputs, 0, x, transposeView(x.shape(), hostView(args, {})));
}

void sliceOp(const DeviceKernelArgs &args, Outputs &outputs) {
  const DeviceTensor &x = args.required(0);
  copyView("Slice", args, outputs, 0, x, sliceView(x.shape(), hostView(args, {1, 2, 3, 4})));
}

void expandOp(const DeviceKernelArgs &args, Outputs &outputs) {
  const DeviceTensor &x = args.required(0);
  copyView("Expand", args, outputs, 0, x, expandView(x.shape(), hostView(args, {1})));
}

void splitOp(const DeviceKernelArgs &args, Outputs &outputs) {
  const DeviceTensor &x = args.required(0);
  const std::vector<StridedView> views = splitViews(x.shape(), hostView(args, {1}));
  for (size_t i = 0; i < views.size(); ++i) copyView("Split", args, outputs, i, x, views[i]);
}

// Each input is copied into its band of the output along the axis.
void concatOp(const DeviceKernelArgs &args, Outputs &outputs) {
  const char *op = "Concat";
  if (args.inputs.empty()) fail(op, "needs at least one input");
  std::vector<const DeviceTensor *> given;
  for (size_t i = 0; i < args.inputs.size(); ++i) given.push_back(&args.required(i));
  std::deque<DeviceTensor> converted;
  const std::vector<const DeviceTensor *> in = promoteFloats(args, given, converted);
  requireSameDType(op, in);
  std::vector<Shape> shapes;
  for (const DeviceTensor *t : in) shapes.push_back(t->shape());
  const ConcatPlan plan = concatPlan(shapes, hostView(args, {}));
  DeviceTensor &y = allocOutput(outputs, args, 0, in[0]->dtype(), plan.shape);
  const std::vector<int64_t> outStrides = stridesOf(plan.shape);
  int64_t at = 0; // where the next input starts along the axis
  for (const DeviceTensor *t : in) {
    stridedCopy(op, contextOf(args).stream, t->shape(), *t, 0, stridesOf(t->shape()), y,
                at * outStrides[plan.axis], outStrides);
    at += t->dim(plan.axis);
  }
}

// ---- Gather ---------------------------------------------------------------------

// y viewed as [outer, n, inner] = x viewed as [outer, dim, inner] at the
// indices. Negative indices wrap once; one still out of range reads 0 (the
// host copy, where there is one, is checked before the launch).
template <typename T, typename I>
__global__ void gatherKernel(const T *x, const I *indices, T *y, int64_t n, int64_t dim, int64_t inner,
                             int64_t total) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = o % inner, rest = o / inner;
    const int64_t i = rest % n, outer = rest / n;
    int64_t idx = static_cast<int64_t>(indices[i]);
    if (idx < 0) idx += dim;
    y[o] = idx >= 0 && idx < dim ? x[(outer * dim + idx) * inner + j] : T(0);
  }
}

void gatherOp(const DeviceKernelArgs &args, Outputs &outputs) {
  const char *op = "Gather";
  const DeviceTensor &x = args.required(0), &ind = args.required(1);
  if (ind.dtype() != DType::I64 && ind.dtype() != DType::I32)
    fail(op, "indices must be int64 or int32, got ", dtypeName(ind.dtype()));
  const GatherPlan plan = gatherPlan(x.shape(), ind.shape(), hostView(args, {}));
  const int64_t dim = x.dim(plan.axis);
  if (args.host.size() > 1 && args.host[1])
    for (int64_t v : args.host[1]->toInts())
      if (v < -dim || v >= dim) fail(op, "index ", v, " out of range for a dimension of size ", dim);
  DeviceTensor &y = allocOutput(outputs, args, 0, x.dtype(), plan.shape);
  const int64_t total = y.numel();
  if (total == 0) return;
  dispatchBySize(
      x.dtype(),
      [&](auto tag) {
        using T = typename decltype(tag)::type;
        auto launch = [&](auto itag) {
          using I = typename decltype(itag)::type;
          gatherKernel<<<gridFor(total), kBlock, 0, contextOf(args).stream>>>(
              x.data<T>(), ind.data<I>(), y.data<T>(), ind.numel(), dim, plan.inner, total);
        };
        if (ind.dtype() == DType::I64) launch(Tag<int64_t>{});
        else launch(Tag<int32_t>{});
      },
      op);
  checkLaunch(op);
}

// ---- ReduceSum / ReduceMean ----------------------------------------------------------

constexpr int kWarp = 32;

// One warp per output element: outMap gives its first input element,
// redMap the offsets of the `count` elements folded into it. Floats
// accumulate in fp32, integers in int64 (Mean divides as the CPU does).
template <typename T, bool kMean>
__global__ void reduceKernel(const T *x, T *y, IndexMap<1> outMap, IndexMap<1> redMap, int64_t nOut, int64_t count) {
  using Acc = std::conditional_t<isFloatElem<T>, float, int64_t>;
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = int64_t(gridDim.x) * blockDim.x / kWarp;
  for (int64_t o = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / kWarp; o < nOut; o += warps) {
    int64_t base[1];
    outMap.offsets(o, base);
    Acc acc = 0;
    for (int64_t r = lane; r < count; r += kWarp) {
      int64_t off[1];
      redMap.offsets(r, off);
      acc += Acc(load(x, base[0] + off[0]));
    }
#pragma unroll
    for (int s = kWarp / 2; s > 0; s /= 2) acc += __shfl_down_sync(0xffffffffu, acc, s);
    if (lane == 0) {
      if (kMean) acc = count ? Acc(acc / Acc(count)) : Acc(0);
      store(y, o, Compute<T>(acc));
    }
  }
}

template <bool kMean>
void reduceOp(const char *op, int64_t axesInputSince, const DeviceKernelArgs &args, Outputs &outputs) {
  const DeviceTensor &x = args.required(0);
  const ReducePlan plan = reducePlan(op, x.shape(), axesInputSince, hostView(args, {1}));
  if (plan.identity) {
    setOutput(outputs, args, 0, x);
    return;
  }
  dispatchArith(
      x.dtype(),
      [&](auto tag) {
        using T = typename decltype(tag)::type;
        DeviceTensor &y = allocOutput(outputs, args, 0, x.dtype(), plan.shape);
        const int64_t nOut = y.numel();
        if (nOut == 0) return;
        // The reduced axes are those the plan kept at 1 (a size-1 axis
        // contributes nothing either way).
        Shape reduced(x.shape().size());
        for (size_t d = 0; d < reduced.size(); ++d) reduced[d] = plan.kept[d] == x.shape()[d] ? 1 : x.shape()[d];
        const std::vector<int64_t> st[1] = {stridesOf(x.shape())};
        const IndexMap<1> outMap = makeIndexMap(op, plan.kept, st), redMap = makeIndexMap(op, reduced, st);
        // A warp per output: as many blocks as for nOut * kWarp threads.
        reduceKernel<T, kMean><<<gridFor(nOut * kWarp), kBlock, 0, contextOf(args).stream>>>(
            x.data<T>(), y.data<T>(), outMap, redMap, nOut, plan.count);
      },
      op);
  checkLaunch(op);
}

void reduceSumOp(const DeviceKernelArgs &args, Outputs &outputs) { reduceOp<false>("ReduceSum", 13, args, outputs); }
void reduceMeanOp(const DeviceKernelArgs &args, Outputs &outputs) { reduceOp<true>("ReduceMean", 18, args, outputs); }

// ---- MatMul ---------------------------------------------------------------------------

constexpr int kTile = 16;

// C = A x B per batch, one kTile x kTile output tile per block, operands
// staged through shared memory as fp32; batchMap gives each batch's A and B
// offsets (broadcast batch axes have stride 0). Grid y and z loop so that
// any M and batch count fit the grid limits.
template <typename T>
__global__ void matMulKernel(const T *a, const T *b, T *c, int64_t M, int64_t N, int64_t K, IndexMap<2> batchMap,
                             int64_t batches) {
  __shared__ float as[kTile][kTile + 1], bs[kTile][kTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t mTiles = (M + kTile - 1) / kTile;
  const int64_t col = blockIdx.x * int64_t(kTile) + tx;
  for (int64_t bz = blockIdx.z; bz < batches; bz += gridDim.z) {
    int64_t off[2];
    batchMap.offsets(bz, off);
    const T *pa = a + off[0], *pb = b + off[1];
    T *pc = c + bz * M * N;
    for (int64_t by = blockIdx.y; by < mTiles; by += gridDim.y) {
      const int64_t row = by * kTile + ty;
      float acc = 0.f;
      for (int64_t k0 = 0; k0 < K; k0 += kTile) {
        as[ty][tx] = row < M && k0 + tx < K ? toFloat(pa[row * K + k0 + tx]) : 0.f;
        bs[ty][tx] = k0 + ty < K && col < N ? toFloat(pb[(k0 + ty) * N + col]) : 0.f;
        __syncthreads();
#pragma unroll
        for (int k = 0; k < kTile; ++k) acc += as[ty][k] * bs[k][tx];
        __syncthreads();
      }
      if (row < M && col < N) pc[row * N + col] = fromFloat<T>(acc);
    }
  }
}

void matMulOp(const DeviceKernelArgs &args, Outputs &outputs) {
  const char *op = "MatMul";
  std::deque<DeviceTensor> converted;
  const std::vector<const DeviceTensor *> in =
      promoteFloats(args, {&args.required(0), &args.required(1)}, converted);
  requireSameDType(op, in);
  const DeviceTensor &a = *in[0], &b = *in[1];
  const MatMulPlan p = matMulPlan(a.shape(), b.shape());
  dispatchFloat(
      a.dtype(),
      [&](auto tag) {
        using T = typename decltype(tag)::type;
        DeviceTensor &y = allocOutput(outputs, args, 0, a.dtype(), p.shape);
        const int64_t batches = numElements(p.batch);
        if (y.numel() == 0) return;
        std::vector<int64_t> st[2] = {broadcastStrides(p.batchA, p.batch), broadcastStrides(p.batchB, p.batch)};
        for (int64_t &s : st[0]) s *= p.M * p.K;
        for (int64_t &s : st[1]) s *= p.K * p.N;
        const IndexMap<2> batchMap = makeIndexMap(op, p.batch, st);
        const int64_t mTiles = (p.M + kTile - 1) / kTile, nTiles = (p.N + kTile - 1) / kTile;
        if (nTiles > INT32_MAX) fail(op, "N = ", p.N, " is too large");
        const dim3 grid(static_cast<unsigned>(nTiles), static_cast<unsigned>(std::min<int64_t>(mTiles, 65535)),
                        static_cast<unsigned>(std::min<int64_t>(batches, 65535)));
        matMulKernel<<<grid, dim3(kTile, kTile), 0, contextOf(args).stream>>>(a.data<T>(), b.data<T>(), y.data<T>(),
                                                                             p.M, p.N, p.K, batchMap, batches);
      },
      op);
  checkLaunch(op);
}

// ---- Range ------------------------------------------------------------------------

// The values come from the CPU kernel (its accumulation order is the
// reference) on the host copies of start, limit and delta, then upload.
void rangeOp(const DeviceKernelArgs &args, Outputs &outputs) {
  KernelArgs host = hostView(args, {0, 1, 2});
  std::vector<Tensor> values;
  findCpuKernel("Range")(host, values);
  const Tensor &v = values.at(0);
  setOutput(outputs, args, 0, upload(v, v.dtype(), contextOf(args)));
}

} // namespace
} // namespace ops

void addMovementKernels(std::vector<DeviceKernelEntry> &table) {
  using namespace ops;
  const DeviceKernelEntry entries[] = {
      {"Reshape", reshapeOp},     {"Squeeze", squeezeOp},       {"Unsqueeze", unsqueezeOp},
      {"Flatten", flattenOp},     {"Identity", identityOp},     {"Transpose", transposeOp},
      {"Slice", sliceOp},         {"Expand", expandOp},         {"Split", splitOp},
      {"Concat", concatOp},       {"Gather", gatherOp},         {"ReduceSum", reduceSumOp},
      {"ReduceMean", reduceMeanOp}, {"MatMul", matMulOp},       {"Range", rangeOp},
  };
  table.insert(table.end(), std::begin(entries), std::end(entries));
}

} // namespace resa::gpu
