// resa-prefill-last-logits: see Passes.td.
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <limits>

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_PREFILLLASTLOGITS
#include "passes/Passes.h.inc"

namespace {

Value constI64(OpBuilder &b, Location loc, int64_t value) {
  auto type = RankedTensorType::get({1}, b.getI64Type());
  auto c = b.create<onnx::ConstantOp>(loc, TypeRange{type}, ValueRange{});
  c->setAttr("value", DenseElementsAttr::get(type, ArrayRef<int64_t>{value}));
  return c->getResult(0);
}

// `t` with dim 1 made 1.
RankedTensorType lastPosition(RankedTensorType t) {
  SmallVector<int64_t> shape(t.getShape());
  shape[1] = 1;
  return RankedTensorType::get(shape, t.getElementType());
}

LogicalResult keepLastLogits(ModuleOp module) {
  auto prefill = module.lookupSymbol<func::FuncOp>("prefill");
  if (!prefill)
    return module.emitError("resa-prefill-last-logits needs a function @prefill: run "
                            "resa-form-kv-program first");
  // Slice takes starts/ends/axes as inputs from opset 10 on; the kernels
  // read them so only there.
  if (moduleOpset(module) < 10)
    return prefill.emitError() << "@prefill: keeping only the last position's logits needs "
                                  "opset >= 10 (Slice with input bounds), the model has opset "
                               << moduleOpset(module);
  Operation *ret = prefill.getBody().front().getTerminator();
  int index = -1;
  for (unsigned i = 0; i < prefill.getNumResults(); ++i)
    if (auto n = prefill.getResultAttrOfType<StringAttr>(i, "onnx.name"); n && n.getValue() == "logits")
      index = static_cast<int>(i);
  if (index < 0)
    return prefill.emitError("@prefill has no result named 'logits'; cannot keep only the "
                             "last position's logits");
  Value result = ret->getOperand(index);
  auto logits = result.getDefiningOp<ir::LogitsOp>();
  if (!logits)
    return prefill.emitError("@prefill's 'logits' result is not computed by resa.logits "
                             "(resa-raise-linear raises only a plain final projection); cannot "
                             "keep only the last position's logits");
  // The result's other users (none in an exported model) would see the
  // shape change too.
  for (OpOperand &use : result.getUses())
    if (use.getOwner() != ret || use.getOperandNumber() != static_cast<unsigned>(index))
      return use.getOwner()->emitError(
          "@prefill: the logits feed this op besides the 'logits' result; cannot keep only "
          "the last position's logits");
  auto x = cast<RankedTensorType>(logits.getX().getType());
  auto y = cast<RankedTensorType>(logits.getType());
  if (x.getRank() != 3)
    return logits.emitError() << "@prefill: the logits' hidden states must be [batch, seq, "
                                 "hidden] to keep only the last position, got "
                              << x;

  // x[:, -1:, :]: one row per sequence, [B, 1, H] -> logits [B, 1, vocab].
  OpBuilder b(logits);
  Location loc = logits.getLoc();
  auto slice = b.create<onnx::SliceOp>(
      loc, TypeRange{lastPosition(x)},
      ValueRange{logits.getX(), constI64(b, loc, -1),
                 constI64(b, loc, std::numeric_limits<int64_t>::max()), constI64(b, loc, 1)});
  logits.getXMutable().assign(slice->getResult(0));
  logits.getResult().setType(lastPosition(y));
  prefill.setType(FunctionType::get(module.getContext(), prefill.getArgumentTypes(),
                                    ret->getOperandTypes()));
  return success();
}

struct PrefillLastLogitsPass : impl::PrefillLastLogitsBase<PrefillLastLogitsPass> {
  void runOnOperation() override {
    if (failed(keepLastLogits(getOperation())))
      signalPassFailure();
  }
};

} // namespace
} // namespace resa
