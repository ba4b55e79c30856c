// Writes a compiled package (a folder: plan.pb + weights.safetensors) from a
// module lowered to resa.kernel_call form, streaming the weights from the
// ONNX model. The folder appears whole or not at all.
#pragma once

#include "compiler/OnnxModel.h"

#include "mlir/IR/BuiltinOps.h"

#include <optional>
#include <string>

namespace resa {

// Throws resa::Error on failure, leaving nothing at `outDir`. Each weight is
// stored as the model stores it: float32, or f16/bf16 where a resa.weight
// has a stored_type (resa-fold-weight-casts). `weightType` (resa-compile
// --dtype) F32, BF16 or F16 stores every weight whose logical type is float32
// in that type instead, converted while it streams. The plan keeps the
// logical type (float32), and each runtime backend converts on load to what
// its kernels compute in. When the model's weights are random
// (OnnxModel::weightSource), the package records each weight's stored dtype
// and shape (a weights file without data) and the seed, and holds none of
// their bytes (resa/runtime/Package.h).
void writePackage(mlir::ModuleOp lowered, const OnnxModel &model, const std::string &outDir,
                  std::optional<DType> weightType = std::nullopt);

} // namespace resa
