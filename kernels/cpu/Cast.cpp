// Cast and CastLike between F32, F64, F16, BF16, I64, I32, I8, U8 and Bool.
// Floats convert to integers by truncation (static_cast, as onnxruntime),
// to Bool by "!= 0"; half types round to nearest even.
#include "Common.h"
#include "Ops.h"

#include <cmath>
#include <limits>

namespace resa::cpu {
namespace {

// Storage wrappers so that the half types and Bool get their own overloads.
struct Half { uint16_t bits; };
struct BHalf { uint16_t bits; };
struct Boolean { uint8_t v; };
static_assert(sizeof(Half) == 2 && sizeof(BHalf) == 2 && sizeof(Boolean) == 1);

template <typename F> auto dispatchCast(DType t, F &&f) {
  switch (t) {
  case DType::F32: return f(Tag<float>{});
  case DType::F64: return f(Tag<double>{});
  case DType::F16: return f(Tag<Half>{});
  case DType::BF16: return f(Tag<BHalf>{});
  case DType::I64: return f(Tag<int64_t>{});
  case DType::I32: return f(Tag<int32_t>{});
  case DType::I8: return f(Tag<int8_t>{});
  case DType::U8: return f(Tag<uint8_t>{});
  case DType::Bool: return f(Tag<Boolean>{});
  }
  fail("Cast", "unsupported dtype ", static_cast<int>(t));
}

template <typename T> constexpr bool isInt = std::is_integral_v<T>;

template <typename S> double toDouble(S v) { return static_cast<double>(v); }
double toDouble(Half v) { return f16ToF32(v.bits); }
double toDouble(BHalf v) { return bf16ToF32(v.bits); }
double toDouble(Boolean v) { return v.v ? 1.0 : 0.0; }

template <typename D> D fromDouble(double v) {
  if constexpr (std::is_same_v<D, Half>) return Half{f32ToF16(static_cast<float>(v))};
  else if constexpr (std::is_same_v<D, BHalf>) return BHalf{f32ToBf16(static_cast<float>(v))};
  else if constexpr (std::is_same_v<D, Boolean>) return Boolean{static_cast<uint8_t>(v != 0)};
  else if constexpr (std::is_floating_point_v<D>) return static_cast<D>(v);
  else {
    // Truncate toward zero; NaN and out-of-range values saturate instead of
    // invoking undefined behaviour.
    if (std::isnan(v)) return D(0);
    double t = std::trunc(v);
    if (t <= static_cast<double>(std::numeric_limits<D>::lowest())) return std::numeric_limits<D>::lowest();
    if (t >= static_cast<double>(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
    return static_cast<D>(t);
  }
}

template <typename S, typename D> D convert(S v) {
  if constexpr (std::is_same_v<S, D>) return v;
  else if constexpr (isInt<S> && isInt<D>) return static_cast<D>(v); // wraps, as static_cast does
  else if constexpr (isInt<S> && std::is_same_v<D, Boolean>) return Boolean{static_cast<uint8_t>(v != 0)};
  else if constexpr (std::is_same_v<S, Boolean> && isInt<D>) return static_cast<D>(v.v != 0);
  else if constexpr (std::is_same_v<S, float> && std::is_same_v<D, Half>) return Half{f32ToF16(v)};
  else return fromDouble<D>(toDouble(v));
}

void castTo(const char *op, const Tensor &x, DType to, const KernelArgs &args, std::vector<Tensor> &outputs) {
  Tensor &y = allocOutput(outputs, args, 0, to, x.shape());
  dispatchCast(x.dtype(), [&](auto ts) {
    using S = typename decltype(ts)::type;
    dispatchCast(to, [&](auto td) {
      using D = typename decltype(td)::type;
      const S *src = static_cast<const S *>(x.raw());
      D *dst = static_cast<D *>(y.raw());
      for (int64_t i = 0; i < x.numel(); ++i) dst[i] = convert<S, D>(src[i]);
    });
  });
  (void)op;
}

DType checkedDType(const char *op, int64_t v) {
  switch (v) {
  case 1: case 2: case 3: case 6: case 7: case 9: case 10: case 11: case 16: return static_cast<DType>(v);
  default: fail(op, "unsupported target type ", v);
  }
}

} // namespace

namespace k {

RESA_KERNEL(Cast) {
  const char *op = "Cast";
  castTo(op, args.required(0), checkedDType(op, attrsOf(args).requireInt("to")), args, outputs);
}

RESA_KERNEL(CastLike) { castTo("CastLike", args.required(0), args.required(1).dtype(), args, outputs); }

} // namespace k
} // namespace resa::cpu
