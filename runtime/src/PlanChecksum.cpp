#include "resa/runtime/PlanChecksum.h"

#include "resa/kernels/Tensor.h"

#include <array>

namespace resa {
namespace {

constexpr uint64_t kPolynomial = 0xC96C5795D7870F42ull; // ECMA-182, reflected
// Field 13, wire type 1 (64-bit): (13 << 3) | 1.
constexpr unsigned char kChecksumTag = 0x69;
constexpr size_t kTrailerBytes = 9;

const std::array<uint64_t, 256> &table() {
  static const std::array<uint64_t, 256> t = [] {
    std::array<uint64_t, 256> out{};
    for (uint64_t i = 0; i < 256; ++i) {
      uint64_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
      out[i] = c;
    }
    return out;
  }();
  return t;
}

uint64_t planChecksum(std::string_view plan, std::string_view weightsHeader) {
  return crc64(weightsHeader, crc64(plan));
}

} // namespace

uint64_t crc64(std::string_view data, uint64_t crc) {
  const std::array<uint64_t, 256> &t = table();
  uint64_t c = ~crc;
  for (char ch : data)
    c = t[(c ^ static_cast<unsigned char>(ch)) & 0xff] ^ (c >> 8);
  return ~c;
}

std::string sealPlan(std::string plan, std::string_view weightsHeader) {
  uint64_t sum = planChecksum(plan, weightsHeader);
  plan.push_back(static_cast<char>(kChecksumTag));
  for (int i = 0; i < 8; ++i)
    plan.push_back(static_cast<char>(sum >> (8 * i)));
  return plan;
}

void verifyPlanChecksum(std::string_view planFile, std::string_view weightsHeader,
                        const std::string &planPath) {
  if (planFile.size() < kTrailerBytes ||
      static_cast<unsigned char>(planFile[planFile.size() - kTrailerBytes]) != kChecksumTag)
    throw Error(planPath + ": the plan does not end with its checksum; the package is corrupt");
  std::string_view body = planFile.substr(0, planFile.size() - kTrailerBytes);
  uint64_t recorded = 0;
  for (int i = 0; i < 8; ++i)
    recorded |= uint64_t(static_cast<unsigned char>(planFile[body.size() + 1 + i])) << (8 * i);
  if (recorded != planChecksum(body, weightsHeader))
    throw Error(planPath + ": checksum mismatch: the plan or the weights file's header is "
                           "corrupt; recompile the model");
}

} // namespace resa
