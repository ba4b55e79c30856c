// Launch helpers shared by the CUDA kernels' host code.
#pragma once

#include <cuda_runtime.h>

#include <utility>

namespace resa::gpu::detail {

// The launch attribute of thread-block clusters of `cluster` blocks.
inline cudaLaunchAttribute clusterDimension(dim3 cluster) {
  cudaLaunchAttribute a{};
  a.id = cudaLaunchAttributeClusterDimension;
  a.val.clusterDim.x = cluster.x;
  a.val.clusterDim.y = cluster.y;
  a.val.clusterDim.z = cluster.z;
  return a;
}

// Launches `kernel` with programmatic dependent launch: it may start while
// the previous kernel of the stream runs (in a CUDA graph, once that
// kernel's blocks have all started: runtime/src/cuda/CudaExecutor.cpp); every
// block must execute `griddepcontrol.wait` (pdlWait) before it reads what an
// earlier kernel writes and before it writes anything (constant data such as
// weights may be read before).
// `cluster`.x > 0: thread-block clusters of those dimensions (each of the
// grid's a multiple of the cluster's), the kernel's cluster barriers valid
// even for clusters of 1.
template <typename... KArgs, typename... Args>
cudaError_t launchPdlClusters(dim3 cluster, void (*kernel)(KArgs...), dim3 grid, dim3 block,
                              size_t smem, cudaStream_t stream, Args &&...args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[2];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  attr[1] = clusterDimension(cluster);
  cfg.attrs = attr;
  cfg.numAttrs = cluster.x > 0 ? 2 : 1;
  return cudaLaunchKernelEx(&cfg, kernel, static_cast<KArgs>(args)...);
}

template <typename... KArgs, typename... Args>
cudaError_t launchPdl(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem,
                      cudaStream_t stream, Args &&...args) {
  return launchPdlClusters(dim3(0), kernel, grid, block, smem, stream,
                           std::forward<Args>(args)...);
}

// How many clusters of `cluster` blocks of `kernel` (a __global__
// function's address; `block` threads, `smem` bytes of dynamic shared memory
// a block) the device holds at once, for a launch of `grid` blocks.
inline cudaError_t maxActiveClusters(int *clusters, const void *kernel, dim3 grid, dim3 block,
                                     size_t smem, dim3 cluster) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cudaLaunchAttribute attr = clusterDimension(cluster);
  cfg.attrs = &attr;
  cfg.numAttrs = 1;
  return cudaOccupancyMaxActiveClusters(clusters, kernel, &cfg);
}

// Lets `kernel` (a __global__ function's address) launch with the current
// device's whole opt-in shared memory: what its static shared memory leaves
// of the per-block limit, the dynamic size returned in *dynamicLimit when
// given. (Above 48 KiB the limit must be raised per kernel.)
inline cudaError_t allowOptinSharedMemory(const void *kernel, size_t *dynamicLimit = nullptr) {
  int device = 0, optin = 0;
  cudaError_t e = cudaGetDevice(&device);
  if (e == cudaSuccess)
    e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  cudaFuncAttributes attr{};
  if (e == cudaSuccess)
    e = cudaFuncGetAttributes(&attr, kernel);
  const int limit = optin - static_cast<int>(attr.sharedSizeBytes);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, limit);
  if (e == cudaSuccess && dynamicLimit)
    *dynamicLimit = static_cast<size_t>(limit);
  return e;
}

__device__ __forceinline__ void pdlWait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void pdlLaunchDependents() {
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
}

} // namespace resa::gpu::detail
