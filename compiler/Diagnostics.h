// Prints MLIR diagnostics as one line each, naming the ONNX node:
//   resa-compile: error: node 'model/layers.0/attn/MatMul': unsupported ...
#pragma once

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <string>

namespace resa {

class OneLineDiagnostics {
public:
  OneLineDiagnostics(mlir::MLIRContext &ctx, std::string tool);
  ~OneLineDiagnostics();
  // Whether an error has been printed.
  bool hadError() const { return hadError_; }

private:
  mlir::MLIRContext &ctx_;
  mlir::DiagnosticEngine::HandlerID id_;
  bool hadError_ = false;
};

std::string describeLocation(mlir::Location loc);

} // namespace resa
