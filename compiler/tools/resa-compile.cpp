// resa-compile: ONNX model -> compiled package (or MLIR at a chosen stage).
#include "compiler/Diagnostics.h"
#include "compiler/OnnxImporter.h"
#include "compiler/PackageWriter.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace cl = llvm::cl;

namespace {

enum class Emit { Package, Onnx, Resa, Lowered };

cl::opt<std::string> inputPath(cl::Positional, cl::desc("MODEL.onnx (or .onnxtext)"),
                               cl::Required);
cl::opt<std::string> outputPath("o", cl::desc("output package folder"),
                                cl::value_desc("PKG"));
cl::opt<Emit> emit("emit", cl::desc("print MLIR at a stage instead of writing a package"),
                   cl::init(Emit::Package),
                   cl::values(clEnumValN(Emit::Onnx, "onnx",
                                         "the onnx dialect after shape inference and folding"),
                              clEnumValN(Emit::Resa, "resa",
                                         "the raised program: prefill/decode/rectify over the "
                                         "KV cache"),
                              clEnumValN(Emit::Lowered, "lowered",
                                         "kernel calls over buffers")));
cl::opt<bool> quiet("quiet", cl::desc("no progress lines on stderr"));

void progress(const char *what, std::chrono::steady_clock::time_point since) {
  if (quiet)
    return;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - since)
                .count();
  llvm::errs() << "resa-compile: " << what << " (" << ms << " ms)\n";
}

int compile() {
  auto start = std::chrono::steady_clock::now();
  if (emit == Emit::Package && outputPath.empty()) {
    llvm::errs() << "resa-compile: error: no output given (-o PKG, or --emit=...)\n";
    return 1;
  }
  mlir::MLIRContext ctx;
  ctx.loadDialect<resa::onnx::OnnxDialect, resa::ir::ResaDialect, mlir::func::FuncDialect>();
  resa::OneLineDiagnostics diagnostics(ctx, "resa-compile");

  std::unique_ptr<resa::OnnxModel> model = resa::OnnxModel::load(inputPath);
  progress("loaded the model", start);
  mlir::OwningOpRef<mlir::ModuleOp> module = resa::importOnnx(ctx, *model);
  if (!module)
    return 1;
  progress("imported", start);

  mlir::PassManager pm(&ctx);
  pm.addPass(resa::createInferShapes());
  pm.addPass(resa::createFoldShapes());
  if (mlir::failed(pm.run(*module)))
    return 1;
  if (emit == Emit::Onnx) {
    module->print(llvm::outs());
    return 0;
  }
  mlir::PassManager raise(&ctx);
  raise.addPass(resa::createRaiseAttention());
  raise.addPass(resa::createFormKVProgram());
  if (mlir::failed(raise.run(*module)))
    return 1;
  progress("raised; formed the KV-cache program", start);
  if (emit == Emit::Resa) {
    module->print(llvm::outs());
    return 0;
  }
  mlir::PassManager lower(&ctx);
  lower.addPass(resa::createLowerToKernels());
  if (mlir::failed(lower.run(*module)))
    return 1;
  progress("lowered to kernel calls", start);
  if (emit == Emit::Lowered) {
    module->print(llvm::outs());
    return 0;
  }
  resa::writePackage(*module, *model, outputPath);
  progress(("wrote " + outputPath).c_str(), start);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv,
                              "resa-compile: compile an ONNX decoder into a resa package\n");
  try {
    return compile();
  } catch (const std::exception &e) {
    llvm::errs() << "resa-compile: error: " << e.what() << "\n";
    return 1;
  }
}
