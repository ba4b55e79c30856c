// The paged KV cache, as every attention kernel (CPU and CUDA) sees it.
//
// Plain C++17, no MLIR, no CUDA runtime: this header is included by the CPU
// kernels, the CUDA kernels (nvcc) and the runtime alike.
//
// Per layer, two caches of the same shape hold the keys (post-RoPE) and the
// values:
//
//   K, V       [numPages][numKvHeads][pageSize][headDim]
//
// so that one page of one KV head is `pageSize * headDim` contiguous elements
// (4 KiB in bf16 for the default pageSize 16 and headDim 128). A page is also
// ReSA's block of `b` tokens: its key summaries live beside it as
//
//   kmin, kmax [numPages][numKvHeads][headDim]
//
// Storage is bf16 or f16 on the GPU and f32 on the CPU.
//
// A batch is described by
//
//   pageTable  int32 [batch][maxPagesPerSeq]  page ids, in token order
//   seqLens    int32 [batch]                  valid tokens (the last page may
//                                             be partial; entries of
//                                             pageTable past
//                                             ceil(seqLen / pageSize) are
//                                             never read)
//
// Token t of sequence b lives in page pageTable[b][t / pageSize], slot
// t % pageSize. Queries and outputs of a decode step are [batch][numQHeads]
// [headDim]; the GQA group of KV head h is the numQHeads / numKvHeads
// consecutive query heads h * group ... h * group + group - 1. The default
// softmax scale is 1 / sqrt(headDim).
#pragma once

#include "resa/kernels/HostDevice.h"

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace resa {

// Everything about one layer's cache and one decode batch that is not data.
struct PagedAttentionShape {
  int32_t batch = 1;
  int32_t numQHeads = 1;
  int32_t numKvHeads = 1;
  int32_t headDim = 128;
  int32_t pageSize = 16;       // tokens per page (ReSA block size b)
  int32_t numPages = 0;        // pages in the cache (bounds page ids)
  int32_t maxPagesPerSeq = 0;  // row stride of pageTable

  RESA_HOST_DEVICE int32_t group() const { return numQHeads / numKvHeads; }
  // Elements of one of the two caches.
  RESA_HOST_DEVICE int64_t cacheElements() const {
    return static_cast<int64_t>(numPages) * numKvHeads * pageSize * headDim;
  }
  // Elements of the query (and of the output).
  RESA_HOST_DEVICE int64_t queryElements() const {
    return static_cast<int64_t>(batch) * numQHeads * headDim;
  }
  // Elements of one block-summary tensor (kmin or kmax).
  RESA_HOST_DEVICE int64_t summaryElements() const {
    return static_cast<int64_t>(numPages) * numKvHeads * headDim;
  }
};

// Element offset of K[page][kvHead][slot][0] (same for V).
RESA_HOST_DEVICE inline int64_t pagedKVOffset(const PagedAttentionShape &s, int32_t page,
                                              int32_t kvHead, int32_t slot) {
  return ((static_cast<int64_t>(page) * s.numKvHeads + kvHead) * s.pageSize + slot) *
         s.headDim;
}

// Element offset of kmin/kmax[page][kvHead][0].
RESA_HOST_DEVICE inline int64_t blockSummaryOffset(const PagedAttentionShape &s,
                                                   int32_t page, int32_t kvHead) {
  return (static_cast<int64_t>(page) * s.numKvHeads + kvHead) * s.headDim;
}

// Element offset of q[b][head][0] (same for the output).
RESA_HOST_DEVICE inline int64_t queryOffset(const PagedAttentionShape &s, int32_t b,
                                            int32_t head) {
  return (static_cast<int64_t>(b) * s.numQHeads + head) * s.headDim;
}

// The scale a caller gets by passing 0.
inline float defaultAttentionScale(int32_t headDim) {
  return 1.0f / std::sqrt(static_cast<float>(headDim));
}

// Exact fp32 reference of one dense decode-attention step over the paged
// cache (kernels/cpu/PagedAttention.cpp): for every sequence b and query head
// h, softmax(scale * q[b,h] . K[b, 0..seqLen)) . V, accumulated in double.
// A sequence of length 0 gets a zero output. `scale` 0 means
// 1/sqrt(headDim). Throws resa::Error on an inconsistent shape, a seqLen over
// maxPagesPerSeq * pageSize or a page id outside [0, numPages).
void pagedDecodeAttentionCpu(const PagedAttentionShape &shape, const float *q,
                             const float *kCache, const float *vCache,
                             const int32_t *pageTable, const int32_t *seqLens, float scale,
                             float *out);

// Checks the shape alone (positive sizes, numQHeads a multiple of
// numKvHeads); throws resa::Error naming the first problem.
void checkPagedAttentionShape(const PagedAttentionShape &shape);

} // namespace resa
