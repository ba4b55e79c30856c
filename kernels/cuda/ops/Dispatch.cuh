// Dtype dispatch and element access shared by the device op kernels
// (ops/*.cu), so that each kernel family is one template over its element
// type and one launcher.
//
// Device side: kernels compute in fp32 whatever float type they store.
// toFloat/fromFloat<T> convert float, __nv_bfloat16 and __half to and from
// fp32 (round to nearest even); load<T>/store<T> read and write one element
// in its compute type (Compute<T>: float for the float types, so they are the
// as-float load and store; T itself for integers), so one kernel body serves
// floats and integers alike.
//
// Host side: dispatchFloat(dtype, f) calls f(Tag<T>{}) with T the element
// type of a float dtype (F32 -> float, BF16 -> __nv_bfloat16, F16 -> __half)
// and throws resa::Error for any other dtype; dispatchArith adds I64 and I32;
// dispatchBySize picks an unsigned type of the element's width (data
// movement). Inside f, `using T = typename decltype(tag)::type;`.
#pragma once

#include "../Launch.cuh"
#include "OpArgs.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace resa::gpu::ops {

template <typename T> struct Tag {
  using type = T;
};

// ---- element types ----------------------------------------------------------

template <typename T>
constexpr bool isFloatElem =
    std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>;

// The type a kernel computes in for elements of type T.
template <typename T> using Compute = std::conditional_t<isFloatElem<T>, float, T>;

// ---- device element access --------------------------------------------------

__host__ __device__ __forceinline__ float toFloat(float v) { return v; }
__host__ __device__ __forceinline__ float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
__host__ __device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }

template <typename T> __host__ __device__ __forceinline__ T fromFloat(float v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16_rn(v);
  else if constexpr (std::is_same_v<T, __half>) return __float2half_rn(v);
  else {
    static_assert(std::is_same_v<T, float>, "fromFloat: not a float element type");
    return v;
  }
}

// Element i of p, stored as float dtype t (F32, BF16 or F16), as fp32: for
// tensors whose dtype is a runtime value a kernel does not template over.
__device__ __forceinline__ float floatAt(const void *p, DType t, int64_t i) {
  if (t == DType::BF16) return toFloat(static_cast<const __nv_bfloat16 *>(p)[i]);
  if (t == DType::F16) return toFloat(static_cast<const __half *>(p)[i]);
  return static_cast<const float *>(p)[i];
}

// N consecutive elements, loaded and stored as one (16 bytes or less).
template <typename T, int N> struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// Whether p lies on a `bytes` boundary (vector loads and stores may use it).
inline bool alignedTo(const void *p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }
inline bool aligned16(const void *p) { return alignedTo(p, 16); }

// a / b and a % b for a >= 0, b > 0: in 32 bits where both fit. GPUs divide
// integers in software, 64-bit division at ~4x the instructions of 32-bit;
// with a division or two per element, a kernel over a prefill's millions of
// rows was bound by them (bench/NOTES.md, session 16).
struct DivMod {
  int64_t q, r;
};
__device__ __forceinline__ DivMod divMod(int64_t a, int64_t b) {
  if (((a | b) >> 31) == 0) {
    const uint32_t q = static_cast<uint32_t>(a) / static_cast<uint32_t>(b);
    return {q, static_cast<int64_t>(static_cast<uint32_t>(a) - q * static_cast<uint32_t>(b))};
  }
  const int64_t q = a / b;
  return {q, a - q * b};
}

// Element i of p in its compute type.
template <typename T> __device__ __forceinline__ Compute<T> load(const T *p, int64_t i) {
  if constexpr (isFloatElem<T>) return toFloat(p[i]);
  else return p[i];
}

// Stores v (a compute-type value) as element i of p.
template <typename T> __device__ __forceinline__ void store(T *p, int64_t i, Compute<T> v) {
  if constexpr (isFloatElem<T>) p[i] = fromFloat<T>(v);
  else p[i] = v;
}

// ---- host dtype dispatch ----------------------------------------------------

// F32, BF16, F16; `op` names the kernel in the error.
template <class F> auto dispatchFloat(DType t, F &&f, const char *op = "CUDA kernel") {
  switch (t) {
  case DType::F32: return f(Tag<float>{});
  case DType::BF16: return f(Tag<__nv_bfloat16>{});
  case DType::F16: return f(Tag<__half>{});
  default: fail(op, "unsupported dtype ", dtypeName(t), " (expected float32, bfloat16 or float16)");
  }
}

// The float types plus I64 and I32.
template <class F> auto dispatchArith(DType t, F &&f, const char *op = "CUDA kernel") {
  switch (t) {
  case DType::F32: return f(Tag<float>{});
  case DType::BF16: return f(Tag<__nv_bfloat16>{});
  case DType::F16: return f(Tag<__half>{});
  case DType::I64: return f(Tag<int64_t>{});
  case DType::I32: return f(Tag<int32_t>{});
  default:
    fail(op, "unsupported dtype ", dtypeName(t), " (expected float32, bfloat16, float16, int64 or int32)");
  }
}

// An unsigned type of the element's width: for kernels that only move data.
template <class F> auto dispatchBySize(DType t, F &&f, const char *op = "CUDA kernel") {
  switch (dtypeSize(t)) {
  case 1: return f(Tag<uint8_t>{});
  case 2: return f(Tag<uint16_t>{});
  case 4: return f(Tag<uint32_t>{});
  case 8: return f(Tag<uint64_t>{});
  default: fail(op, "unsupported dtype ", dtypeName(t));
  }
}

// ---- launching ----------------------------------------------------------------

constexpr int kBlock = 256;

// Blocks for a grid-stride loop over n elements (capped: the loop covers the rest).
inline unsigned gridFor(int64_t n) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65536 ? 65536 : blocks));
}

// Blocks for grid-stride loops over `rows` rows (along y) of `cols` items
// (along x, gridFor's blocks), so that a kernel indexes rows without
// dividing; as many blocks in all as gridFor's cap, each looping over rows
// (a block a row for a prefill's 128K rows made the blocks too short-lived:
// the column split ran 12% slower than the flat loop, session 16).
inline dim3 rowGridFor(int64_t rows, int64_t cols) {
  const unsigned x = gridFor(cols);
  const int64_t y = std::min<int64_t>({rows, 65535, std::max<int64_t>(1, 65536 / x)});
  return dim3(x, static_cast<unsigned>(y < 1 ? 1 : y));
}

// Throws naming `op` when the last launch failed (no synchronisation).
inline void checkLaunch(const char *op) { checkCuda(cudaGetLastError(), op); }

// Launches a per-layer kernel with programmatic dependent launch, so that
// its launch overlaps the end of the kernel before it (a decode step is a
// few hundred small kernels): the kernel calls detail::pdlWait() before its
// first global read and detail::pdlLaunchDependents() when its work is done.
template <typename... KArgs, typename... Args>
void launchLayerKernel(const char *op, void (*kernel)(KArgs...), dim3 grid, unsigned block,
                       cudaStream_t stream, Args &&...args) {
  checkCuda(detail::launchPdl(kernel, grid, dim3(block), 0, stream, std::forward<Args>(args)...),
            op);
}

} // namespace resa::gpu::ops
