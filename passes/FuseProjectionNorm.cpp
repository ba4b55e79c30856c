// resa-fuse-projection-norm: see Passes.td.
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_FUSEPROJECTIONNORM
#include "passes/Passes.h.inc"

namespace {

// The projection an add_rms_norm operand comes from, when the norm is its
// only reader and it sits in the norm's block: a resa.linear without bias or
// a resa.gated_mlp.
Operation *soleProjection(Value v, ir::AddRMSNormOp norm) {
  Operation *def = v.getDefiningOp();
  if (!def || def->getBlock() != norm->getBlock() || !v.hasOneUse())
    return nullptr;
  if (auto linear = dyn_cast<ir::LinearOp>(def))
    return linear.getBias() ? nullptr : def;
  return isa<ir::GatedMLPOp>(def) ? def : nullptr;
}

struct FuseProjectionNormPass : impl::FuseProjectionNormBase<FuseProjectionNormPass> {
  void runOnOperation() override {
    SmallVector<ir::AddRMSNormOp> norms;
    getOperation().walk([&](ir::AddRMSNormOp norm) { norms.push_back(norm); });
    OpBuilder b(&getContext());
    for (ir::AddRMSNormOp norm : norms) {
      // The projection's output is either addend (the sum is the same).
      Value residual = norm.getA();
      Operation *proj = soleProjection(norm.getB(), norm);
      if (!proj) {
        residual = norm.getB();
        proj = soleProjection(norm.getA(), norm);
      }
      if (!proj)
        continue;
      SmallVector<Value> weights;
      StringAttr activation;
      if (auto linear = dyn_cast<ir::LinearOp>(proj)) {
        weights.push_back(linear.getWeight());
      } else {
        auto mlp = cast<ir::GatedMLPOp>(proj);
        weights.append(mlp.getWeights().begin(), mlp.getWeights().end());
        activation = mlp.getActivationAttr();
      }
      // At the norm: the projection's operands and the residual precede it.
      b.setInsertionPoint(norm);
      auto fused = b.create<ir::ProjectionAddRMSNormOp>(
          b.getFusedLoc({proj->getLoc(), norm.getLoc()}), norm.getSum().getType(),
          norm.getResult().getType(), proj->getOperand(0), weights, residual, norm.getWeight(),
          norm.getEpsilonAttr(), norm.getWeightOffsetAttr(), activation);
      norm.getSum().replaceAllUsesWith(fused.getSum());
      norm.getResult().replaceAllUsesWith(fused.getResult());
      norm.erase();
      proj->erase();
    }
  }
};

} // namespace
} // namespace resa
