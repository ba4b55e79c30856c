// resa-attention-dense: see Passes.td.
#include "passes/AttentionPolicy.h"
#include "passes/Passes.h"

namespace resa {
#define GEN_PASS_DEF_ATTENTIONDENSE
#include "passes/Passes.h.inc"

namespace {
struct AttentionDensePass : impl::AttentionDenseBase<AttentionDensePass> {
  using AttentionDenseBase::AttentionDenseBase;
  void runOnOperation() override {
    if (mlir::failed(setBlockSize(getOperation(), blockSize)))
      signalPassFailure();
  }
};
} // namespace
} // namespace resa
