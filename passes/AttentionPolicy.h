// The attention-policy interface: what every policy pass (dense, sparse,
// resa, and out-of-tree plugins such as the sliding-window example) does to
// a KV-cache program, in one place. A policy decides how @decode attends;
// prefill and rectification stay dense.
#pragma once

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>

namespace resa {

struct SparseDecodeOptions {
  int64_t blockSize = 16;  // tokens per block = KV page; a power of two
  double keptRatio = 0.1;  // fraction of blocks kept, in [0, 1] (policies may narrow it)
  int64_t minBlocks = 16;  // n_min
  int64_t localBlocks = 1; // most recent blocks, always kept
};

// Checks a block size (a power of two, at least 1); emits the error on `at`.
mlir::LogicalResult checkBlockSize(mlir::Operation *at, int64_t blockSize);

// Sets the KV cache's block (page) size; every policy calls this.
mlir::LogicalResult setBlockSize(mlir::ModuleOp module, int64_t blockSize);

// Rewrites every resa.cache_attention of @decode into resa.cache_write +
// resa.block_select + resa.block_attention with the given selection rule,
// and sets the block size. Fails with an error when the module is not a
// KV-cache program (run resa-form-kv-program first).
mlir::LogicalResult rewriteDecodeSparse(mlir::ModuleOp module, const SparseDecodeOptions &options);

// Adds resa.rectification_schedule: @rectify re-encodes the last `interval`
// tokens every `interval` decode steps.
mlir::LogicalResult addRectificationSchedule(mlir::ModuleOp module, int64_t interval);

} // namespace resa
