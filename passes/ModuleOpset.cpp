#include "passes/Passes.h"

namespace resa {

int64_t moduleOpset(mlir::ModuleOp module) {
  if (auto a = module->getAttrOfType<mlir::IntegerAttr>("onnx.opset"))
    return a.getInt();
  return 18;
}

} // namespace resa
