// The device random-weight fill (kernels/cuda/RandomWeights.cu) against the
// host generator (kernels/cpu/RandomWeights.cpp): bit for bit, for every
// stored dtype (F32, BF16, F16: the package's) into every device dtype (what
// the CUDA backend keeps weights in), for matrices, vectors, scalars, 3-D and
// empty weights, and one weight larger than one grid pass (the grid-stride
// loop). The seed and the weight names are fresh per run; outputs are
// poisoned (0xFF) first, so an element left unwritten fails.
//
// A plain program like resa-cuda-tests; without a CUDA device each case prints
// "SKIPPED: <name> (no CUDA device)" and it exits 0.
//   resa-cuda-random-weights-tests [--filter SUBSTRING] [--seed N]
#include "CudaTestUtil.h"
#include "resa/cuda/RandomWeights.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

using resa::DType;
using resa::Shape;
using resa::Tensor;
using resa::cudatest::DevBuf;
using resa::cudatest::Failure;

namespace {

// The host value of element i as the device holds it: the stored dtype's
// value converted to `out` (what upload does with a host tensor).
std::vector<uint8_t> expectedBytes(const Tensor &stored, DType out) {
  const int64_t n = stored.numel();
  std::vector<uint8_t> bytes(static_cast<size_t>(n) * resa::dtypeSize(out));
  for (int64_t i = 0; i < n; ++i) {
    float v;
    switch (stored.dtype()) {
    case DType::F32: v = stored.data<float>()[i]; break;
    case DType::BF16: v = resa::bf16ToF32(stored.data<uint16_t>()[i]); break;
    default: v = resa::f16ToF32(stored.data<uint16_t>()[i]); break;
    }
    if (out == DType::F32) {
      std::memcpy(bytes.data() + 4 * i, &v, 4);
    } else {
      const uint16_t h = out == DType::BF16 ? resa::f32ToBf16(v) : resa::f32ToF16(v);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  }
  return bytes;
}

// Fills one weight on the device and compares it with the host generator.
std::string checkFill(uint64_t seed, const std::string &name, const Shape &shape, DType stored,
                      DType out) {
  const Tensor host = resa::randomWeight(seed, name, stored, shape);
  const std::vector<uint8_t> want = expectedBytes(host, out);
  DevBuf<uint8_t> buf(std::max<size_t>(want.size(), 1));
  CUDA_OK(cudaMemset(buf.p, 0xFF, buf.n));
  const auto dev = resa::gpu::DeviceTensor::borrow(out, shape, buf.p);
  resa::gpu::fillRandomWeight(dev, resa::randomWeightStream(seed, name, shape), stored, nullptr);
  CUDA_OK(cudaDeviceSynchronize());
  const std::vector<uint8_t> got = buf.download();
  const size_t elem = resa::dtypeSize(out);
  int64_t wrong = 0, first = -1;
  for (size_t i = 0; i < want.size() / elem; ++i)
    if (std::memcmp(got.data() + i * elem, want.data() + i * elem, elem) != 0) {
      if (first < 0)
        first = static_cast<int64_t>(i);
      ++wrong;
    }
  if (wrong > 0)
    throw Failure{std::to_string(wrong) + " of " + std::to_string(host.numel()) +
                  " elements differ from the host generator, the first at " +
                  std::to_string(first)};
  return std::to_string(host.numel()) + " elements bit-identical";
}

std::string checkNonFloatRefused() {
  DevBuf<int64_t> buf(4);
  const auto dev = resa::gpu::DeviceTensor::borrow(DType::I64, {4}, buf.p);
  try {
    resa::gpu::fillRandomWeight(dev, resa::randomWeightStream(0, "ids", {4}), DType::F32, nullptr);
  } catch (const resa::Error &e) {
    return std::string("refused: ") + e.what();
  }
  throw Failure{"an int64 device tensor was filled"};
}

using Case = resa::cudatest::NamedCase;

const char *dtypeTag(DType t) {
  return t == DType::F32 ? "f32" : t == DType::BF16 ? "bf16" : "f16";
}

std::vector<Case> cases() {
  std::vector<Case> out;
  const std::vector<std::pair<std::string, Shape>> shapes = {
      {"matrix", {37, 1001}}, {"vector", {4096}}, {"scalar", {}}, {"3d", {3, 5, 7}}, {"empty", {0, 5}}};
  for (DType stored : {DType::F32, DType::BF16, DType::F16})
    for (DType dev : {DType::F32, DType::BF16, DType::F16})
      for (const auto &[tag, shape] : shapes) {
        std::string name = tag + "[" + dtypeTag(stored) + "->" + dtypeTag(dev) + "]";
        Shape s = shape;
        out.push_back({name, [s, stored, dev, tag = tag](uint64_t seed) {
                         return checkFill(seed, "model.layers.0." + tag + std::to_string(seed % 1000),
                                          s, stored, dev);
                       }});
      }
  // More elements than one pass of the grid (65536 blocks of 256).
  out.push_back({"beyond-one-grid-pass[f32->bf16]", [](uint64_t seed) {
                   return checkFill(seed, "lm_head.weight", {4097, 4099}, DType::F32, DType::BF16);
                 }});
  out.push_back({"non-float-refused", [](uint64_t) { return checkNonFloatRefused(); }});
  return out;
}

} // namespace

int main(int argc, char **argv) {
  return resa::cudatest::runTestProgram(argc, argv, "random weights", "random_weights_", cases());
}
