#include "dialects/onnx/OnnxDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;

#include "dialects/onnx/OnnxDialect.cpp.inc"

namespace resa::onnx {

void OnnxDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/onnx/OnnxOps.cpp.inc"
      >();
}

static std::string countRange(int lo, int hi) {
  if (hi < 0)
    return "at least " + std::to_string(lo);
  if (lo == hi)
    return std::to_string(lo);
  return std::to_string(lo) + " to " + std::to_string(hi);
}

LogicalResult verifyOnnxOp(Operation *op, int minIn, int maxIn, int minOut, int maxOut,
                           StringRef required) {
  int nIn = static_cast<int>(op->getNumOperands());
  int nOut = static_cast<int>(op->getNumResults());
  auto noun = [](int lo, int hi, const char *what) {
    return std::string(what) + (lo == 1 && (hi == 1 || hi < 0) ? "" : "s");
  };
  if (nIn < minIn || (maxIn >= 0 && nIn > maxIn))
    return op->emitOpError() << "takes " << countRange(minIn, maxIn) << " "
                             << noun(minIn, maxIn, "input") << ", got " << nIn;
  if (nOut < minOut || (maxOut >= 0 && nOut > maxOut))
    return op->emitOpError() << "has " << countRange(minOut, maxOut) << " "
                             << noun(minOut, maxOut, "output") << ", got " << nOut;
  SmallVector<StringRef> names;
  required.split(names, ',', -1, /*KeepEmpty=*/false);
  for (StringRef name : names)
    if (!op->hasAttr(name))
      return op->emitOpError() << "requires attribute '" << name << "'";
  for (Type t : op->getResultTypes())
    if (!isa<TensorType, NoneType>(t))
      return op->emitOpError() << "results must be tensors, got " << t;
  return success();
}

LogicalResult InitializerOp::verify() {
  if (getStoredType() && !cast<ShapedType>(getType()).getElementType().isF32())
    return emitOpError("with a stored_type must have an f32 result, got ") << getType();
  return success();
}

std::string onnxKernelName(Operation *op) {
  StringRef name = op->getName().stripDialect();
  if (name.consume_front("ms."))
    return ("com.microsoft." + name).str();
  return name.str();
}

Type elementTypeFromOnnx(MLIRContext *ctx, int dtype) {
  Builder b(ctx);
  switch (dtype) {
  case 1: return b.getF32Type();
  case 2: return b.getIntegerType(8, /*isSigned=*/false);
  case 3: return b.getIntegerType(8);
  case 6: return b.getI32Type();
  case 7: return b.getI64Type();
  case 9: return b.getI1Type();
  case 10: return b.getF16Type();
  case 11: return b.getF64Type();
  case 16: return b.getBF16Type();
  default: return Type();
  }
}

int onnxDTypeOf(Type t) {
  if (t.isF32()) return 1;
  if (t.isUnsignedInteger(8)) return 2;
  if (t.isInteger(8)) return 3;
  if (t.isInteger(32)) return 6;
  if (t.isInteger(64)) return 7;
  if (t.isInteger(1)) return 9;
  if (t.isF16()) return 10;
  if (t.isF64()) return 11;
  if (t.isBF16()) return 16;
  return 0;
}

} // namespace resa::onnx

#define GET_OP_CLASSES
#include "dialects/onnx/OnnxOps.cpp.inc"
