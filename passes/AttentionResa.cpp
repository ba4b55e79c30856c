// resa-attention-resa: see Passes.td.
#include "passes/AttentionPolicy.h"
#include "passes/Passes.h"

namespace resa {
#define GEN_PASS_DEF_ATTENTIONRESA
#include "passes/Passes.h.inc"

namespace {
struct AttentionResaPass : impl::AttentionResaBase<AttentionResaPass> {
  using AttentionResaBase::AttentionResaBase;
  void runOnOperation() override {
    mlir::ModuleOp module = getOperation();
    if (!(keptRatio > 0.0 && keptRatio <= 1.0)) {
      module.emitError() << "kept ratio must be in (0, 1], got " << keptRatio;
      return signalPassFailure();
    }
    if (rectifyEvery <= 0) {
      module.emitError() << "rectify-every must be positive for resa, got "
                         << static_cast<int64_t>(rectifyEvery);
      return signalPassFailure();
    }
    if (mlir::failed(rewriteDecodeSparse(module, {blockSize, keptRatio, minBlocks, localBlocks})) ||
        mlir::failed(addRectificationSchedule(module, rectifyEvery)))
      signalPassFailure();
  }
};
} // namespace
} // namespace resa
