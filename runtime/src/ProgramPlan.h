// One function of a package's plan, decoded once for an executor: its input
// specs, its steps with their attributes, the last use of every value, and
// the constants and weights it reads. The CPU executor (Executor.cpp) and the
// CUDA executor (cuda/CudaExecutor.cpp) both run from it.
#pragma once

#include "resa/runtime/DimPoly.h"
#include "resa/runtime/Executor.h"

#include <map>
#include <string>
#include <vector>

namespace resa {

struct PlanStep {
  std::string kernel, location;
  std::vector<int> inputs, outputs; // value ids; -1 absent
  Attrs attrs;
  std::vector<DimPoly> exprs; // resa.shape_expr only
  bool scalar = false;        // resa.shape_expr only
  std::vector<int> release;   // values whose last use is this step
};

class ProgramPlan {
public:
  // Throws naming the package when the function is missing or malformed.
  ProgramPlan(const Package &package, const std::string &function);

  const Package &package() const { return package_; }
  int64_t opset() const { return opset_; }
  size_t numValues() const { return numValues_; }
  const std::vector<InputSpec> &inputs() const { return inputs_; }
  const std::vector<int> &inputValues() const { return inputValues_; }
  const std::vector<std::string> &outputNames() const { return outputNames_; }
  const std::vector<int> &outputValues() const { return outputValues_; }
  const std::vector<PlanStep> &steps() const { return steps_; }

  // Constants (plan) and weights (package) by value id, with their logical
  // dtype. A weight is read from the package where it is used, as stored
  // (bf16/f16 when compiled with --dtype; random weights are made then:
  // Package::weight on the host, the CUDA backend on the device).
  bool isConstant(int v) const { return kind_[v] == Kind::Constant; }
  bool isWeight(int v) const { return kind_[v] == Kind::Weight; }
  bool isFixed(int v) const { return kind_[v] != Kind::Computed; }
  const Tensor &constant(int v) const { return constants_[v]; }
  const std::string &weightName(int v) const { return weightNames_[v]; }
  DType logicalDType(int v) const { return logical_[v]; }

  // Checks each input against its spec (dtype, rank, dims) and returns the
  // symbolic dims they bind. Throws resa::Error naming the input.
  std::map<std::string, int64_t> bind(const std::vector<Tensor> &inputs) const;

  // Per step: whether it is a fused q/k/v projection (a resa.multi_linear of
  // three widths) whose outputs, none a function output, are first read,
  // all three, as q, k and v of a resa.rotary_cache_attention or
  // resa.rotary_cache_write: a backend may hand that step its projection
  // unsummed (the CUDA backend's slices of K, summed by the rotary append).
  std::vector<bool> rotaryAppendProjections() const;

  // Steps served by the forward context (KV cache) rather than a kernel.
  static bool isContextStep(const std::string &kernel);
  // resa.rotary_cache_attention or resa.rotary_cache_write (context steps).
  static bool isRotaryAppend(const std::string &kernel);
  // resa.shape_expr's value for the bound symbols.
  static Tensor evaluateShapeExpr(const PlanStep &step,
                                  const std::map<std::string, int64_t> &symbols);
  // resa.positions: `count` positions from `start`.
  static Tensor positions(const Tensor &count, int64_t start);
  // The attributes of the resa.multi_rotary (q, k) that a
  // resa.rotary_cache_attention or resa.rotary_cache_write step's own
  // attributes describe.
  static Attrs rotaryOf(const Attrs &rotaryCacheStep);

private:
  enum class Kind { Computed, Constant, Weight };
  struct Symbol {
    std::string name;
    int input, dim;
  };
  const Package &package_;
  int64_t opset_ = 18;
  size_t numValues_ = 0;
  std::vector<InputSpec> inputs_;
  std::vector<int> inputValues_, outputValues_;
  std::vector<std::string> outputNames_;
  std::vector<Symbol> symbols_;
  std::vector<PlanStep> steps_;
  std::vector<Kind> kind_;
  std::vector<Tensor> constants_;
  std::vector<std::string> weightNames_;
  std::vector<DType> logical_;
};

} // namespace resa
