#ifndef RESA_PASSES_TD
#define RESA_PASSES_TD

include "mlir/Pass/PassBase.td"

def InferShapes : Pass<"resa-infer-shapes", "mlir::ModuleOp"> {
  let summary = "Infer element types and (symbolic) shapes of every onnx value";
  let description = [{
    Propagates element types, ranks and dims through the onnx dialect. Dynamic
    input dims are symbols (named by the ONNX dim_param, e.g. `batch`, `seq`);
    dims that are polynomials of them stay '?' in the types. Conflicts between
    a declared type and what the inputs give are errors naming the node.
  }];
  let dependentDialects = ["resa::onnx::OnnxDialect"];
}

def FoldShapes : Pass<"resa-fold-shapes", "mlir::ModuleOp"> {
  let summary = "Fold the exporters' shape arithmetic to constants or shape expressions";
  let description = [{
    Integer tensors whose elements are known (constant, or polynomials of the
    symbolic input dims) are replaced by `onnx.Constant` or `resa.shape_expr`;
    ops that no longer have users are erased. Shapes are inferred again
    afterwards, so Reshape/Expand targets that became constant give static
    result types.
  }];
  let dependentDialects = ["resa::onnx::OnnxDialect", "resa::ir::ResaDialect"];
}

def LowerToKernels : Pass<"resa-lower-to-kernels", "mlir::ModuleOp"> {
  let summary = "Lower every op to runtime kernel calls over buffers";
  let description = [{
    onnx ops become `resa.kernel_call` of the kernel of the same name (contrib
    ops: `com.microsoft.<Op>`), initializers become `resa.weight`, constants
    `resa.constant`. Fails naming the node when the runtime has no kernel.
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

#endif
