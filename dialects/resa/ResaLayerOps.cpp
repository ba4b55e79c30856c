// Verifiers of the layer ops (ResaLayerOps.td): ranks, the static dims that
// must agree, and attribute ranges.
#include "dialects/resa/ResaDialect.h"

#include "mlir/IR/Builders.h"

#include <cmath>

using namespace mlir;

namespace resa::ir {
namespace {

bool dimsAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

RankedTensorType ranked(Value v) { return cast<RankedTensorType>(v.getType()); }

int64_t lastDim(RankedTensorType t) { return t.getRank() ? t.getDimSize(t.getRank() - 1) : 1; }

// A float tensor operand of a given rank (-1: any rank >= 1).
LogicalResult requireFloat(Operation *op, Value v, const char *what, int64_t rank = -1) {
  auto t = ranked(v);
  if (!isa<FloatType>(t.getElementType()))
    return op->emitOpError() << what << " must hold floats, got " << t;
  if (rank >= 0 && t.getRank() != rank)
    return op->emitOpError() << what << " must have rank " << rank << ", got " << t;
  if (rank < 0 && t.getRank() < 1)
    return op->emitOpError() << what << " must have rank >= 1, got " << t;
  return success();
}

// Result `index` has x's shape except the last dim, which is `last`.
LogicalResult requireResult(Operation *op, RankedTensorType x, int64_t last, unsigned index = 0) {
  auto r = ranked(op->getResult(index));
  if (r.getRank() != x.getRank())
    return op->emitOpError() << "result must have rank " << x.getRank() << ", got " << r;
  for (int64_t d = 0; d + 1 < x.getRank(); ++d)
    if (!dimsAgree(r.getDimSize(d), x.getDimSize(d)))
      return op->emitOpError() << "result dim " << d << " (" << r.getDimSize(d)
                               << ") differs from the input's (" << x.getDimSize(d) << ")";
  if (!dimsAgree(lastDim(r), last))
    return op->emitOpError() << "result's last dim must be " << last << ", got " << r;
  return success();
}

// A projection weight [in, out] applied to x [..., in].
LogicalResult verifyProjection(Operation *op, Value x, Value w, const char *what) {
  if (failed(requireFloat(op, x, "x")) || failed(requireFloat(op, w, what, 2)))
    return failure();
  int64_t in = lastDim(ranked(x)), win = ranked(w).getDimSize(0);
  if (!dimsAgree(in, win))
    return op->emitOpError() << what << " has " << win << " input rows, x has width " << in;
  return success();
}

// A norm's per-column parameter: [hidden] of the normalised operand x
// (named `xName` in messages).
LogicalResult verifyNormParam(Operation *op, Value x, Value p, const char *what,
                              const char *xName = "x") {
  if (failed(requireFloat(op, p, what, 1)))
    return failure();
  if (!dimsAgree(ranked(p).getDimSize(0), lastDim(ranked(x))))
    return op->emitOpError() << what << " has " << ranked(p).getDimSize(0) << " elements, "
                             << xName << " has width " << lastDim(ranked(x));
  return success();
}

LogicalResult verifyEpsilon(Operation *op, APFloat eps) {
  double e = eps.convertToDouble();
  if (!(e >= 0.0) || std::isinf(e))
    return op->emitOpError() << "epsilon must be finite and >= 0, got " << e;
  return success();
}

} // namespace

LogicalResult EmbeddingOp::verify() {
  if (failed(requireFloat(*this, getTable(), "table", 2)))
    return failure();
  auto ids = ranked(getIds());
  if (!ids.getElementType().isInteger(64) && !ids.getElementType().isInteger(32))
    return emitOpError() << "ids must hold int64 or int32, got " << ids;
  auto r = ranked(getResult());
  if (r.getRank() != ids.getRank() + 1)
    return emitOpError() << "result must have rank " << ids.getRank() + 1 << ", got " << r;
  for (int64_t d = 0; d < ids.getRank(); ++d)
    if (!dimsAgree(r.getDimSize(d), ids.getDimSize(d)))
      return emitOpError() << "result dim " << d << " differs from the ids'";
  if (!dimsAgree(lastDim(r), ranked(getTable()).getDimSize(1)))
    return emitOpError() << "result width " << lastDim(r) << " differs from the table's "
                         << ranked(getTable()).getDimSize(1);
  return success();
}

LogicalResult RMSNormOp::verify() {
  if (failed(requireFloat(*this, getX(), "x")) ||
      failed(verifyNormParam(*this, getX(), getWeight(), "weight")) ||
      failed(verifyEpsilon(*this, getEpsilon())))
    return failure();
  if (auto off = getWeightOffsetAttr(); off && !std::isfinite(off.getValueAsDouble()))
    return emitOpError("weight_offset must be finite");
  return requireResult(*this, ranked(getX()), lastDim(ranked(getX())));
}

LogicalResult AddRMSNormOp::verify() {
  if (failed(requireFloat(*this, getA(), "a")) || failed(requireFloat(*this, getB(), "b")) ||
      failed(verifyNormParam(*this, getA(), getWeight(), "weight")) ||
      failed(verifyEpsilon(*this, getEpsilon())))
    return failure();
  if (getA().getType() != getB().getType())
    return emitOpError() << "a and b must have one type (no broadcasting), got " << getA().getType()
                         << " and " << getB().getType();
  if (auto off = getWeightOffsetAttr(); off && !std::isfinite(off.getValueAsDouble()))
    return emitOpError("weight_offset must be finite");
  const int64_t width = lastDim(ranked(getA()));
  if (failed(requireResult(*this, ranked(getA()), width, 0)))
    return failure();
  return requireResult(*this, ranked(getA()), width, 1);
}

LogicalResult LayerNormOp::verify() {
  if (failed(requireFloat(*this, getX(), "x")) ||
      failed(verifyNormParam(*this, getX(), getWeight(), "weight")) ||
      (getBias() && failed(verifyNormParam(*this, getX(), getBias(), "bias"))) ||
      failed(verifyEpsilon(*this, getEpsilon())))
    return failure();
  return requireResult(*this, ranked(getX()), lastDim(ranked(getX())));
}

LogicalResult LinearOp::verify() {
  if (failed(verifyProjection(*this, getX(), getWeight(), "weight")))
    return failure();
  int64_t out = ranked(getWeight()).getDimSize(1);
  if (getBias()) {
    if (failed(requireFloat(*this, getBias(), "bias", 1)))
      return failure();
    if (!dimsAgree(ranked(getBias()).getDimSize(0), out))
      return emitOpError() << "bias has " << ranked(getBias()).getDimSize(0)
                           << " elements, the weight " << out << " columns";
  }
  return requireResult(*this, ranked(getX()), out);
}

// resa.multi_linear's bias `b` (none, or 1-D float with `out` elements).
static LogicalResult verifyMultiBias(MultiLinearOp op, Value b, unsigned i, int64_t out) {
  if (isa<NoneType>(b.getType()))
    return success();
  if (!isa<RankedTensorType>(b.getType()) || failed(requireFloat(op, b, "bias", 1)))
    return op.emitOpError() << "bias " << i << " must be none or a 1-D float tensor";
  if (!dimsAgree(ranked(b).getDimSize(0), out))
    return op.emitOpError() << "bias " << i << " has " << ranked(b).getDimSize(0)
                            << " elements, its weight " << out << " columns";
  return success();
}

// The fused form: one weight whose columns the results split by `widths`.
static LogicalResult verifyFusedMultiLinear(MultiLinearOp op, ArrayRef<int64_t> widths) {
  auto params = op.getParams();
  if (op.getNumResults() < 2 || widths.size() != op.getNumResults() ||
      params.size() != 1 + widths.size())
    return op.emitOpError() << "with widths takes one weight and a bias (or none) per width, "
                               "and gives a result per width, >= 2; got "
                            << params.size() << " params, " << widths.size() << " widths for "
                            << op.getNumResults() << " results";
  Value w = params[0];
  if (!isa<RankedTensorType>(w.getType()))
    return op.emitOpError() << "weight must be a ranked tensor";
  if (failed(verifyProjection(op, op.getX(), w, "weight")))
    return failure();
  int64_t total = 0;
  for (int64_t n : widths) {
    if (n <= 0)
      return op.emitOpError() << "widths must be positive";
    total += n;
  }
  int64_t columns = ranked(w).getDimSize(1);
  if (!dimsAgree(columns, total))
    return op.emitOpError() << "widths add up to " << total << ", the weight has " << columns
                            << " columns";
  for (auto [i, n] : llvm::enumerate(widths))
    if (failed(verifyMultiBias(op, params[1 + i], i, n)) ||
        failed(requireResult(op, ranked(op.getX()), n, i)))
      return failure();
  return success();
}

LogicalResult MultiLinearOp::verify() {
  if (auto widths = getWidths())
    return verifyFusedMultiLinear(*this, *widths);
  auto params = getParams();
  if (getNumResults() < 2 || params.size() != 2 * getNumResults())
    return emitOpError() << "takes a weight and a bias (or none) per result, and >= 2 results; "
                            "got "
                         << params.size() << " params for " << getNumResults() << " results";
  for (unsigned i = 0; i < getNumResults(); ++i) {
    Value w = params[2 * i], b = params[2 * i + 1];
    if (!isa<RankedTensorType>(w.getType()))
      return emitOpError() << "weight " << i << " must be a ranked tensor";
    if (failed(verifyProjection(*this, getX(), w, "weight")))
      return failure();
    int64_t out = ranked(w).getDimSize(1);
    if (failed(verifyMultiBias(*this, b, i, out)))
      return failure();
    if (failed(requireResult(*this, ranked(getX()), out, i)))
      return failure();
  }
  return success();
}

LogicalResult LogitsOp::verify() {
  if (failed(verifyProjection(*this, getX(), getWeight(), "weight")))
    return failure();
  return requireResult(*this, ranked(getX()), ranked(getWeight()).getDimSize(1));
}

// resa.rotary's rules for one x (RotaryOp, each of MultiRotaryOp's, and
// RotaryCacheAttentionOp's q and k).
LogicalResult verifyRotary(Operation *op, Value xv, Value cos, Value sin, Type result, int64_t heads,
                           int64_t rot, int64_t inter) {
  auto x = ranked(xv);
  if (x.getRank() != 3 && x.getRank() != 4)
    return op->emitOpError() << "x must be [B, H, S, D] or [B, S, H*D], got " << x;
  if (failed(requireFloat(op, xv, "x")) || failed(requireFloat(op, cos, "cos", 3)) ||
      failed(requireFloat(op, sin, "sin", 3)))
    return failure();
  if (cos.getType() != sin.getType())
    return op->emitOpError() << "cos and sin types differ: " << cos.getType() << " vs "
                             << sin.getType();
  if (result != xv.getType())
    return op->emitOpError("result type must be x's type");
  if (heads <= 0)
    return op->emitOpError() << "num_heads must be positive, got " << heads;
  if (inter != 0 && inter != 1)
    return op->emitOpError() << "interleaved must be 0 or 1, got " << inter;
  if (rot <= 0 || rot % 2)
    return op->emitOpError() << "rotary_dim must be positive and even, got " << rot;
  int64_t headSize = ShapedType::kDynamic;
  if (x.getRank() == 4) {
    if (!dimsAgree(x.getDimSize(1), heads))
      return op->emitOpError() << "x has " << x.getDimSize(1) << " heads, num_heads is " << heads;
    headSize = x.getDimSize(3);
  } else if (!x.isDynamicDim(2)) {
    if (x.getDimSize(2) % heads)
      return op->emitOpError() << "width " << x.getDimSize(2)
                               << " is not a multiple of num_heads " << heads;
    headSize = x.getDimSize(2) / heads;
  }
  if (!ShapedType::isDynamic(headSize) && rot > headSize)
    return op->emitOpError() << "rotary_dim " << rot << " exceeds the head size " << headSize;
  auto c = ranked(cos);
  int64_t w = c.getDimSize(2);
  if (!ShapedType::isDynamic(w) && w != rot && w != rot / 2)
    return op->emitOpError() << "cos width " << w << " must be rotary_dim (" << rot
                             << ") or rotary_dim / 2";
  return success();
}

LogicalResult RotaryOp::verify() {
  return verifyRotary(*this, getX(), getCos(), getSin(), getResult().getType(), getNumHeads(),
                      getRotaryDim(), getInterleaved());
}

LogicalResult MultiRotaryOp::verify() {
  auto xs = getXs();
  ArrayRef<int64_t> heads = getNumHeads();
  if (xs.size() < 2 || getNumResults() != xs.size() || heads.size() != xs.size())
    return emitOpError() << "takes >= 2 tensors with a num_heads and a result each; got "
                         << xs.size() << " tensors, " << heads.size() << " num_heads, "
                         << getNumResults() << " results";
  for (auto [i, x] : llvm::enumerate(xs))
    if (failed(verifyRotary(*this, x, getCos(), getSin(), getResult(i).getType(), heads[i],
                            getRotaryDim(), getInterleaved())))
      return failure();
  return success();
}

namespace {

// A gated MLP's activation and weights ((gate, up, down) or (gate_up,
// down)) applied to x; *out gets the down weight's width.
LogicalResult verifyGatedWeights(Operation *op, Value x, ValueRange weights, StringRef act, int64_t *out) {
  if (act != "silu" && act != "gelu_tanh" && act != "gelu")
    return op->emitOpError() << "activation must be \"silu\", \"gelu_tanh\" or \"gelu\", got \"" << act
                             << "\"";
  if (weights.size() != 2 && weights.size() != 3)
    return op->emitOpError() << "takes (gate, up, down) or (gate_up, down) weights, got " << weights.size();
  for (Value w : weights.drop_back())
    if (failed(verifyProjection(op, x, w, "gate/up weight")))
      return failure();
  Value down = weights.back();
  if (failed(requireFloat(op, down, "down weight", 2)))
    return failure();
  int64_t inter = ranked(weights[0]).getDimSize(1);
  if (weights.size() == 2) {
    if (!ShapedType::isDynamic(inter) && inter % 2)
      return op->emitOpError() << "fused gate_up weight has an odd width " << inter;
    inter = ShapedType::isDynamic(inter) ? inter : inter / 2;
  } else if (!dimsAgree(inter, ranked(weights[1]).getDimSize(1))) {
    return op->emitOpError("gate and up weights have different widths");
  }
  if (!dimsAgree(inter, ranked(down).getDimSize(0)))
    return op->emitOpError() << "down weight has " << ranked(down).getDimSize(0)
                             << " input rows, the intermediate width is " << inter;
  *out = ranked(down).getDimSize(1);
  return success();
}

} // namespace

LogicalResult GatedMLPOp::verify() {
  int64_t out;
  if (failed(verifyGatedWeights(*this, getX(), getWeights(), getActivation(), &out)))
    return failure();
  return requireResult(*this, ranked(getX()), out);
}

LogicalResult ProjectionAddRMSNormOp::verify() {
  auto weights = getWeights();
  int64_t out;
  if (weights.size() == 1) {
    if (getActivation())
      return emitOpError("a single weight is a linear projection: no activation");
    if (failed(verifyProjection(*this, getX(), weights[0], "weight")))
      return failure();
    out = ranked(weights[0]).getDimSize(1);
  } else {
    if (!getActivation())
      return emitOpError("a gated MLP's weights need an activation");
    if (failed(verifyGatedWeights(*this, getX(), weights, *getActivation(), &out)))
      return failure();
  }
  if (failed(requireFloat(*this, getResidual(), "residual")))
    return failure();
  auto x = ranked(getX()), residual = ranked(getResidual());
  if (residual.getElementType() != x.getElementType() || residual.getRank() != x.getRank())
    return emitOpError() << "residual " << residual << " must be the projection's type (x " << x
                         << " with the last dim " << out << ")";
  if (failed(requireResult(*this, x, out, 0)) || failed(requireResult(*this, x, out, 1)))
    return failure();
  for (unsigned i = 0; i < 2; ++i)
    if (getOperation()->getResult(i).getType() != residual)
      return emitOpError() << "result " << i << " must have the residual's type " << residual << ", got "
                           << getOperation()->getResult(i).getType();
  if (failed(verifyNormParam(*this, getResidual(), getNormWeight(), "norm weight", "the residual")) ||
      failed(verifyEpsilon(*this, getEpsilon())))
    return failure();
  if (auto off = getWeightOffsetAttr(); off && !std::isfinite(off.getValueAsDouble()))
    return emitOpError("weight_offset must be finite");
  return success();
}

} // namespace resa::ir
