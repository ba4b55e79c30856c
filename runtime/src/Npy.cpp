#include "resa/runtime/Npy.h"

#include <cstdio>
#include <cstring>
#include <memory>

namespace resa {
namespace {

struct NpyType {
  DType dtype;
  const char *descr;
};
constexpr NpyType kNpyTypes[] = {
    {DType::F32, "<f4"}, {DType::F64, "<f8"}, {DType::F16, "<f2"}, {DType::I64, "<i8"},
    {DType::I32, "<i4"}, {DType::I8, "|i1"},  {DType::U8, "|u1"},  {DType::Bool, "|b1"},
};

using File = std::unique_ptr<std::FILE, int (*)(std::FILE *)>;

File openFile(const std::string &path, const char *mode) {
  File f(std::fopen(path.c_str(), mode), &std::fclose);
  if (!f)
    throw Error(path + ": cannot open: " + std::strerror(errno));
  return f;
}

std::string field(const std::string &header, const std::string &key) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos)
    return "";
  size_t colon = header.find(':', k);
  size_t start = header.find_first_not_of(" ", colon + 1);
  if (header[start] == '\'') {
    size_t end = header.find('\'', start + 1);
    return header.substr(start + 1, end - start - 1);
  }
  if (header[start] == '(') {
    size_t end = header.find(')', start);
    return header.substr(start + 1, end - start - 1);
  }
  size_t end = header.find_first_of(",}", start);
  return header.substr(start, end - start);
}

} // namespace

Tensor readNpy(const std::string &path) {
  File f = openFile(path, "rb");
  auto bad = [&](const std::string &why) { return Error(path + ": not a valid .npy file: " + why); };
  char magic[8];
  if (std::fread(magic, 1, 8, f.get()) != 8 || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw bad("missing the \\x93NUMPY magic");
  uint32_t headerLen = 0;
  if (magic[6] == 1) {
    uint8_t b[2];
    if (std::fread(b, 1, 2, f.get()) != 2)
      throw bad("truncated header");
    headerLen = b[0] | (b[1] << 8);
  } else {
    uint8_t b[4];
    if (std::fread(b, 1, 4, f.get()) != 4)
      throw bad("truncated header");
    headerLen = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
  }
  if (headerLen > (1u << 20))
    throw bad("header too large");
  std::string header(headerLen, '\0');
  if (std::fread(header.data(), 1, headerLen, f.get()) != headerLen)
    throw bad("truncated header");
  std::string descr = field(header, "descr");
  if (field(header, "fortran_order") != "False")
    throw bad("only C-order arrays are supported");
  const NpyType *type = nullptr;
  for (const NpyType &t : kNpyTypes)
    if (descr == t.descr)
      type = &t;
  if (!type)
    throw bad("unsupported dtype '" + descr + "'");
  Shape shape;
  std::string dims = field(header, "shape");
  size_t pos = 0;
  while (pos < dims.size()) {
    size_t next = dims.find(',', pos);
    std::string part = dims.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (part.find_first_not_of(" ") != std::string::npos)
      shape.push_back(std::stoll(part));
    if (next == std::string::npos)
      break;
    pos = next + 1;
  }
  Tensor t(type->dtype, shape);
  if (std::fread(t.raw(), 1, t.nbytes(), f.get()) != t.nbytes())
    throw bad("data shorter than its shape " + shapeToString(shape));
  return t;
}

void writeNpy(const std::string &path, const Tensor &t) {
  const NpyType *type = nullptr;
  for (const NpyType &x : kNpyTypes)
    if (x.dtype == t.dtype())
      type = &x;
  if (!type)
    throw Error(path + ": cannot write dtype " + dtypeName(t.dtype()) + " as .npy");
  std::string shape;
  for (int64_t d : t.shape())
    shape += std::to_string(d) + ", ";
  if (t.rank() > 1)
    shape.resize(shape.size() - 1);
  std::string header = std::string("{'descr': '") + type->descr +
                       "', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Pad so that the data starts on a 64-byte boundary, newline-terminated.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  File f = openFile(path, "wb");
  uint16_t len = static_cast<uint16_t>(header.size());
  char pre[10] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0, char(len & 0xff), char(len >> 8)};
  if (std::fwrite(pre, 1, 10, f.get()) != 10 ||
      std::fwrite(header.data(), 1, header.size(), f.get()) != header.size() ||
      std::fwrite(t.raw(), 1, t.nbytes(), f.get()) != t.nbytes())
    throw Error(path + ": write failed: " + std::strerror(errno));
}

} // namespace resa
