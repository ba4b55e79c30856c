#include "passes/AttentionPolicy.h"

#include "dialects/resa/ResaDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallVector.h"

using namespace mlir;

namespace resa {

LogicalResult checkBlockSize(Operation *at, int64_t blockSize) {
  if (blockSize < 1 || (blockSize & (blockSize - 1)) != 0)
    return at->emitError() << "block size must be a power of two, got " << blockSize;
  return success();
}

LogicalResult setBlockSize(ModuleOp module, int64_t blockSize) {
  if (failed(checkBlockSize(module, blockSize)))
    return failure();
  auto kv = module->getAttrOfType<DictionaryAttr>("resa.kv_cache");
  if (!kv)
    return module.emitError("not a KV-cache program: run resa-form-kv-program before an "
                            "attention policy");
  if (!module.lookupSymbol<func::FuncOp>("decode"))
    return module.emitError("not a KV-cache program: no @decode");
  NamedAttrList attrs(kv);
  attrs.set("block_size", IntegerAttr::get(IntegerType::get(module.getContext(), 64), blockSize));
  module->setAttr("resa.kv_cache", attrs.getDictionary(module.getContext()));
  return success();
}

LogicalResult rewriteDecodeSparse(ModuleOp module, const SparseDecodeOptions &o) {
  if (!(o.keptRatio >= 0.0 && o.keptRatio <= 1.0))
    return module.emitError() << "kept ratio must be in [0, 1], got " << o.keptRatio;
  // block_select keeps the ratio as f32: a positive ratio must stay positive.
  if (o.keptRatio > 0.0 && static_cast<float>(o.keptRatio) == 0.0f)
    return module.emitError() << "kept ratio " << o.keptRatio << " is 0 as an f32";
  if (o.minBlocks < 0 || o.localBlocks < 0)
    return module.emitError("min and local block counts must not be negative");
  if (failed(setBlockSize(module, o.blockSize)))
    return failure();
  auto decode = module.lookupSymbol<func::FuncOp>("decode");
  if (!decode)
    return module.emitError("not a KV-cache program: no @decode");
  SmallVector<ir::CacheAttentionOp> ops;
  decode.walk([&](ir::CacheAttentionOp op) { ops.push_back(op); });
  OpBuilder b(module.getContext());
  for (ir::CacheAttentionOp op : ops) {
    b.setInsertionPoint(op);
    Location loc = op.getLoc();
    b.create<ir::CacheWriteOp>(loc, op.getK(), op.getV(), op.getKvHeadsAttr(),
                               op.getLayoutAttr(), op.getLayerAttr());
    auto blocksType = RankedTensorType::get({op.getKvHeadsAttr().getInt(), ShapedType::kDynamic},
                                            b.getI32Type());
    auto select = b.create<ir::BlockSelectOp>(
        loc, blocksType, op.getQ(), op.getNumHeadsAttr(), op.getKvHeadsAttr(),
        op.getLayoutAttr(), op.getLayerAttr(), op.getScaleAttr(),
        b.getF32FloatAttr(static_cast<float>(o.keptRatio)), b.getI64IntegerAttr(o.minBlocks),
        b.getI64IntegerAttr(o.localBlocks));
    auto attend = b.create<ir::BlockAttentionOp>(
        loc, op.getType(), op.getQ(), select.getBlocks(), op.getNumHeadsAttr(),
        op.getKvHeadsAttr(), op.getLayoutAttr(), op.getLayerAttr(), op.getScaleAttr());
    op.replaceAllUsesWith(attend.getResult());
    op.erase();
  }
  return success();
}

LogicalResult addRectificationSchedule(ModuleOp module, int64_t interval) {
  if (interval <= 0)
    return module.emitError() << "rectification interval must be positive, got " << interval;
  if (!module.lookupSymbol<func::FuncOp>("rectify"))
    return module.emitError("not a KV-cache program: no @rectify");
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  b.create<ir::RectificationScheduleOp>(module.getLoc(),
                                        FlatSymbolRefAttr::get(module.getContext(), "rectify"),
                                        b.getI64IntegerAttr(interval),
                                        b.getI64IntegerAttr(interval));
  return success();
}

} // namespace resa
