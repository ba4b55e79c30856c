#include "CallStaging.h"

#include <cstring>
#include <string>

namespace resa::cuda {

namespace {
constexpr size_t kAlign = 64; // pinned slots on their own cache lines
}

CallStaging::~CallStaging() {
  if (flushed_) {
    (void)cudaEventSynchronize(flushed_);
    (void)cudaEventDestroy(flushed_);
  }
  if (pinned_)
    (void)cudaFreeHost(pinned_);
}

int CallStaging::add(size_t bytes) {
  if (pinned_)
    throw Error("CUDA graph staging: a slot added after the capture");
  Slot s;
  s.bytes = bytes;
  s.offset = pinnedBytes_;
  if (bytes > 0)
    s.device = alloc_.allocateBytes(bytes);
  pinnedBytes_ += (bytes + kAlign - 1) / kAlign * kAlign;
  slots_.push_back(std::move(s));
  return static_cast<int>(slots_.size() - 1);
}

void CallStaging::finalize() {
  if (pinned_ || pinnedBytes_ == 0)
    return;
  void *p = nullptr;
  gpu::checkCuda(cudaHostAlloc(&p, pinnedBytes_, cudaHostAllocDefault),
                 "pinned staging of " + std::to_string(pinnedBytes_) + " bytes");
  pinned_ = static_cast<char *>(p);
  gpu::checkCuda(cudaEventCreateWithFlags(&flushed_, cudaEventDisableTiming),
                 "CUDA graph staging event");
}

void CallStaging::set(int slot, const void *data, size_t bytes) {
  const Slot &s = slots_.at(static_cast<size_t>(slot));
  if (bytes != s.bytes)
    throw Error("CUDA graph staging: slot " + std::to_string(slot) + " holds " +
                std::to_string(s.bytes) + " bytes, given " + std::to_string(bytes));
  if (bytes == 0)
    return;
  if (!pinned_)
    throw Error("CUDA graph staging: set before finalize");
  if (pending_) {
    gpu::checkCuda(cudaEventSynchronize(flushed_), "CUDA graph staging: previous copies");
    pending_ = false;
  }
  std::memcpy(pinned_ + s.offset, data, bytes);
}

void CallStaging::flush(cudaStream_t stream) {
  for (const Slot &s : slots_)
    if (s.bytes > 0)
      gpu::checkCuda(cudaMemcpyAsync(s.device.get(), pinned_ + s.offset, s.bytes,
                                     cudaMemcpyHostToDevice, stream),
                     "CUDA graph staging: copying the call's host data");
  if (flushed_) {
    gpu::checkCuda(cudaEventRecord(flushed_, stream), "CUDA graph staging: event");
    pending_ = true;
  }
}

} // namespace resa::cuda
