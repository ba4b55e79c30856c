#include "resa/runtime/Package.h"

#include "resa/kernels/RandomWeights.h"
#include "resa/runtime/PlanChecksum.h"

#include "plan.pb.h"

#include <cstring>
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
  for (const plan::ColumnsOf &c : p.random_weights().columns_of()) {
    if (c.parts_size() < 2 || c.parts_size() != c.columns_size())
      throw Error(planPath + ": random weight '" + c.weight() + "' has " +
                  std::to_string(c.parts_size()) + " parts and " +
                  std::to_string(c.columns_size()) + " column counts");
    std::vector<ColumnPart> &parts = pkg->randomColumns_[c.weight()];
    for (int i = 0; i < c.parts_size(); ++i)
      parts.push_back({c.parts(i), c.columns(i)});
  }
  pkg->weights_ = std::make_unique<SafetensorsFile>(
      dir + "/" + weights,
      pkg->randomWeights_ ? SafetensorsData::Absent : SafetensorsData::Present);
  verifyPlanChecksum(bytes, pkg->weights_->header(), planPath);
  if (pkg->weights_->fileSize() != p.weights_bytes())
    throw Error(dir + ": weights file is " + std::to_string(pkg->weights_->fileSize()) +
                " bytes, the plan expects " + std::to_string(p.weights_bytes()));
  return pkg;
}

namespace {

// The random weight `e` made of `parts` side by side, each from its own name.
Tensor randomColumns(uint64_t seed, const SafetensorsEntry &e,
                     const std::vector<Package::ColumnPart> &parts) {
  Package::checkColumns(e, parts);
  Tensor out(e.dtype, e.shape);
  const int64_t rows = e.shape[0];
  const size_t elem = dtypeSize(e.dtype), rowBytes = static_cast<size_t>(e.shape[1]) * elem;
  size_t offset = 0;
  for (const Package::ColumnPart &p : parts) {
    const Tensor part = randomWeight(seed, p.name, e.dtype, {rows, p.columns});
    const size_t partRow = static_cast<size_t>(p.columns) * elem;
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(static_cast<char *>(out.raw()) + r * rowBytes + offset,
                  static_cast<const char *>(part.raw()) + r * partRow, partRow);
    offset += partRow;
  }
  return out;
}

} // namespace

void Package::checkColumns(const SafetensorsEntry &e, const std::vector<ColumnPart> &parts) {
  int64_t total = 0;
  for (const ColumnPart &p : parts)
    total += p.columns;
  if (e.shape.size() != 2 || e.shape[1] != total)
    throw Error("random weight '" + e.name + "' " + shapeToString(e.shape) + " is not its parts' " +
                std::to_string(total) + " columns side by side");
}

const std::vector<Package::ColumnPart> *Package::randomColumnsOf(const std::string &name) const {
  auto it = randomColumns_.find(name);
  return it == randomColumns_.end() ? nullptr : &it->second;
}

Tensor Package::weight(const std::string &name) const {
  if (!randomWeights_)
    return weights_->tensor(name);
  const SafetensorsEntry &e = weights_->entry(name);
  std::lock_guard<std::mutex> lock(madeMutex_);
  auto it = made_.find(name);
  if (it == made_.end()) {
    const std::vector<ColumnPart> *parts = randomColumnsOf(name);
    it = made_.emplace(name, parts ? randomColumns(randomSeed_, e, *parts)
                                   : randomWeight(randomSeed_, name, e.dtype, e.shape))
             .first;
  }
  return it->second;
}

const plan::Function &Package::function(const std::string &name) const {
  for (const plan::Function &f : plan_->functions())
    if (f.name() == name)
      return f;
  throw Error(dir_ + ": package has no function '" + name + "'");
}

bool Package::selectsBlocks() const {
  for (const plan::Function &f : plan_->functions())
    for (const plan::Step &step : f.steps())
      if (step.kernel() == "resa.block_select")
        return true;
  return false;
}

} // namespace resa
