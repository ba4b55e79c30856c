// Attribute access and KernelArgs helpers.
#include "resa/kernels/Kernel.h"

namespace resa {

namespace {
[[noreturn]] void wrongType(const std::string &name, const char *want) {
  throw Error("attribute '" + name + "' is not " + want);
}
} // namespace

int64_t Attrs::getInt(const std::string &name, int64_t dflt) const {
  auto it = values_.find(name);
  if (it == values_.end()) return dflt;
  if (auto *v = std::get_if<int64_t>(&it->second)) return *v;
  wrongType(name, "an int");
}

float Attrs::getFloat(const std::string &name, float dflt) const {
  auto it = values_.find(name);
  if (it == values_.end()) return dflt;
  if (auto *v = std::get_if<float>(&it->second)) return *v;
  if (auto *v = std::get_if<int64_t>(&it->second)) return static_cast<float>(*v);
  wrongType(name, "a float");
}

std::string Attrs::getString(const std::string &name, const std::string &dflt) const {
  auto it = values_.find(name);
  if (it == values_.end()) return dflt;
  if (auto *v = std::get_if<std::string>(&it->second)) return *v;
  wrongType(name, "a string");
}

std::vector<int64_t> Attrs::getInts(const std::string &name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return {};
  if (auto *v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  if (auto *v = std::get_if<int64_t>(&it->second)) return {*v};
  wrongType(name, "a list of ints");
}

std::vector<float> Attrs::getFloats(const std::string &name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return {};
  if (auto *v = std::get_if<std::vector<float>>(&it->second)) return *v;
  if (auto *v = std::get_if<float>(&it->second)) return {*v};
  wrongType(name, "a list of floats");
}

std::vector<std::string> Attrs::getStrings(const std::string &name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return {};
  if (auto *v = std::get_if<std::vector<std::string>>(&it->second)) return *v;
  if (auto *v = std::get_if<std::string>(&it->second)) return {*v};
  wrongType(name, "a list of strings");
}

const Tensor *Attrs::getTensor(const std::string &name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return nullptr;
  if (auto *v = std::get_if<Tensor>(&it->second)) return v;
  wrongType(name, "a tensor");
}

int64_t Attrs::requireInt(const std::string &name) const {
  if (!has(name)) throw Error("missing required attribute '" + name + "'");
  return getInt(name, 0);
}

const Tensor &KernelArgs::required(size_t i) const {
  const Tensor *t = input(i);
  if (!t) throw Error("missing required input " + std::to_string(i));
  return *t;
}

} // namespace resa
