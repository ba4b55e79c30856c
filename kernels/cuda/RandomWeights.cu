// fillRandomWeight (resa/cuda/RandomWeights.h): one grid-stride pass, each
// element computed from its index alone.
#include "resa/cuda/RandomWeights.h"

#include "ops/Dispatch.cuh"

namespace resa::gpu {
namespace {

using namespace ops;

// S: the stored dtype's element type (the first rounding), O: out's.
template <typename S, typename O>
__global__ void fillRandomKernel(O *out, RandomWeightStream stream, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = fromFloat<O>(toFloat(fromFloat<S>(stream.at(static_cast<uint64_t>(i)))));
}

} // namespace

void fillRandomWeight(const DeviceTensor &out, const RandomWeightStream &stream, DType stored,
                      cudaStream_t cudaStream) {
  const int64_t n = out.numel();
  if (n == 0) return;
  dispatchFloat(
      stored,
      [&](auto s) {
        using S = typename decltype(s)::type;
        dispatchFloat(
            out.dtype(),
            [&](auto o) {
              using O = typename decltype(o)::type;
              fillRandomKernel<S, O><<<gridFor(n), kBlock, 0, cudaStream>>>(out.data<O>(), stream, n);
            },
            "random weights");
      },
      "random weights");
  checkLaunch("random weights");
}

} // namespace resa::gpu
