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

// The weights of a resa.multi_linear in the per-projection form whose
// projections have no bias, or nothing.
SmallVector<Value> unbiasedWeights(ir::MultiLinearOp op) {
  if (op.getWidths())
    return {};
  SmallVector<Value> weights;
  auto params = op.getParams();
  for (size_t i = 0; i + 1 < params.size(); i += 2) {
    if (!isa<NoneType>(params[i + 1].getType()))
      return {};
    weights.push_back(params[i]);
  }
  return weights;
}

struct FuseMultiLinearPass : impl::FuseMultiLinearBase<FuseMultiLinearPass> {
  void runOnOperation() override {
    SmallVector<ir::MultiLinearOp> ops;
    getOperation().walk([&](ir::MultiLinearOp op) {
      if (SmallVector<Value> w = unbiasedWeights(op); !w.empty() && concatenable(w))
        ops.push_back(op);
    });
    OpBuilder b(&getContext());
    for (ir::MultiLinearOp op : ops) {
      SmallVector<Value> weights = unbiasedWeights(op);
      SmallVector<int64_t> widths;
      for (Value w : weights)
        widths.push_back(cast<RankedTensorType>(w.getType()).getDimSize(1));
      auto first = cast<RankedTensorType>(weights.front().getType());
      int64_t total = 0;
      for (int64_t n : widths)
        total += n;
      b.setInsertionPoint(op);
      auto type = RankedTensorType::get({first.getDimSize(0), total}, first.getElementType());
      Value joined = b.create<ir::ConcatColumnsOp>(op.getLoc(), type, weights);
      Value none = op.getParams()[1];
      auto fused = b.create<ir::MultiLinearOp>(op.getLoc(), op.getResultTypes(), op.getX(),
                                               ValueRange{joined, none},
                                               b.getDenseI64ArrayAttr(widths));
      op->replaceAllUsesWith(fused->getResults());
      op.erase();
    }
  }
};
} // namespace
} // namespace resa
