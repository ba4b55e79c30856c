// Symbolic shape inference over the onnx dialect. Every tensor value gets an
// element type and, where it can be derived, a rank and dims that are
// polynomials of the function's symbolic input dims (DimPoly). Small integer
// tensors (the exporters' shape arithmetic) also get their element values, so
// that Shape -> Gather -> Concat -> Reshape chains resolve to expressions.
#pragma once

#include "resa/runtime/DimPoly.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/DenseMap.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::func {
class FuncOp;
}

namespace resa {

using Dim = std::optional<DimPoly>; // nullopt: not derivable
using Dims = std::vector<Dim>;

struct ValueShape {
  mlir::Type elementType;     // null: unknown
  std::optional<Dims> dims;   // nullopt: unknown rank
  std::optional<Dims> values; // elements of a small int tensor (rank <= 1)
};

class ShapeInference {
public:
  // Seeds a function argument from its type and the `onnx.dim_params`
  // argument attribute (one name per dim, "" for a static dim).
  void seedArgument(mlir::BlockArgument arg, mlir::ArrayAttr dimParams);
  // Seeds every argument of `func`, then visits its body in order.
  mlir::LogicalResult run(mlir::func::FuncOp func);
  // Infers `op`'s results from its operands (already visited). On an
  // inconsistency, emits an error located at the op and fails.
  mlir::LogicalResult visit(mlir::Operation *op);

  const ValueShape &get(mlir::Value v);
  // The most precise tensor type for `v` (dynamic dims stay '?').
  mlir::Type typeFor(mlir::Value v);
  // Merges the inferred types into the op's result types; fails (with an
  // error naming the node) when a declared and the inferred type conflict.
  // `declared` holds one type per result (null: nothing declared); empty
  // means the results' current types are the declarations.
  mlir::LogicalResult refineResultTypes(mlir::Operation *op,
                                        llvm::ArrayRef<mlir::Type> declared = {});

private:
  mlir::LogicalResult visitUnchecked(mlir::Operation *op);
  llvm::DenseMap<mlir::Value, ValueShape> shapes_;
  ValueShape unknown_;
};

// The symbol for dynamic dim `dim` of function argument `arg`: its ONNX
// dim_param when it has one (equal names are the same symbol).
std::string symbolName(unsigned arg, int64_t dim, llvm::StringRef dimParam);

// Constant integer contents of a value, when every element is known.
std::optional<std::vector<int64_t>> constantInts(const ValueShape &s);

} // namespace resa
