// The `onnx` dialect: one op per ONNX node (see OnnxDialect.td).
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/onnx/OnnxDialect.h.inc"

namespace resa::onnx {
// Checks an ONNX op's input/output counts (max -1 = unbounded) and that each
// attribute named in the comma-separated `required` list is present.
llvm::LogicalResult verifyOnnxOp(mlir::Operation *op, int minIn, int maxIn, int minOut,
                                 int maxOut, llvm::StringRef required);

// "Add" for onnx.Add, "com.microsoft.GroupQueryAttention" for
// onnx.ms.GroupQueryAttention: the name the kernels and diagnostics use.
std::string onnxKernelName(mlir::Operation *op);

// ONNX TensorProto.DataType <-> MLIR element type (bool is i1). A null type /
// 0 means the dtype has no counterpart here.
mlir::Type elementTypeFromOnnx(mlir::MLIRContext *ctx, int dtype);
int onnxDTypeOf(mlir::Type elementType);
} // namespace resa::onnx

#define GET_OP_CLASSES
#include "dialects/onnx/OnnxOps.h.inc"
