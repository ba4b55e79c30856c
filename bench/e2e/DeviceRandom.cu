// Pseudo-random 16-bit floats on the device: see DeviceRandom.h.
#include "DeviceRandom.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

namespace resa::bench {
namespace {

// A 32-bit integer hash (lowbias32) of the index and seed, mapped to
// [-1, 1); zero becomes a small positive value.
__device__ float randomAt(size_t i, uint32_t seed) {
  uint32_t x = static_cast<uint32_t>(i) * 0x9E3779B9u ^ seed ^ static_cast<uint32_t>(i >> 32);
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  const float f = static_cast<float>(x >> 8) * (2.0f / 16777216.0f) - 1.0f;
  return f != 0.0f ? f : 1.0f / 1024.0f;
}

template <typename T> __global__ void fillKernel(T *dst, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float f = randomAt(i, seed);
    if constexpr (std::is_same_v<T, __half>)
      dst[i] = __float2half_rn(f);
    else
      dst[i] = __float2bfloat16_rn(f);
  }
}

} // namespace

cudaError_t fillRandom16(void *dst, size_t n, bool f16, uint32_t seed, cudaStream_t stream) {
  if (n == 0)
    return cudaSuccess;
  // A grid-stride loop: enough blocks to fill the device, no more.
  const unsigned blocks = static_cast<unsigned>(n / 256 < 4096 ? n / 256 + 1 : 4096);
  if (f16)
    fillKernel<<<blocks, 256, 0, stream>>>(static_cast<__half *>(dst), n, seed);
  else
    fillKernel<<<blocks, 256, 0, stream>>>(static_cast<__nv_bfloat16 *>(dst), n, seed);
  return cudaGetLastError();
}

} // namespace resa::bench
