// Writes a compiled package (a folder: plan.pb + weights.safetensors) from a
// module lowered to resa.kernel_call form, streaming the weights from the
// ONNX model. The folder appears whole or not at all.
#pragma once

#include "compiler/OnnxModel.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace resa {

// Throws resa::Error on failure, leaving nothing at `outDir`.
void writePackage(mlir::ModuleOp lowered, const OnnxModel &model, const std::string &outDir);

} // namespace resa
