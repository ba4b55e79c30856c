// Helpers shared by the CUDA kernel tests (plain programs, no GoogleTest).
#pragma once

#include "resa/cuda/DecodeAttention.h"
#include "resa/kernels/PagedKV.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
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

// A random paged KV cache on the host, as the attention tests draw it:
// batch = lens.size() sequences; page tables random and non-contiguous, -1
// past a sequence's pages, at least minPagesPerSeq pages a row (two spare);
// sequences 1.. share sequence 0's first sharedPages pages (full pages of
// every sequence, as a fork leaves them); K (drawK) and V (normal) values,
// rounded to dtype, where a token lives, NaN everywhere else (spare pages,
// the tails of partial pages), so that any read of a masked slot shows.
struct PagedCache {
  PagedAttentionShape s;
  std::vector<int32_t> table;
  std::vector<char> pageUsed;  // per page: some sequence owns it
  std::vector<float> kf, vf;
};
inline PagedCache makePagedCache(int hq, int hkv, int d, int ps, const std::vector<int> &lens,
                                 int sharedPages, int minPagesPerSeq, resa::gpu::KVDType dtype,
                                 std::mt19937_64 &rng, const std::function<float()> &drawK) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  PagedCache pc;
  const int batch = static_cast<int>(lens.size());
  const int maxLen = *std::max_element(lens.begin(), lens.end());
  PagedAttentionShape &s = pc.s;
  s.batch = batch;
  s.numQHeads = hq;
  s.numKvHeads = hkv;
  s.headDim = d;
  s.pageSize = ps;
  s.maxPagesPerSeq = std::max((maxLen + ps - 1) / ps + 2, minPagesPerSeq);
  if (sharedPages > 0 &&
      static_cast<int64_t>(sharedPages) * ps > *std::min_element(lens.begin(), lens.end()))
    throw Failure{"bad case: the shared pages must be full pages of every sequence"};
  int usedPages = 0;
  for (int b = 0; b < batch; ++b)
    usedPages += (lens[b] + ps - 1) / ps - (b > 0 ? sharedPages : 0);
  s.numPages = usedPages + 7;  // spare pages nobody owns
  std::vector<int32_t> perm(static_cast<size_t>(s.numPages));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  pc.table.assign(static_cast<size_t>(batch) * s.maxPagesPerSeq, -1);
  pc.pageUsed.assign(static_cast<size_t>(s.numPages), 0);
  size_t next = 0;
  for (int b = 0; b < batch; ++b)
    for (int p = 0; p < (lens[b] + ps - 1) / ps; ++p) {
      const int32_t page = b > 0 && p < sharedPages ? pc.table[p] : perm[next++];
      pc.table[static_cast<size_t>(b) * s.maxPagesPerSeq + p] = page;
      pc.pageUsed[static_cast<size_t>(page)] = 1;
    }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const size_t cacheN = static_cast<size_t>(s.cacheElements());
  pc.kf.assign(cacheN, nan);
  pc.vf.assign(cacheN, nan);
  // Shared pages are filled once, by sequence 0.
  for (int b = 0; b < batch; ++b)
    for (int t = b > 0 ? sharedPages * ps : 0; t < lens[b]; ++t) {
      const int page = pc.table[static_cast<size_t>(b) * s.maxPagesPerSeq + t / ps];
      for (int h = 0; h < hkv; ++h) {
        const int64_t off = resa::pagedKVOffset(s, page, h, t % ps);
        for (int j = 0; j < d; ++j) {
          const float kx = drawK();
          pc.kf[static_cast<size_t>(off + j)] = fromBits(toBits(kx, dtype), dtype);
          pc.vf[static_cast<size_t>(off + j)] = fromBits(toBits(normal(rng), dtype), dtype);
        }
      }
    }
  return pc;
}

// Decode attention's output rows [batch][numQHeads][headDim] (as floats)
// against the reference: every element finite, a sequence of length 0 all
// zeros, the relative error of each (sequence, head) row and of all within
// the dtype's bound (1e-2 bf16, 2e-3 f16). Returns the summary, throws
// Failure. Lens: the sequences' lengths (any integer container).
template <typename Lens>
std::string checkAttentionRows(const PagedAttentionShape &s, const Lens &lens,
                               const std::vector<float> &got, const std::vector<float> &ref,
                               resa::gpu::KVDType dtype) {
  double worstRow = 0.0, errAll = 0.0, refAll = 0.0;
  std::string worstWhere = "-";
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.numQHeads; ++h) {
      double e2 = 0.0, r2 = 0.0;
      for (int j = 0; j < s.headDim; ++j) {
        const size_t i = static_cast<size_t>(resa::queryOffset(s, b, h) + j);
        const float g = got[i];
        if (!std::isfinite(g))
          throw Failure{"output [" + std::to_string(b) + "][" + std::to_string(h) + "][" +
                        std::to_string(j) + "] is not finite (unwritten or NaN leaked)"};
        const double diff = static_cast<double>(g) - ref[i];
        e2 += diff * diff;
        r2 += static_cast<double>(ref[i]) * ref[i];
      }
      errAll += e2;
      refAll += r2;
      if (lens[b] == 0) {
        if (e2 != 0.0)
          throw Failure{"sequence " + std::to_string(b) + " has length 0 but a non-zero output"};
        continue;
      }
      const double rel = std::sqrt(e2 / std::max(r2, 1e-30));
      if (rel > worstRow) {
        worstRow = rel;
        worstWhere = "[" + std::to_string(b) + "][" + std::to_string(h) + "]";
      }
    }
  const double relAll = refAll > 0 ? std::sqrt(errAll / refAll) : 0.0;
  const double bound = dtype == resa::gpu::KVDType::BF16 ? 1e-2 : 2e-3;
  char line[256];
  std::snprintf(line, sizeof line, "rel %.2e, worst row %.2e at %s (bound %.0e)", relAll,
                worstRow, worstWhere.c_str(), bound);
  if (worstRow > bound || !(relAll <= bound))
    throw Failure{std::string("error over bound: ") + line};
  return line;
}

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
