// resa-fuse-gate-up: see Passes.td.
#include "passes/Passes.h"
#include "passes/WeightConcat.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_FUSEGATEUP
#include "passes/Passes.h.inc"

namespace {

struct FuseGateUpPass : impl::FuseGateUpBase<FuseGateUpPass> {
  void runOnOperation() override {
    SmallVector<ir::GatedMLPOp> mlps;
    getOperation().walk([&](ir::GatedMLPOp op) {
      if (!op.isFusedGateUp() && concatenable(op.getWeights().take_front(2)))
        mlps.push_back(op);
    });
    OpBuilder b(&getContext());
    for (ir::GatedMLPOp op : mlps) {
      ValueRange gateAndUp = op.getWeights().take_front(2);
      b.setInsertionPoint(op);
      Value gateUp =
          b.create<ir::ConcatColumnsOp>(op.getLoc(), concatenatedType(gateAndUp), gateAndUp);
      auto fused = b.create<ir::GatedMLPOp>(op.getLoc(), op.getType(), op.getX(),
                                            ValueRange{gateUp, op.getDownWeight()},
                                            op.getActivationAttr());
      op.getResult().replaceAllUsesWith(fused.getResult());
      op.erase();
    }
  }
};
} // namespace
} // namespace resa
