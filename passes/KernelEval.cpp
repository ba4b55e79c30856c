#include "passes/KernelEval.h"

#include "dialects/onnx/OnnxDialect.h"
#include "dialects/resa/ResaDialect.h"
#include "resa/runtime/DimPoly.h"

#include "mlir/IR/BuiltinTypes.h"

#include <cstring>

using namespace mlir;

namespace resa {

Tensor tensorFromDense(DenseElementsAttr attr) {
  auto type = cast<RankedTensorType>(attr.getType());
  int dtype = onnx::onnxDTypeOf(type.getElementType());
  if (dtype == 0)
    throw Error("constant of an element type the kernels do not take");
  Tensor t(static_cast<DType>(dtype), Shape(type.getShape().begin(), type.getShape().end()));
  if (type.getElementType().isInteger(1)) {
    int64_t i = 0;
    for (bool v : attr.getValues<bool>())
      t.data<uint8_t>()[i++] = v ? 1 : 0;
    return t;
  }
  ArrayRef<char> raw = attr.getRawData();
  size_t elt = dtypeSize(t.dtype());
  for (int64_t i = 0; i < t.numel(); ++i) // a splat holds one element
    std::memcpy(static_cast<char *>(t.raw()) + i * elt,
                raw.data() + (attr.isSplat() ? 0 : i * elt), elt);
  return t;
}

DenseElementsAttr denseFromTensor(MLIRContext *ctx, const Tensor &t) {
  Type elt = onnx::elementTypeFromOnnx(ctx, static_cast<int>(t.dtype()));
  auto type = RankedTensorType::get(SmallVector<int64_t>(t.shape().begin(), t.shape().end()), elt);
  if (t.dtype() == DType::Bool) {
    SmallVector<bool> bits;
    for (int64_t i = 0; i < t.numel(); ++i)
      bits.push_back(t.data<uint8_t>()[i] != 0);
    return DenseElementsAttr::get(type, ArrayRef<bool>(bits));
  }
  return DenseElementsAttr::getFromRawBuffer(
      type, ArrayRef<char>(static_cast<const char *>(t.raw()), t.nbytes()));
}

Attrs kernelAttrs(DictionaryAttr attrs) {
  Attrs out;
  for (NamedAttribute na : attrs) {
    std::string name = na.getName().str();
    Attribute a = na.getValue();
    if (auto i = dyn_cast<IntegerAttr>(a))
      out.set(name, i.getInt());
    else if (auto f = dyn_cast<FloatAttr>(a))
      out.set(name, static_cast<float>(f.getValueAsDouble()));
    else if (auto s = dyn_cast<StringAttr>(a))
      out.set(name, s.str());
    else if (auto ints = dyn_cast<DenseI64ArrayAttr>(a))
      out.set(name, std::vector<int64_t>(ints.asArrayRef().begin(), ints.asArrayRef().end()));
    else if (auto floats = dyn_cast<DenseF32ArrayAttr>(a))
      out.set(name, std::vector<float>(floats.asArrayRef().begin(), floats.asArrayRef().end()));
    else if (auto arr = dyn_cast<ArrayAttr>(a)) {
      std::vector<std::string> strings;
      for (Attribute e : arr) {
        auto s = dyn_cast<StringAttr>(e);
        if (!s)
          throw Error("attribute '" + name + "': only arrays of strings are supported");
        strings.push_back(s.str());
      }
      out.set(name, strings);
    } else if (auto dense = dyn_cast<DenseElementsAttr>(a))
      out.set(name, tensorFromDense(dense));
    else
      throw Error("attribute '" + name + "' has a kind the kernels cannot take");
  }
  return out;
}

const Tensor &KernelEvaluator::evaluate(Value root) {
  auto it = values_.find(root);
  if (it != values_.end())
    return it->second;
  Operation *def = root.getDefiningOp();
  if (!def)
    throw Error("cannot evaluate: a function argument is not bound");
  for (Value in : def->getOperands())
    if (!isa<NoneType>(in.getType()))
      evaluate(in);
  evaluateOp(def);
  return values_.at(root);
}

void KernelEvaluator::evaluateOp(Operation *op) {
  std::string where = op->getName().getStringRef().str();
  if (auto loc = dyn_cast<NameLoc>(op->getLoc()))
    where = "node '" + loc.getName().str() + "'";
  if (isa<onnx::ConstantOp>(op)) {
    values_[op->getResult(0)] = tensorFromDense(op->getAttrOfType<DenseElementsAttr>("value"));
    return;
  }
  if (auto se = dyn_cast<ir::ShapeExprOp>(op)) {
    auto n = static_cast<int64_t>(se.getExprs().size());
    Tensor t(DType::I64, se.getScalar() ? Shape{} : Shape{n});
    for (int64_t i = 0; i < n; ++i)
      t.data<int64_t>()[i] =
          DimPoly::parse(cast<StringAttr>(se.getExprs()[i]).str()).evaluate(symbols_);
    values_[se.getResult()] = t;
    return;
  }
  if (!op->getDialect() || op->getDialect()->getNamespace() != "onnx" ||
      isa<onnx::InitializerOp>(op))
    throw Error(where + ": cannot be evaluated at compile time");
  std::string kernel = onnx::onnxKernelName(op);
  KernelFn fn = findCpuKernel(kernel);
  if (!fn)
    throw Error(where + ": no kernel for '" + kernel + "'");
  Attrs attrs = kernelAttrs(op->getAttrDictionary());
  KernelArgs args;
  for (Value in : op->getOperands())
    args.inputs.push_back(isa<NoneType>(in.getType()) ? nullptr : &values_.at(in));
  args.attrs = &attrs;
  args.opset = opset_;
  args.numOutputs = op->getNumResults();
  std::vector<Tensor> outs;
  try {
    fn(args, outs);
  } catch (const Error &e) {
    throw Error(where + ": " + e.what());
  }
  for (unsigned i = 0; i < op->getNumResults() && i < outs.size(); ++i)
    values_[op->getResult(i)] = outs[i];
}

} // namespace resa
