// kernel_check: runs resa CPU kernels on cases written by compare_ort.py and
// compares them with onnxruntime's outputs.
//
//   kernel_check CASE_DIR...
//
// Each CASE_DIR holds case.txt plus .npy files. case.txt lines:
//   op NAME | opset N | outputs N
//   input I FILE.npy|-            (- = omitted optional input)
//   attr NAME int V | float V | string V | ints V... | floats V... | tensor FILE.npy
//   expect I FILE.npy ATOL
// Prints PASS/FAIL per case; exits 1 when any case fails.
#include "resa/kernels/Kernel.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

using namespace resa;

static Tensor readNpy(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open " + path);
  char magic[6];
  f.read(magic, 6);
  if (std::memcmp(magic, "\x93NUMPY", 6) != 0) throw Error(path + ": not an npy file");
  unsigned char ver[2];
  f.read(reinterpret_cast<char *>(ver), 2);
  uint32_t hlen = 0;
  if (ver[0] == 1) {
    unsigned char l[2];
    f.read(reinterpret_cast<char *>(l), 2);
    hlen = l[0] | (l[1] << 8);
  } else {
    unsigned char l[4];
    f.read(reinterpret_cast<char *>(l), 4);
    hlen = l[0] | (l[1] << 8) | (l[2] << 16) | (uint32_t(l[3]) << 24);
  }
  std::string h(hlen, '\0');
  f.read(h.data(), hlen);
  auto field = [&](const std::string &key) {
    size_t p = h.find("'" + key + "'");
    if (p == std::string::npos) throw Error(path + ": no " + key);
    return h.substr(h.find(':', p) + 1);
  };
  std::string descr = field("descr");
  descr = descr.substr(descr.find('\'') + 1);
  descr = descr.substr(0, descr.find('\''));
  if (field("fortran_order").find("True") < 6) throw Error(path + ": fortran order unsupported");
  std::string sh = field("shape");
  sh = sh.substr(sh.find('(') + 1, sh.find(')') - sh.find('(') - 1);
  Shape shape;
  std::stringstream ss(sh);
  std::string tok;
  while (std::getline(ss, tok, ','))
    if (tok.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(tok));
  DType dt;
  if (descr == "<f4") dt = DType::F32;
  else if (descr == "<f8") dt = DType::F64;
  else if (descr == "<f2") dt = DType::F16;
  else if (descr == "<i8") dt = DType::I64;
  else if (descr == "<i4") dt = DType::I32;
  else if (descr == "|i1") dt = DType::I8;
  else if (descr == "|u1") dt = DType::U8;
  else if (descr == "|b1") dt = DType::Bool;
  else if (descr == "<u2") dt = DType::BF16; // compare_ort.py stores bfloat16 as raw uint16
  else throw Error(path + ": unsupported dtype " + descr);
  Tensor t(dt, shape);
  f.read(static_cast<char *>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  if (!f) throw Error(path + ": truncated");
  return t;
}

static double valueAt(const Tensor &t, int64_t i) {
  switch (t.dtype()) {
  case DType::F32: return t.data<float>()[i];
  case DType::F64: return t.data<double>()[i];
  case DType::F16: return f16ToF32(t.data<uint16_t>()[i]);
  case DType::BF16: return bf16ToF32(t.data<uint16_t>()[i]);
  default: return static_cast<double>(t.intAt(i));
  }
}

static std::string runCase(const std::string &dir) {
  std::ifstream f(dir + "/case.txt");
  if (!f) return "no case.txt";
  std::string line, op;
  KernelArgs args;
  Attrs attrs;
  std::vector<Tensor> inputs(16);
  std::vector<bool> present(16, false);
  size_t nIn = 0;
  struct Expect { size_t i; Tensor t; double atol; };
  std::vector<Expect> expects;
  while (std::getline(f, line)) {
    std::stringstream ls(line);
    std::string kind;
    ls >> kind;
    if (kind == "op") ls >> op;
    else if (kind == "opset") ls >> args.opset;
    else if (kind == "outputs") ls >> args.numOutputs;
    else if (kind == "input") {
      size_t i;
      std::string file;
      ls >> i >> file;
      nIn = std::max(nIn, i + 1);
      if (file != "-") {
        inputs[i] = readNpy(dir + "/" + file);
        present[i] = true;
      }
    } else if (kind == "attr") {
      std::string name, type;
      ls >> name >> type;
      if (type == "int") { int64_t v; ls >> v; attrs.set(name, v); }
      else if (type == "float") { float v; ls >> v; attrs.set(name, v); }
      else if (type == "string") { std::string v; ls >> v; attrs.set(name, v); }
      else if (type == "ints") { std::vector<int64_t> v; int64_t x; while (ls >> x) v.push_back(x); attrs.set(name, v); }
      else if (type == "floats") { std::vector<float> v; float x; while (ls >> x) v.push_back(x); attrs.set(name, v); }
      else if (type == "tensor") { std::string file; ls >> file; attrs.set(name, readNpy(dir + "/" + file)); }
    } else if (kind == "expect") {
      Expect e;
      std::string file;
      ls >> e.i >> file >> e.atol;
      e.t = readNpy(dir + "/" + file);
      expects.push_back(e);
    }
  }
  for (size_t i = 0; i < nIn; ++i) args.inputs.push_back(present[i] ? &inputs[i] : nullptr);
  args.attrs = &attrs;
  KernelFn fn = findCpuKernel(op);
  if (!fn) return "no kernel " + op;
  std::vector<Tensor> outs;
  try {
    fn(args, outs);
  } catch (const Error &e) {
    return std::string("threw: ") + e.what();
  }
  for (const Expect &e : expects) {
    if (e.i >= outs.size()) return "missing output " + std::to_string(e.i);
    const Tensor &got = outs[e.i];
    if (got.shape() != e.t.shape())
      return "output " + std::to_string(e.i) + " shape " + shapeToString(got.shape()) + " != " + shapeToString(e.t.shape());
    if (got.dtype() != e.t.dtype())
      return "output " + std::to_string(e.i) + " dtype " + dtypeName(got.dtype()) + " != " + dtypeName(e.t.dtype());
    double worst = 0;
    int64_t at = -1;
    for (int64_t k = 0; k < got.numel(); ++k) {
      double a = valueAt(got, k), b = valueAt(e.t, k);
      if (std::isnan(a) && std::isnan(b)) continue;
      if (std::isinf(a) && a == b) continue;
      double diff = std::fabs(a - b);
      if (!(diff <= worst)) { worst = diff; at = k; }
    }
    if (!(worst <= e.atol)) {
      std::ostringstream os;
      os << "output " << e.i << " max |diff| " << worst << " at " << at << " (got " << valueAt(got, at) << ", ort "
         << valueAt(e.t, at) << ")";
      return os.str();
    }
  }
  return "";
}

int main(int argc, char **argv) {
  int failed = 0;
  for (int i = 1; i < argc; ++i) {
    std::string msg;
    try {
      msg = runCase(argv[i]);
    } catch (const std::exception &e) {
      msg = e.what();
    }
    std::string name = argv[i];
    name = name.substr(name.find_last_of('/') + 1);
    if (msg.empty()) std::cout << "PASS " << name << "\n";
    else {
      std::cout << "FAIL " << name << ": " << msg << "\n";
      ++failed;
    }
  }
  std::cout << (argc - 1 - failed) << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}
