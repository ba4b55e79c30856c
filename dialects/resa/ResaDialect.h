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
