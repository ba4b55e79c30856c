#ifndef RESA_RESA_OPS_TD
#define RESA_RESA_OPS_TD

include "ResaDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Resa_ShapeExprOp : Op<Resa_Dialect, "shape_expr", [Pure]> {
  let summary = "a 1-D int64 tensor whose elements are polynomials of the symbolic dims";
  let description = [{
    What the exporters' shape arithmetic (Shape, Gather, Concat, Mul...) folds
    to when a result depends on dynamic input dimensions. Each element of
    `exprs` is a polynomial over the symbols of the enclosing function's
    `resa.symbols` attribute, e.g. `"batch"`, `"seq + 1"`, `"4*batch*seq"`.
    `scalar` makes a rank-0 result of the single expression.
  }];
  let arguments = (ins StrArrayAttr:$exprs, UnitAttr:$scalar);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$exprs attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Resa_WeightOp : Op<Resa_Dialect, "weight", [Pure]> {
  let summary = "a weight buffer of the package, by name";
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

def Resa_ConstantOp : Op<Resa_Dialect, "constant", [Pure]> {
  let summary = "a small constant stored in the plan itself";
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$value attr-dict `:` type($result)";
}

def Resa_KernelCallOp : Op<Resa_Dialect, "kernel_call", [Pure]> {
  let summary = "one call of a runtime kernel";
  let description = [{
    The lowered form: `kernel` names a kernel of the runtime's kernel library
    (see kernels/include/resa/kernels/Kernel.h); `attrs` are its attributes.
    An omitted optional input is a `none` value.
  }];
  let arguments = (ins StrAttr:$kernel, DictionaryAttr:$attrs, Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$outputs);
  let assemblyFormat =
      "$kernel `(` $inputs `)` $attrs attr-dict `:` functional-type($inputs, $outputs)";
}

def Resa_NoneOp : Op<Resa_Dialect, "none", [Pure]> {
  let summary = "an omitted optional kernel input";
  let results = (outs NoneType:$result);
  let assemblyFormat = "attr-dict";
}

#endif
