#include "CallStaging.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace resa::cuda {

namespace {
constexpr size_t kAlign = 256; // each slot aligned as the allocator aligns a block
// A decode step's slots fit one chunk up to ~128K tokens of context at batch
// 1 (the page table is 4 bytes a page); larger slots get a chunk of their own.
constexpr size_t kChunkBytes = size_t(64) << 10;
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
  if (bytes > 0) {
    const size_t need = (bytes + kAlign - 1) / kAlign * kAlign;
    if (chunks_.empty() || chunks_.back().used + need > chunks_.back().capacity) {
      Chunk c;
      c.capacity = std::max(kChunkBytes, need);
      c.device = alloc_.allocateBytes(c.capacity);
      c.offset = pinnedBytes_;
      pinnedBytes_ += c.capacity;
      chunks_.push_back(std::move(c));
    }
    Chunk &c = chunks_.back();
    s.device = static_cast<char *>(c.device.get()) + c.used;
    s.offset = c.offset + c.used;
    c.used += need;
  }
  slots_.push_back(s);
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
  for (const Chunk &c : chunks_)
    gpu::checkCuda(cudaMemcpyAsync(c.device.get(), pinned_ + c.offset, c.used, cudaMemcpyHostToDevice, stream),
                   "CUDA graph staging: copying the call's host data");
  if (flushed_) {
    gpu::checkCuda(cudaEventRecord(flushed_, stream), "CUDA graph staging: event");
    pending_ = true;
  }
}

} // namespace resa::cuda
