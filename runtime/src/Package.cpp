#include "resa/runtime/Package.h"

#include "resa/kernels/RandomWeights.h"
#include "resa/runtime/PlanChecksum.h"

#include "plan.pb.h"

#include <fstream>
#include <sstream>

namespace resa {

Package::~Package() = default;

std::unique_ptr<Package> Package::load(const std::string &dir) {
  std::unique_ptr<Package> pkg(new Package());
  pkg->dir_ = dir;
  std::string planPath = dir + "/" + kPlanFileName;
  std::ifstream in(planPath, std::ios::binary);
  if (!in)
    throw Error(dir + ": not a resa package (no " + kPlanFileName + ")");
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string bytes = buf.str();
  pkg->plan_ = std::make_unique<plan::Plan>();
  if (!pkg->plan_->ParseFromString(bytes))
    throw Error(planPath + ": corrupt or truncated plan (protobuf parse failed)");
  const plan::Plan &p = *pkg->plan_;
  if (p.format_version() != kPlanFormatVersion)
    throw Error(dir + ": package format version " + std::to_string(p.format_version()) +
                " (written by '" + p.producer() + "'), but this runtime reads version " +
                std::to_string(kPlanFormatVersion) + "; recompile the model");
  // The plan is not trusted before its checksum is checked, which needs the
  // weights file: its name must not reach outside the package.
  const std::string &weights = p.weights_file();
  if (weights.empty() || weights == "." || weights == ".." ||
      weights.find('/') != std::string::npos || weights.find('\0') != std::string::npos)
    throw Error(planPath + ": weights file '" + weights +
                "' is not a file name inside the package");
  pkg->randomWeights_ = p.has_random_weights();
  pkg->randomSeed_ = p.random_weights().seed();
  pkg->weights_ = std::make_unique<SafetensorsFile>(
      dir + "/" + weights,
      pkg->randomWeights_ ? SafetensorsData::Absent : SafetensorsData::Present);
  verifyPlanChecksum(bytes, pkg->weights_->header(), planPath);
  if (pkg->weights_->fileSize() != p.weights_bytes())
    throw Error(dir + ": weights file is " + std::to_string(pkg->weights_->fileSize()) +
                " bytes, the plan expects " + std::to_string(p.weights_bytes()));
  return pkg;
}

Tensor Package::weight(const std::string &name) const {
  if (!randomWeights_)
    return weights_->tensor(name);
  const SafetensorsEntry &e = weights_->entry(name);
  std::lock_guard<std::mutex> lock(madeMutex_);
  auto it = made_.find(name);
  if (it == made_.end())
    it = made_.emplace(name, randomWeight(randomSeed_, name, e.dtype, e.shape)).first;
  return it->second;
}

const plan::Function &Package::function(const std::string &name) const {
  for (const plan::Function &f : plan_->functions())
    if (f.name() == name)
      return f;
  throw Error(dir_ + ": package has no function '" + name + "'");
}

} // namespace resa
