// Where a package runs: the exact fp32 CPU kernels, or the CUDA backend
// (bf16/f16 compute; runtime/src/cuda/). "auto" picks CUDA when this runtime
// was built with it and a device is present.
#pragma once

#include <string>

namespace resa {

enum class Device { Cpu, Cuda };

// True when this runtime was built with the CUDA backend.
bool cudaBackendBuilt();
// Devices the CUDA runtime reports (0 without the backend or a driver).
int cudaDeviceCount();
// "cpu", "cuda" or "auto". Throws resa::Error naming the value otherwise, or
// for "cuda" when the backend or a device is missing (saying which).
Device resolveDevice(const std::string &name);
const char *deviceName(Device device);

} // namespace resa
