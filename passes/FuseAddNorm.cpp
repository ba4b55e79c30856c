// resa-fuse-add-norm: see Passes.td.
#include "passes/Passes.h"
#include "passes/ShapeInference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_FUSEADDNORM
#include "passes/Passes.h.inc"

namespace {

// Whether a and b provably have one shape: every dim known (a constant or a
// polynomial of the function's symbolic dims) and equal, so the Add does
// not broadcast.
bool sameShape(ShapeInference &shapes, Value a, Value b) {
  // Copies: get() may insert, which can move the map's entries.
  const std::optional<Dims> da = shapes.get(a).dims;
  const std::optional<Dims> db = shapes.get(b).dims;
  if (!da || !db || da->size() != db->size() || a.getType() != b.getType())
    return false;
  for (size_t i = 0; i < da->size(); ++i)
    if (!(*da)[i] || !(*db)[i] || !(*(*da)[i] == *(*db)[i]))
      return false;
  return true;
}

struct FuseAddNormPass : impl::FuseAddNormBase<FuseAddNormPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>()) {
      ShapeInference shapes;
      if (failed(shapes.run(func)))
        return signalPassFailure();
      SmallVector<std::pair<Operation *, ir::RMSNormOp>> pairs;
      func.walk([&](ir::RMSNormOp norm) {
        Operation *add = norm.getX().getDefiningOp();
        if (isa_and_nonnull<onnx::AddOp>(add) && add->getBlock() == norm->getBlock() &&
            sameShape(shapes, add->getOperand(0), add->getOperand(1)) &&
            add->getOperand(0).getType() == norm.getX().getType())
          pairs.push_back({add, norm});
      });
      // One norm per Add (a second reader of the same sum keeps its own).
      llvm::DenseSet<Operation *> fused;
      DominanceInfo dom(func);
      OpBuilder b(&getContext());
      for (auto [add, norm] : pairs) {
        if (!fused.insert(add).second)
          continue;
        // The weight exists before the Add (a parameter): the fused op goes
        // where the Add was, so every reader of the sum stays after it.
        if (!dom.properlyDominates(norm.getWeight(), add))
          continue;
        b.setInsertionPoint(add);
        auto op = b.create<ir::AddRMSNormOp>(
            b.getFusedLoc({add->getLoc(), norm.getLoc()}), add->getResult(0).getType(),
            norm.getType(), add->getOperand(0), add->getOperand(1), norm.getWeight(),
            norm.getEpsilonAttr(), norm.getWeightOffsetAttr());
        norm.getResult().replaceAllUsesWith(op.getResult());
        norm.erase();
        add->getResult(0).replaceAllUsesWith(op.getSum());
        add->erase();
      }
    }
  }
};
} // namespace
} // namespace resa
