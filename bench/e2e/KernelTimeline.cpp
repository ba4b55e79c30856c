// resa-bench e2e --timeline: see KernelTimeline.h.
#include "KernelTimeline.h"

#include "resa/cuda/DeviceKernel.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef RESA_BENCH_CUPTI
#include <cupti.h>
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#endif

namespace resa::bench {

namespace {

#ifdef RESA_BENCH_CUPTI

void checkCupti(CUptiResult r, const char *what) {
  if (r == CUPTI_SUCCESS)
    return;
  const char *text = nullptr;
  cuptiGetResultString(r, &text);
  throw std::runtime_error(std::string("CUPTI: ") + what + ": " + (text ? text : "error"));
}

// Kernel names without namespaces, template arguments or parameters
// ("void resa::gpu::(anonymous namespace)::normRows<float, 8>(...)" ->
// "normRows"): one row per kernel in the tables. cuBLAS's kernels have C
// names and stay as they are.
std::string shortName(const char *mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void *)> d(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                           std::free);
  std::string s = status == 0 && d ? d.get() : mangled;
  const std::string anon = "(anonymous namespace)";
  for (size_t at = s.find(anon); at != std::string::npos; at = s.find(anon))
    s.replace(at, anon.size(), "anon");
  const size_t cut = std::min(s.find('<'), s.find('('));
  if (cut != std::string::npos)
    s.resize(cut);
  const size_t colon = s.rfind("::");
  if (colon != std::string::npos)
    s = s.substr(colon + 2);
  const size_t space = s.rfind(' ');
  return space == std::string::npos ? s : s.substr(space + 1);
}

std::mutex gMutex;
std::vector<KernelSpan> gKernels;

void CUPTIAPI bufferRequested(uint8_t **buffer, size_t *size, size_t *maxNumRecords) {
  *size = size_t(8) << 20;
  *buffer = static_cast<uint8_t *>(std::aligned_alloc(8, *size));
  *maxNumRecords = 0;
}

// A copy's row name: its direction ("memcpy HtoD"), so that the host's
// uploads and the tokens' way back show beside the kernels.
std::string copyName(uint8_t kind) {
  switch (kind) {
  case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return "memcpy HtoD";
  case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return "memcpy DtoH";
  case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return "memcpy DtoD";
  default: return "memcpy";
  }
}

void CUPTIAPI bufferCompleted(CUcontext, uint32_t, uint8_t *buffer, size_t, size_t validSize) {
  CUpti_Activity *record = nullptr;
  std::lock_guard<std::mutex> lock(gMutex);
  while (cuptiActivityGetNextRecord(buffer, validSize, &record) == CUPTI_SUCCESS)
    if (record->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) {
      const auto *k = reinterpret_cast<const CUpti_ActivityKernel10 *>(record);
      gKernels.push_back({k->start, k->end, shortName(k->name)});
    } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
      const auto *c = reinterpret_cast<const CUpti_ActivityMemcpy6 *>(record);
      gKernels.push_back({c->start, c->end, copyName(c->copyKind)});
    } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMSET) {
      const auto *m = reinterpret_cast<const CUpti_ActivityMemset4 *>(record);
      gKernels.push_back({m->start, m->end, "memset"});
    }
  std::free(buffer);
}

// What the timeline records: kernels, and the copies and memsets of a step
// (graph nodes or not).
constexpr CUpti_ActivityKind kRecorded[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL,
                                            CUPTI_ACTIVITY_KIND_MEMCPY,
                                            CUPTI_ACTIVITY_KIND_MEMSET};

#endif

} // namespace

bool timelineAvailable() {
#ifdef RESA_BENCH_CUPTI
  return true;
#else
  return false;
#endif
}

Timeline recordTimeline(int steps, const std::function<void()> &step) {
#ifdef RESA_BENCH_CUPTI
  // Registered for each timeline: CUPTI is detached after it (below).
  checkCupti(cuptiActivityRegisterCallbacks(bufferRequested, bufferCompleted),
             "registering the activity buffers");
  {
    std::lock_guard<std::mutex> lock(gMutex);
    gKernels.clear();
  }
  std::vector<uint64_t> starts, ends;
  gpu::checkCuda(cudaDeviceSynchronize(), "synchronising before the timeline");
  for (CUpti_ActivityKind kind : kRecorded)
    checkCupti(cuptiActivityEnable(kind), "enabling activity records");
  try {
    for (int i = 0; i < steps; ++i) {
      uint64_t t = 0;
      checkCupti(cuptiGetTimestamp(&t), "reading the clock");
      starts.push_back(t);
      step();
      gpu::checkCuda(cudaDeviceSynchronize(), "synchronising after a timeline step");
      checkCupti(cuptiGetTimestamp(&t), "reading the clock");
      ends.push_back(t);
    }
  } catch (...) {
    for (CUpti_ActivityKind kind : kRecorded)
      cuptiActivityDisable(kind);
    throw;
  }
  for (CUpti_ActivityKind kind : kRecorded)
    checkCupti(cuptiActivityDisable(kind), "disabling activity records");
  checkCupti(cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED), "flushing the records");
  // Detached once the records are in: left attached, CUPTI slowed every
  // later decode step of the run (the next shapes' timed medians by up to
  // 0.3 ms, session 10), though no activity was enabled any more.
  checkCupti(cuptiFinalize(), "detaching");
  // Each kernel or copy to the step whose host interval holds its start.
  std::vector<std::vector<KernelSpan>> bySteps(static_cast<size_t>(steps));
  {
    std::lock_guard<std::mutex> lock(gMutex);
    for (const KernelSpan &k : gKernels)
      for (size_t s = 0; s < bySteps.size(); ++s)
        if (k.start >= starts[s] && k.start <= ends[s]) {
          bySteps[s].push_back(k);
          break;
        }
  }
  size_t recorded = 0;
  for (auto &ks : bySteps) {
    std::sort(ks.begin(), ks.end(),
              [](const KernelSpan &a, const KernelSpan &b) { return a.start < b.start; });
    recorded += ks.size();
  }
  // (Should CUPTI not see the kernels of CUDA graphs made before it was
  // enabled, RESA_CUDA_GRAPHS=0 launches them one by one.)
  if (recorded == 0)
    throw std::runtime_error("--timeline: CUPTI recorded no kernel in " + std::to_string(steps) +
                             " steps (with RESA_CUDA_GRAPHS=0 the step's kernels are launched "
                             "one by one)");
  return summariseTimeline(bySteps, starts, ends);
#else
  (void)steps;
  (void)step;
  throw std::runtime_error("--timeline: this resa-bench was built without CUPTI");
#endif
}

} // namespace resa::bench
