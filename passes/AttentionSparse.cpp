// resa-attention-sparse: see Passes.td.
#include "passes/AttentionPolicy.h"
#include "passes/Passes.h"

namespace resa {
#define GEN_PASS_DEF_ATTENTIONSPARSE
#include "passes/Passes.h.inc"

namespace {
struct AttentionSparsePass : impl::AttentionSparseBase<AttentionSparsePass> {
  using AttentionSparseBase::AttentionSparseBase;
  void runOnOperation() override {
    mlir::ModuleOp module = getOperation();
    if (!(keptRatio > 0.0 && keptRatio <= 1.0)) {
      module.emitError() << "kept ratio must be in (0, 1], got " << keptRatio;
      return signalPassFailure();
    }
    if (mlir::failed(rewriteDecodeSparse(module, {blockSize, keptRatio, minBlocks, localBlocks})))
      signalPassFailure();
  }
};
} // namespace
} // namespace resa
