// resa-fuse-multi-linear: see Passes.td.
#include "passes/Passes.h"
#include "passes/WeightConcat.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_FUSEMULTILINEAR
#include "passes/Passes.h.inc"

namespace {

// The weights of a resa.multi_linear in the per-projection form.
SmallVector<Value> weightsOf(ir::MultiLinearOp op) {
  SmallVector<Value> weights;
  auto params = op.getParams();
  for (size_t i = 0; i + 1 < params.size(); i += 2)
    weights.push_back(params[i]);
  return weights;
}

struct FuseMultiLinearPass : impl::FuseMultiLinearBase<FuseMultiLinearPass> {
  void runOnOperation() override {
    SmallVector<std::pair<ir::MultiLinearOp, SmallVector<Value>>> ops;
    getOperation().walk([&](ir::MultiLinearOp op) {
      if (op.getWidths())
        return;
      if (SmallVector<Value> weights = weightsOf(op); concatenable(weights))
        ops.push_back({op, std::move(weights)});
    });
    OpBuilder b(&getContext());
    for (auto &[op, weights] : ops) {
      SmallVector<int64_t> widths;
      for (Value w : weights)
        widths.push_back(cast<RankedTensorType>(w.getType()).getDimSize(1));
      b.setInsertionPoint(op);
      SmallVector<Value> params{b.create<ir::ConcatColumnsOp>(op.getLoc(), concatenatedType(weights),
                                                              weights)};
      auto all = op.getParams();
      for (size_t i = 1; i < all.size(); i += 2)
        params.push_back(all[i]); // each projection's bias, or none
      auto fused = b.create<ir::MultiLinearOp>(op.getLoc(), op.getResultTypes(), op.getX(), params,
                                               b.getDenseI64ArrayAttr(widths));
      op->replaceAllUsesWith(fused->getResults());
      op.erase();
    }
  }
};
} // namespace
} // namespace resa
