// Block-wide reduction for kernels that give one thread block to a row (the
// norms, sampling). Deterministic: a fixed shuffle tree per warp, then the
// warps' partials combined in warp order.
#pragma once

#include <cuda_runtime.h>

namespace resa::gpu::detail {

// op over v of every thread of the block, returned to every thread. All
// threads must call it (it synchronises); blockDim.x must be a multiple of 32.
// `scratch` is shared memory of at least 32 elements; the next blockReduce may
// reuse it (it synchronises before writing), other writes need a
// __syncthreads() first.
template <typename T, typename Op> __device__ T blockReduce(T v, Op op, T *scratch) {
  for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  __syncthreads(); // the previous call's readers are done with scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T r = scratch[0];
  for (int w = 1; w < warps; ++w) r = op(r, scratch[w]);
  return r;
}

struct SumOp {
  template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};

} // namespace resa::gpu::detail
