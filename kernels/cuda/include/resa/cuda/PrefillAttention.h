// Chunked causal prefill attention over the paged KV cache, on CUDA tensor
// cores (mma.sync m16n8k16, FlashAttention-2 style). What prefill and ReSA's
// rectification use: S new queries of each sequence, at absolute positions
// qStart[b] .. qStart[b] + qLens[b] - 1, attend causally to the paged cache
// (already holding their own keys/values): the query at position p sees cache
// positions 0..p.
//
// Layouts: the cache as in resa/kernels/PagedKV.h. Queries and outputs are
// head-major: [batch][numQHeads][maxQLen][headDim] (row (b, h, i) is query i
// of sequence b, head h; rows i >= qLens[b] are neither read nor written).
// GQA: query head h reads KV head h / group. A thread block computes 128 rows
// = (128 / group) consecutive queries x every head of one GQA group, so each
// K/V tile it streams serves the whole group. When the (query tile, sequence,
// KV head) grid cannot fill the device (rectification: f = 32 queries over a
// long cache), the key range is split over several thread blocks and a second
// kernel merges their partial softmax states (fp32 workspace).
//
// Supported: bf16 and f16, headDim 64 and 128, group <= 128, any pageSize.
// fp32 accumulation; P is rounded to the storage type for the PV product.
// Both kernels use programmatic dependent launch (wait before the first global
// read).
//
// Two main kernels compute the same thing: the mma.sync one above (any sm_90
// device, every supported shape) and a Hopper wgmma one (FlashAttention-3
// shape: a producer warpgroup loads K/V tiles of 128 keys from the pages,
// two consumer warpgroups of 64 rows run wgmma; built for sm_90a; bf16/f16,
// headDim 128). PrefillAttentionOptions::kernel picks one; where the wgmma
// kernel cannot serve the shape or the device, the plan falls back to the
// mma.sync kernel, and PrefillAttentionPlan::kernel says which one runs.
#pragma once

#include "resa/cuda/DecodeAttention.h"
#include "resa/kernels/PagedKV.h"

#include <cstddef>
#include <cstdint>
#include <cuda_runtime_api.h>

namespace resa::gpu {

enum class PrefillKernel : int32_t {
  Auto,   // the default: Wgmma where it serves the shape and the device, else Mma
  Mma,    // mma.sync m16n8k16, FlashAttention-2 structure
  Wgmma,  // wgmma (sm_90a), warp-specialised; falls back to Mma where unsupported
};

struct PrefillAttentionOptions {
  int32_t forceSplits = 0;  // > 0: exactly this many key-range splits (tests)
  int32_t device = -1;      // < 0: the current device
  PrefillKernel kernel = PrefillKernel::Auto;
  bool gatherPages = false;  // wgmma kernel: gather every K/V tile (no TMA page loads; tests)
};

struct PrefillAttentionPlan {
  PagedAttentionShape shape;
  KVDType dtype = KVDType::BF16;
  PrefillKernel kernel = PrefillKernel::Mma;  // the kernel that runs (never Auto)
  // The wgmma kernel loads full K/V tiles by TMA, a box per page (page sizes
  // 16..128, powers of two), and gathers the rest with cp.async.
  bool pageLoads = false;
  int32_t maxQLen = 0;        // row stride of q/out, >= every qLens[b]
  int32_t maxKvLen = 0;       // >= every qStart[b] + qLens[b]
  int32_t rowsPerTile = 128;  // query rows (queries x group heads) per thread block
  int32_t queriesPerTile = 0; // rowsPerTile / group
  int32_t kvTile = 64;        // keys per pipeline stage (128 for the wgmma kernel)
  int32_t qTiles = 0;
  int32_t numSplits = 1;
  int32_t blocksPerSm = 0;
  int32_t numSms = 0;
  int32_t threads = 256;      // per thread block (384 for the wgmma kernel)
  size_t smemBytes = 0;
  size_t workspaceBytes = 0;  // 0 when numSplits == 1
};

cudaError_t planPrefillAttention(const PagedAttentionShape &shape, KVDType dtype,
                                 int32_t maxQLen, int32_t maxKvLen, PrefillAttentionPlan *plan,
                                 const PrefillAttentionOptions &options = {});

struct PrefillAttentionArgs {
  const void *q = nullptr;            // [batch][numQHeads][maxQLen][headDim], dtype
  const void *kCache = nullptr;       // [numPages][numKvHeads][pageSize][headDim]
  const void *vCache = nullptr;
  const int32_t *pageTable = nullptr; // [batch][maxPagesPerSeq]
  const int32_t *qStart = nullptr;    // [batch] position of query 0
  const int32_t *qLens = nullptr;     // [batch] queries of the sequence, <= maxQLen
  void *out = nullptr;                // like q
  float scale = 0.0f;                 // > 0; 0: 1/sqrt(headDim)
};

// The workspace (plan.workspaceBytes) needs no initialisation.
cudaError_t prefillAttention(const PrefillAttentionArgs &args, const PrefillAttentionPlan &plan,
                             void *workspace, cudaStream_t stream);

} // namespace resa::gpu
