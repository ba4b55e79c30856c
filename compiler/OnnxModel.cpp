#include "compiler/OnnxModel.h"

#include "resa/kernels/RandomWeights.h"

#include <onnx/defs/parser.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <vector>

namespace resa {
namespace {

std::string externalField(const ::onnx::TensorProto &t, const std::string &key) {
  for (const auto &kv : t.external_data())
    if (kv.key() == key)
      return kv.value();
  return "";
}

// An external-data "offset" or "length" field: decimal digits within uint64.
uint64_t externalNumber(const ::onnx::TensorProto &t, const std::string &key,
                        uint64_t fallback) {
  std::string v = externalField(t, key);
  if (v.empty())
    return fallback;
  uint64_t n = 0;
  for (char c : v)
    if (c < '0' || c > '9' || __builtin_mul_overflow(n, 10, &n) ||
        __builtin_add_overflow(n, static_cast<uint64_t>(c - '0'), &n))
      throw Error("initializer '" + t.name() + "': bad external data " + key + " '" + v + "'");
  return n;
}

// External data must lie in the model's folder or below it, as the ONNX
// checker requires: a location that is absolute or climbs out with ".." could
// make a compile read (and embed in the package) any file on the machine.
bool insideModelFolder(const std::string &location) {
  if (location.front() == '/' || location.find('\0') != std::string::npos)
    return false;
  size_t begin = 0;
  while (begin <= location.size()) {
    size_t end = location.find('/', begin);
    if (end == std::string::npos)
      end = location.size();
    if (location.compare(begin, end - begin, "..") == 0)
      return false;
    begin = end + 1;
  }
  return true;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

WeightSource parseWeightSource(const std::string &option) {
  if (option == "read")
    return {};
  const std::string random = "random";
  if (option == random)
    return {true, 0};
  if (option.compare(0, random.size() + 1, random + ":") == 0) {
    std::string digits = option.substr(random.size() + 1);
    uint64_t seed = 0;
    bool ok = !digits.empty();
    for (char c : digits)
      ok = ok && c >= '0' && c <= '9' && !__builtin_mul_overflow(seed, 10, &seed) &&
           !__builtin_add_overflow(seed, static_cast<uint64_t>(c - '0'), &seed);
    if (ok)
      return {true, seed};
  }
  throw Error("--weights must be read, random or random:SEED (SEED a number below 2^64), got '" +
              option + "'");
}

DType tensorDType(const ::onnx::TensorProto &t) {
  switch (t.data_type()) {
  case 1: case 2: case 3: case 6: case 7: case 9: case 10: case 11: case 16:
    return static_cast<DType>(t.data_type());
  default:
    throw Error("tensor '" + t.name() + "' has unsupported ONNX data type " +
                std::to_string(t.data_type()));
  }
}

int64_t tensorNumel(const ::onnx::TensorProto &t) {
  int64_t numel = 1;
  for (int64_t d : t.dims()) {
    if (d < 0)
      throw Error("tensor '" + t.name() + "' has a negative dimension " + std::to_string(d));
    if (__builtin_mul_overflow(numel, d, &numel))
      throw Error("tensor '" + t.name() + "' has too many elements");
  }
  return numel;
}

std::unique_ptr<OnnxModel> OnnxModel::load(const std::string &path, WeightSource weights) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(path + ": cannot open: " + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  return fromBytes(buf.str(), path, weights);
}

std::unique_ptr<OnnxModel> OnnxModel::fromBytes(const std::string &bytes, const std::string &path,
                                                WeightSource weights) {
  std::unique_ptr<OnnxModel> m(new OnnxModel());
  m->path_ = path;
  m->weights_ = weights;
  size_t slash = path.find_last_of('/');
  m->dir_ = slash == std::string::npos ? "." : path.substr(0, slash);
  if (bytes.empty())
    throw Error(path + ": empty file, not an ONNX model");
  if (endsWith(path, ".onnxtext")) {
    auto status = ::onnx::OnnxParser::Parse(m->proto_, bytes.c_str());
    if (!status.IsOK())
      throw Error(path + ": cannot parse ONNX text: " + status.ErrorMessage());
  } else if (!m->proto_.ParseFromString(bytes)) {
    throw Error(path + ": not an ONNX model, or truncated (protobuf parse failed)");
  }
  if (!m->proto_.has_graph() || m->proto_.graph().output_size() == 0)
    throw Error(path + ": not an ONNX model (no graph with outputs)");
  for (const ::onnx::TensorProto &t : m->proto_.graph().initializer()) {
    m->initializers_[t.name()] = &t;
    if (t.data_location() != ::onnx::TensorProto::EXTERNAL)
      continue;
    if (!weights.random) {
      m->checkExternalData(t);
      continue;
    }
    DType dtype;
    try {
      dtype = tensorDType(t);
    } catch (const Error &e) {
      throw Error(path + ": " + e.what());
    }
    if (dtype != DType::F32 && dtype != DType::BF16 && dtype != DType::F16)
      throw Error(path + ": initializer '" + t.name() + "' is " + dtypeName(dtype) +
                  " external data: --weights=random makes float weights only");
  }
  return m;
}

int64_t OnnxModel::opset(const std::string &domain) const {
  for (const auto &o : proto_.opset_import())
    if (o.domain() == domain || (domain.empty() && o.domain() == "ai.onnx"))
      return o.version();
  return 0;
}

const ::onnx::TensorProto *OnnxModel::initializer(const std::string &name) const {
  auto it = initializers_.find(name);
  return it == initializers_.end() ? nullptr : it->second;
}

void OnnxModel::checkExternalData(const ::onnx::TensorProto &t) const {
  std::string location = externalField(t, "location");
  if (location.empty())
    throw Error(path_ + ": initializer '" + t.name() + "' has external data without a location");
  if (!insideModelFolder(location))
    throw Error(path_ + ": initializer '" + t.name() + "': external data location '" + location +
                "' is outside the model's folder");
  std::string file = dir_ + "/" + location;
  struct stat st;
  if (::stat(file.c_str(), &st) != 0)
    throw Error(path_ + ": initializer '" + t.name() + "': external data file '" + file +
                "' is missing");
  uint64_t want;
  try {
    if (__builtin_mul_overflow(static_cast<uint64_t>(tensorNumel(t)), dtypeSize(tensorDType(t)),
                               &want))
      throw Error("tensor '" + t.name() + "' is too large");
  } catch (const Error &e) {
    throw Error(path_ + ": " + e.what());
  }
  uint64_t offset, length;
  try {
    offset = externalNumber(t, "offset", 0);
    length = externalNumber(t, "length", want);
  } catch (const Error &e) {
    throw Error(path_ + ": " + e.what());
  }
  if (length != want)
    throw Error(path_ + ": initializer '" + t.name() + "': external length " +
                std::to_string(length) + " does not match its shape (" + std::to_string(want) +
                " bytes)");
  if (offset > static_cast<uint64_t>(st.st_size) ||
      length > static_cast<uint64_t>(st.st_size) - offset)
    throw Error(path_ + ": initializer '" + t.name() + "': external data file '" + file +
                "' is too short (" + std::to_string(st.st_size) + " bytes, needs " +
                std::to_string(offset + length) + ")");
}

void OnnxModel::writeInitializer(const std::string &name, std::FILE *out) const {
  const ::onnx::TensorProto *t = initializer(name);
  if (!t)
    throw Error(path_ + ": no initializer named '" + name + "'");
  writeTensor(*t, out);
}

std::vector<char> OnnxModel::tensorBytes(const ::onnx::TensorProto &t) const {
  char *buf = nullptr;
  size_t size = 0;
  std::FILE *mem = ::open_memstream(&buf, &size);
  if (!mem)
    throw Error("out of memory reading tensor '" + t.name() + "'");
  try {
    writeTensor(t, mem);
  } catch (...) {
    std::fclose(mem);
    std::free(buf);
    throw;
  }
  std::fclose(mem);
  std::vector<char> out(buf, buf + size);
  std::free(buf);
  return out;
}

void OnnxModel::writeTensor(const ::onnx::TensorProto &tensor, std::FILE *out) const {
  const ::onnx::TensorProto *t = &tensor;
  const std::string &name = tensor.name();
  const bool external = t->data_location() == ::onnx::TensorProto::EXTERNAL;
  if (external && !weights_.random)
    checkExternalData(*t);
  DType dtype = tensorDType(*t);
  int64_t numel = tensorNumel(*t);
  size_t nbytes;
  if (__builtin_mul_overflow(static_cast<size_t>(numel), dtypeSize(dtype), &nbytes))
    throw Error(path_ + ": tensor '" + name + "' is too large");
  auto put = [&](const void *data, size_t n) {
    // An empty tensor's typed field has no storage (data() is null), and
    // fwrite's buffer must not be null even for 0 bytes.
    if (n == 0)
      return;
    if (std::fwrite(data, 1, n, out) != n)
      throw Error("writing initializer '" + name + "' failed: " + std::strerror(errno));
  };
  if (external && weights_.random) { // a float tensor: fromBytes checked
    Tensor made =
        randomWeight(weights_.seed, name, dtype, Shape(t->dims().begin(), t->dims().end()));
    put(made.raw(), nbytes);
    return;
  }
  if (external) {
    std::string file = dir_ + "/" + externalField(*t, "location");
    std::ifstream in(file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(externalNumber(*t, "offset", 0)));
    std::vector<char> chunk(1 << 20);
    size_t left = nbytes;
    while (left > 0) {
      size_t n = std::min(left, chunk.size());
      if (!in.read(chunk.data(), static_cast<std::streamsize>(n)))
        throw Error(file + ": short read for initializer '" + name + "'");
      put(chunk.data(), n);
      left -= n;
    }
    return;
  }
  if (t->has_raw_data()) {
    if (t->raw_data().size() != nbytes)
      throw Error(path_ + ": initializer '" + name + "' has " +
                  std::to_string(t->raw_data().size()) + " bytes, its shape needs " +
                  std::to_string(nbytes));
    put(t->raw_data().data(), nbytes);
    return;
  }
  // Typed fields: float_data, int64_data, int32_data (int32, int8, uint8,
  // bool, and the bit patterns of float16/bfloat16), double_data.
  auto sizeCheck = [&](int have) {
    if (have != numel)
      throw Error(path_ + ": initializer '" + name + "' has " + std::to_string(have) +
                  " elements, its shape needs " + std::to_string(numel));
  };
  switch (dtype) {
  case DType::F32: sizeCheck(t->float_data_size()); put(t->float_data().data(), nbytes); return;
  case DType::F64: sizeCheck(t->double_data_size()); put(t->double_data().data(), nbytes); return;
  case DType::I64: sizeCheck(t->int64_data_size()); put(t->int64_data().data(), nbytes); return;
  default: break;
  }
  sizeCheck(t->int32_data_size());
  for (int32_t v : t->int32_data()) {
    switch (dtype) {
    case DType::I32: put(&v, 4); break;
    case DType::F16: case DType::BF16: {
      uint16_t h = static_cast<uint16_t>(v);
      put(&h, 2);
      break;
    }
    default: {
      uint8_t b = static_cast<uint8_t>(v);
      put(&b, 1);
    }
    }
  }
}

} // namespace resa
