// The one kernel interface. A kernel is looked up by name (the ONNX op type,
// prefixed with its domain when that is not the default one, for example
// "Add" or "com.microsoft.GroupQueryAttention"; resa's own kernels use the
// "resa." prefix) and called with its inputs, its attributes and the opset of
// the model. It computes its output shapes itself and allocates its outputs.
#pragma once

#include "resa/kernels/Tensor.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace resa {

using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>,
                               std::vector<float>, std::vector<std::string>, Tensor>;

// Attributes of one kernel call, as the ONNX node carried them (defaults are
// applied by the kernel, following the ONNX specification).
class Attrs {
public:
  void set(std::string name, AttrValue v) { values_[std::move(name)] = std::move(v); }
  bool has(const std::string &name) const { return values_.count(name) != 0; }
  const std::map<std::string, AttrValue> &all() const { return values_; }

  int64_t getInt(const std::string &name, int64_t dflt) const;
  float getFloat(const std::string &name, float dflt) const;
  std::string getString(const std::string &name, const std::string &dflt) const;
  std::vector<int64_t> getInts(const std::string &name) const; // empty if absent
  std::vector<float> getFloats(const std::string &name) const;
  std::vector<std::string> getStrings(const std::string &name) const; // empty if absent
  const Tensor *getTensor(const std::string &name) const; // null if absent
  // Throws resa::Error naming the attribute when it is absent.
  int64_t requireInt(const std::string &name) const;

private:
  std::map<std::string, AttrValue> values_;
};

struct KernelArgs {
  // Inputs in ONNX order; an omitted optional input is a null pointer.
  std::vector<const Tensor *> inputs;
  const Attrs *attrs = nullptr;
  int64_t opset = 18; // default-domain opset of the model
  // The number of outputs the node declares (optional outputs may be absent).
  size_t numOutputs = 1;

  const Tensor *input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  // Throws resa::Error when input i is missing.
  const Tensor &required(size_t i) const;
};

using KernelFn = void (*)(const KernelArgs &args, std::vector<Tensor> &outputs);

// The CPU kernel for `name`, or null when there is none.
KernelFn findCpuKernel(std::string_view name);
// Every CPU kernel name, sorted (for diagnostics and tests).
std::vector<std::string> cpuKernelNames();

} // namespace resa
