// resa-fold-shapes: see Passes.td.
#include "passes/Passes.h"
#include "passes/ShapeInference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_FOLDSHAPES
#include "passes/Passes.h.inc"

namespace {

bool isFoldedAlready(Operation *op) {
  return isa<onnx::ConstantOp, onnx::InitializerOp, onnx::NoneOp, ir::ShapeExprOp>(op);
}

// The replacement for an integer result whose elements are all known, or null.
Value foldedValue(OpBuilder &b, Location loc, OpResult r, const ValueShape &s) {
  auto type = dyn_cast<RankedTensorType>(r.getType());
  if (!type || !s.values || !type.getElementType().isInteger() ||
      type.getElementType().isInteger(1) || type.getRank() > 1)
    return Value();
  if (type.getRank() == 1 && (type.isDynamicDim(0) ||
                              type.getDimSize(0) != static_cast<int64_t>(s.values->size())))
    return Value();
  if (type.getRank() == 0 && s.values->size() != 1)
    return Value();
  for (const Dim &d : *s.values)
    if (!d)
      return Value();
  if (auto ints = constantInts(s)) {
    SmallVector<APInt> bits;
    for (int64_t v : *ints)
      bits.push_back(APInt(type.getElementType().getIntOrFloatBitWidth(), v, true));
    auto attr = DenseElementsAttr::get(type, bits);
    auto c = b.create<onnx::ConstantOp>(loc, TypeRange{type}, ValueRange{});
    c->setAttr("value", attr);
    return c->getResult(0);
  }
  if (!type.getElementType().isInteger(64))
    return Value();
  SmallVector<StringRef> exprs;
  std::vector<std::string> storage;
  for (const Dim &d : *s.values)
    storage.push_back(d->toString());
  for (const std::string &e : storage)
    exprs.push_back(e);
  auto se = b.create<ir::ShapeExprOp>(loc, type, b.getStrArrayAttr(exprs),
                                      type.getRank() == 0 ? b.getUnitAttr() : UnitAttr());
  return se.getResult();
}

struct FoldShapesPass : impl::FoldShapesBase<FoldShapesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>())
      if (failed(foldFunction(func)))
        return signalPassFailure();
  }

  LogicalResult foldFunction(func::FuncOp func) {
    ShapeInference inference;
    if (failed(inference.run(func)))
      return failure();
    SmallVector<Operation *> ops;
    func.walk([&](Operation *op) {
      if (op->getDialect() && op->getDialect()->getNamespace() == "onnx" &&
          !isFoldedAlready(op))
        ops.push_back(op);
    });
    OpBuilder b(func.getContext());
    for (Operation *op : ops) {
      b.setInsertionPoint(op);
      for (OpResult r : op->getResults()) {
        if (r.use_empty())
          continue;
        if (Value v = foldedValue(b, op->getLoc(), r, inference.get(r)))
          r.replaceAllUsesWith(v);
      }
    }
    // Erase what no longer has users, last users first.
    IRRewriter rewriter(func.getContext());
    (void)runRegionDCE(rewriter, func.getBody());
    ShapeInference again;
    return again.run(func);
  }
};
} // namespace
} // namespace resa
