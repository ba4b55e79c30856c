#include "compiler/WeightConversion.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace resa {

DType parseWeightDType(const std::string &name) {
  if (name == "f32")
    return DType::F32;
  if (name == "bf16")
    return DType::BF16;
  if (name == "f16")
    return DType::F16;
  throw Error("--dtype must be f32, bf16 or f16, got '" + name + "'");
}

namespace {

bool isFloat(DType t) { return t == DType::F32 || t == DType::BF16 || t == DType::F16; }

// fopencookie's state: the bytes of a value split across two writes wait in
// `partial`.
struct Sink {
  std::FILE *out;
  DType from, to;
  size_t inSize, outSize; // bytes per value
  unsigned char partial[4];
  size_t partialBytes = 0;
  bool failed = false;
  std::vector<unsigned char> buffer;

  float read(const unsigned char *p) const {
    if (from == DType::F32) {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    uint16_t h;
    std::memcpy(&h, p, 2);
    return from == DType::BF16 ? bf16ToF32(h) : f16ToF32(h);
  }

  // Converts and writes n whole values.
  void put(const unsigned char *values, size_t n) {
    buffer.resize(n * outSize);
    for (size_t i = 0; i < n; ++i) {
      float f = read(values + i * inSize);
      if (to == DType::F32) {
        std::memcpy(&buffer[i * 4], &f, 4);
        continue;
      }
      uint16_t h = to == DType::BF16 ? f32ToBf16(f) : f32ToF16(f);
      std::memcpy(&buffer[i * 2], &h, 2);
    }
    if (std::fwrite(buffer.data(), 1, buffer.size(), out) != buffer.size())
      failed = true;
  }
};

ssize_t sinkWrite(void *cookie, const char *data, size_t size) {
  Sink &s = *static_cast<Sink *>(cookie);
  const auto *bytes = reinterpret_cast<const unsigned char *>(data);
  size_t used = 0;
  if (s.partialBytes > 0) { // complete the value the last write split
    used = std::min(size, s.inSize - s.partialBytes);
    std::memcpy(s.partial + s.partialBytes, bytes, used);
    s.partialBytes += used;
    if (s.partialBytes == s.inSize) {
      s.put(s.partial, 1);
      s.partialBytes = 0;
    }
  }
  size_t whole = (size - used) / s.inSize;
  s.put(bytes + used, whole);
  used += whole * s.inSize;
  if (size_t rest = size - used; rest > 0) { // < inSize, and nothing was pending
    std::memcpy(s.partial, bytes + used, rest);
    s.partialBytes = rest;
  }
  return s.failed ? -1 : static_cast<ssize_t>(size);
}

int sinkClose(void *cookie) {
  Sink *s = static_cast<Sink *>(cookie);
  bool ok = !s->failed && s->partialBytes == 0;
  delete s;
  return ok ? 0 : EOF;
}

} // namespace

std::FILE *openConvertingSink(std::FILE *out, DType from, DType to) {
  if (!isFloat(from) || !isFloat(to))
    throw Error(std::string("cannot convert weights from ") + dtypeName(from) + " to " +
                dtypeName(to));
  cookie_io_functions_t io = {};
  io.write = sinkWrite;
  io.close = sinkClose;
  Sink *sink = new Sink{out, from, to, dtypeSize(from), dtypeSize(to), {}, 0, false, {}};
  std::FILE *f = fopencookie(sink, "w", io);
  if (!f) {
    delete sink;
    throw Error("cannot open a weight conversion stream");
  }
  return f;
}

} // namespace resa
