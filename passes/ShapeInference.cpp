#include "passes/ShapeInference.h"

#include "dialects/onnx/OnnxDialect.h"
#include "dialects/resa/ResaDialect.h"
#include "resa/kernels/Tensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"

#include <numeric>

using namespace mlir;

namespace resa {
namespace {

// Integer tensors up to this many elements have their values tracked.
constexpr int64_t kMaxTrackedValues = 64;

int64_t attrInt(Operation *op, StringRef name, int64_t dflt) {
  if (auto a = op->getAttrOfType<IntegerAttr>(name))
    return a.getInt();
  return dflt;
}

std::optional<std::vector<int64_t>> attrInts(Operation *op, StringRef name) {
  Attribute a = op->getAttr(name);
  if (auto arr = dyn_cast_or_null<DenseI64ArrayAttr>(a))
    return std::vector<int64_t>(arr.asArrayRef().begin(), arr.asArrayRef().end());
  if (auto arr = dyn_cast_or_null<ArrayAttr>(a)) {
    std::vector<int64_t> out;
    for (Attribute e : arr)
      out.push_back(cast<IntegerAttr>(e).getInt());
    return out;
  }
  return std::nullopt;
}

bool isNone(Value v) { return !v || isa<NoneType>(v.getType()); }

// A raised layer op's results repeat the dims of one operand: all of an
// embedding's ids, all but the last of the others' input (the last comes
// from each result's type); a multi_rotary's result i those of its tensor i.
// Layer ops carry no symbolic dims in their types; without this, a Shape
// read off a layer's output (the rotary positions that raising a fused
// attention builds in every layer) stays opaque, and the layers' identical
// position computations cannot be shared, nor a residual Add after them
// proven free of broadcasting (resa-fuse-add-norm).
std::optional<std::vector<ValueShape>> layerResultShapes(Operation *op, ShapeInference &inference) {
  if (!isa<ir::EmbeddingOp, ir::RMSNormOp, ir::LayerNormOp, ir::LinearOp, ir::RotaryOp,
           ir::MultiRotaryOp, ir::GatedMLPOp, ir::LogitsOp, ir::AttentionOp,
           ir::CacheAttentionOp, ir::BlockAttentionOp, ir::MultiLinearOp, ir::AddRMSNormOp,
           ir::ProjectionAddRMSNormOp, ir::RotaryCacheAttentionOp, ir::RotaryCacheWriteOp>(op))
    return std::nullopt;
  const bool embedding = isa<ir::EmbeddingOp>(op);
  std::vector<ValueShape> out;
  for (Value r : op->getResults()) {
    // The operand whose dims the result repeats.
    Value from = op->getOperand(embedding ? 1 : 0);
    if (auto multi = dyn_cast<ir::MultiRotaryOp>(op))
      from = multi.getXs()[cast<OpResult>(r).getResultNumber()];
    const ValueShape &source = inference.get(from);
    if (!source.dims)
      return std::nullopt;
    Dims leading = *source.dims;
    if (!embedding && !leading.empty())
      leading.pop_back();
    auto type = dyn_cast<RankedTensorType>(r.getType());
    if (!type || static_cast<int64_t>(leading.size()) + 1 != type.getRank())
      return std::nullopt;
    ValueShape s;
    s.elementType = type.getElementType();
    s.dims = leading;
    s.dims->push_back(Dim());
    for (int64_t i = 0; i < type.getRank(); ++i)
      if (!type.isDynamicDim(i))
        (*s.dims)[i] = DimPoly(type.getDimSize(i));
    out.push_back(std::move(s));
  }
  return out;
}

Dims constDims(ArrayRef<int64_t> v) {
  Dims d;
  for (int64_t x : v)
    d.push_back(DimPoly(x));
  return d;
}

std::optional<int64_t> constOf(const Dim &d) { return d ? d->constant() : std::nullopt; }

// ONNX multidirectional broadcasting of two shapes.
FailureOr<Dims> broadcast(Operation *op, const Dims &a, const Dims &b) {
  size_t n = std::max(a.size(), b.size());
  Dims out(n);
  for (size_t i = 0; i < n; ++i) {
    Dim x = i < n - a.size() ? Dim(DimPoly(1)) : a[i - (n - a.size())];
    Dim y = i < n - b.size() ? Dim(DimPoly(1)) : b[i - (n - b.size())];
    auto cx = constOf(x), cy = constOf(y);
    if (cx && *cx == 1)
      out[i] = y;
    else if (cy && *cy == 1)
      out[i] = x;
    else if (x && y && *x == *y)
      out[i] = x;
    else if (cx && cy) {
      op->emitError() << "inconsistent shapes: cannot broadcast dimension " << *cx
                      << " with " << *cy;
      return failure();
    } else if (cx || cy)
      out[i] = cx ? x : y; // the other one must be equal or 1; a valid model has it equal
    else
      out[i] = std::nullopt;
  }
  return out;
}

Dim product(const Dims &d, size_t from, size_t to) {
  DimPoly p(1);
  for (size_t i = from; i < to; ++i) {
    if (!d[i])
      return std::nullopt;
    p = p * *d[i];
  }
  return p;
}

// A negative index counts from the end (Slice's starts/ends: clamped later).
int64_t normIndex(int64_t index, int64_t rank) { return index < 0 ? index + rank : index; }

// An axis of a tensor of that rank, negative counting from the end; out of
// [-rank, rank) is an Error (reported at the op by visit()).
int64_t normAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    throw Error("axis " + std::to_string(axis) + " is out of range for rank " +
                std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

// Elementwise integer arithmetic over tracked values, with broadcasting of a
// single element.
std::optional<Dims> combineValues(StringRef name, const Dims &a, const Dims &b) {
  if (a.size() != b.size() && a.size() != 1 && b.size() != 1)
    return std::nullopt;
  size_t n = std::max(a.size(), b.size());
  Dims out;
  for (size_t i = 0; i < n; ++i) {
    const Dim &x = a[a.size() == 1 ? 0 : i];
    const Dim &y = b[b.size() == 1 ? 0 : i];
    if (!x || !y) {
      out.push_back(std::nullopt);
      continue;
    }
    auto cx = x->constant(), cy = y->constant();
    if (name == "Add")
      out.push_back(*x + *y);
    else if (name == "Sub")
      out.push_back(*x - *y);
    else if (name == "Mul")
      out.push_back(*x * *y);
    else if (name == "Div") {
      if (cx && cy && *cy != 0) // ONNX integer Div truncates toward zero
        out.push_back(DimPoly(*cx / *cy));
      else
        out.push_back(x->divExact(*y));
    } else if (name == "Max" && cx && cy)
      out.push_back(DimPoly(std::max(*cx, *cy)));
    else if (name == "Min" && cx && cy)
      out.push_back(DimPoly(std::min(*cx, *cy)));
    else if (name == "Equal" && cx && cy)
      out.push_back(DimPoly(*cx == *cy ? 1 : 0));
    else if (name == "Mod" && cx && cy && *cy != 0)
      out.push_back(DimPoly(((*cx % *cy) + *cy) % *cy));
    else
      out.push_back(std::nullopt);
  }
  return out;
}

// Slice of one dimension with constant step; start/end may be symbolic when
// the step is 1 and they are in range.
Dim sliceDim(const Dim &dim, const Dim &start, const Dim &end, int64_t step) {
  constexpr int64_t kHuge = int64_t(1) << 31;
  auto cs = constOf(start), ce = constOf(end), cd = constOf(dim);
  if (cd && cs && ce) {
    int64_t d = *cd, s = *cs, e = *ce;
    if (step > 0) {
      s = s < 0 ? std::max<int64_t>(0, s + d) : std::min(s, d);
      e = e < 0 ? std::max<int64_t>(0, e + d) : std::min(e, d);
      return DimPoly(e > s ? (e - s + step - 1) / step : 0);
    }
    s = s < 0 ? std::max<int64_t>(-1, s + d) : std::min(s, d - 1);
    e = e < 0 ? std::max<int64_t>(-1, e + d) : std::min(e, d - 1);
    return DimPoly(s > e ? (s - e + (-step) - 1) / (-step) : 0);
  }
  if (step != 1 || !dim)
    return std::nullopt;
  Dim s = start, e = end;
  if (cs && *cs < 0)
    s = *dim + DimPoly(*cs);
  if (ce && *ce >= kHuge)
    e = dim;
  else if (ce && *ce < 0)
    e = *dim + DimPoly(*ce);
  if (!s || !e)
    return std::nullopt;
  return *e - *s;
}

} // namespace

std::string symbolName(unsigned arg, int64_t dim, StringRef dimParam) {
  if (dimParam.empty())
    return "arg" + std::to_string(arg) + "_dim" + std::to_string(dim);
  // Symbols are identifiers in dimension expressions: keep letters, digits
  // and '_', replace anything else.
  std::string name = dimParam.str();
  for (char &c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      c = '_';
  if (std::isdigit(static_cast<unsigned char>(name[0])))
    name = "d_" + name;
  return name;
}

std::optional<std::vector<int64_t>> constantInts(const ValueShape &s) {
  if (!s.values)
    return std::nullopt;
  std::vector<int64_t> out;
  for (const Dim &d : *s.values) {
    auto c = constOf(d);
    if (!c)
      return std::nullopt;
    out.push_back(*c);
  }
  return out;
}

const ValueShape &ShapeInference::get(Value v) {
  auto it = shapes_.find(v);
  if (it != shapes_.end())
    return it->second;
  // Not visited (a value from outside): read what its type says.
  ValueShape s;
  if (auto t = dyn_cast<ShapedType>(v.getType())) {
    s.elementType = t.getElementType();
    if (t.hasRank()) {
      Dims d;
      for (int64_t x : t.getShape())
        d.push_back(ShapedType::isDynamic(x) ? Dim() : Dim(DimPoly(x)));
      s.dims = d;
    }
  }
  return shapes_[v] = s;
}

Type ShapeInference::typeFor(Value v) {
  const ValueShape &s = get(v);
  if (isa<NoneType>(v.getType()))
    return v.getType();
  Type elt = s.elementType ? s.elementType : cast<ShapedType>(v.getType()).getElementType();
  if (!s.dims)
    return UnrankedTensorType::get(elt);
  SmallVector<int64_t> shape;
  for (const Dim &d : *s.dims) {
    auto c = constOf(d);
    shape.push_back(c ? *c : ShapedType::kDynamic);
  }
  return RankedTensorType::get(shape, elt);
}

void ShapeInference::seedArgument(BlockArgument arg, ArrayAttr dimParams) {
  ValueShape s;
  auto t = dyn_cast<ShapedType>(arg.getType());
  if (!t)
    return;
  s.elementType = t.getElementType();
  if (t.hasRank()) {
    Dims d;
    for (int64_t i = 0; i < t.getRank(); ++i) {
      if (!t.isDynamicDim(i)) {
        d.push_back(DimPoly(t.getDimSize(i)));
        continue;
      }
      StringRef param;
      if (dimParams && i < static_cast<int64_t>(dimParams.size()))
        if (auto str = dyn_cast<StringAttr>(dimParams[i]))
          param = str.getValue();
      d.push_back(DimPoly::symbol(symbolName(arg.getArgNumber(), i, param)));
    }
    s.dims = d;
  }
  shapes_[arg] = s;
}

LogicalResult ShapeInference::run(func::FuncOp func) {
  for (BlockArgument arg : func.getArguments())
    seedArgument(arg, func.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(), "onnx.dim_params"));
  WalkResult r = func.walk([&](Operation *op) {
    if (op == func.getOperation() || isa<func::ReturnOp>(op))
      return WalkResult::advance();
    if (failed(visit(op)) || failed(refineResultTypes(op)))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  if (r.wasInterrupted())
    return failure();
  // Keep the function signature in step with what the body now returns.
  Operation *ret = func.getBody().front().getTerminator();
  func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                 ret->getOperandTypes()));
  return success();
}

LogicalResult ShapeInference::refineResultTypes(Operation *op, ArrayRef<Type> declared) {
  for (OpResult r : op->getResults()) {
    if (isa<NoneType>(r.getType()))
      continue;
    Type decl = declared.empty() ? r.getType() : declared[r.getResultNumber()];
    auto inferred = cast<ShapedType>(typeFor(r));
    if (!decl) {
      r.setType(inferred);
      continue;
    }
    auto d = cast<ShapedType>(decl);
    auto conflict = [&] {
      return op->emitError() << "inconsistent shapes: result #" << r.getResultNumber()
                             << " is declared " << d << " but the inputs give " << inferred;
    };
    if (d.getElementType() != inferred.getElementType())
      return conflict();
    ValueShape &s = shapes_[r];
    if (!d.hasRank()) {
      r.setType(inferred);
      continue;
    }
    if (!inferred.hasRank()) {
      // Trust the declaration, and learn from it.
      Dims dims;
      for (int64_t x : d.getShape())
        dims.push_back(ShapedType::isDynamic(x) ? Dim() : Dim(DimPoly(x)));
      s.dims = dims;
      r.setType(d);
      continue;
    }
    if (d.getRank() != inferred.getRank())
      return conflict();
    SmallVector<int64_t> merged;
    for (int64_t i = 0; i < d.getRank(); ++i) {
      int64_t a = d.getDimSize(i), b = inferred.getDimSize(i);
      if (!ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b)
        return conflict();
      merged.push_back(ShapedType::isDynamic(b) ? a : b);
      if (!ShapedType::isDynamic(a) && s.dims && !(*s.dims)[i])
        (*s.dims)[i] = DimPoly(a);
    }
    r.setType(RankedTensorType::get(merged, inferred.getElementType()));
  }
  return success();
}

LogicalResult ShapeInference::visit(Operation *op) {
  try {
    return visitUnchecked(op);
  } catch (const Error &e) {
    return op->emitError() << e.what();
  }
}

LogicalResult ShapeInference::visitUnchecked(Operation *op) {
  MLIRContext *ctx = op->getContext();
  Builder b(ctx);
  // The handlers below hold references into shapes_ (in(i)) while they read
  // other operands and set results: every entry they touch exists before the
  // first reference is taken, since inserting one may move the others
  // (DenseMap). Found by valgrind: a use after free once shapes were folded
  // after raising.
  for (Value v : op->getOperands())
    if (v)
      get(v);
  for (Value r : op->getResults())
    get(r);
  auto in = [&](unsigned i) -> const ValueShape & {
    if (i >= op->getNumOperands())
      return unknown_;
    return get(op->getOperand(i));
  };
  auto has = [&](unsigned i) { return i < op->getNumOperands() && !isNone(op->getOperand(i)); };
  auto setOut = [&](unsigned i, ValueShape s) {
    if (i < op->getNumResults() && !isNone(op->getResult(i)))
      shapes_[op->getResult(i)] = std::move(s);
  };
  auto same = [&](unsigned i, Type elt = Type()) {
    ValueShape s = in(i);
    s.values.reset();
    if (elt)
      s.elementType = elt;
    return s;
  };
  auto shaped = [&](Type elt, std::optional<Dims> dims) {
    ValueShape s;
    s.elementType = elt;
    s.dims = std::move(dims);
    return s;
  };
  // Values of a 1-D int tensor operand, when known.
  auto valuesOf = [&](unsigned i) -> std::optional<Dims> {
    if (!has(i))
      return std::nullopt;
    return in(i).values;
  };
  // The op's axes: from the input `idx` (newer opsets) or the `axes` attribute.
  auto axesOf = [&](unsigned idx) -> std::optional<std::vector<int64_t>> {
    if (has(idx))
      return constantInts(in(idx));
    return attrInts(op, "axes");
  };

  // Ops that are not ONNX nodes.
  if (isa<onnx::InitializerOp>(op)) { // its declared type says it all
    shapes_.erase(op->getResult(0));
    get(op->getResult(0));
    return success();
  }
  if (isa<onnx::NoneOp, ir::NoneOp>(op))
    return success();
  if (auto se = dyn_cast<ir::ShapeExprOp>(op)) {
    Dims vals;
    for (Attribute a : se.getExprs())
      vals.push_back(DimPoly::parse(cast<StringAttr>(a).str()));
    ValueShape s = shaped(b.getI64Type(), se.getScalar() ? Dims{} : constDims({int64_t(vals.size())}));
    s.values = vals;
    setOut(0, s);
    return success();
  }
  if (std::optional<std::vector<ValueShape>> shapes = layerResultShapes(op, *this)) {
    for (size_t i = 0; i < shapes->size(); ++i)
      setOut(static_cast<unsigned>(i), (*shapes)[i]);
    return success();
  }
  if (op->getDialect() == nullptr || op->getDialect()->getNamespace() != "onnx") {
    for (Value r : op->getResults())
      get(r);
    return success();
  }

  StringRef name = op->getName().stripDialect();
  static const llvm::StringSet<> unary = {
      "Neg", "Abs", "Sqrt", "Reciprocal", "Exp", "Log", "Tanh", "Erf", "Sigmoid", "Relu",
      "Softplus", "Cos", "Sin", "Floor", "Ceil", "Round", "Sign", "Identity", "Gelu",
      "Softmax", "LogSoftmax", "CumSum", "Trilu", "Clip", "Dropout",
      "RotaryEmbedding", "ms.RotaryEmbedding", "RMSNormalization",
      "ms.SimplifiedLayerNormalization", "SimplifiedLayerNormalization", "ScatterND", "ScatterElements"};
  static const llvm::StringSet<> arith = {"Add", "Sub", "Mul", "Div", "Pow", "Mod",
                                          "Max", "Min", "Sum"};
  static const llvm::StringSet<> predicate = {"Equal", "Less", "LessOrEqual", "Greater",
                                              "GreaterOrEqual", "And", "Or", "Xor"};

  if (name == "Constant") {
    auto value = op->getAttrOfType<DenseElementsAttr>("value");
    if (!value)
      return op->emitError("Constant without a dense 'value' attribute");
    auto t = cast<ShapedType>(value.getType());
    ValueShape s = shaped(t.getElementType(), constDims(t.getShape()));
    if (t.getElementType().isInteger() && t.getRank() <= 1 &&
        t.getNumElements() <= kMaxTrackedValues) {
      Dims vals;
      for (const APInt &v : value.getValues<APInt>())
        vals.push_back(DimPoly(t.getElementType().isInteger(1) ? int64_t(v.getZExtValue())
                                                                : v.getSExtValue()));
      s.values = vals;
    }
    setOut(0, s);
    return success();
  }

  // Mean / inv_std_var of the normalizations: the input's shape with the
  // normalized axes (from `axis` on) kept as 1; fp32 unless stash_type says not.
  auto normStat = [&]() {
    const ValueShape &x = in(0);
    std::optional<Dims> stat;
    if (x.dims) {
      int64_t axis = normAxis(attrInt(op, "axis", -1), x.dims->size());
      stat = *x.dims;
      for (size_t i = axis; i < stat->size(); ++i)
        (*stat)[i] = DimPoly(1);
    }
    Type statType = attrInt(op, "stash_type", 1) == 1 ? Type(b.getF32Type()) : x.elementType;
    return shaped(statType, stat);
  };

  if (unary.contains(name)) {
    ValueShape s = same(0);
    if (name == "Identity")
      s.values = in(0).values;
    setOut(0, s);
    if (name == "Dropout") // mask
      setOut(1, same(0, b.getI1Type()));
    else if (name == "SimplifiedLayerNormalization" || name == "ms.SimplifiedLayerNormalization")
      setOut(1, normStat()); // inv_std_var
    return success();
  }
  if (name == "Not" || name == "IsNaN" || name == "IsInf") {
    setOut(0, same(0, b.getI1Type()));
    return success();
  }
  if (name == "Cast" || name == "CastLike") {
    Type to = name == "Cast" ? onnx::elementTypeFromOnnx(ctx, attrInt(op, "to", 1))
                             : in(1).elementType;
    if (!to)
      return op->emitError("Cast to an unsupported data type ") << attrInt(op, "to", 0);
    ValueShape s = same(0, to);
    if (to.isInteger() && !to.isInteger(1) && in(0).elementType &&
        in(0).elementType.isInteger())
      s.values = in(0).values;
    setOut(0, s);
    return success();
  }
  if (arith.contains(name) || predicate.contains(name) || name == "Where") {
    std::optional<Dims> dims = in(0).dims;
    for (unsigned i = 1; i < op->getNumOperands() && dims; ++i) {
      if (!in(i).dims) {
        dims.reset();
        break;
      }
      auto bc = broadcast(op, *dims, *in(i).dims);
      if (failed(bc))
        return failure();
      dims = *bc;
    }
    Type elt = predicate.contains(name) ? Type(b.getI1Type())
               : name == "Where"        ? in(1).elementType
                                        : in(0).elementType;
    ValueShape s = shaped(elt, dims);
    if (name == "Where") {
      auto cond = constantInts(in(0));
      if (cond && in(1).values && in(2).values && dims && dims->size() <= 1) {
        Dims vals;
        auto n = dims->empty() ? 1 : constOf((*dims)[0]);
        for (int64_t i = 0; n && i < *n; ++i) {
          auto pick = [&](const Dims &v) { return v[v.size() == 1 ? 0 : i]; };
          bool c = (*cond)[cond->size() == 1 ? 0 : i] != 0;
          vals.push_back(c ? pick(*in(1).values) : pick(*in(2).values));
        }
        if (n)
          s.values = vals;
      }
    } else if (op->getNumOperands() == 2 && in(0).values && in(1).values &&
               name != "Pow") {
      s.values = combineValues(name, *in(0).values, *in(1).values);
    } else if (op->getNumOperands() == 1) {
      s.values = in(0).values;
    }
    setOut(0, s);
    return success();
  }
  if (name == "MatMul") {
    const ValueShape &a = in(0), &c = in(1);
    if (!a.dims || !c.dims || a.dims->empty() || c.dims->empty()) {
      setOut(0, shaped(a.elementType, std::nullopt));
      return success();
    }
    Dims da = *a.dims, db = *c.dims;
    bool vecA = da.size() == 1, vecB = db.size() == 1;
    if (vecA)
      da.insert(da.begin(), DimPoly(1));
    if (vecB)
      db.push_back(DimPoly(1));
    Dim k1 = da.back(), k2 = db[db.size() - 2];
    if (constOf(k1) && constOf(k2) && *constOf(k1) != *constOf(k2))
      return op->emitError() << "inconsistent shapes: MatMul inner dimensions "
                             << *constOf(k1) << " and " << *constOf(k2);
    auto batch = broadcast(op, Dims(da.begin(), da.end() - 2), Dims(db.begin(), db.end() - 2));
    if (failed(batch))
      return failure();
    Dims out = *batch;
    if (!vecA)
      out.push_back(da[da.size() - 2]);
    if (!vecB)
      out.push_back(db.back());
    setOut(0, shaped(a.elementType, out));
    return success();
  }
  if (name == "Gemm") {
    const ValueShape &a = in(0), &c = in(1);
    if (!a.dims || !c.dims || a.dims->size() != 2 || c.dims->size() != 2)
      return op->emitError("Gemm needs 2-D inputs");
    Dim m = attrInt(op, "transA", 0) ? (*a.dims)[1] : (*a.dims)[0];
    Dim n = attrInt(op, "transB", 0) ? (*c.dims)[0] : (*c.dims)[1];
    setOut(0, shaped(a.elementType, Dims{m, n}));
    return success();
  }
  if (name == "Shape") {
    const ValueShape &x = in(0);
    if (!x.dims) {
      setOut(0, shaped(b.getI64Type(), Dims{Dim()}));
      return success();
    }
    int64_t rank = x.dims->size();
    int64_t start = attrInt(op, "start", 0), end = attrInt(op, "end", rank);
    start = std::clamp<int64_t>(normIndex(start, rank), 0, rank);
    end = std::clamp<int64_t>(normIndex(end, rank), 0, rank);
    Dims vals(x.dims->begin() + start, x.dims->begin() + std::max(start, end));
    ValueShape s = shaped(b.getI64Type(), constDims({int64_t(vals.size())}));
    s.values = vals;
    setOut(0, s);
    return success();
  }
  if (name == "Size") {
    ValueShape s = shaped(b.getI64Type(), Dims{});
    if (in(0).dims)
      s.values = Dims{product(*in(0).dims, 0, in(0).dims->size())};
    setOut(0, s);
    return success();
  }
  if (name == "Reshape") {
    auto target = valuesOf(1);
    const ValueShape &x = in(0);
    if (!target) {
      std::optional<Dims> dims;
      if (in(1).dims && in(1).dims->size() == 1)
        if (auto n = constOf((*in(1).dims)[0]))
          dims = Dims(*n);
      ValueShape s = shaped(x.elementType, dims);
      setOut(0, s);
      return success();
    }
    bool allowZero = attrInt(op, "allowzero", 0) != 0;
    Dims out = *target;
    int inferIdx = -1;
    for (size_t i = 0; i < out.size(); ++i) {
      auto c = constOf(out[i]);
      if (c && *c == 0 && !allowZero)
        out[i] = x.dims && i < x.dims->size() ? (*x.dims)[i] : Dim();
      else if (c && *c == -1)
        inferIdx = static_cast<int>(i);
    }
    if (inferIdx >= 0) {
      out[inferIdx] = std::nullopt;
      Dims known = out;
      known.erase(known.begin() + inferIdx);
      Dim total = x.dims ? product(*x.dims, 0, x.dims->size()) : Dim();
      Dim part = product(known, 0, known.size());
      if (total && part)
        out[inferIdx] = total->divExact(*part);
    }
    ValueShape s = shaped(x.elementType, out);
    if (x.values && out.size() <= 1)
      s.values = x.values;
    setOut(0, s);
    return success();
  }
  if (name == "Expand") {
    auto target = valuesOf(1);
    const ValueShape &x = in(0);
    std::optional<Dims> dims;
    if (target && x.dims) {
      auto bc = broadcast(op, *x.dims, *target);
      if (failed(bc))
        return failure();
      dims = *bc;
    } else if (in(1).dims && in(1).dims->size() == 1 && x.dims) {
      if (auto n = constOf((*in(1).dims)[0]))
        dims = Dims(std::max<size_t>(*n, x.dims->size()));
    }
    ValueShape s = shaped(x.elementType, dims);
    if (x.values && dims && dims->size() == 1 && x.values->size() == 1)
      if (auto n = constOf((*dims)[0]); n && *n <= kMaxTrackedValues)
        s.values = Dims(*n, (*x.values)[0]);
    setOut(0, s);
    return success();
  }
  if (name == "ConstantOfShape") {
    auto target = valuesOf(0);
    Type elt = b.getF32Type();
    if (auto v = op->getAttrOfType<DenseElementsAttr>("value"))
      elt = v.getElementType();
    std::optional<Dims> dims = target;
    if (!dims && in(0).dims && in(0).dims->size() == 1)
      if (auto n = constOf((*in(0).dims)[0]))
        dims = Dims(*n);
    ValueShape s = shaped(elt, dims);
    if (elt.isInteger() && dims && dims->size() <= 1) {
      auto v = op->getAttrOfType<DenseElementsAttr>("value");
      int64_t fill = v ? (*v.getValues<APInt>().begin()).getSExtValue() : 0;
      auto n = dims->empty() ? std::optional<int64_t>(1) : constOf((*dims)[0]);
      if (n && *n <= kMaxTrackedValues)
        s.values = Dims(*n, DimPoly(fill));
    }
    setOut(0, s);
    return success();
  }
  if (name == "Concat") {
    int64_t axis = attrInt(op, "axis", 0);
    std::optional<Dims> dims = in(0).dims;
    std::optional<Dims> vals = Dims{};
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      const ValueShape &x = in(i);
      if (!x.dims || !dims || x.dims->size() != dims->size()) {
        if (x.dims && dims && x.dims->size() != dims->size())
          return op->emitError("inconsistent shapes: Concat inputs of different ranks");
        dims.reset();
        vals.reset();
        break;
      }
      int64_t ax = normAxis(axis, dims->size());
      if (i > 0) {
        Dim &d = (*dims)[ax];
        d = d && (*x.dims)[ax] ? Dim(*d + *(*x.dims)[ax]) : Dim();
      }
      if (vals && x.values)
        vals->insert(vals->end(), x.values->begin(), x.values->end());
      else
        vals.reset();
    }
    ValueShape s = shaped(in(0).elementType, dims);
    if (dims && dims->size() == 1)
      s.values = vals;
    setOut(0, s);
    return success();
  }
  if (name == "Unsqueeze" || name == "Squeeze") {
    const ValueShape &x = in(0);
    auto axes = axesOf(1);
    std::optional<Dims> dims;
    if (x.dims && (axes || name == "Squeeze")) {
      if (name == "Unsqueeze") {
        int64_t rank = x.dims->size() + axes->size();
        std::vector<bool> isNew(rank, false);
        for (int64_t a : *axes) {
          int64_t ax = normAxis(a, rank);
          if (isNew[ax])
            throw Error("axis " + std::to_string(a) + " is repeated");
          isNew[ax] = true;
        }
        dims = Dims{};
        size_t j = 0;
        for (int64_t i = 0; i < rank; ++i)
          dims->push_back(isNew[i] ? Dim(DimPoly(1)) : (*x.dims)[j++]);
      } else {
        int64_t rank = x.dims->size();
        std::vector<bool> drop(rank, false);
        if (axes)
          for (int64_t a : *axes)
            drop[normAxis(a, rank)] = true;
        else
          for (int64_t i = 0; i < rank; ++i)
            drop[i] = constOf((*x.dims)[i]) == std::optional<int64_t>(1);
        dims = Dims{};
        for (int64_t i = 0; i < rank; ++i)
          if (!drop[i])
            dims->push_back((*x.dims)[i]);
      }
    }
    ValueShape s = shaped(x.elementType, dims);
    if (dims && dims->size() <= 1)
      s.values = x.values;
    setOut(0, s);
    return success();
  }
  if (name == "Transpose") {
    const ValueShape &x = in(0);
    std::optional<Dims> dims;
    if (x.dims) {
      auto perm = attrInts(op, "perm");
      std::vector<int64_t> p(x.dims->size());
      if (perm)
        p = *perm;
      else
        for (size_t i = 0; i < p.size(); ++i)
          p[i] = p.size() - 1 - i;
      if (p.size() != x.dims->size())
        return op->emitError("inconsistent shapes: Transpose perm has ")
               << p.size() << " entries for a rank-" << x.dims->size() << " input";
      // A permutation of the axes (negative ones counted from the end, as
      // the kernel takes them).
      dims = Dims{};
      std::vector<bool> seen(p.size(), false);
      for (int64_t i : p) {
        int64_t axis = normAxis(i, static_cast<int64_t>(p.size()));
        if (seen[axis])
          return op->emitError("inconsistent shapes: Transpose perm repeats axis ") << i;
        seen[axis] = true;
        dims->push_back((*x.dims)[axis]);
      }
    }
    setOut(0, shaped(x.elementType, dims));
    return success();
  }
  if (name == "Flatten") {
    const ValueShape &x = in(0);
    std::optional<Dims> dims;
    if (x.dims) {
      int64_t axis = normAxis(attrInt(op, "axis", 1), x.dims->size());
      dims = Dims{product(*x.dims, 0, axis), product(*x.dims, axis, x.dims->size())};
    }
    setOut(0, shaped(x.elementType, dims));
    return success();
  }
  if (name == "Slice") {
    const ValueShape &x = in(0);
    auto starts = valuesOf(1), ends = valuesOf(2);
    std::optional<std::vector<int64_t>> axes, steps;
    if (has(3))
      axes = constantInts(in(3));
    if (has(4))
      steps = constantInts(in(4));
    std::optional<Dims> dims;
    if (x.dims && starts && ends && (!has(3) || axes) && (!has(4) || steps)) {
      dims = *x.dims;
      for (size_t i = 0; i < starts->size(); ++i) {
        int64_t ax = axes ? normAxis((*axes)[i], x.dims->size()) : int64_t(i);
        int64_t step = steps ? (*steps)[i] : 1;
        (*dims)[ax] = sliceDim((*x.dims)[ax], (*starts)[i], (*ends)[i], step);
      }
    } else if (x.dims) {
      dims = Dims(x.dims->size());
    }
    ValueShape s = shaped(x.elementType, dims);
    // Slicing tracked values with constant bounds.
    auto cs = starts ? constantInts(in(1)) : std::nullopt;
    auto ce = ends ? constantInts(in(2)) : std::nullopt;
    if (x.values && x.dims && x.dims->size() == 1 && cs && ce && cs->size() == 1) {
      int64_t n = x.values->size(), st = steps ? (*steps)[0] : 1;
      int64_t s0 = (*cs)[0], e0 = (*ce)[0];
      if (st > 0) {
        s0 = s0 < 0 ? std::max<int64_t>(0, s0 + n) : std::min(s0, n);
        e0 = e0 < 0 ? std::max<int64_t>(0, e0 + n) : std::min(e0, n);
        Dims vals;
        for (int64_t i = s0; i < e0; i += st)
          vals.push_back((*x.values)[i]);
        s.values = vals;
      }
    }
    setOut(0, s);
    return success();
  }
  if (name == "Gather") {
    const ValueShape &x = in(0), &idx = in(1);
    std::optional<Dims> dims;
    int64_t axis = 0;
    if (x.dims && idx.dims) {
      axis = normAxis(attrInt(op, "axis", 0), x.dims->size());
      dims = Dims(x.dims->begin(), x.dims->begin() + axis);
      dims->insert(dims->end(), idx.dims->begin(), idx.dims->end());
      dims->insert(dims->end(), x.dims->begin() + axis + 1, x.dims->end());
    }
    ValueShape s = shaped(x.elementType, dims);
    auto ci = constantInts(idx);
    if (x.values && ci && axis == 0 && dims && dims->size() <= 1) {
      Dims vals;
      int64_t n = x.values->size();
      for (int64_t i : *ci) {
        int64_t k = i < 0 ? i + n : i;
        if (k < 0 || k >= n)
          return op->emitError() << "Gather index " << i << " out of range for " << n
                                 << " elements";
        vals.push_back((*x.values)[k]);
      }
      s.values = vals;
    }
    setOut(0, s);
    return success();
  }
  if (name == "GatherElements") {
    setOut(0, shaped(in(0).elementType, in(1).dims));
    return success();
  }
  if (name == "GatherND") {
    const ValueShape &x = in(0), &idx = in(1);
    std::optional<Dims> dims;
    int64_t bdims = attrInt(op, "batch_dims", 0);
    if (x.dims && idx.dims && !idx.dims->empty())
      if (auto last = constOf(idx.dims->back())) {
        const int64_t rank = static_cast<int64_t>(x.dims->size());
        if (bdims < 0 || *last < 0 || bdims + *last > rank)
          return op->emitError() << "GatherND with batch_dims " << bdims << " and index tuples of "
                                 << *last << " does not fit data of rank " << rank;
        dims = Dims(idx.dims->begin(), idx.dims->end() - 1);
        dims->insert(dims->end(), x.dims->begin() + bdims + *last, x.dims->end());
      }
    setOut(0, shaped(x.elementType, dims));
    return success();
  }
  if (name == "Range") {
    ValueShape s = shaped(in(0).elementType, Dims{Dim()});
    if (in(0).values && in(1).values && in(2).values) {
      Dim st = (*in(0).values)[0], lim = (*in(1).values)[0];
      auto delta = constOf((*in(2).values)[0]);
      if (st && lim && delta && *delta == 1)
        (*s.dims)[0] = *lim - *st;
      else if (constOf(st) && constOf(lim) && delta && *delta != 0) {
        int64_t n = (*constOf(lim) - *constOf(st) + *delta - (*delta > 0 ? 1 : -1)) / *delta;
        (*s.dims)[0] = DimPoly(std::max<int64_t>(0, n));
      }
      auto n = constOf((*s.dims)[0]);
      if (n && constOf(st) && delta && *n <= kMaxTrackedValues) {
        Dims vals;
        for (int64_t i = 0; i < *n; ++i)
          vals.push_back(DimPoly(*constOf(st) + i * *delta));
        s.values = vals;
      }
    }
    setOut(0, s);
    return success();
  }
  if (name == "Tile") {
    const ValueShape &x = in(0);
    auto reps = valuesOf(1);
    std::optional<Dims> dims;
    if (x.dims && reps && reps->size() == x.dims->size()) {
      dims = Dims{};
      for (size_t i = 0; i < reps->size(); ++i)
        dims->push_back((*x.dims)[i] && (*reps)[i] ? Dim(*(*x.dims)[i] * *(*reps)[i]) : Dim());
    } else if (x.dims) {
      dims = Dims(x.dims->size());
    }
    setOut(0, shaped(x.elementType, dims));
    return success();
  }
  if (name == "Pad") {
    const ValueShape &x = in(0);
    auto pads = has(1) ? constantInts(in(1)) : std::nullopt;
    std::optional<Dims> dims;
    if (x.dims) {
      dims = *x.dims;
      if (pads && !has(3) && pads->size() == 2 * dims->size()) {
        for (size_t i = 0; i < dims->size(); ++i)
          if ((*dims)[i])
            (*dims)[i] = *(*dims)[i] + DimPoly((*pads)[i] + (*pads)[i + dims->size()]);
      } else {
        dims = Dims(x.dims->size());
      }
    }
    setOut(0, shaped(x.elementType, dims));
    return success();
  }
  if (name.starts_with("Reduce") || name == "ArgMax") {
    const ValueShape &x = in(0);
    bool keep = attrInt(op, "keepdims", 1) != 0;
    Type elt = name == "ArgMax" ? Type(b.getI64Type()) : x.elementType;
    std::optional<std::vector<int64_t>> axes;
    if (name == "ArgMax")
      axes = std::vector<int64_t>{attrInt(op, "axis", 0)};
    else
      axes = axesOf(1);
    std::optional<Dims> dims;
    bool noAxes = !axes || axes->empty();
    if (x.dims && (axes || !has(1))) {
      int64_t rank = x.dims->size();
      std::vector<bool> red(rank, false);
      if (noAxes) {
        if (attrInt(op, "noop_with_empty_axes", 0) == 0)
          red.assign(rank, true);
      } else {
        for (int64_t a : *axes)
          red[normAxis(a, rank)] = true;
      }
      dims = Dims{};
      for (int64_t i = 0; i < rank; ++i) {
        if (!red[i])
          dims->push_back((*x.dims)[i]);
        else if (keep)
          dims->push_back(DimPoly(1));
      }
    }
    ValueShape s = shaped(elt, dims);
    if (name == "ReduceProd" && x.values && dims && dims->size() <= 1 && noAxes) {
      Dim p = DimPoly(1);
      for (const Dim &d : *x.values)
        p = p && d ? Dim(*p * *d) : Dim();
      s.values = Dims{p};
    }
    setOut(0, s);
    return success();
  }
  if (name == "Split") {
    const ValueShape &x = in(0);
    unsigned n = op->getNumResults();
    std::optional<std::vector<int64_t>> sizes;
    if (has(1))
      sizes = constantInts(in(1));
    else if (auto a = attrInts(op, "split"))
      sizes = a;
    for (unsigned i = 0; i < n; ++i) {
      std::optional<Dims> dims;
      if (x.dims) {
        int64_t axis = normAxis(attrInt(op, "axis", 0), x.dims->size());
        dims = *x.dims;
        auto total = constOf((*x.dims)[axis]);
        if (sizes && i < sizes->size())
          (*dims)[axis] = DimPoly((*sizes)[i]);
        else if (total) {
          int64_t chunk = (*total + n - 1) / n; // the last chunk takes the rest
          (*dims)[axis] = DimPoly(i + 1 < n ? chunk : *total - chunk * (n - 1));
        } else
          (*dims)[axis] = std::nullopt;
      }
      setOut(i, shaped(x.elementType, dims));
    }
    return success();
  }
  if (name == "LayerNormalization") {
    setOut(0, same(0));
    setOut(1, normStat());
    setOut(2, normStat());
    return success();
  }
  if (name == "ms.SkipSimplifiedLayerNormalization") {
    setOut(0, same(0));
    setOut(3, same(0));
    std::optional<Dims> stat;
    if (in(0).dims) {
      stat = *in(0).dims;
      stat->back() = DimPoly(1);
    }
    setOut(1, shaped(b.getF32Type(), stat));
    setOut(2, shaped(b.getF32Type(), stat));
    return success();
  }
  if (name == "Attention") {
    // Q [B, qH, S, D] or [B, S, qH*D]; K/V likewise with kvH and (past +) L.
    const ValueShape &q = in(0), &k = in(1), &v = in(2);
    std::optional<Dims> out, present;
    if (q.dims && k.dims && v.dims && q.dims->size() == 4 && v.dims->size() == 4) {
      out = Dims{(*q.dims)[0], (*q.dims)[1], (*q.dims)[2], (*v.dims)[3]};
    } else if (q.dims && v.dims && q.dims->size() == 3 && v.dims->size() == 3) {
      int64_t qh = attrInt(op, "q_num_heads", 0), kvh = attrInt(op, "kv_num_heads", 0);
      Dim dv = (*v.dims)[2] && kvh ? (*v.dims)[2]->divExact(DimPoly(kvh)) : Dim();
      out = Dims{(*q.dims)[0], (*q.dims)[1], dv && qh ? Dim(*dv * DimPoly(qh)) : Dim()};
    }
    setOut(0, shaped(q.elementType, out));
    for (unsigned r = 1; r <= 2; ++r) {
      const ValueShape &src = in(r); // K for present_key, V for present_value
      const ValueShape &past = in(r + 3);
      std::optional<Dims> p;
      if (src.dims && src.dims->size() == 4) {
        p = *src.dims;
        if (has(r + 3) && past.dims && past.dims->size() == 4)
          (*p)[2] = (*past.dims)[2] && (*p)[2] ? Dim(*(*past.dims)[2] + *(*p)[2]) : Dim();
      } else if (src.dims) {
        p = Dims(4);
      }
      setOut(r, shaped(q.elementType, p));
    }
    setOut(3, shaped(q.elementType, std::optional<Dims>(Dims(4))));
    return success();
  }
  if (name == "ms.GroupQueryAttention" || name == "ms.MultiHeadAttention") {
    const ValueShape &q = in(0);
    int64_t heads = attrInt(op, "num_heads", 0);
    bool gqa = name == "ms.GroupQueryAttention";
    int64_t kvHeads = gqa ? attrInt(op, "kv_num_heads", 0) : heads;
    std::optional<Dims> out;
    Dim headDim;
    if (q.dims && q.dims->size() == 3) {
      Dim hidden = (*q.dims)[2];
      bool packed = !has(1);
      int64_t parts = packed ? heads + 2 * kvHeads : heads;
      headDim = hidden ? hidden->divExact(DimPoly(parts)) : Dim();
      out = Dims{(*q.dims)[0], (*q.dims)[1], headDim ? Dim(*headDim * DimPoly(heads)) : Dim()};
    }
    setOut(0, shaped(q.elementType, out));
    // present_key / present_value: [B, kvH, total, D].
    unsigned pastIdx = gqa ? 3 : 6;
    Dim total;
    if (gqa) {
      // onnxruntime's present is max(total_sequence_length, past buffer
      // length): a shared buffer longer than the total keeps its length.
      Dim t = in(6).values && !in(6).values->empty() ? (*in(6).values)[0] : Dim();
      Dim buf = has(pastIdx) && in(pastIdx).dims && in(pastIdx).dims->size() == 4
                    ? (*in(pastIdx).dims)[2]
                    : Dim();
      if (!has(pastIdx))
        total = t;
      else if (constOf(t) && constOf(buf))
        total = DimPoly(std::max(*constOf(t), *constOf(buf)));
      else if (t && buf && *t == *buf)
        total = t;
    }
    if (!gqa && has(pastIdx) && in(pastIdx).dims && has(1) && in(1).dims &&
        in(1).dims->size() == 3) {
      Dim past = (*in(pastIdx).dims)[2], cur = (*in(1).dims)[1];
      total = past && cur ? Dim(*past + *cur) : Dim();
    } else if (!gqa && has(1) && in(1).dims && in(1).dims->size() == 3 && !has(pastIdx)) {
      total = (*in(1).dims)[1];
    }
    Dim batch = q.dims && !q.dims->empty() ? (*q.dims)[0] : Dim();
    for (unsigned r = 1; r <= 2; ++r)
      setOut(r, shaped(q.elementType, Dims{batch, DimPoly(kvHeads), total, headDim}));
    return success();
  }
  return op->emitError() << "no shape inference rule for '" << op->getName() << "'";
}

} // namespace resa
