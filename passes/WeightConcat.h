// Whether model weights can be stored side by side as one resa.concat_columns
// weight (resa-fuse-gate-up, resa-fuse-multi-linear).
#pragma once

#include "passes/Passes.h"

#include "mlir/IR/BuiltinTypes.h"

namespace resa {

// Initializers stored alike ([K, N_i] each, static, one K and one element
// type): their columns can sit side by side in one weight.
inline bool concatenable(mlir::ValueRange parts) {
  onnx::InitializerOp first;
  for (mlir::Value v : parts) {
    auto init = v.getDefiningOp<onnx::InitializerOp>();
    auto type = mlir::dyn_cast<mlir::RankedTensorType>(v.getType());
    if (!init || !type || !type.hasStaticShape() || type.getRank() != 2)
      return false;
    if (!first) {
      first = init;
      continue;
    }
    auto t0 = mlir::cast<mlir::RankedTensorType>(first->getResult(0).getType());
    if (init.getStoredTypeAttr() != first.getStoredTypeAttr() ||
        type.getDimSize(0) != t0.getDimSize(0) || type.getElementType() != t0.getElementType())
      return false;
  }
  return static_cast<bool>(first);
}

// The type of concatenable `parts` side by side: [K, sum N_i].
inline mlir::RankedTensorType concatenatedType(mlir::ValueRange parts) {
  auto first = mlir::cast<mlir::RankedTensorType>(parts.front().getType());
  int64_t columns = 0;
  for (mlir::Value v : parts)
    columns += mlir::cast<mlir::RankedTensorType>(v.getType()).getDimSize(1);
  return mlir::RankedTensorType::get({first.getDimSize(0), columns}, first.getElementType());
}

} // namespace resa
