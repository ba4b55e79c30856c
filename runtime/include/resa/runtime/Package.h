// A compiled package: a folder holding plan.pb (the plan, protobuf) and
// weights.safetensors. Loading checks the format version, the plan's checksum
// (PlanChecksum.h) and the weights file before anything runs.
#pragma once

#include "resa/kernels/Tensor.h"
#include "resa/runtime/Safetensors.h"

#include <memory>
#include <string>

namespace resa {
namespace plan {
class Plan;
class Function;
} // namespace plan

// Bumped whenever a plan written by the new compiler would be misread by an
// older runtime (or the reverse). 2: plan.pb ends with its checksum.
constexpr uint32_t kPlanFormatVersion = 2;
constexpr const char *kPlanFileName = "plan.pb";

class Package {
public:
  // Throws resa::Error naming the package on a missing or truncated file, a
  // plan that does not parse, a plan of another format version, a checksum
  // that does not match, or a weights file named by a path rather than a
  // file name in the folder.
  static std::unique_ptr<Package> load(const std::string &dir);
  ~Package();

  const std::string &path() const { return dir_; }
  const plan::Plan &plan() const { return *plan_; }
  // Throws naming the function when the package has none of that name.
  const plan::Function &function(const std::string &name) const;
  Tensor weight(const std::string &name) const { return weights_->tensor(name); }

private:
  Package() = default;
  std::string dir_;
  std::unique_ptr<plan::Plan> plan_;
  std::unique_ptr<SafetensorsFile> weights_;
};

} // namespace resa
