// The generic CUDA op kernels (kernels/cuda/ops/Elementwise.cu, Movement.cu)
// against the exact CPU kernels of the same names, plus the caching
// allocator and the host <-> device transfers (kernels/cuda/DeviceMemory.cpp).
//
// Every kernel case runs twice, with its float inputs on the device as F32
// and as BF16; the CPU reference gets the same values (rounded to bf16 where
// the device holds bf16) as F32. Inputs are fresh random values with odd
// shapes and broadcasting; the allocator's cache is filled with 0xFF (NaN,
// -1) blocks before each case so that an output a kernel leaves unwritten
// fails. Tolerance: |gpu - cpu| <= rtol * (|cpu| + 0.01 * max|cpu|) (+ a small
// absolute term for sums), rtol 1e-5 for F32 and 1e-2 for BF16; integer and
// bool outputs exactly.
//
// A plain program like resa-cuda-tests; without a CUDA device each case prints
// "SKIPPED: <name> (no CUDA device)" and it exits 0.
//   resa-cuda-ops-tests [--filter SUBSTRING] [--seed N]
#include "CudaTestUtil.h"
#include "resa/cuda/DeviceKernel.h"
#include "resa/kernels/Kernel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

using resa::Attrs;
using resa::DType;
using resa::KernelArgs;
using resa::Shape;
using resa::Tensor;
using resa::cudatest::Failure;
using resa::gpu::DeviceAllocator;
using resa::gpu::DeviceContext;
using resa::gpu::DeviceKernelArgs;
using resa::gpu::DeviceTensor;

namespace {

template <typename... A> [[noreturn]] void failf(const char *fmt, A... a) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, a...);
  throw Failure{buf};
}

bool isFloat(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::F16 || t == DType::BF16; }

double valueAt(const Tensor &t, int64_t i) {
  switch (t.dtype()) {
  case DType::F32: return t.data<float>()[i];
  case DType::F64: return t.data<double>()[i];
  case DType::F16: return resa::f16ToF32(t.data<uint16_t>()[i]);
  case DType::BF16: return resa::bf16ToF32(t.data<uint16_t>()[i]);
  case DType::Bool: return t.data<uint8_t>()[i];
  default: return static_cast<double>(t.intAt(i));
  }
}

// An F32 tensor's values as the device float type `to` holds them.
Tensor roundedTo(const Tensor &t, DType to) {
  if (t.dtype() != DType::F32 || to == DType::F32) return t;
  Tensor r(DType::F32, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = t.data<float>()[i];
    r.data<float>()[i] = to == DType::BF16 ? resa::bf16ToF32(resa::f32ToBf16(v)) : resa::f16ToF32(resa::f32ToF16(v));
  }
  return r;
}

// ---- random inputs ----------------------------------------------------------------

struct Rng {
  std::mt19937_64 g;

  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(g); }
  int64_t integer(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(g); }

  Tensor floats(const Shape &s, double lo = -2, double hi = 2) {
    Tensor t(DType::F32, s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(uniform(lo, hi));
    return t;
  }
  // |v| in [lo, hi], random sign.
  Tensor awayFromZero(const Shape &s, double lo, double hi) {
    Tensor t = floats(s, lo, hi);
    for (int64_t i = 0; i < t.numel(); ++i)
      if (integer(0, 1)) t.data<float>()[i] = -t.data<float>()[i];
    return t;
  }
  // Integer-valued floats in [lo, hi] (exact in bf16): for Equal.
  Tensor wholeFloats(const Shape &s, int64_t lo, int64_t hi) {
    Tensor t(DType::F32, s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(integer(lo, hi));
    return t;
  }
  Tensor ints(DType dt, const Shape &s, int64_t lo, int64_t hi) {
    Tensor t(dt, s);
    for (int64_t i = 0; i < t.numel(); ++i) {
      const int64_t v = integer(lo, hi);
      if (dt == DType::I64) t.data<int64_t>()[i] = v;
      else if (dt == DType::I32) t.data<int32_t>()[i] = static_cast<int32_t>(v);
      else t.data<uint8_t>()[i] = static_cast<uint8_t>(v); // Bool, U8
    }
    return t;
  }
  // Nonzero integers in [-hi, -1] u [1, hi].
  Tensor nonzeroInts(DType dt, const Shape &s, int64_t hi) {
    Tensor t = ints(dt, s, 1, hi);
    for (int64_t i = 0; i < t.numel(); ++i)
      if (integer(0, 1)) {
        if (dt == DType::I64) t.data<int64_t>()[i] *= -1;
        else t.data<int32_t>()[i] *= -1;
      }
    return t;
  }
  Tensor bools(const Shape &s) { return ints(DType::Bool, s, 0, 1); }
};

Tensor i64s(const std::vector<int64_t> &v) {
  Tensor t(DType::I64, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

template <typename T> Tensor scalar(DType dt, T v) {
  Tensor t(dt, {});
  *t.data<T>() = v;
  return t;
}

// ---- kernel cases -------------------------------------------------------------------

struct In {
  enum Where { Device, DeviceAndHost, HostOnly, Omitted };
  In(Tensor t, Where where) : t(std::move(t)), where(where) {}
  Tensor t; // float inputs are F32 here
  Where where;
  std::optional<DType> floatAs; // device float dtype, else the run's
};

In dev(Tensor t) { return In(std::move(t), In::Device); }
In both(Tensor t) { return In(std::move(t), In::DeviceAndHost); } // steering values
In hostOnly(Tensor t) { return In(std::move(t), In::HostOnly); }
In omitted() { return In(Tensor(), In::Omitted); }

struct Case {
  Case(std::string kernel, std::vector<In> inputs, Attrs attrs = {})
      : kernel(std::move(kernel)), inputs(std::move(inputs)), attrs(std::move(attrs)) {}
  std::string kernel;
  std::vector<In> inputs;
  Attrs attrs;
  int64_t opset = 18;
  size_t numOutputs = 1;
  bool exactDType = false;             // outputs keep the CPU's dtype (Cast, Range)
  std::optional<DType> outFloat;       // float outputs' device dtype, else the run's
  double atol = 0;                     // plus this: fp32 accumulation order (sums, dot products)
};

// A named case: builds fresh inputs for the run's device float type.
struct KernelCase {
  std::string name;
  std::function<Case(Rng &, DType)> build;
};

Attrs makeAttrs(std::initializer_list<std::pair<const char *, resa::AttrValue>> kv) {
  Attrs a;
  for (const auto &[k, v] : kv) a.set(k, v);
  return a;
}

using V = std::vector<int64_t>;

std::vector<KernelCase> kernelCases() {
  std::vector<KernelCase> cs;
  auto add = [&](std::string name, std::function<Case(Rng &, DType)> f) { cs.push_back({std::move(name), std::move(f)}); };

  // Broadcasting arithmetic.
  for (const char *op : {"Add", "Sub", "Mul", "Div"}) {
    const std::string k = op;
    const bool div = k == "Div";
    add(k + "_bcast", [k, div](Rng &r, DType) {
      return Case{k, {dev(r.floats({3, 1, 5})), dev(div ? r.awayFromZero({4, 1}, 0.5, 2) : r.floats({4, 1}))}};
    });
    add(k + "_rank6", [k, div](Rng &r, DType) {
      return Case{k, {dev(r.floats({2, 1, 3, 1, 5, 3})), dev(div ? r.awayFromZero({3, 4, 1, 3}, 0.5, 2) : r.floats({3, 4, 1, 3}))}};
    });
    add(k + "_same", [k, div](Rng &r, DType) {
      return Case{k, {dev(r.floats({7, 13})), dev(div ? r.awayFromZero({7, 13}, 0.5, 2) : r.floats({7, 13}))}};
    });
    add(k + "_scalar", [k, div](Rng &r, DType) {
      return Case{k, {dev(r.floats({5, 3})), dev(div ? r.awayFromZero({}, 0.5, 2) : r.floats({}))}};
    });
    add(k + "_i64", [k, div](Rng &r, DType) {
      return Case{k, {dev(r.ints(DType::I64, {3, 1, 4}, -1000, 1000)),
                      dev(div ? r.nonzeroInts(DType::I64, {5, 1}, 50) : r.ints(DType::I64, {5, 1}, -1000, 1000))}};
    });
    add(k + "_i32", [k, div](Rng &r, DType) {
      return Case{k, {dev(r.ints(DType::I32, {6, 5}, -1000, 1000)),
                      dev(div ? r.nonzeroInts(DType::I32, {5}, 50) : r.ints(DType::I32, {5}, -1000, 1000))}};
    });
  }
  add("Add_mixed_f32_out", [](Rng &r, DType) {
    Case c{"Add", {dev(r.floats({4, 3})), dev(r.floats({3}))}};
    c.inputs[0].floatAs = DType::BF16;
    c.inputs[1].floatAs = DType::F32;
    c.outFloat = DType::F32;
    return c;
  });
  add("Pow_float_exp", [](Rng &r, DType) { return Case{"Pow", {dev(r.floats({3, 4, 5}, 0.5, 2)), dev(r.floats({4, 1}, -2, 2))}}; });
  add("Pow_int_exp", [](Rng &r, DType) {
    return Case{"Pow", {dev(r.awayFromZero({6, 5}, 0.5, 1.5)), dev(r.ints(DType::I64, {5}, -3, 4))}};
  });
  add("Equal_float", [](Rng &r, DType) { return Case{"Equal", {dev(r.wholeFloats({4, 1, 6}, 0, 2)), dev(r.wholeFloats({3, 6}, 0, 2))}}; });
  add("Equal_i64", [](Rng &r, DType) {
    return Case{"Equal", {dev(r.ints(DType::I64, {5, 4}, 0, 3)), dev(r.ints(DType::I64, {4}, 0, 3))}};
  });
  add("Where_float", [](Rng &r, DType) {
    return Case{"Where", {dev(r.bools({3, 1, 5})), dev(r.floats({4, 5})), dev(r.floats({3, 4, 1}))}};
  });
  add("Where_i64", [](Rng &r, DType) {
    return Case{"Where", {dev(r.bools({6})), dev(r.ints(DType::I64, {2, 6}, -9, 9)), dev(r.ints(DType::I64, {}, -9, 9))}};
  });

  // Unary.
  struct U {
    const char *op;
    double lo, hi;
    bool away;
  };
  for (const U &u : {U{"Sin", -4, 4, false}, U{"Cos", -4, 4, false}, U{"Tanh", -3, 3, false}, U{"Neg", -2, 2, false},
                     U{"Sqrt", 0.01, 5, false}, U{"Exp", -4, 4, false}, U{"Log", 0.05, 5, false},
                     U{"Erf", -2.5, 2.5, false}, U{"Sigmoid", -8, 8, false}, U{"Reciprocal", 0.25, 4, true},
                     U{"Abs", -2, 2, false}, U{"Relu", -2, 2, false}}) {
    const std::string k = u.op;
    add(k, [k, u](Rng &r, DType) {
      return Case{k, {dev(u.away ? r.awayFromZero({5, 7, 3}, u.lo, u.hi) : r.floats({5, 7, 3}, u.lo, u.hi))}};
    });
  }
  for (const char *op : {"Neg", "Abs", "Relu"}) {
    const std::string k = op;
    add(k + "_i64", [k](Rng &r, DType) { return Case{k, {dev(r.ints(DType::I64, {9, 2}, -100, 100))}}; });
    add(k + "_i32", [k](Rng &r, DType) { return Case{k, {dev(r.ints(DType::I32, {3, 7}, -100, 100))}}; });
  }

  // Cast: from the run's float type and from integers/bool, to every target.
  struct C {
    const char *name;
    DType from;
    int64_t to;
  };
  for (const C &c : {C{"float_to_bf16", DType::F32, 16}, C{"float_to_f16", DType::F32, 10}, C{"float_to_f32", DType::F32, 1},
                     C{"float_to_f64", DType::F32, 11}, C{"float_to_i64", DType::F32, 7}, C{"float_to_i32", DType::F32, 6},
                     C{"float_to_i8_saturating", DType::F32, 3}, C{"float_to_u8_saturating", DType::F32, 2},
                     C{"float_to_bool", DType::F32, 9}, C{"i64_to_float", DType::I64, 1}, C{"i64_to_bf16", DType::I64, 16},
                     C{"i64_to_i32_wrapping", DType::I64, 6}, C{"i64_to_bool", DType::I64, 9}, C{"i32_to_i64", DType::I32, 7},
                     C{"bool_to_float", DType::Bool, 1}, C{"bool_to_i64", DType::Bool, 7}}) {
    add(std::string("Cast_") + c.name, [c](Rng &r, DType) {
      Tensor x = c.from == DType::F32    ? r.floats({4, 5, 3}, -300, 300)
                 : c.from == DType::Bool ? r.bools({4, 5, 3})
                 : c.from == DType::I64  ? r.ints(DType::I64, {4, 5, 3}, -(int64_t(1) << 40), int64_t(1) << 40)
                                         : r.ints(DType::I32, {4, 5, 3}, -100000, 100000);
      if (c.from == DType::F32 && c.to == 9) // some exact zeros for "!= 0"
        for (int64_t i = 0; i < x.numel(); i += 3) x.data<float>()[i] = 0.f;
      Case k{"Cast", {dev(std::move(x))}, makeAttrs({{"to", c.to}})};
      k.exactDType = true;
      return k;
    });
  }
  add("CastLike_to_i64", [](Rng &r, DType) {
    Case k{"CastLike", {dev(r.floats({6, 2}, -50, 50)), dev(r.ints(DType::I64, {1}, 0, 1))}};
    k.exactDType = true;
    return k;
  });

  // Views.
  add("Reshape_zero_and_infer", [](Rng &r, DType) { return Case{"Reshape", {dev(r.floats({2, 3, 4})), both(i64s({0, -1}))}}; });
  add("Reshape_host_only_shape", [](Rng &r, DType) { return Case{"Reshape", {dev(r.floats({6, 5})), hostOnly(i64s({3, 1, 10}))}}; });
  add("Reshape_opset4_attr", [](Rng &r, DType) {
    Case c{"Reshape", {dev(r.floats({4, 6}))}, makeAttrs({{"shape", V{3, -1, 2}}})};
    c.opset = 4;
    return c;
  });
  add("Squeeze_input_axes", [](Rng &r, DType) { return Case{"Squeeze", {dev(r.floats({1, 3, 1, 5})), both(i64s({-2}))}}; });
  add("Squeeze_all", [](Rng &r, DType) { return Case{"Squeeze", {dev(r.floats({1, 3, 1, 5}))}}; });
  add("Squeeze_opset11_attr", [](Rng &r, DType) {
    Case c{"Squeeze", {dev(r.floats({1, 3, 1, 5}))}, makeAttrs({{"axes", V{0, 2}}})};
    c.opset = 11;
    return c;
  });
  add("Unsqueeze_input_axes", [](Rng &r, DType) { return Case{"Unsqueeze", {dev(r.floats({3, 5})), both(i64s({0, -1}))}}; });
  add("Unsqueeze_opset11_attr", [](Rng &r, DType) {
    Case c{"Unsqueeze", {dev(r.floats({3, 5}))}, makeAttrs({{"axes", V{1}}})};
    c.opset = 11;
    return c;
  });
  add("Flatten_neg_axis", [](Rng &r, DType) { return Case{"Flatten", {dev(r.floats({2, 3, 4, 5}))}, makeAttrs({{"axis", int64_t(-2)}})}; });
  add("Flatten_axis0", [](Rng &r, DType) { return Case{"Flatten", {dev(r.floats({2, 3, 4}))}, makeAttrs({{"axis", int64_t(0)}})}; });
  add("Identity", [](Rng &r, DType) { return Case{"Identity", {dev(r.floats({3, 7}))}}; });
  add("Identity_i64", [](Rng &r, DType) { return Case{"Identity", {dev(r.ints(DType::I64, {5}, -9, 9))}}; });

  // Strided copies.
  add("Transpose_perm", [](Rng &r, DType) {
    return Case{"Transpose", {dev(r.floats({2, 3, 4, 5}))}, makeAttrs({{"perm", V{3, 1, 0, 2}}})};
  });
  add("Transpose_default", [](Rng &r, DType) { return Case{"Transpose", {dev(r.floats({3, 5, 7}))}}; });
  // Strided copies in 16-byte units (the innermost axis contiguous on both
  // sides, every offset on a 16-byte boundary): a transpose, a concat and a
  // slice whose start is 16 elements in.
  add("Transpose_vector", [](Rng &r, DType) {
    return Case{"Transpose", {dev(r.floats({3, 5, 2, 8}))}, makeAttrs({{"perm", V{1, 0, 2, 3}}})};
  });
  add("Concat_vector", [](Rng &r, DType) {
    return Case{"Concat", {dev(r.floats({2, 3, 16})), dev(r.floats({2, 1, 16}))}, makeAttrs({{"axis", int64_t(1)}})};
  });
  add("Slice_vector", [](Rng &r, DType) {
    return Case{"Slice", {dev(r.floats({6, 12})), both(i64s({1, 4})), both(i64s({5, 12})), omitted(), omitted()}};
  });
  add("Transpose_i32", [](Rng &r, DType) {
    return Case{"Transpose", {dev(r.ints(DType::I32, {6, 1, 5}, -99, 99))}, makeAttrs({{"perm", V{2, 0, 1}}})};
  });
  add("Slice_steps", [](Rng &r, DType) {
    return Case{"Slice", {dev(r.floats({7, 9, 5})), both(i64s({1, -1})), both(i64s({6, -10})), both(i64s({0, 1})),
                          both(i64s({2, -2}))}};
  });
  add("Slice_no_axes_clamped", [](Rng &r, DType) {
    return Case{"Slice", {dev(r.floats({11, 4})), both(i64s({-3})), both(i64s({1000})), omitted(), omitted()}};
  });
  add("Slice_host_only", [](Rng &r, DType) {
    return Case{"Slice", {dev(r.ints(DType::I64, {5, 8}, -99, 99)), hostOnly(i64s({2})), hostOnly(i64s({7})),
                          hostOnly(i64s({-1})), omitted()}};
  });
  add("Slice_opset9_attrs", [](Rng &r, DType) {
    Case c{"Slice", {dev(r.floats({6, 7}))}, makeAttrs({{"starts", V{1, 2}}, {"ends", V{5, 100}}, {"axes", V{1, 0}}})};
    c.opset = 9;
    return c;
  });
  add("Expand", [](Rng &r, DType) { return Case{"Expand", {dev(r.floats({3, 1, 5})), both(i64s({2, 1, 4, 1}))}}; });
  add("Expand_scalar_i64", [](Rng &r, DType) { return Case{"Expand", {dev(r.ints(DType::I64, {}, -9, 9)), both(i64s({3, 2}))}}; });
  add("Concat_axis1", [](Rng &r, DType) {
    return Case{"Concat", {dev(r.floats({2, 3, 5})), dev(r.floats({2, 1, 5})), dev(r.floats({2, 4, 5}))},
                makeAttrs({{"axis", int64_t(1)}})};
  });
  add("Concat_last_axis_i64", [](Rng &r, DType) {
    return Case{"Concat", {dev(r.ints(DType::I64, {3, 2}, -9, 9)), dev(r.ints(DType::I64, {3, 5}, -9, 9))},
                makeAttrs({{"axis", int64_t(-1)}})};
  });
  add("Concat_axis0", [](Rng &r, DType) {
    return Case{"Concat", {dev(r.floats({1, 7})), dev(r.floats({3, 7}))}, makeAttrs({{"axis", int64_t(0)}})};
  });
  add("Split_sizes_input", [](Rng &r, DType) {
    Case c{"Split", {dev(r.floats({5, 7, 3})), both(i64s({2, 4, 1}))}, makeAttrs({{"axis", int64_t(1)}})};
    c.numOutputs = 3;
    return c;
  });
  add("Split_num_outputs_uneven", [](Rng &r, DType) {
    Case c{"Split", {dev(r.floats({7, 4}))}, makeAttrs({{"axis", int64_t(0)}, {"num_outputs", int64_t(3)}})};
    c.numOutputs = 3;
    return c;
  });
  add("Split_opset11_attr", [](Rng &r, DType) {
    Case c{"Split", {dev(r.floats({4, 6}))}, makeAttrs({{"axis", int64_t(-1)}, {"split", V{1, 5}}})};
    c.opset = 11;
    c.numOutputs = 2;
    return c;
  });

  // Gather.
  add("Gather_axis1_i64", [](Rng &r, DType) {
    return Case{"Gather", {dev(r.floats({5, 6, 7})), dev(r.ints(DType::I64, {2, 3}, -6, 5))}, makeAttrs({{"axis", int64_t(1)}})};
  });
  add("Gather_axis0_i32_host", [](Rng &r, DType) {
    return Case{"Gather", {dev(r.floats({9, 4})), both(r.ints(DType::I32, {5}, -9, 8))}};
  });
  add("Gather_scalar_index_last_axis", [](Rng &r, DType) {
    return Case{"Gather", {dev(r.floats({3, 4, 5})), dev(r.ints(DType::I64, {}, -5, 4))}, makeAttrs({{"axis", int64_t(-1)}})};
  });
  add("Gather_i64_data", [](Rng &r, DType) {
    return Case{"Gather", {dev(r.ints(DType::I64, {6, 2}, -99, 99)), dev(r.ints(DType::I64, {4}, 0, 5))}};
  });

  // Reductions.
  // Sums of up to ~900 values in [-2, 2]: fp32 sums in another order than
  // the CPU's double ones differ by far less than 1e-4.
  auto reduce = [&](const std::string &name, const std::string &k, std::function<Case(Rng &)> f) {
    add(name, [k, f](Rng &r, DType) {
      Case c = f(r);
      c.kernel = k;
      c.atol = k == "ReduceSum" ? 1e-4 : 1e-6;
      return c;
    });
  };
  reduce("ReduceSum_axes_keep", "ReduceSum", [](Rng &r) { return Case{"", {dev(r.floats({4, 5, 6})), both(i64s({0, 2}))}}; });
  reduce("ReduceSum_nokeep", "ReduceSum", [](Rng &r) {
    return Case{"", {dev(r.floats({4, 5, 6})), both(i64s({-2}))}, makeAttrs({{"keepdims", int64_t(0)}})};
  });
  reduce("ReduceSum_all_long_row", "ReduceSum", [](Rng &r) { return Case{"", {dev(r.floats({3, 301}))}}; });
  reduce("ReduceSum_noop", "ReduceSum", [](Rng &r) {
    return Case{"", {dev(r.floats({3, 4}))}, makeAttrs({{"noop_with_empty_axes", int64_t(1)}})};
  });
  reduce("ReduceSum_opset11_attr", "ReduceSum", [](Rng &r) {
    Case c{"", {dev(r.floats({2, 3, 4, 5}))}, makeAttrs({{"axes", V{1, 3}}})};
    c.opset = 11;
    return c;
  });
  reduce("ReduceSum_i64", "ReduceSum", [](Rng &r) { return Case{"", {dev(r.ints(DType::I64, {5, 7}, -99, 99)), both(i64s({1}))}}; });
  reduce("ReduceMean_last_axis", "ReduceMean", [](Rng &r) { return Case{"", {dev(r.floats({6, 129})), both(i64s({-1}))}}; });
  reduce("ReduceMean_opset13_attr", "ReduceMean", [](Rng &r) {
    Case c{"", {dev(r.floats({4, 5, 6}))}, makeAttrs({{"axes", V{1}}, {"keepdims", int64_t(0)}})};
    c.opset = 13;
    return c;
  });
  reduce("ReduceMean_outer_axis", "ReduceMean", [](Rng &r) { return Case{"", {dev(r.floats({33, 3, 2})), both(i64s({0}))}}; });

  // MatMul.
  auto matmul = [&](const std::string &name, Shape a, Shape b) {
    add(name, [a, b](Rng &r, DType) {
      Case c{"MatMul", {dev(r.floats(a)), dev(r.floats(b))}};
      c.atol = 1e-4; // dot products of up to 70 terms in [-4, 4], fp32 in two orders
      return c;
    });
  };
  matmul("MatMul_batch_bcast", {2, 1, 5, 7}, {3, 7, 6});
  matmul("MatMul_odd_tiles", {33, 70}, {70, 17});
  matmul("MatMul_vec_mat", {7}, {2, 7, 6});
  matmul("MatMul_mat_vec", {3, 5, 19}, {19});
  matmul("MatMul_b_batched_only", {4, 9}, {2, 9, 3});

  // Range: host inputs only, output in the inputs' dtype.
  add("Range_f32", [](Rng &r, DType) {
    Case c{"Range", {hostOnly(scalar<float>(DType::F32, 0.5f)), hostOnly(scalar<float>(DType::F32, static_cast<float>(r.uniform(6, 9)))),
                     hostOnly(scalar<float>(DType::F32, 0.75f))}};
    c.exactDType = true;
    return c;
  });
  add("Range_i64_negative_delta", [](Rng &r, DType) {
    Case c{"Range", {hostOnly(scalar<int64_t>(DType::I64, 10)), hostOnly(scalar<int64_t>(DType::I64, -r.integer(1, 9))),
                     hostOnly(scalar<int64_t>(DType::I64, -2))}};
    c.exactDType = true;
    return c;
  });
  return cs;
}

// ---- running a kernel case ---------------------------------------------------------

struct Env {
  cudaStream_t stream = nullptr;
  std::unique_ptr<DeviceAllocator> alloc;
  DeviceContext ctx;

  Env() {
    CUDA_OK(cudaStreamCreate(&stream));
    alloc = std::make_unique<DeviceAllocator>();
    ctx.stream = stream;
    ctx.alloc = alloc.get();
  }
  ~Env() {
    alloc.reset();
    cudaStreamDestroy(stream);
  }
};

// Leaves the cache holding 0xFF-filled blocks of every size class up to
// 128 KiB, which the case's inputs and outputs then reuse.
void poisonCache(Env &env) {
  std::vector<std::shared_ptr<void>> blocks;
  for (size_t bytes = 512; bytes <= 128 * 1024; bytes += 512)
    for (int k = 0; k < 4; ++k) {
      blocks.push_back(env.alloc->allocateBytes(bytes));
      CUDA_OK(cudaMemsetAsync(blocks.back().get(), 0xFF, bytes, env.stream));
    }
}

// Exact for integer and bool outputs; floats within
// rtol * (|cpu| + 0.01 * max|cpu|) + atol.
void compare(const std::string &what, const Tensor &ref, const Tensor &got, double rtol, double atol) {
  if (ref.shape() != got.shape())
    failf("%s: shape %s, expected %s", what.c_str(), resa::shapeToString(got.shape()).c_str(),
          resa::shapeToString(ref.shape()).c_str());
  const bool exact = !isFloat(ref.dtype());
  double maxAbs = 0;
  for (int64_t i = 0; i < ref.numel(); ++i)
    if (std::isfinite(valueAt(ref, i))) maxAbs = std::max(maxAbs, std::fabs(valueAt(ref, i)));
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double r = valueAt(ref, i), g = valueAt(got, i);
    if (std::isnan(r) && std::isnan(g)) continue;
    const double tol = exact ? 0.0 : rtol * (std::fabs(r) + 0.01 * maxAbs) + atol;
    if (!(std::fabs(g - r) <= tol) && !(std::isinf(r) && g == r))
      failf("%s: element %lld is %.9g, expected %.9g (tolerance %.3g)", what.c_str(), static_cast<long long>(i), g, r,
            tol);
  }
}

std::string runKernelCase(const Case &c, DType floatType, Env &env) {
  poisonCache(env);
  const size_t n = c.inputs.size();
  std::vector<Tensor> cpuIn(n);
  std::vector<DeviceTensor> devIn(n);
  KernelArgs cpuArgs;
  DeviceKernelArgs devArgs;
  cpuArgs.inputs.assign(n, nullptr);
  devArgs.inputs.assign(n, nullptr);
  devArgs.host.assign(n, nullptr);
  for (size_t i = 0; i < n; ++i) {
    const In &in = c.inputs[i];
    if (in.where == In::Omitted) continue;
    const DType devType = isFloat(in.t.dtype()) ? in.floatAs.value_or(floatType) : in.t.dtype();
    cpuIn[i] = roundedTo(in.t, devType);
    cpuArgs.inputs[i] = &cpuIn[i];
    if (in.where != In::HostOnly) {
      devIn[i] = resa::gpu::upload(cpuIn[i], devType, env.ctx);
      devArgs.inputs[i] = &devIn[i];
    }
    if (in.where != In::Device) devArgs.host[i] = &cpuIn[i];
  }
  cpuArgs.attrs = devArgs.attrs = &c.attrs;
  cpuArgs.opset = devArgs.opset = c.opset;
  cpuArgs.numOutputs = devArgs.numOutputs = c.numOutputs;
  devArgs.ctx = &env.ctx;

  resa::KernelFn cpu = resa::findCpuKernel(c.kernel);
  resa::gpu::DeviceKernelFn gpu = resa::gpu::findCudaKernel(c.kernel);
  if (!cpu || !gpu) failf("no %s kernel named %s", cpu ? "CUDA" : "CPU", c.kernel.c_str());
  std::vector<Tensor> want;
  cpu(cpuArgs, want);
  std::vector<DeviceTensor> got;
  gpu(devArgs, got);
  CUDA_OK(cudaStreamSynchronize(env.stream));
  CUDA_OK(cudaGetLastError());
  if (got.size() != want.size()) failf("%zu outputs, expected %zu", got.size(), want.size());

  const double rtol = floatType == DType::F32 ? 1e-5 : 1e-2;
  std::string shapes;
  for (size_t o = 0; o < want.size(); ++o) {
    const DType expect = c.exactDType || !isFloat(want[o].dtype()) ? want[o].dtype() : c.outFloat.value_or(floatType);
    if (got[o].dtype() != expect)
      failf("output %zu has dtype %s, expected %s", o, resa::dtypeName(got[o].dtype()), resa::dtypeName(expect));
    compare("output " + std::to_string(o), want[o], resa::gpu::download(got[o], env.ctx), rtol, c.atol);
    shapes += (o ? " " : "") + resa::shapeToString(want[o].shape());
  }
  return shapes;
}

// ---- allocator and transfers ---------------------------------------------------------

struct MiscCase {
  std::string name;
  std::function<std::string(Rng &, Env &)> run;
};

void expect(bool ok, const std::string &what) {
  if (!ok) throw Failure{what};
}

std::vector<MiscCase> miscCases() {
  std::vector<MiscCase> cs;
  cs.push_back({"alloc_reuse", [](Rng &, Env &) {
                  DeviceAllocator a;
                  std::shared_ptr<void> p = a.allocateBytes(1000);
                  void *first = p.get();
                  expect(a.mallocCalls() == 1 && a.bytesInUse() == 1024, "1000 bytes take one 1024-byte block");
                  expect(reinterpret_cast<uintptr_t>(first) % 256 == 0, "blocks are 256-byte aligned");
                  p.reset();
                  expect(a.bytesInUse() == 0 && a.bytesCached() == 1024, "a freed block stays cached");
                  std::shared_ptr<void> q = a.allocateBytes(900); // same 1024-byte class
                  expect(a.mallocCalls() == 1 && q.get() == first, "the cached block is reused without cudaMalloc");
                  DeviceTensor t = a.allocate(DType::BF16, {3, 1000, 1000}); // 6 MB: rounds to 2 MiB multiples
                  expect(a.bytesInUse() == 1024 + (size_t(6) << 20) && a.mallocCalls() == 2, "large sizes round to 2 MiB");
                  t = DeviceTensor();
                  DeviceTensor u = a.allocate(DType::F32, {1500000}); // also 6 MiB
                  expect(a.mallocCalls() == 2 && a.bytesCached() == 0, "the 6 MiB block is reused");
                  return std::string("ok");
                }});
  cs.push_back({"alloc_oom_message", [](Rng &, Env &) {
                  DeviceAllocator a;
                  const size_t huge = size_t(1) << 50;
                  std::string msg;
                  try {
                    a.allocateBytes(huge);
                  } catch (const resa::Error &e) {
                    msg = e.what();
                  }
                  const std::string want = "CUDA: out of device memory allocating " + std::to_string(huge) + " bytes (in use ";
                  expect(msg.rfind(want, 0) == 0, "OOM message: '" + msg + "'");
                  expect(cudaGetLastError() == cudaSuccess, "the failed cudaMalloc leaves no pending error");
                  expect(a.allocateBytes(4096) != nullptr, "allocation works after an OOM");
                  return msg;
                }});
  cs.push_back({"alloc_outlived", [](Rng &, Env &) {
                  std::shared_ptr<void> keep;
                  DeviceTensor view;
                  {
                    DeviceAllocator a;
                    keep = a.allocateBytes(12345);
                    view = a.allocate(DType::I64, {7}).reshaped({7, 1});
                  }
                  keep.reset(); // after the allocator: cudaFree, no crash
                  view = DeviceTensor();
                  expect(cudaDeviceSynchronize() == cudaSuccess, "device healthy after late frees");
                  return std::string("ok");
                }});
  cs.push_back({"reshaped_checks_count", [](Rng &, Env &env) {
                  DeviceTensor t = env.alloc->allocate(DType::F32, {2, 3});
                  bool threw = false;
                  try {
                    (void)t.reshaped({7});
                  } catch (const resa::Error &) {
                    threw = true;
                  }
                  expect(threw, "reshaped to another element count throws");
                  expect(t.reshaped({3, 2}).raw() == t.raw(), "reshaped aliases");
                  return std::string("ok");
                }});
  cs.push_back({"upload_download_roundtrips", [](Rng &r, Env &env) {
                  Tensor f = r.floats({3, 257});
                  for (DType to : {DType::F32, DType::BF16, DType::F16}) {
                    DeviceTensor d = resa::gpu::upload(f, to, env.ctx);
                    expect(d.dtype() == to, "upload makes the requested float type");
                    compare(std::string("f32 via ") + resa::dtypeName(to), roundedTo(f, to), resa::gpu::download(d, env.ctx), 0, 0);
                  }
                  Tensor h(DType::BF16, {5, 3});
                  for (int64_t i = 0; i < h.numel(); ++i) h.data<uint16_t>()[i] = resa::f32ToBf16(static_cast<float>(r.uniform(-9, 9)));
                  Tensor back = resa::gpu::download(resa::gpu::upload(h, DType::F32, env.ctx), env.ctx);
                  expect(back.dtype() == DType::F32, "download gives F32");
                  compare("bf16 host via f32", h, back, 0, 0);
                  for (DType dt : {DType::I64, DType::I32, DType::Bool}) {
                    Tensor t = dt == DType::Bool ? r.bools({4, 9}) : r.ints(dt, {4, 9}, -1000, 1000);
                    DeviceTensor d = resa::gpu::upload(t, DType::BF16, env.ctx);
                    expect(d.dtype() == dt, "integers keep their dtype");
                    Tensor b = resa::gpu::download(d, env.ctx);
                    expect(b.dtype() == dt, "integers come back as they are");
                    compare(resa::dtypeName(dt), t, b, 0, 0);
                  }
                  Tensor empty(DType::F32, {0, 4});
                  expect(resa::gpu::download(resa::gpu::upload(empty, DType::BF16, env.ctx), env.ctx).shape() == Shape{0, 4},
                         "empty tensors round-trip");
                  return std::string("ok");
                }});
  cs.push_back({"registry_has_cpu_twins", [](Rng &, Env &) {
                  for (const std::string &n : resa::gpu::cudaKernelNames())
                    expect(resa::findCpuKernel(n) != nullptr, "CUDA kernel " + n + " has no CPU kernel of that name");
                  expect(resa::gpu::findCudaKernel("Shape") == nullptr, "Shape is the executor's");
                  return std::to_string(resa::gpu::cudaKernelNames().size()) + " kernels";
                }});
  return cs;
}

} // namespace

int main(int argc, char **argv) {
  // Made once there is a device (runTestProgram's setup).
  std::unique_ptr<Env> env;
  std::vector<resa::cudatest::NamedCase> cases;
  for (const KernelCase &k : kernelCases())
    for (DType ft : {DType::F32, DType::BF16}) {
      std::string name = k.name + (ft == DType::F32 ? "[f32]" : "[bf16]");
      auto build = k.build;
      cases.push_back({name, [build, ft, &env](uint64_t seed) {
                         Rng r{std::mt19937_64(seed)};
                         return runKernelCase(build(r, ft), ft, *env);
                       }});
    }
  for (MiscCase &m : miscCases())
    cases.push_back({m.name, [run = m.run, &env](uint64_t seed) {
                       Rng r{std::mt19937_64(seed)};
                       return run(r, *env);
                     }});
  return resa::cudatest::runTestProgram(argc, argv, "ops", "ops_", cases,
                                        [&] { env = std::make_unique<Env>(); });
}
