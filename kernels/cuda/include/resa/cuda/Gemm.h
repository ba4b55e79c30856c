// Row-major matrix products on cuBLASLt for the projection kernels
// (resa.linear, resa.logits, resa.gated_mlp): Y[M, N] = X[M, K] W[K, N]
// (+ bias[N]), fp32 accumulation, on the context's stream and workspace.
//
// cuBLASLt is column-major; a row-major matrix is its transpose read
// column-major, so Y = X W is computed as Y^T = W^T X^T with no data moved.
// The matmul descriptors and the heuristic's algorithm are cached per shape,
// dtype, leading dimensions and pointer alignment (the heuristic's choice
// depends on all of them), so a repeated step asks the heuristic only once.
#pragma once

#include "resa/cuda/DeviceKernel.h"

#include <cstddef>
#include <cstdint>

namespace resa::gpu {

struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  // X [M, K], row-major with leading dimension ldx (>= K).
  const void *x = nullptr;
  int64_t ldx = 0;
  // W [K, N], row-major with leading dimension ldw (>= N): the first N
  // columns of a wider matrix when ldw > N (a fused gate_up weight's half).
  const void *w = nullptr;
  int64_t ldw = 0;
  // X and W share one type: F32, BF16 or F16.
  DType inType = DType::BF16;
  // Y [M, N], row-major with leading dimension ldy (>= N); outType is inType
  // or F32 (what cuBLASLt supports for these inputs).
  void *y = nullptr;
  int64_t ldy = 0;
  DType outType = DType::BF16;
  // Optional bias [N] of outType, added to the fp32 sum before rounding.
  const void *bias = nullptr;
  // kSplit > 1: K is cut into kSplit equal slices (K % kSplit == 0) and Y
  // gets one fp32 partial product per slice, [kSplit][M][ldy] (outType F32,
  // no bias), for a consumer that sums them (the residual add + norm after a
  // projection) instead of cuBLASLt's own split-K reduction kernel. One
  // strided batched matmul: slice s reads X's columns and W's rows
  // [s K/kSplit, (s + 1) K/kSplit).
  int kSplit = 1;
  // Which of cuBLASLt's heuristic results runs: 0, its first choice (what
  // the runtime uses); resa-bench-gemm --sweep times the others.
  int heuristicRank = 0;
};

// Enqueues Y = X W (+ bias) on ctx.stream with ctx.blasLt and its workspace.
// M or N zero: nothing to do. Throws resa::Error for unsupported dtypes, a
// context without a cuBLASLt handle, K = 0, or when cuBLASLt fails.
void gemm(DeviceContext &ctx, const GemmArgs &args);

// A cuBLASLt handle and its workspace on the current device, for the
// executor and the tests: attach() points a DeviceContext at them.
class BlasLtHandle {
public:
  explicit BlasLtHandle(size_t workspaceBytes = size_t(32) << 20);
  ~BlasLtHandle();
  BlasLtHandle(const BlasLtHandle &) = delete;
  BlasLtHandle &operator=(const BlasLtHandle &) = delete;

  cublasLtContext *handle() const { return handle_; }
  void attach(DeviceContext &ctx) const;

private:
  cublasLtContext *handle_ = nullptr;
  void *workspace_ = nullptr;
  size_t workspaceBytes_ = 0;
};

} // namespace resa::gpu
