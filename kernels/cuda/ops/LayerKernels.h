// The resa.* layer kernels on the device (semantics: the CPU kernels of the
// same names, kernels/cpu/Layers.cpp), one file per family, all registered by
// Layers.cu; and the argument checks they share (beside OpArgs.h's).
#pragma once

#include "resa/cuda/DeviceKernel.h"

#include "Dispatch.cuh"

#include <cstdint>
#include <vector>

namespace resa::gpu::ops::layers {

using Outputs = std::vector<DeviceTensor>;

void embedding(const DeviceKernelArgs &args, Outputs &outputs); // LayerEmbedding.cu
void rmsNorm(const DeviceKernelArgs &args, Outputs &outputs);   // LayerNorm.cu
void addRmsNorm(const DeviceKernelArgs &args, Outputs &outputs); // LayerNorm.cu
void layerNorm(const DeviceKernelArgs &args, Outputs &outputs); // LayerNorm.cu
// resa.add_rms_norm of a and the fp32 sum of `parts` [count, rows, cols]
// (a projection's partial products over slices of its inner dimension),
// rounded to the projection's dtype before the add, or of parts [1, rows,
// cols] already in a's dtype (the product rounded by its GEMM); the norm weight is
// input weightAt of args (epsilon, weight_offset its attrs); sum and y are
// a's dtype and shape, allocated by the caller (LayerNorm.cu).
void addRmsNormOfProjection(const char *op, const DeviceKernelArgs &args, const DeviceTensor &a,
                            const DeviceTensor &parts, DType projection, size_t weightAt, DeviceTensor &sum,
                            DeviceTensor &y);
void rotary(const DeviceKernelArgs &args, Outputs &outputs);    // LayerRotary.cu
void multiRotary(const DeviceKernelArgs &args, Outputs &outputs); // LayerRotary.cu

// The rows from which the norms run a warp a row (a prefill's; a decode
// step's few rows keep a block a row, spread over more SMs), and from which
// a projection followed by a norm hands it one product in x's dtype instead
// of fp32 partial products (Layers.cu).
constexpr int64_t kNormWarpRows = 256;

// Input i, which must be present and a float tensor (F32, BF16, F16).
inline const DeviceTensor &floatInput(const char *op, const DeviceKernelArgs &args, size_t i, const char *what) {
  const DeviceTensor *t = args.input(i);
  if (!t) fail(op, "missing input ", what);
  if (!isFloatDType(t->dtype()))
    fail(op, what, " must be float32, bfloat16 or float16, got ", dtypeName(t->dtype()));
  return *t;
}

// Rows of the last axis (0 when that axis is empty).
inline int64_t rowsOf(const DeviceTensor &x) {
  return x.rank() && x.dim(x.rank() - 1) ? x.numel() / x.dim(x.rank() - 1) : 0;
}

// One thread block per row: the grid's x dimension bounds the rows.
inline unsigned rowGrid(const char *op, int64_t rows) {
  if (rows > 0x7fffffff) fail(op, rows, " rows exceed one launch");
  return static_cast<unsigned>(rows);
}

} // namespace resa::gpu::ops::layers
