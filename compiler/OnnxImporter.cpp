#include "compiler/OnnxImporter.h"

#include "dialects/onnx/OnnxDialect.h"
#include "passes/Passes.h"
#include "passes/ShapeInference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Verifier.h"

#include <map>
#include <set>

using namespace mlir;

namespace resa {
namespace {

class Importer {
public:
  Importer(MLIRContext &ctx, const OnnxModel &model)
      : ctx_(ctx), model_(model), b_(&ctx), opset_(model.opset("")) {}

  OwningOpRef<ModuleOp> run();

private:
  MLIRContext &ctx_;
  const OnnxModel &model_;
  OpBuilder b_;
  int64_t opset_;
  std::map<std::string, Value> values_;
  std::map<std::string, Type> declared_; // from the graph's value_info and outputs
  Value none_;
  std::map<const ::onnx::NodeProto *, int> nodeIndex_; // position in the graph

  // An unnamed node is named by its op type and its position in the graph.
  Location nodeLoc(const ::onnx::NodeProto &node) {
    std::string name = node.name().empty()
                           ? node.op_type() + "#" + std::to_string(nodeIndex_.at(&node))
                           : node.name();
    return NameLoc::get(b_.getStringAttr(name));
  }
  FailureOr<Type> typeOf(const ::onnx::TypeProto &t, Location loc, ArrayAttr *dimParams);
  FailureOr<DenseElementsAttr> denseOf(const ::onnx::TensorProto &t, Location loc);
  FailureOr<Attribute> attributeOf(const ::onnx::AttributeProto &a, Location loc);
  LogicalResult importNode(const ::onnx::NodeProto &node, Location loc, ShapeInference &si);
  FailureOr<std::vector<const ::onnx::NodeProto *>> sortedNodes();
};

FailureOr<Type> Importer::typeOf(const ::onnx::TypeProto &t, Location loc,
                                 ArrayAttr *dimParams) {
  if (!t.has_tensor_type())
    return emitError(loc, "only tensor values are supported");
  Type elt = onnx::elementTypeFromOnnx(&ctx_, t.tensor_type().elem_type());
  if (!elt)
    return emitError(loc) << "unsupported element type " << t.tensor_type().elem_type();
  if (!t.tensor_type().has_shape())
    return Type(UnrankedTensorType::get(elt));
  SmallVector<int64_t> shape;
  SmallVector<Attribute> params;
  for (const auto &d : t.tensor_type().shape().dim()) {
    if (d.has_dim_value()) {
      shape.push_back(d.dim_value());
      params.push_back(b_.getStringAttr(""));
    } else {
      shape.push_back(ShapedType::kDynamic);
      params.push_back(b_.getStringAttr(d.has_dim_param() ? d.dim_param() : ""));
    }
  }
  if (dimParams)
    *dimParams = b_.getArrayAttr(params);
  return Type(RankedTensorType::get(shape, elt));
}

FailureOr<DenseElementsAttr> Importer::denseOf(const ::onnx::TensorProto &t, Location loc) {
  try {
    DType dtype = tensorDType(t);
    Type elt = onnx::elementTypeFromOnnx(&ctx_, static_cast<int>(dtype));
    auto type = RankedTensorType::get(SmallVector<int64_t>(t.dims().begin(), t.dims().end()), elt);
    std::vector<char> bytes = model_.tensorBytes(t);
    if (dtype == DType::Bool) {
      SmallVector<bool> bits(bytes.begin(), bytes.end());
      return DenseElementsAttr::get(type, ArrayRef<bool>(bits));
    }
    return DenseElementsAttr::getFromRawBuffer(type, ArrayRef<char>(bytes));
  } catch (const Error &e) {
    return emitError(loc, e.what());
  }
}

FailureOr<Attribute> Importer::attributeOf(const ::onnx::AttributeProto &a, Location loc) {
  using AP = ::onnx::AttributeProto;
  switch (a.type()) {
  case AP::INT: return Attribute(b_.getI64IntegerAttr(a.i()));
  case AP::FLOAT: return Attribute(b_.getF32FloatAttr(a.f()));
  case AP::STRING: return Attribute(b_.getStringAttr(a.s()));
  case AP::INTS:
    return Attribute(b_.getDenseI64ArrayAttr(SmallVector<int64_t>(a.ints().begin(), a.ints().end())));
  case AP::FLOATS:
    return Attribute(b_.getDenseF32ArrayAttr(SmallVector<float>(a.floats().begin(), a.floats().end())));
  case AP::STRINGS: {
    SmallVector<Attribute> s;
    for (const std::string &x : a.strings())
      s.push_back(b_.getStringAttr(x));
    return Attribute(b_.getArrayAttr(s));
  }
  case AP::TENSOR: {
    auto d = denseOf(a.t(), loc);
    if (failed(d))
      return failure();
    return Attribute(*d);
  }
  default:
    return emitError(loc) << "attribute '" << a.name()
                          << "' has a kind resa does not support (graphs, sparse tensors)";
  }
}

// Kahn's algorithm: ONNX requires sorted nodes, but a graph that is merely
// unsorted still imports; a cycle or an input nothing produces is an error.
FailureOr<std::vector<const ::onnx::NodeProto *>> Importer::sortedNodes() {
  const auto &graph = model_.proto().graph();
  std::set<std::string> available;
  for (const auto &in : graph.input())
    available.insert(in.name());
  for (const auto &t : graph.initializer())
    available.insert(t.name());
  std::vector<const ::onnx::NodeProto *> pending, sorted;
  for (const auto &n : graph.node()) {
    nodeIndex_[&n] = static_cast<int>(pending.size());
    pending.push_back(&n);
  }
  while (!pending.empty()) {
    std::vector<const ::onnx::NodeProto *> rest;
    for (const ::onnx::NodeProto *n : pending) {
      bool ready = true;
      for (const std::string &in : n->input())
        if (!in.empty() && !available.count(in))
          ready = false;
      if (!ready) {
        rest.push_back(n);
        continue;
      }
      sorted.push_back(n);
      for (const std::string &out : n->output())
        available.insert(out);
    }
    if (rest.size() == pending.size()) {
      const ::onnx::NodeProto *n = rest.front();
      std::string missing;
      for (const std::string &in : n->input())
        if (!in.empty() && !available.count(in))
          missing = in;
      bool producedSomewhere = false;
      for (const ::onnx::NodeProto *m : rest)
        for (const std::string &out : m->output())
          producedSomewhere |= out == missing;
      emitError(nodeLoc(*n))
          << (producedSomewhere ? "graph has a cycle: input '"
                                : "dangling input: nothing produces '")
          << missing << "'";
      return failure();
    }
    pending = std::move(rest);
  }
  return sorted;
}

LogicalResult Importer::importNode(const ::onnx::NodeProto &node, Location loc,
                                   ShapeInference &si) {
  std::string domain = node.domain();
  std::string opName;
  if (domain.empty() || domain == "ai.onnx")
    opName = "onnx." + node.op_type();
  else if (domain == "com.microsoft")
    opName = "onnx.ms." + node.op_type();
  auto registered = opName.empty() ? std::nullopt : RegisteredOperationName::lookup(opName, &ctx_);
  if (!registered)
    return emitError(loc) << "unsupported ONNX op '" << node.op_type() << "' (domain '"
                          << (domain.empty() ? "ai.onnx" : domain) << "')";

  SmallVector<Value> operands;
  for (const std::string &in : node.input()) {
    if (in.empty()) {
      operands.push_back(none_);
      continue;
    }
    operands.push_back(values_.at(in));
  }
  SmallVector<NamedAttribute> attrs;
  for (const auto &a : node.attribute()) {
    auto attr = attributeOf(a, loc);
    if (failed(attr))
      return failure();
    attrs.push_back(b_.getNamedAttr(a.name(), *attr));
  }
  if (node.op_type() == "Constant" && (domain.empty() || domain == "ai.onnx")) {
    // Normalise every Constant form to a dense `value`.
    if (attrs.size() != 1)
      return emitError(loc, "Constant must have exactly one value attribute");
    StringRef kind = attrs[0].getName().getValue();
    Attribute v = attrs[0].getValue();
    DenseElementsAttr dense;
    if (kind == "value")
      dense = cast<DenseElementsAttr>(v);
    else if (kind == "value_float")
      dense = DenseElementsAttr::get(RankedTensorType::get({}, b_.getF32Type()),
                                     cast<FloatAttr>(v).getValue());
    else if (kind == "value_int")
      dense = DenseElementsAttr::get(RankedTensorType::get({}, b_.getI64Type()),
                                     cast<IntegerAttr>(v).getValue());
    else if (kind == "value_floats") {
      auto arr = cast<DenseF32ArrayAttr>(v).asArrayRef();
      dense = DenseElementsAttr::get(
          RankedTensorType::get({int64_t(arr.size())}, b_.getF32Type()), arr);
    } else if (kind == "value_ints") {
      auto arr = cast<DenseI64ArrayAttr>(v).asArrayRef();
      dense = DenseElementsAttr::get(
          RankedTensorType::get({int64_t(arr.size())}, b_.getI64Type()), arr);
    } else
      return emitError(loc) << "Constant with '" << kind << "' is not supported";
    attrs.assign({b_.getNamedAttr("value", dense)});
  }

  // Results start as placeholders; inference then sets them, merged with
  // what the graph declares.
  SmallVector<Type> placeholders;
  SmallVector<Type> declared;
  for (const std::string &out : node.output()) {
    if (out.empty()) {
      placeholders.push_back(b_.getNoneType());
      declared.push_back(Type());
      continue;
    }
    placeholders.push_back(UnrankedTensorType::get(b_.getF32Type()));
    auto it = declared_.find(out);
    declared.push_back(it == declared_.end() ? Type() : it->second);
  }
  OperationState state(loc, *registered);
  state.addOperands(operands);
  state.addTypes(placeholders);
  state.addAttributes(attrs);
  Operation *op = b_.create(state);
  if (failed(mlir::verify(op)))
    return failure();
  if (failed(si.visit(op)) || failed(si.refineResultTypes(op, declared)))
    return failure();
  for (int i = 0; i < node.output_size(); ++i)
    if (!node.output(i).empty())
      values_[node.output(i)] = op->getResult(i);
  return success();
}

OwningOpRef<ModuleOp> Importer::run() {
  ctx_.loadDialect<onnx::OnnxDialect, func::FuncDialect>();
  const auto &graph = model_.proto().graph();
  Location fileLoc = FileLineColLoc::get(&ctx_, model_.path(), 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  if (opset_ == 0) {
    emitError(fileLoc, "the model imports no default-domain opset");
    return nullptr;
  }
  (*module)->setAttr("onnx.opset", b_.getI64IntegerAttr(opset_));
  if (int64_t ms = model_.opset("com.microsoft"))
    (*module)->setAttr("onnx.ms_opset", b_.getI64IntegerAttr(ms));
  if (!model_.proto().producer_name().empty())
    (*module)->setAttr("onnx.producer", b_.getStringAttr(model_.proto().producer_name()));
  if (!model_.proto().functions().empty()) {
    emitError(fileLoc) << "the model has local functions ('"
                       << model_.proto().functions(0).name()
                       << "'); export with inlining (optimize=True) first";
    return nullptr;
  }

  for (const auto &vi : graph.value_info()) {
    auto t = typeOf(vi.type(), NameLoc::get(b_.getStringAttr(vi.name())), nullptr);
    if (failed(t))
      return nullptr;
    declared_[vi.name()] = *t;
  }
  for (const auto &vi : graph.output()) {
    if (!vi.has_type())
      continue;
    auto t = typeOf(vi.type(), NameLoc::get(b_.getStringAttr(vi.name())), nullptr);
    if (failed(t))
      return nullptr;
    declared_[vi.name()] = *t;
  }

  // Graph inputs that are not initializers are the function's arguments.
  SmallVector<Type> argTypes;
  SmallVector<ArrayAttr> argDims;
  SmallVector<std::string> argNames;
  for (const auto &in : graph.input()) {
    if (model_.initializer(in.name()))
      continue;
    ArrayAttr dims;
    auto t = typeOf(in.type(), NameLoc::get(b_.getStringAttr(in.name())), &dims);
    if (failed(t))
      return nullptr;
    argTypes.push_back(*t);
    argDims.push_back(dims);
    argNames.push_back(in.name());
  }
  b_.setInsertionPointToEnd(module->getBody());
  auto func = b_.create<func::FuncOp>(fileLoc, "main", b_.getFunctionType(argTypes, {}));
  Block *entry = func.addEntryBlock();
  b_.setInsertionPointToStart(entry);
  ShapeInference si;
  for (size_t i = 0; i < argTypes.size(); ++i) {
    func.setArgAttr(i, "onnx.name", b_.getStringAttr(argNames[i]));
    if (argDims[i])
      func.setArgAttr(i, "onnx.dim_params", argDims[i]);
    si.seedArgument(entry->getArgument(i), argDims[i]);
    values_[argNames[i]] = entry->getArgument(i);
  }
  none_ = b_.create<onnx::NoneOp>(fileLoc, b_.getNoneType());

  for (const auto &t : graph.initializer()) {
    Location loc = NameLoc::get(b_.getStringAttr(t.name()));
    int64_t numel;
    try {
      numel = tensorNumel(t);
    } catch (const Error &e) {
      emitError(loc, e.what());
      return nullptr;
    }
    if (numel <= kMaxInlinedInitializer) {
      auto dense = denseOf(t, loc);
      if (failed(dense))
        return nullptr;
      auto c = b_.create<onnx::ConstantOp>(loc, TypeRange{dense->getType()}, ValueRange{});
      c->setAttr("value", *dense);
      (void)si.visit(c);
      values_[t.name()] = c->getResult(0);
      continue;
    }
    DType dtype;
    try {
      dtype = tensorDType(t);
    } catch (const Error &e) {
      emitError(loc, e.what());
      return nullptr;
    }
    auto type = RankedTensorType::get(SmallVector<int64_t>(t.dims().begin(), t.dims().end()),
                                      onnx::elementTypeFromOnnx(&ctx_, static_cast<int>(dtype)));
    auto init = b_.create<onnx::InitializerOp>(loc, type, b_.getStringAttr(t.name()),
                                               StringAttr(), IntegerAttr(), IntegerAttr(),
                                               TypeAttr());
    (void)si.visit(init);
    values_[t.name()] = init.getResult();
  }

  auto nodes = sortedNodes();
  if (failed(nodes))
    return nullptr;
  for (const ::onnx::NodeProto *node : *nodes)
    if (failed(importNode(*node, nodeLoc(*node), si)))
      return nullptr;

  SmallVector<Value> results;
  SmallVector<Attribute> resultNames;
  for (const auto &out : graph.output()) {
    auto it = values_.find(out.name());
    if (it == values_.end()) {
      emitError(fileLoc) << "graph output '" << out.name() << "' is produced by no node";
      return nullptr;
    }
    results.push_back(it->second);
    resultNames.push_back(b_.getStringAttr(out.name()));
  }
  b_.create<func::ReturnOp>(fileLoc, results);
  func.setType(b_.getFunctionType(argTypes, ValueRange(results).getTypes()));
  for (size_t i = 0; i < results.size(); ++i)
    func.setResultAttr(i, "onnx.name", resultNames[i]);
  return module;
}

} // namespace

OwningOpRef<ModuleOp> importOnnx(MLIRContext &ctx, const OnnxModel &model) {
  return Importer(ctx, model).run();
}

} // namespace resa
