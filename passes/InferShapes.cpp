// resa-infer-shapes: see Passes.td.
#include "passes/Passes.h"
#include "passes/ShapeInference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace resa {
#define GEN_PASS_DEF_INFERSHAPES
#include "passes/Passes.h.inc"

namespace {
struct InferShapesPass : impl::InferShapesBase<InferShapesPass> {
  void runOnOperation() override {
    mlir::ModuleOp module = getOperation();
    for (auto func : module.getOps<mlir::func::FuncOp>()) {
      ShapeInference inference;
      if (mlir::failed(inference.run(func)))
        return signalPassFailure();
    }
  }
};
} // namespace
} // namespace resa
