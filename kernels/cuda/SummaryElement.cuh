// One element of a page's key summary brought up to date: the rule of
// CpuKVStorage::updateSummaries, shared by the summary kernels
// (BlockSummaries.cu, element by element where rows hold odd head dims) and
// the rotary append that refreshes its pages' summaries as it writes the
// keys (PagedKVCopy.cu).
#pragma once

#include "ops/Dispatch.cuh"

#include <cstdint>

namespace resa::gpu::detail {

// kmin[at] and kmax[at] become the min and max over the stored summary
// (from > 0; from == 0 resets it: +-inf) and the keys of slots [from,
// valid), k pointing at slot 0's element and `stride` elements between
// slots. Min and max of stored values are stored values: nothing is rounded;
// fminf/fmaxf keep the other value where a key is NaN, as std::min/std::max
// do in the CPU reference.
template <typename T>
__device__ __forceinline__ void summarizeElement(const T *k, int64_t stride, T *kmin, T *kmax,
                                                 int64_t at, int from, int valid) {
  float mn = __builtin_huge_valf(), mx = -__builtin_huge_valf();
  if (from > 0) {
    mn = ops::toFloat(kmin[at]);
    mx = ops::toFloat(kmax[at]);
  }
  for (int slot = from; slot < valid; ++slot) {
    const float x = ops::toFloat(k[static_cast<int64_t>(slot) * stride]);
    mn = fminf(mn, x);
    mx = fmaxf(mx, x);
  }
  kmin[at] = ops::fromFloat<T>(mn);
  kmax[at] = ops::fromFloat<T>(mx);
}

} // namespace resa::gpu::detail
