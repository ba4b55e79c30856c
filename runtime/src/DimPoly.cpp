#include "resa/runtime/DimPoly.h"

#include "resa/kernels/Tensor.h"

#include <algorithm>
#include <cctype>

namespace resa {

DimPoly::DimPoly(int64_t c) { add({}, c); }

DimPoly DimPoly::symbol(const std::string &name) {
  DimPoly p;
  p.add({name}, 1);
  return p;
}

void DimPoly::add(const Monomial &m, int64_t c) {
  int64_t &slot = terms_[m];
  slot += c;
  if (slot == 0)
    terms_.erase(m);
}

bool DimPoly::isConstant() const {
  return terms_.empty() || (terms_.size() == 1 && terms_.begin()->first.empty());
}

std::optional<int64_t> DimPoly::constant() const {
  if (!isConstant())
    return std::nullopt;
  return terms_.empty() ? 0 : terms_.begin()->second;
}

std::string DimPoly::toString() const {
  if (terms_.empty())
    return "0";
  // Highest degree first, the constant last: "4*batch*seq + seq + 1".
  std::vector<std::pair<Monomial, int64_t>> order(terms_.begin(), terms_.end());
  std::stable_sort(order.begin(), order.end(), [](const auto &a, const auto &b) {
    return a.first.size() > b.first.size();
  });
  std::string out;
  for (const auto &[mono, coeff] : order) {
    int64_t mag = coeff < 0 ? -coeff : coeff;
    if (out.empty())
      out += coeff < 0 ? "-" : "";
    else
      out += coeff < 0 ? " - " : " + ";
    std::string factors;
    for (const std::string &s : mono)
      factors += (factors.empty() ? "" : "*") + s;
    if (factors.empty())
      out += std::to_string(mag);
    else if (mag == 1)
      out += factors;
    else
      out += std::to_string(mag) + "*" + factors;
  }
  return out;
}

DimPoly DimPoly::parse(const std::string &text) {
  DimPoly result;
  size_t i = 0;
  auto skipSpace = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
      ++i;
  };
  auto fail = [&](const std::string &why) -> Error {
    return Error("bad dimension expression '" + text + "': " + why);
  };
  int64_t sign = 1;
  skipSpace();
  if (i < text.size() && text[i] == '-') {
    sign = -1;
    ++i;
  }
  while (true) {
    int64_t coeff = sign;
    Monomial mono;
    // One term: factors joined by '*'.
    while (true) {
      skipSpace();
      if (i >= text.size())
        throw fail("expected a number or a name");
      if (std::isdigit(static_cast<unsigned char>(text[i]))) {
        size_t start = i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
          ++i;
        coeff *= std::stoll(text.substr(start, i - start));
      } else if (std::isalpha(static_cast<unsigned char>(text[i])) || text[i] == '_') {
        size_t start = i;
        while (i < text.size() &&
               (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_' ||
                text[i] == '.' || text[i] == ':'))
          ++i;
        mono.push_back(text.substr(start, i - start));
      } else {
        throw fail(std::string("unexpected '") + text[i] + "'");
      }
      skipSpace();
      if (i < text.size() && text[i] == '*') {
        ++i;
        continue;
      }
      break;
    }
    std::sort(mono.begin(), mono.end());
    result.add(mono, coeff);
    skipSpace();
    if (i >= text.size())
      return result;
    if (text[i] != '+' && text[i] != '-')
      throw fail(std::string("unexpected '") + text[i] + "'");
    sign = text[i] == '-' ? -1 : 1;
    ++i;
  }
}

int64_t DimPoly::evaluate(const std::map<std::string, int64_t> &symbols) const {
  int64_t total = 0;
  for (const auto &[mono, coeff] : terms_) {
    int64_t term = coeff;
    for (const std::string &s : mono) {
      auto it = symbols.find(s);
      if (it == symbols.end())
        throw Error("dimension '" + s + "' is not bound by any input");
      term *= it->second;
    }
    total += term;
  }
  return total;
}

DimPoly DimPoly::operator+(const DimPoly &o) const {
  DimPoly r = *this;
  for (const auto &[m, c] : o.terms_)
    r.add(m, c);
  return r;
}

DimPoly DimPoly::operator-(const DimPoly &o) const {
  DimPoly r = *this;
  for (const auto &[m, c] : o.terms_)
    r.add(m, -c);
  return r;
}

DimPoly DimPoly::operator*(const DimPoly &o) const {
  DimPoly r;
  for (const auto &[m1, c1] : terms_)
    for (const auto &[m2, c2] : o.terms_) {
      Monomial m = m1;
      m.insert(m.end(), m2.begin(), m2.end());
      std::sort(m.begin(), m.end());
      r.add(m, c1 * c2);
    }
  return r;
}

std::optional<DimPoly> DimPoly::divExact(const DimPoly &o) const {
  if (*this == o && !o.terms_.empty())
    return DimPoly(1);
  if (o.terms_.size() != 1)
    return std::nullopt;
  const auto &[dm, dc] = *o.terms_.begin();
  DimPoly r;
  for (const auto &[m, c] : terms_) {
    if (c % dc != 0)
      return std::nullopt;
    // Remove the divisor's symbols from the monomial, one occurrence each.
    Monomial rest = m;
    for (const std::string &s : dm) {
      auto it = std::find(rest.begin(), rest.end(), s);
      if (it == rest.end())
        return std::nullopt;
      rest.erase(it);
    }
    r.add(rest, c / dc);
  }
  return r;
}

} // namespace resa
