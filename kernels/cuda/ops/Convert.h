// Elementwise dtype conversion on the device: Cast's kernel (ops/Elementwise.cu),
// also what upload/download (DeviceMemory.cpp) convert floats with.
#pragma once

#include "resa/kernels/Tensor.h"

#include <cstdint>

#include <cuda_runtime_api.h>

namespace resa::gpu {

// dst[i] = Cast(src[i]) for i < n, with the CPU Cast kernel's semantics
// (floats to integers truncate and saturate, NaN -> 0; to Bool is "!= 0").
// Supports F32, F64, F16, BF16, I64, I32, I8, U8 and Bool. Enqueued on `stream`.
void convertOnDevice(const void *src, DType from, void *dst, DType to, int64_t n, cudaStream_t stream);

} // namespace resa::gpu
