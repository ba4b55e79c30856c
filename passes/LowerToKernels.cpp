// resa-lower-to-kernels: see Passes.td.
#include "passes/Passes.h"

#include "resa/kernels/Kernel.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_LOWERTOKERNELS
#include "passes/Passes.h.inc"

namespace {
struct LowerToKernelsPass : impl::LowerToKernelsBase<LowerToKernelsPass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      StringRef ns = op->getDialect() ? op->getDialect()->getNamespace() : "";
      bool structural = isa<ir::ShapeExprOp, ir::WeightOp, ir::ConstantOp, ir::NoneOp,
                            ir::KernelCallOp, ir::RectificationScheduleOp,
                            ir::GsrPipelineOp>(op);
      if (ns == "onnx" || (ns == "resa" && !structural))
        ops.push_back(op);
    });
    OpBuilder b(&getContext());
    for (Operation *op : ops) {
      b.setInsertionPoint(op);
      // Parts of a concatenation that nothing else reads are not stored.
      SmallVector<Operation *> parts;
      if (isa<ir::ConcatColumnsOp>(op))
        for (Value v : op->getOperands())
          parts.push_back(v.getDefiningOp());
      Operation *lowered = nullptr;
      if (auto init = dyn_cast<onnx::InitializerOp>(op)) {
        lowered = b.create<ir::WeightOp>(op->getLoc(), init.getType(), init.getNameAttr(),
                                           init.getStoredTypeAttr(), ArrayAttr());
      } else if (auto concat = dyn_cast<ir::ConcatColumnsOp>(op)) {
        lowered = concatWeight(b, concat);
        if (!lowered)
          return signalPassFailure();
      } else if (isa<onnx::ConstantOp>(op)) {
        lowered = b.create<ir::ConstantOp>(op->getLoc(), op->getResult(0).getType(),
                                           op->getAttrOfType<ElementsAttr>("value"));
      } else if (isa<onnx::NoneOp>(op)) {
        lowered = b.create<ir::NoneOp>(op->getLoc(), b.getNoneType());
      } else {
        bool resaOp = op->getDialect()->getNamespace() == "resa";
        std::string kernel =
            resaOp ? op->getName().getStringRef().str() : onnx::onnxKernelName(op);
        // resa's stateful kernels (the KV cache's) are the runtime's own.
        bool runtimeOwned = isa<ir::CacheAttentionOp, ir::RotaryCacheAttentionOp, ir::PositionsOp,
                                ir::CacheWriteOp, ir::RotaryCacheWriteOp, ir::BlockSelectOp,
                                ir::BlockAttentionOp>(op);
        if (!runtimeOwned && !findCpuKernel(kernel)) {
          op->emitError() << "the runtime has no kernel for '" << kernel << "'";
          return signalPassFailure();
        }
        lowered = b.create<ir::KernelCallOp>(op->getLoc(), op->getResultTypes(),
                                             b.getStringAttr(kernel),
                                             b.getDictionaryAttr(op->getAttrs()),
                                             op->getOperands());
      }
      op->replaceAllUsesWith(lowered->getResults());
      op->erase();
      for (Operation *part : parts)
        if (part && part->use_empty())
          part->erase();
    }
  }

  // One resa.weight for a concatenation of (already lowered) model weights,
  // named after them; null (and an error) when a part is not one.
  Operation *concatWeight(OpBuilder &b, ir::ConcatColumnsOp concat) {
    SmallVector<Attribute> names;
    std::string name = "concat_columns(";
    TypeAttr stored;
    for (auto [i, part] : llvm::enumerate(concat.getParts())) {
      auto w = part.getDefiningOp<ir::WeightOp>();
      if (!w || w.getColumnsOf()) {
        concat.emitError() << "resa.concat_columns: part " << i << " is not a model weight";
        return nullptr;
      }
      if (i > 0 && w.getStoredTypeAttr() != stored) {
        concat.emitError() << "resa.concat_columns: the parts are stored in different types";
        return nullptr;
      }
      stored = w.getStoredTypeAttr();
      names.push_back(w.getNameAttr());
      name += (i ? "," : "") + w.getName().str();
    }
    name += ")";
    return b.create<ir::WeightOp>(concat.getLoc(), concat.getType(), b.getStringAttr(name), stored,
                                  b.getArrayAttr(names));
  }
};
} // namespace
} // namespace resa
