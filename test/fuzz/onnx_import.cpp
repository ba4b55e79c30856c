// Fuzzes the ONNX importer: bytes -> OnnxModel (binary protobuf) -> importOnnx
// -> verify -> shape inference, folding and weight-cast folding (resa-compile's
// first passes). Any outcome but a crash, a hang or
// a sanitizer report is fine: a resa::Error or diagnostics are the expected
// answer to bad input.
#include "FuzzUtil.h"

#include "compiler/OnnxImporter.h"
#include "dialects/onnx/OnnxDialect.h"
#include "dialects/resa/ResaDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string bytes(reinterpret_cast<const char *>(data), size);
  std::unique_ptr<resa::OnnxModel> model;
  // External data is looked for beside the model: a scratch folder holding
  // one 4 KiB file, data.bin.
  static const std::string modelPath = [] {
    std::string data(4096, '\x01');
    resa::fuzz::writeFile(resa::fuzz::scratchDir() + "/data.bin", data.data(), data.size());
    return resa::fuzz::scratchDir() + "/model.onnx";
  }();
  try {
    model = resa::OnnxModel::fromBytes(bytes, modelPath);
  } catch (const resa::Error &) {
    return 0;
  }
  mlir::MLIRContext ctx(mlir::MLIRContext::Threading::DISABLED);
  ctx.loadDialect<resa::onnx::OnnxDialect, resa::ir::ResaDialect, mlir::func::FuncDialect>();
  ctx.getDiagEngine().registerHandler([](mlir::Diagnostic &) { return mlir::success(); });
  try {
    mlir::OwningOpRef<mlir::ModuleOp> module = resa::importOnnx(ctx, *model);
    if (!module || mlir::failed(mlir::verify(*module)))
      return 0;
    mlir::PassManager pm(&ctx);
    pm.addPass(resa::createInferShapes());
    pm.addPass(resa::createFoldShapes());
    pm.addPass(resa::createFoldWeightCasts());
    (void)pm.run(*module);
  } catch (const resa::Error &) {
  }
  return 0;
}
