// The `resa` dialect: shape expressions and the lowered kernel-call form.
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/resa/ResaDialect.h.inc"

#define GET_OP_CLASSES
#include "dialects/resa/ResaOps.h.inc"

namespace resa::ir {
// resa.rotary's rules for one rotated tensor x whose result has type
// `result` (ResaLayerOps.cpp; also the rotary of resa.rotary_cache_attention).
mlir::LogicalResult verifyRotary(mlir::Operation *op, mlir::Value x, mlir::Value cos, mlir::Value sin,
                                 mlir::Type result, int64_t heads, int64_t rot, int64_t inter);
} // namespace resa::ir
