// Elementwise unary math and activations (Neg ... Gelu), Clip, IsNaN/IsInf.
#include "Common.h"
#include "Ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace resa::cpu {
namespace {

template <typename TI, typename TO, typename F> Tensor mapTensor(const Tensor &x, DType outDt, F f) {
  Tensor y(outDt, x.shape());
  const TI *px = x.data<TI>();
  TO *py = y.data<TO>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) py[i] = f(px[i]);
  return y;
}

// Float-only ops: f is a generic lambda applied with T = float or double.
template <typename F> void unaryFloat(const char *op, const KernelArgs &args, std::vector<Tensor> &outputs, F f) {
  const Tensor &x = args.required(0);
  dispatchFloat(op, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    setOutput(outputs, args, 0, mapTensor<T, T>(x, x.dtype(), [&](T v) { return static_cast<T>(f(v)); }));
  });
}

// Ops defined on every arithmetic type.
template <typename F> void unaryArith(const char *op, const KernelArgs &args, std::vector<Tensor> &outputs, F f) {
  const Tensor &x = args.required(0);
  dispatchArith(op, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    setOutput(outputs, args, 0, mapTensor<T, T>(x, x.dtype(), [&](T v) { return static_cast<T>(f(v)); }));
  });
}

template <typename T> T sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T> T geluErf(T x) { return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2))); }
template <typename T> T geluTanh(T x) {
  const T c = T(0.7978845608028654); // sqrt(2/pi)
  return T(0.5) * x * (T(1) + std::tanh(c * (x + T(0.044715) * x * x * x)));
}

} // namespace

namespace k {

RESA_KERNEL(Neg) { unaryArith("Neg", args, outputs, [](auto v) { return -v; }); }
RESA_KERNEL(Abs) { unaryArith("Abs", args, outputs, [](auto v) { return v < 0 ? -v : v; }); }
RESA_KERNEL(Sign) {
  unaryArith("Sign", args, outputs, [](auto v) { return decltype(v)((v > 0) - (v < 0)); });
}
RESA_KERNEL(Relu) { unaryArith("Relu", args, outputs, [](auto v) { return v > 0 ? v : decltype(v)(0); }); }
RESA_KERNEL(Sqrt) { unaryFloat("Sqrt", args, outputs, [](auto v) { return std::sqrt(v); }); }
RESA_KERNEL(Reciprocal) { unaryFloat("Reciprocal", args, outputs, [](auto v) { return decltype(v)(1) / v; }); }
RESA_KERNEL(Exp) { unaryFloat("Exp", args, outputs, [](auto v) { return std::exp(v); }); }
RESA_KERNEL(Log) { unaryFloat("Log", args, outputs, [](auto v) { return std::log(v); }); }
RESA_KERNEL(Tanh) { unaryFloat("Tanh", args, outputs, [](auto v) { return std::tanh(v); }); }
RESA_KERNEL(Erf) { unaryFloat("Erf", args, outputs, [](auto v) { return std::erf(v); }); }
RESA_KERNEL(Sigmoid) { unaryFloat("Sigmoid", args, outputs, [](auto v) { return sigmoid(v); }); }
RESA_KERNEL(Softplus) {
  unaryFloat("Softplus", args, outputs, [](auto v) {
    return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
  });
}
RESA_KERNEL(Softsign) { unaryFloat("Softsign", args, outputs, [](auto v) { return v / (1 + std::abs(v)); }); }
RESA_KERNEL(Cos) { unaryFloat("Cos", args, outputs, [](auto v) { return std::cos(v); }); }
RESA_KERNEL(Sin) { unaryFloat("Sin", args, outputs, [](auto v) { return std::sin(v); }); }
RESA_KERNEL(Tan) { unaryFloat("Tan", args, outputs, [](auto v) { return std::tan(v); }); }
RESA_KERNEL(Floor) { unaryFloat("Floor", args, outputs, [](auto v) { return std::floor(v); }); }
RESA_KERNEL(Ceil) { unaryFloat("Ceil", args, outputs, [](auto v) { return std::ceil(v); }); }
// Round half to even (the default floating-point rounding mode).
RESA_KERNEL(Round) { unaryFloat("Round", args, outputs, [](auto v) { return std::nearbyint(v); }); }

RESA_KERNEL(LeakyRelu) {
  float alpha = attrsOf(args).getFloat("alpha", 0.01f);
  unaryFloat("LeakyRelu", args, outputs, [alpha](auto v) { return v >= 0 ? v : decltype(v)(alpha) * v; });
}
RESA_KERNEL(Elu) {
  float alpha = attrsOf(args).getFloat("alpha", 1.0f);
  unaryFloat("Elu", args, outputs, [alpha](auto v) { return v >= 0 ? v : decltype(v)(alpha) * std::expm1(v); });
}
RESA_KERNEL(HardSigmoid) {
  float alpha = attrsOf(args).getFloat("alpha", 0.2f), beta = attrsOf(args).getFloat("beta", 0.5f);
  unaryFloat("HardSigmoid", args, outputs, [=](auto v) {
    using T = decltype(v);
    return std::max(T(0), std::min(T(1), T(alpha) * v + T(beta)));
  });
}
RESA_KERNEL(HardSwish) {
  unaryFloat("HardSwish", args, outputs, [](auto v) {
    using T = decltype(v);
    return v * std::max(T(0), std::min(T(1), v / T(6) + T(0.5)));
  });
}
RESA_KERNEL(Mish) {
  unaryFloat("Mish", args, outputs, [](auto v) {
    auto sp = v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
    return v * std::tanh(sp);
  });
}

// Gelu (opset 20): approximate = "none" (erf) or "tanh".
RESA_KERNEL(Gelu) {
  std::string approx = attrsOf(args).getString("approximate", "none");
  if (approx == "none") unaryFloat("Gelu", args, outputs, [](auto v) { return geluErf(v); });
  else if (approx == "tanh") unaryFloat("Gelu", args, outputs, [](auto v) { return geluTanh(v); });
  else fail("Gelu", "unknown approximate '", approx, "'");
}
RESA_KERNEL(ms_Gelu) { unaryFloat("com.microsoft.Gelu", args, outputs, [](auto v) { return geluErf(v); }); }
RESA_KERNEL(ms_QuickGelu) {
  float alpha = attrsOf(args).getFloat("alpha", 1.702f);
  unaryFloat("com.microsoft.QuickGelu", args, outputs,
             [alpha](auto v) { return v * sigmoid(decltype(v)(alpha) * v); });
}
// FastGelu: tanh Gelu of X (+ optional bias broadcast over the last axis).
RESA_KERNEL(ms_FastGelu) {
  const char *op = "com.microsoft.FastGelu";
  const Tensor &x = args.required(0);
  const Tensor *bias = args.input(1);
  requireDType(op, x, DType::F32, "X");
  Tensor y(DType::F32, x.shape());
  int64_t n = x.numel(), bn = bias ? bias->numel() : 0;
  if (bias) {
    requireDType(op, *bias, DType::F32, "bias");
    if (bias->rank() != 1 || x.rank() == 0 || x.dim(x.rank() - 1) != bn)
      fail(op, "bias shape ", shapeToString(bias->shape()), " does not match the last axis of ", shapeToString(x.shape()));
  }
  for (int64_t i = 0; i < n; ++i) {
    float v = x.data<float>()[i] + (bias ? bias->data<float>()[i % bn] : 0.f);
    y.data<float>()[i] = geluTanh(v);
  }
  setOutput(outputs, args, 0, y);
}

RESA_KERNEL(Not) {
  const Tensor &x = args.required(0);
  requireDType("Not", x, DType::Bool, "input");
  setOutput(outputs, args, 0, mapTensor<Bool, Bool>(x, DType::Bool, [](Bool v) { return Bool(!v); }));
}

RESA_KERNEL(IsNaN) {
  const Tensor &x = args.required(0);
  dispatchFloat("IsNaN", x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    setOutput(outputs, args, 0, mapTensor<T, Bool>(x, DType::Bool, [](T v) { return Bool(std::isnan(v)); }));
  });
}

RESA_KERNEL(IsInf) {
  const Tensor &x = args.required(0);
  bool neg = attrsOf(args).getInt("detect_negative", 1) != 0;
  bool pos = attrsOf(args).getInt("detect_positive", 1) != 0;
  dispatchFloat("IsInf", x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    setOutput(outputs, args, 0, mapTensor<T, Bool>(x, DType::Bool, [=](T v) {
      return Bool(std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg)));
    }));
  });
}

// Clip: bounds are attributes before opset 11, optional scalar inputs since.
RESA_KERNEL(Clip) {
  const char *op = "Clip";
  const Tensor &x = args.required(0);
  dispatchArith(op, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
    if (args.opset < 11) {
      lo = static_cast<T>(attrsOf(args).getFloat("min", -std::numeric_limits<float>::max()));
      hi = static_cast<T>(attrsOf(args).getFloat("max", std::numeric_limits<float>::max()));
    } else {
      for (size_t i = 1; i <= 2; ++i) {
        const Tensor *b = args.input(i);
        if (!b) continue;
        requireSameDType(op, x, *b);
        if (b->numel() != 1) fail(op, i == 1 ? "min" : "max", " must be a scalar");
        (i == 1 ? lo : hi) = b->data<T>()[0];
      }
    }
    setOutput(outputs, args, 0, mapTensor<T, T>(x, x.dtype(), [=](T v) {
      if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(v)) return v;
      }
      return std::min(std::max(v, lo), hi);
    }));
  });
}

} // namespace k
} // namespace resa::cpu
