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
      Operation *lowered = nullptr;
      if (auto init = dyn_cast<onnx::InitializerOp>(op)) {
        lowered = b.create<ir::WeightOp>(op->getLoc(), init.getType(), init.getNameAttr(),
                                           init.getStoredTypeAttr());
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
        bool runtimeOwned = isa<ir::CacheAttentionOp, ir::PositionsOp, ir::CacheWriteOp,
                                ir::BlockSelectOp, ir::BlockAttentionOp>(op);
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
    }
  }
};
} // namespace
} // namespace resa
