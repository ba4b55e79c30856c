// resa's passes, declared in Passes.td (one pass per file).
#pragma once

#include "dialects/onnx/OnnxDialect.h"
#include "dialects/resa/ResaDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace resa {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

// The default-domain opset the importer recorded on the module (18 if absent).
int64_t moduleOpset(mlir::ModuleOp module);

} // namespace resa
