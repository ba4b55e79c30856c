// A dimension as a polynomial with integer coefficients over named symbolic
// dimensions ("batch", "seq"): 7, "seq + 1", "4*batch*seq". The compiler
// propagates these through the exporters' shape arithmetic; the runtime
// evaluates them once the input shapes bind the symbols. Plain C++: the
// runtime uses it without MLIR.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace resa {

class DimPoly {
public:
  DimPoly() = default; // zero
  DimPoly(int64_t c);  // NOLINT: a constant converts implicitly
  static DimPoly symbol(const std::string &name);
  // Parses what toString() writes; throws resa::Error on bad text.
  static DimPoly parse(const std::string &text);

  bool isConstant() const;
  std::optional<int64_t> constant() const;
  std::string toString() const;
  // Throws resa::Error naming the symbol when it is not bound.
  int64_t evaluate(const std::map<std::string, int64_t> &symbols) const;

  DimPoly operator+(const DimPoly &o) const;
  DimPoly operator-(const DimPoly &o) const;
  DimPoly operator*(const DimPoly &o) const;
  // Exact division, when every term of this is divisible by `o` and `o` is a
  // single term; otherwise nothing.
  std::optional<DimPoly> divExact(const DimPoly &o) const;
  bool operator==(const DimPoly &o) const { return terms_ == o.terms_; }
  bool operator!=(const DimPoly &o) const { return !(*this == o); }

private:
  using Monomial = std::vector<std::string>; // sorted symbol names, with repeats
  std::map<Monomial, int64_t> terms_;        // no zero coefficients
  void add(const Monomial &m, int64_t c);
};

} // namespace resa
