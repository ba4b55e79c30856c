// Writes a compiled package (a folder: plan.pb + weights.safetensors) from a
// module lowered to resa.kernel_call form, streaming the weights from the
// ONNX model. The folder appears whole or not at all.
#pragma once

#include "compiler/OnnxModel.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace resa {

// Throws resa::Error on failure, leaving nothing at `outDir`. `weightType`
// BF16 or F16 stores the float32 weights converted (resa-compile --dtype); the
// plan keeps their logical type (float32), and each runtime backend converts
// on load to what its kernels compute in. When the model's weights are random
// (OnnxModel::weightSource), the package records each weight's stored dtype
// and shape (a weights file without data) and the seed, and holds none of
// their bytes (resa/runtime/Package.h).
void writePackage(mlir::ModuleOp lowered, const OnnxModel &model, const std::string &outDir,
                  DType weightType = DType::F32);

} // namespace resa
