// Imports an ONNX model into the `onnx` dialect: one op per node, the node's
// name as the op's location, initializers referenced by name.
#pragma once

#include "compiler/OnnxModel.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace resa {

// Initializers with at most this many elements become onnx.Constant (so that
// shape arithmetic folds); larger ones stay references.
constexpr int64_t kMaxInlinedInitializer = 1024;

// Returns null after reporting every problem through the context's
// diagnostics, each located at the ONNX node (or naming the input).
mlir::OwningOpRef<mlir::ModuleOp> importOnnx(mlir::MLIRContext &ctx, const OnnxModel &model);

} // namespace resa
