#ifndef RESA_ONNX_DIALECT_TD
#define RESA_ONNX_DIALECT_TD

include "mlir/IR/OpBase.td"

def Onnx_Dialect : Dialect {
  let name = "onnx";
  let summary = "ONNX operators, one op per ONNX node";
  let description = [{
    The importer's output. Every ONNX node becomes one op whose name is the
    node's op type (`onnx.Add`; contrib ops of the `com.microsoft` domain are
    `onnx.ms.<Op>`), whose operands are the node's inputs in order (an
    omitted optional input is the value of `onnx.none`), whose attributes are
    the node's attributes, and whose location is the node's name. Initializers
    are referenced by name through `onnx.initializer`; their bytes stay in the
    model file until the package writer streams them.
  }];
  let cppNamespace = "::resa::onnx";
}

#endif
