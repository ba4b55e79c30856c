#include "resa/runtime/Device.h"

#include "Backend.h"

#ifdef RESA_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace resa {

bool cudaBackendBuilt() {
#ifdef RESA_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cudaDeviceCount() {
#ifdef RESA_WITH_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError(); // no driver or no device: not an error for "auto"
    return 0;
  }
  return n;
#else
  return 0;
#endif
}

Device resolveDevice(const std::string &name) {
  if (name == "cpu")
    return Device::Cpu;
  if (name == "auto")
    return cudaDeviceCount() > 0 ? Device::Cuda : Device::Cpu;
  if (name != "cuda")
    throw Error("--device must be auto, cpu or cuda, got '" + name + "'");
  if (!cudaBackendBuilt())
    throw Error("--device cuda: this runtime was built without CUDA (nvcc was not found at "
                "build time); use --device cpu");
  if (cudaDeviceCount() == 0)
    throw Error("--device cuda: no CUDA device is visible (driver missing or "
                "CUDA_VISIBLE_DEVICES empty); use --device cpu");
  return Device::Cuda;
}

const char *deviceName(Device device) { return device == Device::Cuda ? "cuda" : "cpu"; }

#ifndef RESA_WITH_CUDA
std::unique_ptr<ProgramBackend> makeCudaBackend(const Package &) {
  throw Error("this runtime was built without CUDA; use the CPU device");
}
#endif

} // namespace resa
