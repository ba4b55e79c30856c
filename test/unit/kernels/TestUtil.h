// Helpers for the kernel unit tests: random tensors, kernel invocation and
// index arithmetic for the naive references (written independently of the
// kernels' own broadcasting machinery).
#pragma once

#include "resa/kernels/Kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace resa::test {

inline std::mt19937 &rng() {
  static std::mt19937 g(20240611);
  return g;
}

inline Tensor randF(const Shape &s, float lo = -2.f, float hi = 2.f) {
  Tensor t(DType::F32, s);
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng());
  return t;
}

inline Tensor randD(const Shape &s, double lo = -2, double hi = 2) {
  Tensor t(DType::F64, s);
  std::uniform_real_distribution<double> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = d(rng());
  return t;
}

template <typename T = int64_t> Tensor randI(const Shape &s, int64_t lo, int64_t hi) {
  DType dt = sizeof(T) == 8 ? DType::I64 : DType::I32;
  Tensor t(dt, s);
  std::uniform_int_distribution<int64_t> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(d(rng()));
  return t;
}

inline Tensor randBool(const Shape &s) {
  Tensor t(DType::Bool, s);
  std::bernoulli_distribution d(0.5);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = d(rng());
  return t;
}

template <typename T> Tensor make(DType dt, const Shape &s, const std::vector<T> &v) {
  Tensor t(dt, s);
  EXPECT_EQ(static_cast<int64_t>(v.size()), t.numel());
  for (size_t i = 0; i < v.size(); ++i) t.data<T>()[i] = v[i];
  return t;
}
inline Tensor ints(const std::vector<int64_t> &v) { return make<int64_t>(DType::I64, {int64_t(v.size())}, v); }
inline Tensor scalarI(int64_t v) { return make<int64_t>(DType::I64, {}, {v}); }
inline Tensor scalarF(float v) { return make<float>(DType::F32, {}, {v}); }

// Runs kernel `name`; inputs may contain nullptr for omitted optionals.
inline std::vector<Tensor> run(const std::string &name, std::vector<const Tensor *> inputs, const Attrs &attrs = {},
                               int64_t opset = 18, size_t numOutputs = 1) {
  KernelFn fn = findCpuKernel(name);
  if (!fn) throw Error("test: no kernel " + name);
  KernelArgs a;
  a.inputs = std::move(inputs);
  a.attrs = &attrs;
  a.opset = opset;
  a.numOutputs = numOutputs;
  std::vector<Tensor> out;
  fn(a, out);
  return out;
}

inline std::vector<int64_t> unravel(int64_t i, const Shape &s) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = s[d] ? i % s[d] : 0;
    i = s[d] ? i / s[d] : 0;
  }
  return idx;
}

inline int64_t ravel(const std::vector<int64_t> &idx, const Shape &s) {
  int64_t o = 0;
  for (size_t d = 0; d < s.size(); ++d) o = o * s[d] + idx[d];
  return o;
}

// Offset into `in` of the element that broadcasts to output index `idx`.
inline int64_t ravelBroadcast(const std::vector<int64_t> &idx, const Shape &in) {
  size_t lead = idx.size() - in.size();
  int64_t o = 0;
  for (size_t d = 0; d < in.size(); ++d) o = o * in[d] + (in[d] == 1 ? 0 : idx[lead + d]);
  return o;
}

inline float f(const Tensor &t, int64_t i) { return t.data<float>()[i]; }

inline void expectClose(const Tensor &got, const std::vector<float> &want, float tol, const char *what = "") {
  ASSERT_EQ(got.dtype(), DType::F32) << what;
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  for (int64_t i = 0; i < got.numel(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(f(got, i))) << what << " at " << i;
      continue;
    }
    ASSERT_NEAR(f(got, i), want[i], tol) << what << " at " << i;
  }
}

inline void expectInts(const Tensor &got, const std::vector<int64_t> &want, const char *what = "") {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  for (int64_t i = 0; i < got.numel(); ++i) ASSERT_EQ(got.intAt(i), want[i]) << what << " at " << i;
}

inline std::vector<float> floats(const Tensor &t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

} // namespace resa::test
