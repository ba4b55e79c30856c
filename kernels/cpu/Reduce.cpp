// Reductions (ReduceSum ... ReduceLogSumExp), ArgMax/ArgMin and CumSum.
#include "Common.h"
#include "Ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace resa::cpu {
namespace {

enum class Red { Sum, Mean, Max, Min, Prod, SumSquare, L1, L2, LogSumExp };

// The axes and shapes come from reducePlan (OpShapes.cpp, shared with CUDA).
void reduce(const char *op, Red kind, int64_t inputSince, const KernelArgs &args, std::vector<Tensor> &outputs) {
  const Tensor &x = args.required(0);
  const ReducePlan plan = reducePlan(op, x.shape(), inputSince, args);
  if (plan.identity) {
    setOutput(outputs, args, 0, x);
    return;
  }
  const Shape &keptShape = plan.kept, &outShape = plan.shape;
  const int64_t count = plan.count;

  dispatchArith(op, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    const int64_t nOut = numElements(keptShape);
    const std::vector<int64_t> st[2] = {stridesOf(x.shape()), broadcastStrides(keptShape, x.shape())};
    const T *px = x.data<T>();
    std::vector<Acc> acc(static_cast<size_t>(nOut));
    auto fold = [&](Acc init, auto f) {
      std::fill(acc.begin(), acc.end(), init);
      forEachBroadcast(x.shape(), st, [&](int64_t, const int64_t *off) { acc[off[1]] = f(acc[off[1]], Acc(px[off[0]])); });
    };
    const Acc lowest = std::numeric_limits<T>::has_infinity ? -Acc(std::numeric_limits<T>::infinity())
                                                             : Acc(std::numeric_limits<T>::lowest());
    const Acc highest = std::numeric_limits<T>::has_infinity ? Acc(std::numeric_limits<T>::infinity())
                                                              : Acc(std::numeric_limits<T>::max());
    switch (kind) {
    case Red::Sum: case Red::Mean: fold(Acc(0), [](Acc a, Acc v) { return a + v; }); break;
    case Red::Max: fold(lowest, [](Acc a, Acc v) { return v > a || v != v ? v : a; }); break;
    case Red::Min: fold(highest, [](Acc a, Acc v) { return v < a || v != v ? v : a; }); break;
    case Red::Prod: fold(Acc(1), [](Acc a, Acc v) { return a * v; }); break;
    case Red::SumSquare: case Red::L2: fold(Acc(0), [](Acc a, Acc v) { return a + v * v; }); break;
    case Red::L1: fold(Acc(0), [](Acc a, Acc v) { return a + (v < 0 ? -v : v); }); break;
    case Red::LogSumExp: {
      if constexpr (!std::is_floating_point_v<T>) {
        fail(op, "needs a floating-point input");
      } else {
        fold(lowest, [](Acc a, Acc v) { return std::max(a, v); });
        std::vector<Acc> mx = acc;
        std::fill(acc.begin(), acc.end(), Acc(0));
        forEachBroadcast(x.shape(), st, [&](int64_t, const int64_t *off) {
          Acc m = std::isinf(mx[off[1]]) ? 0 : mx[off[1]];
          acc[off[1]] += std::exp(Acc(px[off[0]]) - m);
        });
        for (size_t i = 0; i < acc.size(); ++i) acc[i] = std::log(acc[i]) + (std::isinf(mx[i]) ? 0 : mx[i]);
      }
      break;
    }
    }
    Tensor &y = allocOutput(outputs, args, 0, x.dtype(), outShape);
    T *py = y.data<T>();
    for (int64_t i = 0; i < nOut; ++i) {
      Acc v = acc[i];
      if (kind == Red::Mean) v = count ? Acc(v / Acc(count)) : Acc(0);
      if constexpr (std::is_floating_point_v<T>) {
        if (kind == Red::L2) v = std::sqrt(v);
      } else {
        if (kind == Red::L2) v = static_cast<Acc>(std::sqrt(static_cast<double>(v)));
      }
      py[i] = static_cast<T>(v);
    }
  });
}

void argReduce(const char *op, bool isMax, const KernelArgs &args, std::vector<Tensor> &outputs) {
  const Tensor &x = args.required(0);
  const Attrs &at = attrsOf(args);
  int64_t axis = normAxis(op, at.getInt("axis", 0), x.rank());
  bool keep = at.getInt("keepdims", 1) != 0;
  bool last = at.getInt("select_last_index", 0) != 0;
  int64_t n = x.dim(axis);
  if (n == 0) fail(op, "cannot reduce an empty axis");
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int64_t i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
  Shape outShape = x.shape();
  if (keep) outShape[axis] = 1;
  else outShape.erase(outShape.begin() + axis);
  Tensor &y = allocOutput(outputs, args, 0, DType::I64, outShape);
  dispatchArith(op, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *px = x.data<T>();
    int64_t *py = y.data<int64_t>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T *p = px + o * n * inner + i;
        int64_t best = 0;
        for (int64_t j = 1; j < n; ++j) {
          T v = p[j * inner], b = p[best * inner];
          bool better = isMax ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
          if (better) best = j;
        }
        py[o * inner + i] = best;
      }
  });
}

} // namespace

namespace k {

RESA_KERNEL(ReduceSum) { reduce("ReduceSum", Red::Sum, 13, args, outputs); }
RESA_KERNEL(ReduceMean) { reduce("ReduceMean", Red::Mean, 18, args, outputs); }
RESA_KERNEL(ReduceMax) { reduce("ReduceMax", Red::Max, 18, args, outputs); }
RESA_KERNEL(ReduceMin) { reduce("ReduceMin", Red::Min, 18, args, outputs); }
RESA_KERNEL(ReduceProd) { reduce("ReduceProd", Red::Prod, 18, args, outputs); }
RESA_KERNEL(ReduceSumSquare) { reduce("ReduceSumSquare", Red::SumSquare, 18, args, outputs); }
RESA_KERNEL(ReduceL1) { reduce("ReduceL1", Red::L1, 18, args, outputs); }
RESA_KERNEL(ReduceL2) { reduce("ReduceL2", Red::L2, 18, args, outputs); }
RESA_KERNEL(ReduceLogSumExp) { reduce("ReduceLogSumExp", Red::LogSumExp, 18, args, outputs); }
RESA_KERNEL(ArgMax) { argReduce("ArgMax", true, args, outputs); }
RESA_KERNEL(ArgMin) { argReduce("ArgMin", false, args, outputs); }

// CumSum(x, axis) with attributes exclusive and reverse; accumulates in T.
RESA_KERNEL(CumSum) {
  const char *op = "CumSum";
  const Tensor &x = args.required(0);
  int64_t axis = normAxis(op, scalarAsInt(op, args.required(1), "axis"), x.rank());
  bool exclusive = attrsOf(args).getInt("exclusive", 0) != 0;
  bool reverse = attrsOf(args).getInt("reverse", 0) != 0;
  int64_t n = x.dim(axis), outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int64_t i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
  Tensor &y = allocOutput(outputs, args, 0, x.dtype(), x.shape());
  dispatchArith(op, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *px = x.data<T>();
    T *py = y.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        T acc = 0;
        for (int64_t s = 0; s < n; ++s) {
          int64_t j = reverse ? n - 1 - s : s;
          int64_t idx = (o * n + j) * inner + i;
          if (exclusive) {
            py[idx] = acc;
            acc += px[idx];
          } else {
            acc += px[idx];
            py[idx] = acc;
          }
        }
      }
  });
}

} // namespace k
} // namespace resa::cpu
