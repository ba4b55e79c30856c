#include "dialects/resa/ResaDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;

#include "dialects/resa/ResaDialect.cpp.inc"

namespace resa::ir {

void ResaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/resa/ResaOps.cpp.inc"
      >();
}

LogicalResult ShapeExprOp::verify() {
  auto type = cast<RankedTensorType>(getType());
  if (!type.getElementType().isInteger(64))
    return emitOpError("result must hold int64, got ") << type.getElementType();
  int64_t n = static_cast<int64_t>(getExprs().size());
  if (getScalar()) {
    if (type.getRank() != 0 || n != 1)
      return emitOpError("a scalar shape_expr has one expression and a rank-0 result");
    return success();
  }
  if (type.getRank() != 1 || (type.isDynamicDim(0) ? false : type.getDimSize(0) != n))
    return emitOpError("result must be tensor<") << n << "xi64>, got " << type;
  return success();
}

} // namespace resa::ir

#define GET_OP_CLASSES
#include "dialects/resa/ResaOps.cpp.inc"
