// The device side of resa/kernels/RandomWeights.h: a package's random weights
// made in place on the GPU (no host copy, no upload), bit for bit what the
// host generator gives.
#pragma once

#include "resa/cuda/DeviceKernel.h"
#include "resa/kernels/RandomWeights.h"

namespace resa::gpu {

// Fills `out` (F32, BF16 or F16, in device memory) with the values of
// `stream`, rounded to `stored` (the dtype the package records for the
// weight: F32, BF16 or F16) and then to out's dtype: what uploading the host
// tensor randomWeight(seed, name, stored, shape) into a tensor of out's dtype
// would give. Enqueued on `cudaStream`; throws resa::Error on other dtypes.
void fillRandomWeight(const DeviceTensor &out, const RandomWeightStream &stream, DType stored,
                      cudaStream_t cudaStream);

} // namespace resa::gpu
