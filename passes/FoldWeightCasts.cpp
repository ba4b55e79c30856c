// resa-fold-weight-casts: see Passes.td.
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_FOLDWEIGHTCASTS
#include "passes/Passes.h.inc"

namespace {

constexpr int64_t kOnnxFloat = 1; // TensorProto.FLOAT, Cast's `to`

// The f32 value that Cast(to = FLOAT) of `narrow` (an f16/bf16 initializer
// or constant) is, made right after it, or null for anything else.
Value widened(Value narrow) {
  auto type = dyn_cast<RankedTensorType>(narrow.getType());
  if (!type || !(type.getElementType().isF16() || type.getElementType().isBF16()))
    return Value();
  OpBuilder b(narrow.getContext());
  auto f32 = RankedTensorType::get(type.getShape(), b.getF32Type());
  if (auto init = narrow.getDefiningOp<onnx::InitializerOp>()) {
    b.setInsertionPointAfter(init);
    return b.create<onnx::InitializerOp>(init.getLoc(), f32, init.getNameAttr(),
                                         init.getLocationAttr(), init.getOffsetAttr(),
                                         init.getLengthAttr(),
                                         TypeAttr::get(type.getElementType()));
  }
  auto c = narrow.getDefiningOp<onnx::ConstantOp>();
  auto dense = c ? c->getAttrOfType<DenseElementsAttr>("value") : DenseElementsAttr();
  if (!dense)
    return Value();
  // f16 and bf16 values are all exact in float32.
  SmallVector<float> values;
  for (const APFloat &v : dense.getValues<APFloat>())
    values.push_back(v.convertToFloat());
  b.setInsertionPointAfter(c);
  auto wide = b.create<onnx::ConstantOp>(c.getLoc(), TypeRange{f32}, ValueRange{});
  wide->setAttr("value", DenseElementsAttr::get(f32, ArrayRef<float>(values)));
  return wide->getResult(0);
}

struct FoldWeightCastsPass : impl::FoldWeightCastsBase<FoldWeightCastsPass> {
  void runOnOperation() override {
    SmallVector<onnx::CastOp> casts;
    getOperation().walk([&](onnx::CastOp c) { casts.push_back(c); });
    // One widened value per narrow one, however many Casts read it.
    llvm::DenseMap<Value, Value> wide;
    for (onnx::CastOp cast : casts) {
      auto to = cast->getAttrOfType<IntegerAttr>("to");
      if (!to || to.getInt() != kOnnxFloat || cast->getNumResults() != 1)
        continue;
      Value narrow = cast->getOperand(0);
      auto it = wide.find(narrow);
      if (it == wide.end())
        it = wide.try_emplace(narrow, widened(narrow)).first;
      if (!it->second || it->second.getType() != cast->getResult(0).getType())
        continue;
      cast->getResult(0).replaceAllUsesWith(it->second);
      cast->erase();
    }
    for (auto &[narrow, w] : wide) {
      if (!w)
        continue;
      if (w.use_empty())
        w.getDefiningOp()->erase();
      if (narrow.use_empty())
        narrow.getDefiningOp()->erase();
    }
  }
};

} // namespace
} // namespace resa
