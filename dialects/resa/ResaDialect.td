#ifndef RESA_RESA_DIALECT_TD
#define RESA_RESA_DIALECT_TD

include "mlir/IR/OpBase.td"

def Resa_Dialect : Dialect {
  let name = "resa";
  let summary = "resa's own ops: shape expressions and kernel calls over buffers";
  let cppNamespace = "::resa::ir";
}

#endif
