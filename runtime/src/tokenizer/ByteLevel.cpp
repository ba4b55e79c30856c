#include "ByteLevel.h"

#include "Unicode.h"

#include <array>

namespace resa::bytelevel {

namespace {

struct Tables {
  std::array<char32_t, 256> toChar{};
  std::array<std::string, 256> toUtf8;
  std::array<int, 324> toByte{}; // alphabet code points are all < 324

  Tables() {
    toByte.fill(-1);
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      char32_t c = printable(b) ? char32_t(b) : char32_t(next++);
      toChar[b] = c;
      unicode::appendUtf8(toUtf8[b], c);
      toByte[c] = b;
    }
  }
};

const Tables &tables() {
  static const Tables t;
  return t;
}

} // namespace

std::string encode(std::string_view bytes) {
  const Tables &t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char b : bytes) out += t.toUtf8[static_cast<unsigned char>(b)];
  return out;
}

void appendDecoded(std::string &bytes, std::string_view token) {
  const Tables &t = tables();
  std::u32string cps = unicode::toCodePoints(token);
  size_t start = bytes.size();
  for (char32_t c : cps) {
    if (c >= t.toByte.size() || t.toByte[c] < 0) {
      bytes.resize(start);
      bytes.append(token);
      return;
    }
    bytes += static_cast<char>(t.toByte[c]);
  }
}

} // namespace resa::bytelevel
