// RESA_HOST_DEVICE: a function the CPU kernels and the CUDA kernels both call
// (__host__ __device__ under nvcc, nothing for the host compiler).
#pragma once

#if defined(__CUDACC__)
#define RESA_HOST_DEVICE __host__ __device__
#else
#define RESA_HOST_DEVICE
#endif
