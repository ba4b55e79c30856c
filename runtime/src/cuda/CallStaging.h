// The host data a captured CUDA graph reads (token ids, positions and the
// rotary tables made from them, page tables, slot mappings): each gets a
// fixed device buffer at capture, whose address the graph's kernels keep;
// before every replay the caller writes the new bytes of each slot, and
// flush() copies them from pinned host memory to their buffers on the stream,
// ahead of the graph launch. The slots lie side by side in device chunks
// mirrored in the pinned memory, so that a flush is one copy per chunk (one
// in practice) instead of one per slot (7 a decode step, each a few
// microseconds on the step's path). Nothing here synchronises the device
// except set(), which waits for the previous flush's copies to have read the
// pinned bytes it overwrites.
#pragma once

#include "resa/cuda/DeviceKernel.h"

#include <cstddef>
#include <memory>
#include <vector>

#include <cuda_runtime_api.h>

namespace resa::cuda {

class CallStaging {
public:
  explicit CallStaging(int device) : alloc_(device) {}
  ~CallStaging();
  CallStaging(const CallStaging &) = delete;
  CallStaging &operator=(const CallStaging &) = delete;

  // At capture: a device buffer of `bytes` (null for 0 bytes); returns its
  // slot. Slots cannot be added once finalize() has run.
  int add(size_t bytes);
  void *device(int slot) const { return slots_.at(static_cast<size_t>(slot)).device; }
  size_t bytes(int slot) const { return slots_.at(static_cast<size_t>(slot)).bytes; }
  // After the capture: allocates the pinned host copy of every chunk.
  void finalize();
  // Before a replay: the slot's new bytes (exactly its size, else throws).
  void set(int slot, const void *data, size_t bytes);
  // Copies every chunk to the device, in stream order.
  void flush(cudaStream_t stream);

private:
  struct Slot {
    char *device = nullptr;       // in a chunk (null for 0 bytes)
    size_t bytes = 0, offset = 0; // offset into the pinned host arena
  };
  struct Chunk {
    std::shared_ptr<void> device;
    size_t capacity = 0, used = 0;
    size_t offset = 0; // of its mirror in the pinned host arena
  };
  // Its own memory: a slot must not share a block with any of the graph's
  // activations, which a replay writes after the slots were filled.
  gpu::DeviceAllocator alloc_;
  std::vector<Slot> slots_;
  std::vector<Chunk> chunks_;
  char *pinned_ = nullptr;
  size_t pinnedBytes_ = 0; // the chunks' capacities
  cudaEvent_t flushed_ = nullptr; // recorded after each flush's copies
  bool pending_ = false;          // a flush was recorded and not yet waited for
};

} // namespace resa::cuda
