// Elementwise device kernels: broadcasting binary arithmetic (Add, Sub, Mul,
// Div, Pow), Equal and Where, unary math (Neg ... Sigmoid), Cast and
// CastLike. Semantics are the CPU kernels' of the same names
// (kernels/cpu/Elementwise.cpp, Unary.cpp, Cast.cpp), with two device rules:
// floats compute in fp32 whatever they are stored in, and operands of
// different float dtypes are promoted to F32 (OpArgs.h). Integer division by
// zero yields 0 (a kernel cannot throw).
#include "Convert.h"
#include "Dispatch.cuh"
#include "IndexMap.cuh"

#include "resa/kernels/OpShapes.h"

#include <cstdint>
#include <deque>

namespace resa::gpu {
namespace ops {
namespace {

// ---- kernel families --------------------------------------------------------

template <typename T, typename Op> __global__ void unaryKernel(const T *x, T *y, int64_t n, Op op) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store(y, i, op(load(x, i)));
}

// out[i] = op(a[.], b[.]) over the broadcast of a and b.
template <typename TA, typename TB, typename TO, typename Op>
__global__ void binaryKernel(const TA *a, const TB *b, TO *out, IndexMap<2> map, int64_t n, Op op) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2];
    map.offsets(i, off);
    store(out, i, op(load(a, off[0]), load(b, off[1])));
  }
}

template <typename T>
__global__ void whereKernel(const uint8_t *c, const T *x, const T *y, T *out, IndexMap<3> map, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    map.offsets(i, off);
    out[i] = c[off[0]] ? x[off[1]] : y[off[2]];
  }
}

template <typename T, typename Op>
void launchUnary(const char *name, const DeviceTensor &x, DeviceTensor &y, cudaStream_t stream) {
  const int64_t n = x.numel();
  if (n == 0) return;
  unaryKernel<<<gridFor(n), kBlock, 0, stream>>>(x.data<T>(), y.data<T>(), n, Op{});
  checkLaunch(name);
}

template <typename TA, typename TB, typename TO, typename Op>
void launchBinary(const char *name, const DeviceTensor &a, const DeviceTensor &b, DeviceTensor &out,
                  cudaStream_t stream) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const std::vector<int64_t> st[2] = {broadcastStrides(a.shape(), out.shape()),
                                      broadcastStrides(b.shape(), out.shape())};
  const IndexMap<2> map = makeIndexMap(name, out.shape(), st);
  binaryKernel<<<gridFor(n), kBlock, 0, stream>>>(a.data<TA>(), b.data<TB>(), out.data<TO>(), map, n, Op{});
  checkLaunch(name);
}

// ---- binary ops ---------------------------------------------------------------
// Each functor works on compute-type values (fp32 for the float types).

struct AddOp {
  static constexpr const char *name = "Add";
  template <typename C> __device__ C operator()(C x, C y) const { return C(x + y); }
};
struct SubOp {
  static constexpr const char *name = "Sub";
  template <typename C> __device__ C operator()(C x, C y) const { return C(x - y); }
};
struct MulOp {
  static constexpr const char *name = "Mul";
  template <typename C> __device__ C operator()(C x, C y) const { return C(x * y); }
};
struct DivOp {
  static constexpr const char *name = "Div";
  template <typename C> __device__ C operator()(C x, C y) const {
    if constexpr (std::is_integral_v<C>) return y == 0 ? C(0) : C(x / y);
    else return x / y;
  }
};
// The exponent may be an integer; integer exponents go through double, as
// the CPU kernel computes them.
struct PowOp {
  template <typename E> __device__ float operator()(float x, E y) const {
    if constexpr (std::is_integral_v<E>) return float(pow(double(x), double(y)));
    else return powf(x, y);
  }
};
struct EqualOp {
  template <typename C> __device__ uint8_t operator()(C x, C y) const { return x == y; }
};

// A broadcasting op's operands, promoted to one dtype, and their broadcast shape.
struct Operands {
  std::deque<DeviceTensor> converted;
  std::vector<const DeviceTensor *> ts;
  Shape shape;
};

Operands broadcastOperands(const char *name, const DeviceKernelArgs &args, std::vector<const DeviceTensor *> ts) {
  Operands o;
  o.ts = promoteFloats(args, std::move(ts), o.converted);
  requireSameDType(name, o.ts);
  o.shape = o.ts[0]->shape();
  for (const DeviceTensor *t : o.ts) o.shape = broadcastShapes(name, o.shape, t->shape());
  return o;
}

template <typename Op> void binaryArith(const DeviceKernelArgs &args, std::vector<DeviceTensor> &outputs) {
  const Operands in = broadcastOperands(Op::name, args, {&args.required(0), &args.required(1)});
  const DeviceTensor &a = *in.ts[0], &b = *in.ts[1];
  dispatchArith(
      a.dtype(),
      [&](auto tag) {
        using T = typename decltype(tag)::type;
        DeviceTensor &y = allocOutput(outputs, args, 0, a.dtype(), in.shape);
        launchBinary<T, T, T, Op>(Op::name, a, b, y, contextOf(args).stream);
      },
      Op::name);
}

// Pow: a float base, an exponent of any float or integer type; the result
// has the base's dtype (as on the CPU).
void powOp(const DeviceKernelArgs &args, std::vector<DeviceTensor> &outputs) {
  const char *name = "Pow";
  const DeviceTensor &a = args.required(0), &b = args.required(1);
  const Shape shape = broadcastShapes(name, a.shape(), b.shape());
  dispatchFloat(
      a.dtype(),
      [&](auto ta) {
        using T = typename decltype(ta)::type;
        dispatchArith(
            b.dtype(),
            [&](auto tb) {
              using E = typename decltype(tb)::type;
              DeviceTensor &y = allocOutput(outputs, args, 0, a.dtype(), shape);
              launchBinary<T, E, T, PowOp>(name, a, b, y, contextOf(args).stream);
            },
            name);
      },
      name);
}

void equalOp(const DeviceKernelArgs &args, std::vector<DeviceTensor> &outputs) {
  const char *name = "Equal";
  const Operands in = broadcastOperands(name, args, {&args.required(0), &args.required(1)});
  const DeviceTensor &a = *in.ts[0], &b = *in.ts[1];
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    DeviceTensor &y = allocOutput(outputs, args, 0, DType::Bool, in.shape);
    launchBinary<T, T, uint8_t, EqualOp>(name, a, b, y, contextOf(args).stream);
  };
  if (a.dtype() == DType::Bool) run(Tag<uint8_t>{});
  else dispatchArith(a.dtype(), run, name);
}

void whereOp(const DeviceKernelArgs &args, std::vector<DeviceTensor> &outputs) {
  const char *name = "Where";
  const DeviceTensor &c = args.required(0);
  if (c.dtype() != DType::Bool) fail(name, "condition must be bool, got ", dtypeName(c.dtype()));
  const Operands xy = broadcastOperands(name, args, {&args.required(1), &args.required(2)});
  const DeviceTensor &x = *xy.ts[0], &y = *xy.ts[1];
  const Shape shape = broadcastShapes(name, c.shape(), xy.shape);
  DeviceTensor &out = allocOutput(outputs, args, 0, x.dtype(), shape);
  const int64_t n = out.numel();
  if (n == 0) return;
  const std::vector<int64_t> st[3] = {broadcastStrides(c.shape(), shape), broadcastStrides(x.shape(), shape),
                                      broadcastStrides(y.shape(), shape)};
  const IndexMap<3> map = makeIndexMap(name, shape, st);
  dispatchBySize(
      x.dtype(),
      [&](auto tag) {
        using T = typename decltype(tag)::type;
        whereKernel<<<gridFor(n), kBlock, 0, contextOf(args).stream>>>(c.data<uint8_t>(), x.data<T>(), y.data<T>(),
                                                                        out.data<T>(), map, n);
      },
      name);
  checkLaunch(name);
}

// ---- unary ops -----------------------------------------------------------------
// kIntegers: also defined on I64/I32 (as the CPU's unaryArith ops).

struct NegOp {
  static constexpr const char *name = "Neg";
  static constexpr bool kIntegers = true;
  template <typename C> __device__ C operator()(C v) const { return C(-v); }
};
struct AbsOp {
  static constexpr const char *name = "Abs";
  static constexpr bool kIntegers = true;
  template <typename C> __device__ C operator()(C v) const { return v < C(0) ? C(-v) : v; }
};
struct ReluOp {
  static constexpr const char *name = "Relu";
  static constexpr bool kIntegers = true;
  template <typename C> __device__ C operator()(C v) const { return v > C(0) ? v : C(0); }
};
#define RESA_FLOAT_UNARY(Name, expr)                                                                 \
  struct Name##Op {                                                                                  \
    static constexpr const char *name = #Name;                                                       \
    static constexpr bool kIntegers = false;                                                         \
    __device__ float operator()(float v) const { return expr; }                                      \
  };
RESA_FLOAT_UNARY(Sin, sinf(v))
RESA_FLOAT_UNARY(Cos, cosf(v))
RESA_FLOAT_UNARY(Tanh, tanhf(v))
RESA_FLOAT_UNARY(Sqrt, sqrtf(v))
RESA_FLOAT_UNARY(Exp, expf(v))
RESA_FLOAT_UNARY(Log, logf(v))
RESA_FLOAT_UNARY(Erf, erff(v))
RESA_FLOAT_UNARY(Reciprocal, 1.0f / v)
// The CPU's overflow-free form: exp of a non-positive argument only.
RESA_FLOAT_UNARY(Sigmoid, v >= 0.f ? 1.f / (1.f + expf(-v)) : expf(v) / (1.f + expf(v)))
#undef RESA_FLOAT_UNARY

template <typename Op> void unaryOp(const DeviceKernelArgs &args, std::vector<DeviceTensor> &outputs) {
  const DeviceTensor &x = args.required(0);
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    DeviceTensor &y = allocOutput(outputs, args, 0, x.dtype(), x.shape());
    launchUnary<T, Op>(Op::name, x, y, contextOf(args).stream);
  };
  if constexpr (Op::kIntegers) dispatchArith(x.dtype(), run, Op::name);
  else dispatchFloat(x.dtype(), run, Op::name);
}

// ---- Cast ------------------------------------------------------------------------

// Bool gets a type of its own: integers convert to it by "!= 0", not by wrapping.
struct BoolElem {
  uint8_t v;
};

template <typename T> constexpr bool isInt = std::is_integral_v<T>;

template <typename D> __device__ constexpr D intMin() {
  if constexpr (std::is_same_v<D, int64_t>) return INT64_MIN;
  else if constexpr (std::is_same_v<D, int32_t>) return INT32_MIN;
  else if constexpr (std::is_same_v<D, int8_t>) return INT8_MIN;
  else return 0;
}
template <typename D> __device__ constexpr D intMax() {
  if constexpr (std::is_same_v<D, int64_t>) return INT64_MAX;
  else if constexpr (std::is_same_v<D, int32_t>) return INT32_MAX;
  else if constexpr (std::is_same_v<D, int8_t>) return INT8_MAX;
  else return UINT8_MAX;
}

template <typename S> __device__ double toDouble(S v) {
  if constexpr (std::is_same_v<S, BoolElem>) return v.v ? 1.0 : 0.0;
  else if constexpr (std::is_same_v<S, __half> || std::is_same_v<S, __nv_bfloat16>) return double(toFloat(v));
  else return double(v);
}

template <typename D> __device__ D fromDouble(double v) {
  if constexpr (std::is_same_v<D, BoolElem>) return BoolElem{uint8_t(v != 0)};
  else if constexpr (std::is_same_v<D, __half> || std::is_same_v<D, __nv_bfloat16>) return fromFloat<D>(float(v));
  else if constexpr (!isInt<D>) return D(v);
  else {
    // Truncate toward zero; NaN and out-of-range values saturate (as the CPU).
    if (v != v) return D(0);
    const double t = trunc(v);
    if (t <= double(intMin<D>())) return intMin<D>();
    if (t >= double(intMax<D>())) return intMax<D>();
    return D(t);
  }
}

template <typename S, typename D> __device__ D convertElem(S v) {
  if constexpr (std::is_same_v<S, D>) return v;
  else if constexpr (isInt<S> && isInt<D>) return D(v); // wraps, as static_cast does
  else if constexpr (isInt<S> && std::is_same_v<D, BoolElem>) return BoolElem{uint8_t(v != 0)};
  else if constexpr (std::is_same_v<S, BoolElem> && isInt<D>) return D(v.v != 0);
  else return fromDouble<D>(toDouble(v));
}

template <typename S, typename D> __global__ void convertKernel(const S *src, D *dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = convertElem<S, D>(src[i]);
}

template <typename F> void dispatchCast(DType t, F &&f) {
  switch (t) {
  case DType::F32: return f(Tag<float>{});
  case DType::F64: return f(Tag<double>{});
  case DType::F16: return f(Tag<__half>{});
  case DType::BF16: return f(Tag<__nv_bfloat16>{});
  case DType::I64: return f(Tag<int64_t>{});
  case DType::I32: return f(Tag<int32_t>{});
  case DType::I8: return f(Tag<int8_t>{});
  case DType::U8: return f(Tag<uint8_t>{});
  case DType::Bool: return f(Tag<BoolElem>{});
  }
  fail("Cast", "unsupported dtype ", static_cast<int>(t));
}

DType castTarget(int64_t v) {
  switch (v) {
  case 1: case 2: case 3: case 6: case 7: case 9: case 10: case 11: case 16: return static_cast<DType>(v);
  default: fail("Cast", "unsupported target type ", v);
  }
}

void castTo(const DeviceKernelArgs &args, std::vector<DeviceTensor> &outputs, DType to) {
  const DeviceTensor &x = args.required(0);
  DeviceTensor &y = allocOutput(outputs, args, 0, to, x.shape());
  convertOnDevice(x.raw(), x.dtype(), y.raw(), to, x.numel(), contextOf(args).stream);
}

void castOp(const DeviceKernelArgs &args, std::vector<DeviceTensor> &outputs) {
  castTo(args, outputs, castTarget(attrsOf(args).requireInt("to")));
}

void castLikeOp(const DeviceKernelArgs &args, std::vector<DeviceTensor> &outputs) {
  castTo(args, outputs, args.required(1).dtype());
}

} // namespace
} // namespace ops

void convertOnDevice(const void *src, DType from, void *dst, DType to, int64_t n, cudaStream_t stream) {
  using namespace ops;
  if (n == 0) return;
  if (from == to) {
    checkCuda(cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * dtypeSize(to), cudaMemcpyDeviceToDevice, stream),
              "Cast");
    return;
  }
  dispatchCast(from, [&](auto ts) {
    using S = typename decltype(ts)::type;
    dispatchCast(to, [&](auto td) {
      using D = typename decltype(td)::type;
      convertKernel<<<gridFor(n), kBlock, 0, stream>>>(static_cast<const S *>(src), static_cast<D *>(dst), n);
    });
  });
  checkLaunch("Cast");
}

void addElementwiseKernels(std::vector<DeviceKernelEntry> &table) {
  using namespace ops;
  const DeviceKernelEntry entries[] = {
      {AddOp::name, binaryArith<AddOp>},
      {SubOp::name, binaryArith<SubOp>},
      {MulOp::name, binaryArith<MulOp>},
      {DivOp::name, binaryArith<DivOp>},
      {"Pow", powOp},
      {"Equal", equalOp},
      {"Where", whereOp},
      {"Cast", castOp},
      {"CastLike", castLikeOp},
      {NegOp::name, unaryOp<NegOp>},
      {AbsOp::name, unaryOp<AbsOp>},
      {ReluOp::name, unaryOp<ReluOp>},
      {SinOp::name, unaryOp<SinOp>},
      {CosOp::name, unaryOp<CosOp>},
      {TanhOp::name, unaryOp<TanhOp>},
      {SqrtOp::name, unaryOp<SqrtOp>},
      {ExpOp::name, unaryOp<ExpOp>},
      {LogOp::name, unaryOp<LogOp>},
      {ErfOp::name, unaryOp<ErfOp>},
      {ReciprocalOp::name, unaryOp<ReciprocalOp>},
      {SigmoidOp::name, unaryOp<SigmoidOp>},
  };
  table.insert(table.end(), std::begin(entries), std::end(entries));
}

} // namespace resa::gpu
