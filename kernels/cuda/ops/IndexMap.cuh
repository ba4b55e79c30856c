// Linear output index -> element offsets into N operands, for kernels that
// walk a (broadcast, transposed, sliced) iteration space: operand k's offset
// of row-major index o over `shape` is sum_d idx_d(o) * strides[k][d].
// Elementwise broadcasting, the strided copy of the movement ops, the
// reductions and MatMul's batch axes all index through this one map.
#pragma once

#include "Dispatch.cuh"

#include <array>
#include <cstdint>
#include <vector>

namespace resa::gpu::ops {

constexpr int kMaxRank = 8;

template <int N> struct IndexMap {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t strides[N][kMaxRank] = {};

  __device__ __forceinline__ void offsets(int64_t o, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = rank - 1; d > 0; --d) {
      const DivMod qr = divMod(o, shape[d]);
      o = qr.q;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += qr.r * strides[k][d];
    }
    if (rank > 0) { // o < shape[0] is what is left: no division for the outermost axis
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += o * strides[k][0];
    }
  }
};

// The map of `shape` with operand k's strides strides[k] (one per axis).
// Size-1 axes are dropped and axes contiguous for every operand merged, so a
// same-shape elementwise op indexes with no division at all, and ranks above
// kMaxRank work whenever they collapse; otherwise throws naming `op`.
template <int N>
IndexMap<N> makeIndexMap(const char *op, const Shape &shape, const std::vector<int64_t> (&strides)[N]) {
  std::vector<int64_t> dims;                  // outermost first
  std::vector<std::array<int64_t, N>> steps;  // their strides per operand
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    std::array<int64_t, N> s;
    for (int k = 0; k < N; ++k) s[k] = strides[k][d];
    bool merge = !dims.empty();
    for (int k = 0; k < N && merge; ++k) merge = steps.back()[k] == s[k] * shape[d];
    if (merge) {
      dims.back() *= shape[d];
      steps.back() = s;
    } else {
      dims.push_back(shape[d]);
      steps.push_back(s);
    }
  }
  if (dims.size() > static_cast<size_t>(kMaxRank))
    fail(op, "shape ", shapeToString(shape), " has more than ", kMaxRank, " axes that the CUDA kernels can index");
  IndexMap<N> m;
  m.rank = static_cast<int>(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    m.shape[d] = dims[d];
    for (int k = 0; k < N; ++k) m.strides[k][d] = steps[d][k];
  }
  return m;
}

} // namespace resa::gpu::ops
