// A compiled package: a folder holding plan.pb (the plan, protobuf) and
// weights.safetensors. Loading checks the format version, the plan's checksum
// (PlanChecksum.h) and the weights file before anything runs.
//
// A package compiled with --weights=random holds no weight data: its weights
// file is the safetensors header alone (each weight's dtype and shape), and
// the weights are made from the plan's seed where they are used
// (resa/kernels/RandomWeights.h): on the host by weight(), on the GPU by the
// CUDA backend.
#pragma once

#include "resa/kernels/Tensor.h"
#include "resa/runtime/Safetensors.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace resa {
namespace plan {
class Plan;
class Function;
} // namespace plan

// Bumped whenever a plan written by the new compiler would be misread by an
// older runtime (or the reverse). 2: plan.pb ends with its checksum.
// 3: random weights (a weights file without data, and the plan's seed).
// 4: random weights made of other weights' columns (RandomWeights.columns_of).
constexpr uint32_t kPlanFormatVersion = 4;
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
  // Whether any function selects KV blocks (a resa.block_select step), i.e.
  // reads the KV cache's block summaries.
  bool selectsBlocks() const;
  // The weight's dtype (as stored: bf16/f16 when compiled with --dtype) and
  // shape, without its data; throws naming it when the package has none.
  const SafetensorsEntry &weightEntry(const std::string &name) const {
    return weights_->entry(name);
  }
  // The weight as stored: borrowed from the mapped file, or for random
  // weights made on first use and kept (safe from several threads).
  Tensor weight(const std::string &name) const;
  // Whether the weights are random, and their seed.
  bool randomWeights() const { return randomWeights_; }
  uint64_t randomSeed() const { return randomSeed_; }
  // A random weight that is other weights' columns side by side: each part
  // ([K, columns]) is made from its own name. Null for any other weight.
  struct ColumnPart {
    std::string name;
    int64_t columns;
  };
  const std::vector<ColumnPart> *randomColumnsOf(const std::string &name) const;
  // Throws unless `e` is [K, sum of the parts' columns].
  static void checkColumns(const SafetensorsEntry &e, const std::vector<ColumnPart> &parts);

private:
  Package() = default;
  std::string dir_;
  std::unique_ptr<plan::Plan> plan_;
  std::unique_ptr<SafetensorsFile> weights_;
  bool randomWeights_ = false;
  uint64_t randomSeed_ = 0;
  mutable std::mutex madeMutex_;
  mutable std::map<std::string, Tensor> made_; // random weights made so far
  std::map<std::string, std::vector<ColumnPart>> randomColumns_;
};

} // namespace resa
