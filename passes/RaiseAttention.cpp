// resa-raise-attention: see Passes.td.
#include "passes/CausalMask.h"
#include "passes/Passes.h"
#include "passes/RaiseUtil.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"

#include <cmath>

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_RAISEATTENTION
#include "passes/Passes.h.inc"

namespace {

using raise::intsConstant;
using raise::producer;
using raise::scalarConstant;

// x * c or c * x (or x / c) with c a scalar constant: returns x and folds c
// into `scale`.
Value peelScale(Value v, double &scale) {
  while (true) {
    Operation *op = v.getDefiningOp();
    if (!op || op->getNumOperands() != 2 || !isa<onnx::MulOp, onnx::DivOp>(op))
      return v;
    auto c1 = scalarConstant(op->getOperand(1));
    auto c0 = scalarConstant(op->getOperand(0));
    if (isa<onnx::DivOp>(op)) {
      if (!c1)
        return v;
      scale /= *c1;
      v = op->getOperand(0);
    } else if (c1) {
      scale *= *c1;
      v = op->getOperand(0);
    } else if (c0) {
      scale *= *c0;
      v = op->getOperand(1);
    } else {
      return v;
    }
  }
}

// HF's repeat_kv: Reshape(Expand(Unsqueeze(x, [2]), [B, kvH, n, S, D]),
// [B, kvH*n, S, D]). Returns x, or v itself when v is not repeated.
Value peelRepeatKV(Value v) {
  auto reshape = producer<onnx::ReshapeOp>(v);
  if (!reshape)
    return v;
  auto expand = producer<onnx::ExpandOp>(reshape->getOperand(0));
  if (!expand)
    return v;
  auto unsq = producer<onnx::UnsqueezeOp>(expand->getOperand(0));
  if (!unsq || unsq->getNumOperands() != 2 || intsConstant(unsq->getOperand(1)) != std::vector<int64_t>{2})
    return v;
  Value x = unsq->getOperand(0);
  auto xt = dyn_cast<RankedTensorType>(x.getType());
  return xt && xt.getRank() == 4 ? x : v;
}

bool hasPerm(Operation *op, ArrayRef<int64_t> perm) {
  auto t = dyn_cast_or_null<onnx::TransposeOp>(op);
  if (!t)
    return false;
  auto p = t->getAttrOfType<DenseI64ArrayAttr>("perm");
  return p && p.asArrayRef() == perm;
}

// k^T as the exporters write it: Transpose(k, [0, 1, 3, 2]); GPT-2's
// Transpose(k', [0, 2, 3, 1]) of k' = [B, S, H, D] (k is then k' with
// [0, 2, 1, 3], built here); or the opset-18 SDPA decomposition's
// Reshape(Transpose(Reshape(k, [-1, S, D]), [0, 2, 1]), [B, H, D, S]).
// Returns k in [B, H, S, D], or null.
Value peelKeyTranspose(Value kt) {
  Operation *op = kt.getDefiningOp();
  if (hasPerm(op, {0, 1, 3, 2}))
    return op->getOperand(0);
  if (hasPerm(op, {0, 2, 3, 1})) {
    Value bshd = op->getOperand(0);
    auto t = cast<RankedTensorType>(bshd.getType());
    OpBuilder b(op);
    auto type = RankedTensorType::get(
        {t.getDimSize(0), t.getDimSize(2), t.getDimSize(1), t.getDimSize(3)}, t.getElementType());
    auto tr = b.create<onnx::TransposeOp>(op->getLoc(), TypeRange{type}, ValueRange{bshd});
    tr->setAttr("perm", b.getDenseI64ArrayAttr({0, 2, 1, 3}));
    return tr->getResult(0); // erased again by DCE if the match fails later
  }
  auto outer = dyn_cast_or_null<onnx::ReshapeOp>(op);
  if (!outer || !hasPerm(outer->getOperand(0).getDefiningOp(), {0, 2, 1}))
    return Value();
  auto inner = producer<onnx::ReshapeOp>(outer->getOperand(0).getDefiningOp()->getOperand(0));
  if (!inner)
    return Value();
  Value k = inner->getOperand(0);
  auto kt4 = dyn_cast<RankedTensorType>(k.getType());
  return kt4 && kt4.getRank() == 4 ? k : Value();
}

struct Match {
  Value q, k, v;
  int64_t heads = 0, kvHeads = 0;
  double scale = 1.0;
  std::string layout = "bhsd";
  Value result; // the value the raised attention replaces
};

class Raiser {
public:
  Raiser(func::FuncOp func, int64_t opset) : func_(func), opset_(opset) {}

  LogicalResult run() {
    SmallVector<Operation *> anchors;
    func_.walk([&](Operation *op) {
      if (isa<onnx::SoftmaxOp, onnx::AttentionOp, onnx::MsGroupQueryAttentionOp,
              onnx::MsMultiHeadAttentionOp>(op))
        anchors.push_back(op);
    });
    for (Operation *op : anchors) {
      FailureOr<std::optional<Match>> m = failure();
      if (auto s = dyn_cast<onnx::SoftmaxOp>(op))
        m = matchDecomposed(s);
      else if (auto a = dyn_cast<onnx::AttentionOp>(op))
        m = matchAttention(a);
      else if (auto g = dyn_cast<onnx::MsGroupQueryAttentionOp>(op))
        m = matchGroupQuery(g);
      else
        m = matchMultiHead(cast<onnx::MsMultiHeadAttentionOp>(op));
      if (failed(m))
        return failure();
      if (*m)
        replace(op, **m);
    }
    IRRewriter rewriter(func_.getContext());
    (void)runRegionDCE(rewriter, func_.getBody());
    return success();
  }

private:
  func::FuncOp func_;
  int64_t opset_;

  // Heads from a static dim, or an error on the node.
  FailureOr<int64_t> staticDim(Operation *at, Value v, int64_t dim, const char *what) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t || t.getRank() <= dim || t.isDynamicDim(dim))
      return at->emitError() << "attention: " << what << " is not static";
    return t.getDimSize(dim);
  }

  LogicalResult requireCausal(Operation *at, Value mask, MaskUse use) {
    std::string why = proveCausal(func_, mask, use, opset_);
    if (why.empty())
      return success();
    return at->emitError() << "attention cannot be raised: " << why;
  }

  // softmax(scale * q k^T (+ mask | where(mask, ., -inf))) v, as eager
  // attention and the opset-18 SDPA decomposition emit it.
  FailureOr<std::optional<Match>> matchDecomposed(onnx::SoftmaxOp softmax) {
    auto type = dyn_cast<RankedTensorType>(softmax->getResult(0).getType());
    int64_t axis = softmax->hasAttr("axis")
                       ? softmax->getAttrOfType<IntegerAttr>("axis").getInt()
                       : -1;
    if (!type || type.getRank() != 4 || (axis != -1 && axis != 3))
      return std::optional<Match>();
    Match m;
    Value cur = softmax->getOperand(0);
    Value mask;
    MaskUse use = MaskUse::Additive;
    Operation *qk = nullptr;
    for (int guard = 0; guard < 8 && !qk; ++guard) {
      Operation *op = cur.getDefiningOp();
      if (!op)
        return std::optional<Match>();
      if (isa<onnx::MatMulOp>(op)) {
        qk = op;
      } else if (isa<onnx::AddOp>(op) && !mask) {
        // The mask is the side that does not lead to the q k^T product.
        bool lhsScores = leadsToMatMul(op->getOperand(0));
        mask = op->getOperand(lhsScores ? 1 : 0);
        cur = op->getOperand(lhsScores ? 0 : 1);
      } else if (isa<onnx::WhereOp>(op) && !mask) {
        // Where(keep, scores, -inf), or masked_fill's Where(drop, -inf, scores).
        auto fillElse = scalarConstant(op->getOperand(2));
        auto fillThen = scalarConstant(op->getOperand(1));
        if (fillElse && *fillElse <= -1e4) {
          use = MaskUse::Keep;
          cur = op->getOperand(1);
        } else if (fillThen && *fillThen <= -1e4) {
          use = MaskUse::Drop;
          cur = op->getOperand(2);
        } else {
          return std::optional<Match>();
        }
        mask = op->getOperand(0);
      } else if (isa<onnx::MulOp, onnx::DivOp>(op)) {
        Value inner = peelScale(cur, m.scale);
        if (inner == cur)
          return std::optional<Match>();
        cur = inner;
      } else {
        return std::optional<Match>();
      }
    }
    if (!qk)
      return std::optional<Match>();
    m.q = peelScale(qk->getOperand(0), m.scale);
    Value k = peelKeyTranspose(peelScale(qk->getOperand(1), m.scale));
    if (!k)
      return std::optional<Match>();
    m.k = peelRepeatKV(peelScale(k, m.scale));
    // Down: softmax -> [Where(IsNaN(p), 0, p)] -> MatMul(p, v).
    Value probs = softmax->getResult(0);
    Operation *pv = nullptr;
    for (int guard = 0; guard < 3 && !pv; ++guard) {
      if (Operation *g = nanGuardResult(probs)) {
        probs = g->getResult(0);
        continue;
      }
      if (!probs.hasOneUse())
        return std::optional<Match>();
      Operation *user = *probs.getUsers().begin();
      if (!isa<onnx::MatMulOp>(user) || user->getOperand(0) != probs)
        return std::optional<Match>();
      pv = user;
    }
    if (!pv)
      return std::optional<Match>();
    m.v = peelRepeatKV(pv->getOperand(1));
    m.result = pv->getResult(0);
    auto heads = staticDim(softmax, m.q, 1, "the number of query heads");
    auto kvHeads = staticDim(softmax, m.k, 1, "the number of KV heads");
    if (failed(heads) || failed(kvHeads))
      return failure();
    m.heads = *heads;
    m.kvHeads = *kvHeads;
    if (mask && failed(requireCausal(softmax, mask, use)))
      return failure();
    if (!mask)
      return softmax->emitError("attention cannot be raised: it has no mask, so it is not causal");
    return std::optional<Match>(m);
  }

  bool leadsToMatMul(Value v) {
    for (int guard = 0; guard < 4; ++guard) {
      Operation *op = v.getDefiningOp();
      if (!op)
        return false;
      if (isa<onnx::MatMulOp>(op))
        return true;
      if (!isa<onnx::MulOp, onnx::DivOp, onnx::AddOp, onnx::WhereOp>(op))
        return false;
      v = op->getOperand(isa<onnx::WhereOp>(op) ? 1 : 0);
    }
    return false;
  }

  // The Where(IsNaN(p), 0, p) that the SDPA export puts after softmax.
  Operation *nanGuardResult(Value p) {
    for (Operation *user : p.getUsers())
      if (auto w = dyn_cast<onnx::WhereOp>(user))
        if (w->getOperand(2) == p)
          if (auto isnan = producer<onnx::IsNaNOp>(w->getOperand(0)))
            if (isnan->getOperand(0) == p)
              return w;
    return nullptr;
  }

  // Opset-23 Attention: causal through is_causal or a proven mask.
  FailureOr<std::optional<Match>> matchAttention(onnx::AttentionOp op) {
    auto attr = [&](StringRef n, int64_t d) {
      auto a = op->getAttrOfType<IntegerAttr>(n);
      return a ? a.getInt() : d;
    };
    auto has = [&](unsigned i) {
      return op->getNumOperands() > i && !isa<NoneType>(op->getOperand(i).getType());
    };
    if (has(4) || has(5))
      return op->emitError("Attention with past_key/past_value inputs is not supported yet");
    if (op->getAttrOfType<FloatAttr>("softcap") &&
        op->getAttrOfType<FloatAttr>("softcap").getValueAsDouble() != 0.0)
      return op->emitError("Attention with softcap is not supported yet");
    for (unsigned r = 1; r < op->getNumResults(); ++r)
      if (!op->getResult(r).use_empty())
        return op->emitError("Attention's present/qk outputs are used; cannot raise it");
    Match m;
    auto q = cast<RankedTensorType>(op->getOperand(0).getType());
    if (q.getRank() == 4) {
      m.q = op->getOperand(0);
      m.k = peelRepeatKV(op->getOperand(1));
      m.v = peelRepeatKV(op->getOperand(2));
      auto heads = staticDim(op, m.q, 1, "the number of query heads");
      auto kvHeads = staticDim(op, m.k, 1, "the number of KV heads");
      auto d = staticDim(op, m.q, 3, "the head size");
      if (failed(heads) || failed(kvHeads) || failed(d))
        return failure();
      m.heads = *heads;
      m.kvHeads = *kvHeads;
      m.scale = 1.0 / std::sqrt(double(*d));
    } else {
      m.layout = "bsd";
      m.q = op->getOperand(0);
      m.k = op->getOperand(1);
      m.v = op->getOperand(2);
      m.heads = attr("q_num_heads", 0);
      m.kvHeads = attr("kv_num_heads", 0);
      if (m.heads <= 0 || m.kvHeads <= 0)
        return op->emitError("3-D Attention needs q_num_heads and kv_num_heads");
      auto width = staticDim(op, m.q, 2, "the query width");
      if (failed(width))
        return failure();
      m.scale = 1.0 / std::sqrt(double(*width / m.heads));
    }
    if (auto s = op->getAttrOfType<FloatAttr>("scale"))
      m.scale = s.getValueAsDouble();
    m.result = op->getResult(0);
    bool causal = attr("is_causal", 0) != 0;
    if (has(3)) {
      Value mask = op->getOperand(3);
      auto mt = cast<RankedTensorType>(mask.getType());
      MaskUse use = mt.getElementType().isInteger(1) ? MaskUse::Keep : MaskUse::Additive;
      if (causal)
        return op->emitError("Attention with both is_causal and a mask is not supported yet");
      if (failed(requireCausal(op, mask, use)))
        return failure();
    } else if (!causal) {
      return op->emitError("attention cannot be raised: is_causal is 0 and there is no mask");
    }
    return std::optional<Match>(m);
  }

  // com.microsoft GroupQueryAttention: causal by definition; rotary applied
  // inside (do_rotary) becomes com.microsoft RotaryEmbedding at the call's
  // positions.
  FailureOr<std::optional<Match>> matchGroupQuery(onnx::MsGroupQueryAttentionOp op) {
    if (op->getNumOperands() < 3 || isa<NoneType>(op->getOperand(1).getType()))
      return op->emitError("GroupQueryAttention with packed QKV is not supported yet");
    for (unsigned i = 9; i < op->getNumOperands(); ++i)
      if (!isa<NoneType>(op->getOperand(i).getType()))
        return op->emitError("GroupQueryAttention with position_ids, attention_bias or "
                             "head_sink inputs is not supported yet");
    auto attrInt = [&](StringRef n, int64_t d) {
      auto a = op->getAttrOfType<IntegerAttr>(n);
      return a ? a.getInt() : d;
    };
    if (attrInt("local_window_size", -1) != -1)
      return op->emitError("GroupQueryAttention with a local window is not supported yet");
    if (auto sc = op->getAttrOfType<FloatAttr>("softcap"); sc && sc.getValueAsDouble() != 0.0)
      return op->emitError("GroupQueryAttention with softcap is not supported yet");
    auto packed = matchPacked(op, attrInt("num_heads", 0), attrInt("kv_num_heads", 0));
    if (failed(packed))
      return failure();
    Match m = *packed;
    if (attrInt("do_rotary", 0)) {
      if (op->getNumOperands() < 9 || isa<NoneType>(op->getOperand(7).getType()) ||
          isa<NoneType>(op->getOperand(8).getType()))
        return op->emitError("GroupQueryAttention with do_rotary needs cos_cache and sin_cache");
      OpBuilder b(op);
      Location loc = op->getLoc();
      Value seqLen = seqLength(b, loc, m.q);
      auto posType = RankedTensorType::get({ShapedType::kDynamic}, b.getI64Type());
      Value pos = b.create<ir::PositionsOp>(loc, posType, seqLen);
      auto axes = b.create<onnx::ConstantOp>(loc, TypeRange{RankedTensorType::get({1}, b.getI64Type())},
                                             ValueRange{});
      axes->setAttr("value", DenseElementsAttr::get(RankedTensorType::get({1}, b.getI64Type()),
                                                    ArrayRef<int64_t>{0}));
      auto pos1 = b.create<onnx::UnsqueezeOp>(
          loc, TypeRange{RankedTensorType::get({1, ShapedType::kDynamic}, b.getI64Type())},
          ValueRange{pos, axes->getResult(0)});
      // [B, S]: every sequence of the call starts at the same position.
      auto bs = b.create<onnx::ShapeOp>(
          loc, TypeRange{RankedTensorType::get({2}, b.getI64Type())}, ValueRange{m.q});
      bs->setAttr("end", b.getI64IntegerAttr(2));
      auto pos2 = b.create<onnx::ExpandOp>(
          loc,
          TypeRange{RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                          b.getI64Type())},
          ValueRange{pos1->getResult(0), bs->getResult(0)});
      auto rotate = [&](Value x, int64_t heads) {
        auto r = b.create<onnx::MsRotaryEmbeddingOp>(
            loc, TypeRange{x.getType()},
            ValueRange{x, pos2->getResult(0), op->getOperand(7), op->getOperand(8)});
        r->setAttr("num_heads", b.getI64IntegerAttr(heads));
        r->setAttr("interleaved", b.getI64IntegerAttr(attrInt("rotary_interleaved", 0)));
        return r->getResult(0);
      };
      m.q = rotate(m.q, m.heads);
      m.k = rotate(m.k, m.kvHeads);
    }
    return std::optional<Match>(m);
  }

  // The sequence length of a [B, S, ...] value, as a scalar.
  Value seqLength(OpBuilder &b, Location loc, Value x) {
    auto i64 = b.getI64Type();
    auto shape = b.create<onnx::ShapeOp>(loc, TypeRange{RankedTensorType::get({1}, i64)},
                                         ValueRange{x});
    shape->setAttr("start", b.getI64IntegerAttr(1));
    shape->setAttr("end", b.getI64IntegerAttr(2));
    auto axes = b.create<onnx::ConstantOp>(loc, TypeRange{RankedTensorType::get({1}, i64)},
                                           ValueRange{});
    axes->setAttr("value",
                  DenseElementsAttr::get(RankedTensorType::get({1}, i64), ArrayRef<int64_t>{0}));
    auto sq = b.create<onnx::SqueezeOp>(loc, TypeRange{RankedTensorType::get({}, i64)},
                                        ValueRange{shape->getResult(0), axes->getResult(0)});
    return sq->getResult(0);
  }

  // com.microsoft MultiHeadAttention: causal when unidirectional; the key
  // padding mask is dropped (the runtime batches sequences by length).
  FailureOr<std::optional<Match>> matchMultiHead(onnx::MsMultiHeadAttentionOp op) {
    auto attrInt = [&](StringRef n, int64_t d) {
      auto a = op->getAttrOfType<IntegerAttr>(n);
      return a ? a.getInt() : d;
    };
    if (!attrInt("unidirectional", 0))
      return op->emitError("attention cannot be raised: MultiHeadAttention is not "
                           "unidirectional, so it is not causal");
    if (op->getNumOperands() < 3 || isa<NoneType>(op->getOperand(1).getType()) ||
        cast<RankedTensorType>(op->getOperand(1).getType()).getRank() != 3)
      return op->emitError("MultiHeadAttention needs separate 3-D query, key and value");
    for (unsigned i : {3u, 5u})
      if (i < op->getNumOperands() && !isa<NoneType>(op->getOperand(i).getType()))
        return op->emitError("MultiHeadAttention with bias or attention_bias is not "
                             "supported yet");
    auto m = matchPacked(op, attrInt("num_heads", 0), attrInt("num_heads", 0));
    if (failed(m))
      return failure();
    return std::optional<Match>(*m);
  }

  // The com.microsoft ops' common form: 3-D q, k, v in inputs 0..2 ("bsd"),
  // scale from the attribute or 1/sqrt(head size).
  FailureOr<Match> matchPacked(Operation *op, int64_t heads, int64_t kvHeads) {
    Match m;
    m.layout = "bsd";
    m.heads = heads;
    m.kvHeads = kvHeads;
    m.q = op->getOperand(0);
    m.k = op->getOperand(1);
    m.v = op->getOperand(2);
    auto width = staticDim(op, m.q, 2, "the query width");
    if (failed(width))
      return failure();
    m.scale = 1.0 / std::sqrt(double(*width / m.heads));
    if (auto s = op->getAttrOfType<FloatAttr>("scale"); s && s.getValueAsDouble() != 0.0)
      m.scale = s.getValueAsDouble();
    m.result = op->getResult(0);
    return m;
  }

  void replace(Operation *anchor, const Match &m) {
    OpBuilder b(m.result.getContext());
    b.setInsertionPointAfterValue(m.result);
    auto att = b.create<ir::AttentionOp>(anchor->getLoc(), m.result.getType(), m.q, m.k, m.v,
                                         b.getI64IntegerAttr(m.heads),
                                         b.getI64IntegerAttr(m.kvHeads),
                                         b.getF32FloatAttr(static_cast<float>(m.scale)),
                                         b.getStringAttr(m.layout));
    Value result = m.result;
    result.replaceAllUsesWith(att.getResult());
  }
};

struct RaiseAttentionPass : impl::RaiseAttentionBase<RaiseAttentionPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto func : module.getOps<func::FuncOp>())
      if (failed(Raiser(func, moduleOpset(module)).run()))
        return signalPassFailure();
  }
};

} // namespace
} // namespace resa
