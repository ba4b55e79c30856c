// Helpers shared by the CUDA kernel tests (plain programs, no GoogleTest).
#pragma once

#include "resa/cuda/DecodeAttention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace resa::cudatest {

// The test programs' command line: --filter SUBSTRING and --seed N (the seed
// defaults to RESA_TEST_SEED, else a fresh random one). Prints the usage and
// returns false on anything else.
inline bool parseTestArgs(int argc, char **argv, std::string &filter, uint64_t &seed) {
  seed = std::random_device{}();
  if (const char *e = std::getenv("RESA_TEST_SEED"))
    seed = std::strtoull(e, nullptr, 10);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--filter" && i + 1 < argc)
      filter = argv[++i];
    else if (a == "--seed" && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: %s [--filter SUBSTRING] [--seed N]\n", argv[0]);
      return false;
    }
  }
  return true;
}

struct Failure {
  std::string what;
};

#define CUDA_OK(expr)                                                                     \
  do {                                                                                    \
    cudaError_t e_ = (expr);                                                              \
    if (e_ != cudaSuccess)                                                                \
      throw ::resa::cudatest::Failure{std::string(#expr) + ": " + cudaGetErrorString(e_)}; \
  } while (0)

inline uint16_t toBits(float x, resa::gpu::KVDType t) {
  if (t == resa::gpu::KVDType::BF16) {
    const __nv_bfloat16_raw r = __float2bfloat16_rn(x);
    return r.x;
  }
  const __half_raw r = __float2half_rn(x);
  return r.x;
}

inline float fromBits(uint16_t u, resa::gpu::KVDType t) {
  if (t == resa::gpu::KVDType::BF16) {
    uint32_t w = static_cast<uint32_t>(u) << 16;
    float f;
    std::memcpy(&f, &w, 4);
    return f;
  }
  __half_raw r;
  r.x = u;
  return __half2float(__half(r));
}

template <typename T> struct DevBuf {
  T *p = nullptr;
  size_t n = 0;
  explicit DevBuf(size_t count) : n(count) {
    if (n)
      CUDA_OK(cudaMalloc(&p, n * sizeof(T)));
  }
  ~DevBuf() { cudaFree(p); }
  DevBuf(const DevBuf &) = delete;
  DevBuf &operator=(const DevBuf &) = delete;
  void upload(const std::vector<T> &h) {
    CUDA_OK(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> h(n);
    if (n)
      CUDA_OK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

// A case of another test file: runs with a seed, returns a one-line summary,
// throws Failure.
struct NamedCase {
  std::string name;
  std::function<std::string(uint64_t seed)> run;
};

// BlockSparseTest.cu.
std::vector<NamedCase> blockSparseCases();

// A test program's main. The cases whose names (after `prefix`) hold
// --filter's substring run in order, case i with seed + i * 7919, each
// reported on one line, "PASS: <prefix><name>: <summary>" or "FAIL: ...: <why>"
// (a Failure or any exception); without a CUDA device each prints
// "SKIPPED: <prefix><name> (no CUDA device)" instead, which CTest counts as
// skipped. `setup` runs once before the first case (a throw fails the
// program). Returns the exit status: 0, 1 when anything failed, 2 on a bad
// command line.
inline int runTestProgram(int argc, char **argv, const std::string &title,
                          const std::string &prefix, const std::vector<NamedCase> &all,
                          const std::function<void()> &setup = {}) {
  std::string filter;
  uint64_t seed = 0;
  if (!parseTestArgs(argc, argv, filter, seed))
    return 2;
  std::vector<const NamedCase *> cases;
  for (const NamedCase &c : all)
    if (filter.empty() || (prefix + c.name).find(filter) != std::string::npos)
      cases.push_back(&c);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    for (const NamedCase *c : cases)
      std::printf("SKIPPED: %s%s (no CUDA device)\n", prefix.c_str(), c->name.c_str());
    return 0;
  }
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  std::printf("%s: %s, %d SMs; seed %llu\n", title.c_str(), prop.name, prop.multiProcessorCount,
              static_cast<unsigned long long>(seed));
  auto fail = [&](const std::string &name, const std::string &why) {
    std::printf("FAIL: %s: %s\n", name.c_str(), why.c_str());
    (void)cudaGetLastError();
  };
  try {
    if (setup)
      setup();
  } catch (const Failure &f) {
    fail("setup", f.what);
    return 1;
  } catch (const std::exception &e) {
    fail("setup", e.what());
    return 1;
  }
  int failed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string name = prefix + cases[i]->name;
    try {
      const std::string msg = cases[i]->run(seed + i * 7919);
      std::printf("PASS: %s: %s\n", name.c_str(), msg.c_str());
    } catch (const Failure &f) {
      ++failed;
      fail(name, f.what);
    } catch (const std::exception &e) {
      ++failed;
      fail(name, e.what());
    }
    std::fflush(stdout);
  }
  std::printf("%zu %s cases, %d failed\n", cases.size(), title.c_str(), failed);
  return failed ? 1 : 0;
}

} // namespace resa::cudatest
