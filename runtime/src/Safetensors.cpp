#include "resa/runtime/Safetensors.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace resa {
namespace {

struct StName {
  DType dtype;
  const char *name;
};
constexpr StName kNames[] = {{DType::F32, "F32"}, {DType::F16, "F16"}, {DType::BF16, "BF16"},
                             {DType::F64, "F64"}, {DType::I64, "I64"}, {DType::I32, "I32"},
                             {DType::I8, "I8"},   {DType::U8, "U8"},   {DType::Bool, "BOOL"}};

const char *stName(DType t) {
  for (const StName &n : kNames)
    if (n.dtype == t)
      return n.name;
  throw Error(std::string("no safetensors dtype for ") + dtypeName(t));
}

std::string jsonEscape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

// A minimal JSON reader for the safetensors header: objects of objects with
// string, integer-array and string-map members.
class HeaderParser {
public:
  HeaderParser(const std::string &text, const std::string &path) : s_(text), path_(path) {}

  std::map<std::string, SafetensorsEntry> parse() {
    std::map<std::string, SafetensorsEntry> out;
    expect('{');
    if (peek() == '}')
      return out;
    while (true) {
      std::string name = str();
      expect(':');
      if (name == "__metadata__") {
        skipObject();
      } else {
        SafetensorsEntry e;
        e.name = name;
        bool haveType = false, haveOffsets = false;
        expect('{');
        while (true) {
          std::string key = str();
          expect(':');
          if (key == "dtype") {
            std::string t = str();
            for (const StName &n : kNames)
              if (t == n.name) {
                e.dtype = n.dtype;
                haveType = true;
              }
            if (!haveType)
              fail("tensor '" + name + "' has unsupported dtype " + t);
          } else if (key == "shape") {
            e.shape = ints();
          } else if (key == "data_offsets") {
            auto o = ints();
            if (o.size() != 2 || o[0] < 0 || o[1] < o[0])
              fail("tensor '" + name + "' has bad data_offsets");
            e.begin = o[0];
            e.end = o[1];
            haveOffsets = true;
          } else {
            fail("unexpected key '" + key + "'");
          }
          if (peek() == ',') {
            ++i_;
            continue;
          }
          expect('}');
          break;
        }
        if (!haveType || !haveOffsets)
          fail("tensor '" + name + "' lacks dtype or data_offsets");
        int64_t numel = 0;
        try {
          numel = numElements(e.shape); // throws on a negative dim or an overflow
        } catch (const Error &err) {
          fail("tensor '" + name + "': " + err.what());
        }
        uint64_t nbytes = 0;
        if (__builtin_mul_overflow(static_cast<uint64_t>(numel), dtypeSize(e.dtype), &nbytes))
          fail("tensor '" + name + "' is too large");
        if (nbytes != e.end - e.begin)
          fail("tensor '" + name + "': shape " + shapeToString(e.shape) +
               " does not match its byte range");
        out[name] = e;
      }
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      return out;
    }
  }

private:
  const std::string &s_;
  const std::string &path_;
  size_t i_ = 0;

  [[noreturn]] void fail(const std::string &why) {
    throw Error(path_ + ": bad safetensors header: " + why);
  }
  char peek() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_])))
      ++i_;
    if (i_ >= s_.size())
      fail("unexpected end");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c)
      fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string str() {
    expect('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\')
        ++i_;
      if (i_ < s_.size())
        out += s_[i_++];
    }
    expect('"');
    return out;
  }
  std::vector<int64_t> ints() {
    std::vector<int64_t> out;
    expect('[');
    if (peek() == ']') {
      ++i_;
      return out;
    }
    while (true) {
      peek();
      size_t end = i_;
      while (end < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[end])) || s_[end] == '-'))
        ++end;
      if (end == i_)
        fail("expected an integer");
      // Strictly an optional '-' then digits, within int64.
      std::string digits = s_.substr(i_, end - i_);
      size_t k = digits[0] == '-' ? 1 : 0;
      if (k == digits.size() || digits.find('-', k) != std::string::npos)
        fail("bad integer '" + digits + "'");
      int64_t v = 0;
      for (; k < digits.size(); ++k)
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, digits[k] - '0', &v))
          fail("integer " + digits + " is out of range");
      out.push_back(digits[0] == '-' ? -v : v);
      i_ = end;
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect(']');
      return out;
    }
  }
  void skipObject() {
    expect('{');
    if (peek() == '}') {
      ++i_;
      return;
    }
    while (true) {
      str();
      expect(':');
      str();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      return;
    }
  }
};

} // namespace

uint64_t writeSafetensors(const std::string &path, std::vector<SafetensorsEntry> entries,
                          const std::function<void(size_t, std::FILE *)> &writeData) {
  uint64_t offset = 0;
  std::string header = "{\"__metadata__\":{\"format\":\"resa\"}";
  for (SafetensorsEntry &e : entries) {
    offset = (offset + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment;
    e.begin = offset;
    e.end = offset + static_cast<uint64_t>(numElements(e.shape)) * dtypeSize(e.dtype);
    offset = e.end;
    header += ",\"" + jsonEscape(e.name) + "\":{\"dtype\":\"" + stName(e.dtype) +
              "\",\"shape\":[";
    for (size_t i = 0; i < e.shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(e.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(e.begin) + "," + std::to_string(e.end) +
              "]}";
  }
  header += "}";
  header.append((kWeightAlignment - (8 + header.size()) % kWeightAlignment) % kWeightAlignment,
                ' ');
  std::unique_ptr<std::FILE, int (*)(std::FILE *)> f(std::fopen(path.c_str(), "wb"),
                                                      &std::fclose);
  if (!f)
    throw Error(path + ": cannot create: " + std::strerror(errno));
  uint64_t n = header.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<unsigned char>(n >> (8 * i));
  std::fwrite(len, 1, 8, f.get());
  std::fwrite(header.data(), 1, header.size(), f.get());
  uint64_t written = 0;
  static const char zeros[kWeightAlignment] = {};
  for (size_t i = 0; writeData && i < entries.size(); ++i) {
    std::fwrite(zeros, 1, entries[i].begin - written, f.get());
    long before = std::ftell(f.get());
    writeData(i, f.get());
    long after = std::ftell(f.get());
    if (static_cast<uint64_t>(after - before) != entries[i].end - entries[i].begin)
      throw Error(path + ": internal error: tensor '" + entries[i].name +
                  "' wrote the wrong number of bytes");
    written = entries[i].end;
  }
  if (std::ferror(f.get()) || std::fflush(f.get()) != 0)
    throw Error(path + ": write failed: " + std::strerror(errno));
  return 8 + header.size() + written;
}

SafetensorsFile::SafetensorsFile(const std::string &path, SafetensorsData data)
    : path_(path), data_(data) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(path + ": cannot stat: " + std::strerror(errno));
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    throw Error(path + ": truncated weights file (" + std::to_string(size_) + " bytes)");
  }
  map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw Error(path + ": cannot map: " + std::strerror(errno));
  }
  const auto *bytes = static_cast<const unsigned char *>(map_);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= uint64_t(bytes[i]) << (8 * i);
  if (n > size_ - 8) {
    ::munmap(map_, size_);
    throw Error(path + ": truncated weights file (header of " + std::to_string(n) + " bytes)");
  }
  dataStart_ = 8 + n;
  try {
    entries_ = HeaderParser(std::string(reinterpret_cast<const char *>(bytes + 8), n), path)
                   .parse();
    if (data_ == SafetensorsData::Absent && size_ != dataStart_)
      throw Error(path + ": a weights file without data must end with its header (" +
                  std::to_string(dataStart_) + " bytes), but it has " + std::to_string(size_));
    for (const auto &[name, e] : entries_)
      if (data_ == SafetensorsData::Present && dataStart_ + e.end > size_)
        throw Error(path + ": truncated weights file: tensor '" + name + "' runs past its end");
  } catch (...) {
    ::munmap(map_, size_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_)
    ::munmap(map_, size_);
}

const SafetensorsEntry &SafetensorsFile::entry(const std::string &name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    throw Error(path_ + ": no tensor named '" + name + "'");
  return it->second;
}

Tensor SafetensorsFile::tensor(const std::string &name) const {
  const SafetensorsEntry &e = entry(name);
  if (data_ == SafetensorsData::Absent)
    throw Error(path_ + ": tensor '" + name + "' has no data in this file (random weights)");
  auto *base = static_cast<unsigned char *>(map_) + dataStart_ + e.begin;
  return Tensor::borrow(e.dtype, e.shape, base);
}

} // namespace resa
