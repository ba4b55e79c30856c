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

// fopencookie's state: the bytes of a float split across two writes wait in
// `partial`.
struct Sink {
  std::FILE *out;
  DType to;
  unsigned char partial[4];
  size_t partialBytes = 0;
  bool failed = false;
  std::vector<uint16_t> buffer;

  void put(const float *values, size_t n) {
    buffer.resize(n);
    for (size_t i = 0; i < n; ++i)
      buffer[i] = to == DType::BF16 ? f32ToBf16(values[i]) : f32ToF16(values[i]);
    if (std::fwrite(buffer.data(), sizeof(uint16_t), n, out) != n)
      failed = true;
  }
};

ssize_t sinkWrite(void *cookie, const char *data, size_t size) {
  Sink &s = *static_cast<Sink *>(cookie);
  size_t used = 0;
  if (s.partialBytes > 0) { // complete the float the last write split
    used = std::min(size, 4 - s.partialBytes);
    std::memcpy(s.partial + s.partialBytes, data, used);
    s.partialBytes += used;
    if (s.partialBytes == 4) {
      float f;
      std::memcpy(&f, s.partial, 4);
      s.put(&f, 1);
      s.partialBytes = 0;
    }
  }
  size_t whole = (size - used) / 4;
  std::vector<float> floats(whole);
  std::memcpy(floats.data(), data + used, whole * 4);
  s.put(floats.data(), whole);
  used += whole * 4;
  if (size_t rest = size - used; rest > 0) { // < 4, and nothing was pending
    std::memcpy(s.partial, data + used, rest);
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

std::FILE *openConvertingSink(std::FILE *out, DType to) {
  if (to != DType::BF16 && to != DType::F16)
    throw Error(std::string("cannot convert weights to ") + dtypeName(to));
  cookie_io_functions_t io = {};
  io.write = sinkWrite;
  io.close = sinkClose;
  Sink *sink = new Sink{out, to, {}, 0, false, {}};
  std::FILE *f = fopencookie(sink, "w", io);
  if (!f) {
    delete sink;
    throw Error("cannot open a weight conversion stream");
  }
  return f;
}

} // namespace resa
