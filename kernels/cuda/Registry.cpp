// The CUDA kernel registry: one sorted table assembled from the kernel files.
#include "resa/cuda/DeviceKernel.h"

#include <algorithm>

namespace resa::gpu {
namespace {

const std::vector<DeviceKernelEntry> &table() {
  static const std::vector<DeviceKernelEntry> entries = [] {
    std::vector<DeviceKernelEntry> t;
    addElementwiseKernels(t);
    addMovementKernels(t);
    addLayerKernels(t);
    std::sort(t.begin(), t.end(), [](const DeviceKernelEntry &a, const DeviceKernelEntry &b) {
      return std::string_view(a.name) < std::string_view(b.name);
    });
    for (size_t i = 1; i < t.size(); ++i)
      if (std::string_view(t[i - 1].name) == t[i].name)
        throw Error(std::string("CUDA kernel registered twice: ") + t[i].name);
    return t;
  }();
  return entries;
}

} // namespace

DeviceKernelFn findCudaKernel(std::string_view name) {
  const auto &t = table();
  auto it = std::lower_bound(t.begin(), t.end(), name,
                             [](const DeviceKernelEntry &e, std::string_view n) {
                               return std::string_view(e.name) < n;
                             });
  return it != t.end() && name == it->name ? it->fn : nullptr;
}

std::vector<std::string> cudaKernelNames() {
  std::vector<std::string> names;
  for (const DeviceKernelEntry &e : table())
    names.emplace_back(e.name);
  return names;
}

} // namespace resa::gpu
