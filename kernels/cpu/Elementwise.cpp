// Broadcasting binary arithmetic (Add ... Mod, variadic Max/Min/Sum/Mean),
// comparisons, logic ops and Where.
#include "Common.h"
#include "Ops.h"

#include <algorithm>
#include <cmath>

namespace resa::cpu {
namespace {

// out[i] = f(a[ia], b[ib]) over the broadcast of a and b.
template <typename TA, typename TB, typename TO, typename F>
void broadcastBinary(const char *op, const Tensor &a, const Tensor &b, DType outDt, Tensor &out, F f) {
  Shape shape = broadcastShapes(op, a.shape(), b.shape());
  out = Tensor(outDt, shape);
  const std::vector<int64_t> st[2] = {broadcastStrides(a.shape(), shape), broadcastStrides(b.shape(), shape)};
  const TA *pa = a.data<TA>();
  const TB *pb = b.data<TB>();
  TO *po = out.data<TO>();
  forEachBroadcast(shape, st, [&](int64_t o, const int64_t *off) { po[o] = f(pa[off[0]], pb[off[1]]); });
}

template <typename T> T floorMod(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) throw Error("Mod: integer division by zero");
    T r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  } else {
    T r = std::fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  }
}

enum class Arith { Add, Sub, Mul, Div, Mod, FMod, Max, Min };

template <typename T> T applyArith(Arith k, T a, T b) {
  switch (k) {
  case Arith::Add: return a + b;
  case Arith::Sub: return a - b;
  case Arith::Mul: return a * b;
  case Arith::Div:
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) throw Error("Div: integer division by zero");
    }
    return a / b;
  case Arith::Mod: return floorMod(a, b);
  case Arith::FMod:
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) throw Error("Mod: integer division by zero");
      return a % b;
    } else {
      return std::fmod(a, b);
    }
  case Arith::Max:
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    }
    return std::max(a, b);
  case Arith::Min:
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    }
    return std::min(a, b);
  }
  return a;
}

Tensor arith(const char *op, Arith kind, const Tensor &a, const Tensor &b) {
  requireSameDType(op, a, b);
  Tensor out;
  dispatchArith(op, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Hoist the switch out of the loop: one lambda per kind.
    auto run = [&](auto f) { broadcastBinary<T, T, T>(op, a, b, a.dtype(), out, f); };
    switch (kind) {
    case Arith::Add: run([](T x, T y) { return T(x + y); }); break;
    case Arith::Sub: run([](T x, T y) { return T(x - y); }); break;
    case Arith::Mul: run([](T x, T y) { return T(x * y); }); break;
    default: run([kind](T x, T y) { return applyArith(kind, x, y); }); break;
    }
  });
  return out;
}

void binaryArith(const char *op, Arith kind, const KernelArgs &args, std::vector<Tensor> &outputs) {
  Tensor out = arith(op, kind, args.required(0), args.required(1));
  setOutput(outputs, args, 0, out);
}

// Max, Min, Sum, Mean: a left fold of broadcasting binary ops.
void variadic(const char *op, Arith kind, bool mean, const KernelArgs &args, std::vector<Tensor> &outputs) {
  if (args.inputs.empty()) fail(op, "needs at least one input");
  Tensor acc = args.required(0);
  for (size_t i = 1; i < args.inputs.size(); ++i) acc = arith(op, kind, acc, args.required(i));
  if (args.inputs.size() == 1) { // copy so that the output never aliases the input
    Tensor c(acc.dtype(), acc.shape());
    std::memcpy(c.raw(), acc.raw(), acc.nbytes());
    acc = c;
  }
  if (mean) {
    dispatchFloat(op, acc.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T n = static_cast<T>(args.inputs.size());
      for (int64_t i = 0; i < acc.numel(); ++i) acc.data<T>()[i] /= n;
    });
  }
  setOutput(outputs, args, 0, acc);
}

enum class Cmp { Eq, Lt, Le, Gt, Ge };

void compare(const char *op, Cmp kind, const KernelArgs &args, std::vector<Tensor> &outputs) {
  const Tensor &a = args.required(0), &b = args.required(1);
  requireSameDType(op, a, b);
  Tensor out;
  auto go = [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto run = [&](auto f) { broadcastBinary<T, T, Bool>(op, a, b, DType::Bool, out, f); };
    switch (kind) {
    case Cmp::Eq: run([](T x, T y) { return Bool(x == y); }); break;
    case Cmp::Lt: run([](T x, T y) { return Bool(x < y); }); break;
    case Cmp::Le: run([](T x, T y) { return Bool(x <= y); }); break;
    case Cmp::Gt: run([](T x, T y) { return Bool(x > y); }); break;
    case Cmp::Ge: run([](T x, T y) { return Bool(x >= y); }); break;
    }
  };
  if (a.dtype() == DType::F16 || a.dtype() == DType::BF16) fail(op, "unsupported dtype ", dtypeName(a.dtype()));
  dispatchNumeric(op, a.dtype(), go);
  setOutput(outputs, args, 0, out);
}

enum class Logic { And, Or, Xor };

void logic(const char *op, Logic kind, const KernelArgs &args, std::vector<Tensor> &outputs) {
  const Tensor &a = args.required(0), &b = args.required(1);
  requireDType(op, a, DType::Bool, "input A");
  requireDType(op, b, DType::Bool, "input B");
  Tensor out;
  auto run = [&](auto f) { broadcastBinary<Bool, Bool, Bool>(op, a, b, DType::Bool, out, f); };
  switch (kind) {
  case Logic::And: run([](Bool x, Bool y) { return Bool(x && y); }); break;
  case Logic::Or: run([](Bool x, Bool y) { return Bool(x || y); }); break;
  case Logic::Xor: run([](Bool x, Bool y) { return Bool((x != 0) != (y != 0)); }); break;
  }
  setOutput(outputs, args, 0, out);
}

} // namespace

namespace k {

RESA_KERNEL(Add) { binaryArith("Add", Arith::Add, args, outputs); }
RESA_KERNEL(Sub) { binaryArith("Sub", Arith::Sub, args, outputs); }
RESA_KERNEL(Mul) { binaryArith("Mul", Arith::Mul, args, outputs); }
RESA_KERNEL(Div) { binaryArith("Div", Arith::Div, args, outputs); }
RESA_KERNEL(Mod) {
  bool fmod = attrsOf(args).getInt("fmod", 0) != 0;
  binaryArith("Mod", fmod ? Arith::FMod : Arith::Mod, args, outputs);
}
RESA_KERNEL(Max) { variadic("Max", Arith::Max, false, args, outputs); }
RESA_KERNEL(Min) { variadic("Min", Arith::Min, false, args, outputs); }
RESA_KERNEL(Sum) { variadic("Sum", Arith::Add, false, args, outputs); }
RESA_KERNEL(Mean) { variadic("Mean", Arith::Add, true, args, outputs); }

// Pow: the exponent may have another numeric type; the result has the base's.
RESA_KERNEL(Pow) {
  const Tensor &a = args.required(0), &b = args.required(1);
  Tensor out;
  dispatchArith("Pow", a.dtype(), [&](auto ta) {
    using T = typename decltype(ta)::type;
    dispatchArith("Pow", b.dtype(), [&](auto tb) {
      using E = typename decltype(tb)::type;
      broadcastBinary<T, E, T>("Pow", a, b, a.dtype(), out, [](T x, E y) {
        if constexpr (std::is_same_v<T, float> && std::is_same_v<E, float>) {
          return std::pow(x, y);
        } else if constexpr (std::is_integral_v<T>) {
          if constexpr (std::is_integral_v<E>) {
            if (y >= 0) { // exact integer power
              T r = 1, base = x;
              for (E e = y; e > 0; e >>= 1, base = T(base * base))
                if (e & 1) r = T(r * base);
              return r;
            }
          }
          return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
        } else {
          return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
        }
      });
    });
  });
  setOutput(outputs, args, 0, out);
}

RESA_KERNEL(Equal) { compare("Equal", Cmp::Eq, args, outputs); }
RESA_KERNEL(Less) { compare("Less", Cmp::Lt, args, outputs); }
RESA_KERNEL(LessOrEqual) { compare("LessOrEqual", Cmp::Le, args, outputs); }
RESA_KERNEL(Greater) { compare("Greater", Cmp::Gt, args, outputs); }
RESA_KERNEL(GreaterOrEqual) { compare("GreaterOrEqual", Cmp::Ge, args, outputs); }
RESA_KERNEL(And) { logic("And", Logic::And, args, outputs); }
RESA_KERNEL(Or) { logic("Or", Logic::Or, args, outputs); }
RESA_KERNEL(Xor) { logic("Xor", Logic::Xor, args, outputs); }

RESA_KERNEL(Where) {
  const char *op = "Where";
  const Tensor &c = args.required(0), &x = args.required(1), &y = args.required(2);
  requireDType(op, c, DType::Bool, "condition");
  requireSameDType(op, x, y);
  Shape shape = broadcastShapes(op, broadcastShapes(op, c.shape(), x.shape()), y.shape());
  Tensor &out = allocOutput(outputs, args, 0, x.dtype(), shape);
  const std::vector<int64_t> st[3] = {broadcastStrides(c.shape(), shape), broadcastStrides(x.shape(), shape),
                                      broadcastStrides(y.shape(), shape)};
  dispatchBySize(op, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Bool *pc = c.data<Bool>();
    const T *px = x.data<T>(), *py = y.data<T>();
    T *po = out.data<T>();
    forEachBroadcast(shape, st, [&](int64_t o, const int64_t *off) { po[o] = pc[off[0]] ? px[off[1]] : py[off[2]]; });
  });
}

} // namespace k
} // namespace resa::cpu
