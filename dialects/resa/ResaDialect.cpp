#include "dialects/resa/ResaDialect.h"

#include "resa/kernels/Tensor.h"
#include "resa/runtime/DimPoly.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;

#include "dialects/resa/ResaDialect.cpp.inc"

namespace resa::ir {

void ResaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/resa/ResaOps.cpp.inc"
      >();
}

LogicalResult WeightOp::verify() {
  if (getStoredType() && !cast<ShapedType>(getType()).getElementType().isF32())
    return emitOpError("with a stored_type must have an f32 result, got ") << getType();
  if (auto parts = getColumnsOf();
      parts && (parts->size() < 2 || cast<ShapedType>(getType()).getRank() != 2))
    return emitOpError("columns_of names >= 2 weights of a 2-D result, got ")
           << parts->size() << " for " << getType();
  return success();
}

LogicalResult ConcatColumnsOp::verify() {
  auto result = cast<RankedTensorType>(getType());
  if (getParts().size() < 2 || result.getRank() != 2)
    return emitOpError("concatenates >= 2 matrices into a 2-D result");
  int64_t columns = 0;
  for (Value part : getParts()) {
    auto t = cast<RankedTensorType>(part.getType());
    if (t.getRank() != 2 || t.getElementType() != result.getElementType() ||
        t.getDimSize(0) != result.getDimSize(0) || t.isDynamicDim(1))
      return emitOpError("parts must be static [K, N] matrices of the result's K and element "
                         "type, got ")
             << t << " for " << result;
    columns += t.getDimSize(1);
  }
  if (result.isDynamicDim(1) || result.getDimSize(1) != columns)
    return emitOpError("result must have ") << columns << " columns, got " << result;
  return success();
}

LogicalResult ShapeExprOp::verify() {
  auto type = cast<RankedTensorType>(getType());
  if (!type.getElementType().isInteger(64))
    return emitOpError("result must hold int64, got ") << type.getElementType();
  for (Attribute a : getExprs()) {
    try {
      DimPoly::parse(cast<StringAttr>(a).str());
    } catch (const Error &e) {
      return emitOpError() << e.what();
    }
  }
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

// Shared by resa.attention, resa.cache_attention and the rotary forms of the
// latter and of resa.cache_write.
template <typename AttentionOp> static LogicalResult verifyAttention(AttentionOp op) {
  int64_t heads = op.getNumHeads(), kvHeads = op.getKvHeads();
  if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
    return op.emitOpError() << "num_heads (" << heads << ") must be a positive multiple of "
                            << "kv_heads (" << kvHeads << ")";
  auto q = cast<RankedTensorType>(op.getQ().getType());
  auto k = cast<RankedTensorType>(op.getK().getType());
  auto v = cast<RankedTensorType>(op.getV().getType());
  auto staticEq = [](int64_t a, int64_t b) {
    return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
  };
  StringRef layout = op.getLayout();
  if (layout == "bhsd") {
    if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4)
      return op.emitOpError("layout bhsd takes rank-4 q, k and v");
    if (!staticEq(q.getDimSize(1), heads))
      return op.emitOpError() << "q has " << q.getDimSize(1) << " heads, num_heads is " << heads;
    if (!staticEq(k.getDimSize(1), kvHeads) || !staticEq(v.getDimSize(1), kvHeads))
      return op.emitOpError() << "k and v must have kv_heads = " << kvHeads << " heads";
    if (!staticEq(q.getDimSize(3), k.getDimSize(3)))
      return op.emitOpError("q and k head sizes differ");
    return success();
  }
  if (layout == "bsd") {
    if (q.getRank() != 3 || k.getRank() != 3 || v.getRank() != 3)
      return op.emitOpError("layout bsd takes rank-3 q, k and v");
    int64_t qd = q.getDimSize(2), kd = k.getDimSize(2);
    if (!ShapedType::isDynamic(qd) && !ShapedType::isDynamic(kd) &&
        (qd % heads != 0 || kd % kvHeads != 0 || qd / heads != kd / kvHeads))
      return op.emitOpError() << "q width " << qd << " over " << heads
                              << " heads and k width " << kd << " over " << kvHeads
                              << " heads give different head sizes";
    return success();
  }
  return op.emitOpError() << "layout must be \"bhsd\" or \"bsd\", got \"" << layout << "\"";
}

LogicalResult AttentionOp::verify() { return verifyAttention(*this); }

LogicalResult BlockSelectOp::verify() {
  float ratio = getKeptRatio().convertToFloat();
  if (!(ratio >= 0.0f && ratio <= 1.0f))
    return emitOpError() << "kept_ratio must be in [0, 1], got " << ratio;
  if (getMinBlocksAttr().getInt() < 0 || getLocalBlocksAttr().getInt() < 0)
    return emitOpError("min_blocks and local_blocks must not be negative");
  int64_t heads = getNumHeadsAttr().getInt(), kvHeads = getKvHeadsAttr().getInt();
  if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
    return emitOpError("num_heads must be a positive multiple of kv_heads");
  return success();
}

// A module holds at most one op of this kind (a policy or pipeline pass
// run twice would add a second).
template <typename OpT> static LogicalResult verifyUnique(OpT op) {
  auto module = op->template getParentOfType<ModuleOp>();
  auto all = module.template getOps<OpT>();
  if (std::distance(all.begin(), all.end()) > 1)
    return op.emitOpError("appears more than once in the module");
  return success();
}

LogicalResult GsrPipelineOp::verify() {
  if (failed(verifyUnique(*this)))
    return failure();
  if (getCandidatesAttr().getInt() < 1)
    return emitOpError() << "needs at least one candidate, got " << getCandidatesAttr().getInt();
  for (auto [name, t, p, n] :
       {std::tuple{"candidate", getCandidateTemperature(), getCandidateTopP(),
                   getCandidateMaxTokensAttr().getInt()},
        std::tuple{"refinement", getRefineTemperature(), getRefineTopP(),
                   getRefineMaxTokensAttr().getInt()}}) {
    if (!(t.convertToFloat() >= 0.0f))
      return emitOpError() << name << " temperature must be >= 0";
    if (!(p.convertToFloat() > 0.0f && p.convertToFloat() <= 1.0f))
      return emitOpError() << name << " top-p must be in (0, 1]";
    if (n < 1)
      return emitOpError() << name << " max tokens must be >= 1, got " << n;
  }
  for (StringRef placeholder : {"{problem}", "{candidates}"})
    if (!getRefineTemplate().contains(placeholder))
      return emitOpError() << "the refinement template lacks the placeholder " << placeholder;
  StringRef answer = getAnswer();
  if (answer != "last-number" && answer != "boxed" &&
      !(answer.starts_with("after:") && answer.size() > 6))
    return emitOpError() << "answer rule must be last-number, boxed or after:<marker>, got '"
                         << answer << "'";
  auto module = (*this)->getParentOfType<ModuleOp>();
  for (StringRef fn : {"prefill", "decode"})
    if (!SymbolTable::lookupSymbolIn(module, StringAttr::get(getContext(), fn)))
      return emitOpError() << "needs a KV-cache program (no @" << fn << ")";
  return success();
}

LogicalResult RectificationScheduleOp::verify() {
  if (failed(verifyUnique(*this)))
    return failure();
  int64_t interval = getIntervalAttr().getInt(), window = getWindowAttr().getInt();
  if (interval <= 0 || window <= 0)
    return emitOpError() << "interval and window must be positive, got " << interval << " and "
                         << window;
  if (window > interval)
    return emitOpError() << "window " << window << " exceeds interval " << interval
                         << ": it would re-encode tokens that the previous rectification "
                            "already did";
  auto module = (*this)->getParentOfType<ModuleOp>();
  if (!SymbolTable::lookupSymbolIn(module, getFunctionAttr()))
    return emitOpError() << "function " << getFunctionAttr() << " does not exist";
  return success();
}
LogicalResult CacheAttentionOp::verify() { return verifyAttention(*this); }

// resa.rotary_cache_attention and resa.rotary_cache_write: q, k and v as
// resa.cache_attention takes them, and resa.rotary's rules for q (rotated
// into rotatedQ: q's own type, or the write's result) and k (rotated in
// place of type).
template <typename RotaryCacheOp>
static LogicalResult verifyRotaryCache(RotaryCacheOp op, Type rotatedQ) {
  if (failed(verifyAttention(op)))
    return failure();
  if (failed(verifyRotary(op, op.getQ(), op.getCos(), op.getSin(), rotatedQ, op.getNumHeads(),
                          op.getRotaryDim(), op.getInterleaved())) ||
      failed(verifyRotary(op, op.getK(), op.getCos(), op.getSin(), op.getK().getType(),
                          op.getKvHeads(), op.getRotaryDim(), op.getInterleaved())))
    return failure();
  return success();
}

LogicalResult RotaryCacheAttentionOp::verify() { return verifyRotaryCache(*this, getQ().getType()); }
LogicalResult RotaryCacheWriteOp::verify() { return verifyRotaryCache(*this, getResult().getType()); }

} // namespace resa::ir

#define GET_OP_CLASSES
#include "dialects/resa/ResaOps.cpp.inc"
