// resa-raise-rotary: see Passes.td.
#include "passes/RaiseUtil.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"

#include <limits>
#include <map>

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_RAISEROTARY
#include "passes/Passes.h.inc"

namespace {
using namespace raise;

// Slice(x, [start], [end], [axis], [1]) along the last axis of x; returns
// (start, end) with end clamped to the dim, or nullopt.
std::optional<std::pair<int64_t, int64_t>> lastAxisSlice(onnx::SliceOp s, Value x, int64_t dim) {
  if (!s || s->getOperand(0) != x)
    return std::nullopt;
  auto rank = cast<RankedTensorType>(x.getType()).getRank();
  auto starts = intsConstant(s->getOperand(1)), ends = intsConstant(s->getOperand(2));
  if (!starts || !ends || starts->size() != 1 || ends->size() != 1)
    return std::nullopt;
  if (s->getNumOperands() > 3 && !isa<NoneType>(s->getOperand(3).getType())) {
    auto axes = intsConstant(s->getOperand(3));
    if (!axes || axes->size() != 1 || !isLastAxis((*axes)[0], rank))
      return std::nullopt;
  } else if (rank != 1) {
    return std::nullopt;
  }
  if (s->getNumOperands() > 4 && !isa<NoneType>(s->getOperand(4).getType())) {
    auto steps = intsConstant(s->getOperand(4));
    if (!steps || *steps != std::vector<int64_t>{1})
      return std::nullopt;
  }
  int64_t b = (*starts)[0], e = (*ends)[0];
  if (b < 0 || e < 0) // negative starts/ends are not what the exporters emit here
    return std::nullopt;
  return std::make_pair(std::min(b, dim), std::min(e, dim));
}

class Raiser {
public:
  explicit Raiser(func::FuncOp func) : func_(func) {}

  void run() {
    raise::raiseEach(func_, [&](Operation *op) {
      if (isa<onnx::AddOp>(op))
        raiseRotateHalf(op);
      else if (isa<onnx::RotaryEmbeddingOp>(op))
        raiseOnnxRotary(op);
      else if (isa<onnx::MsRotaryEmbeddingOp>(op))
        raiseMsRotary(op);
    });
  }

private:
  func::FuncOp func_;
  // Gather(cache, position_ids) already built, by (cache, position_ids).
  std::map<std::pair<void *, void *>, Value> gathered_;

  void create(Operation *at, Value x, Value cos, Value sin, int64_t heads, int64_t rot,
              int64_t interleaved) {
    OpBuilder b(at);
    auto r = b.create<ir::RotaryOp>(at->getLoc(), x.getType(), x, cos, sin,
                                    b.getI64IntegerAttr(heads), b.getI64IntegerAttr(rot),
                                    b.getI64IntegerAttr(interleaved));
    at->getResult(0).replaceAllUsesWith(r.getResult());
  }

  // x * cos + rotate_half(x) * sin with rotate_half(x) =
  // Concat(-x[..., D/2:], x[..., :D/2]) along the last axis, x [B, H, S, D]
  // and cos/sin = Unsqueeze(c, [1]) of c [Bc, Sc, D] (HF's apply_rotary_pos_emb).
  void raiseRotateHalf(Operation *add) {
    for (int i = 0; i < 2; ++i)
      if (matchRotateHalf(add, add->getOperand(i), add->getOperand(1 - i)))
        return;
  }

  bool matchRotateHalf(Operation *add, Value xcos, Value rotsin) {
    auto mulC = producer<onnx::MulOp>(xcos), mulS = producer<onnx::MulOp>(rotsin);
    if (!mulC || !mulS)
      return false;
    // rotsin = Mul(rot, S) either way round; rot = Concat(Neg(hi), lo).
    for (int j = 0; j < 2; ++j) {
      auto cat = producer<onnx::ConcatOp>(mulS->getOperand(j));
      if (!cat || cat->getNumOperands() != 2)
        continue;
      Value s4 = mulS->getOperand(1 - j);
      auto neg = producer<onnx::NegOp>(cat->getOperand(0));
      auto hi = neg ? producer<onnx::SliceOp>(neg->getOperand(0)) : onnx::SliceOp();
      auto lo = producer<onnx::SliceOp>(cat->getOperand(1));
      if (!hi || !lo)
        continue;
      Value x = hi->getOperand(0);
      auto xt = rankedF32(x);
      if (!xt || xt.getRank() != 4 || xt.isDynamicDim(1) || xt.isDynamicDim(3))
        continue;
      int64_t d = xt.getDimSize(3), h = d / 2;
      if (d % 2 || !isLastAxis(intAttr(cat, "axis", 0), 4))
        continue;
      auto hr = lastAxisSlice(hi, x, d), lr = lastAxisSlice(lo, x, d);
      if (!hr || !lr || *hr != std::make_pair(h, d) || *lr != std::make_pair(int64_t(0), h))
        continue;
      // xcos = Mul(x, C) either way round.
      Value c4;
      if (mulC->getOperand(0) == x)
        c4 = mulC->getOperand(1);
      else if (mulC->getOperand(1) == x)
        c4 = mulC->getOperand(0);
      else
        continue;
      Value c = unsqueezed1(c4), s = unsqueezed1(s4);
      if (!c || !s || c.getType() != s.getType() || staticLastDim(c) != d)
        continue;
      if (add->getResult(0).getType() != xt)
        continue;
      create(add, x, c, s, xt.getDimSize(1), d, 0);
      return true;
    }
    return false;
  }

  // c where v = Unsqueeze(c, [1]) and c is a rank-3 f32 tensor.
  Value unsqueezed1(Value v) {
    auto u = producer<onnx::UnsqueezeOp>(v);
    if (!u || u->getNumOperands() != 2 || intsConstant(u->getOperand(1)) != std::vector<int64_t>{1})
      return Value();
    Value c = u->getOperand(0);
    auto t = rankedF32(c);
    return t && t.getRank() == 3 ? c : Value();
  }

  // cache[position_ids]: [maxPos, W] gathered at [B, S] -> [B, S, W].
  Value gather(Operation *at, Value cache, Value pos) {
    auto key = std::make_pair(cache.getAsOpaquePointer(), pos.getAsOpaquePointer());
    auto it = gathered_.find(key);
    if (it != gathered_.end())
      return it->second;
    auto ct = cast<RankedTensorType>(cache.getType());
    auto pt = cast<RankedTensorType>(pos.getType());
    OpBuilder b(at);
    auto type = RankedTensorType::get({pt.getDimSize(0), pt.getDimSize(1), ct.getDimSize(1)},
                                      ct.getElementType());
    auto g = b.create<onnx::GatherOp>(at->getLoc(), TypeRange{type}, ValueRange{cache, pos});
    g->setAttr("axis", b.getI64IntegerAttr(0));
    return gathered_[key] = g->getResult(0);
  }

  bool isPositions(Value pos) {
    auto t = dyn_cast<RankedTensorType>(pos.getType());
    return t && t.getRank() == 2 && t.getElementType().isInteger(64);
  }

  // Heads and head size of x ([B, H, S, D] or [B, S, H*D] with num_heads),
  // when static.
  std::optional<std::pair<int64_t, int64_t>> heads(Value x, int64_t numHeads) {
    auto t = rankedF32(x);
    if (!t)
      return std::nullopt;
    if (t.getRank() == 4) {
      if (t.isDynamicDim(1) || t.isDynamicDim(3) || (numHeads > 0 && numHeads != t.getDimSize(1)))
        return std::nullopt;
      return std::make_pair(t.getDimSize(1), t.getDimSize(3));
    }
    if (t.getRank() != 3 || t.isDynamicDim(2) || numHeads <= 0 || t.getDimSize(2) % numHeads)
      return std::nullopt;
    return std::make_pair(numHeads, t.getDimSize(2) / numHeads);
  }

  // opset-23 RotaryEmbedding(X, cos, sin, [position_ids]): cos/sin [B, S,
  // R/2] as they are, or caches [maxPos, R/2] gathered at position_ids.
  void raiseOnnxRotary(Operation *op) {
    Value x = op->getOperand(0), cos = op->getOperand(1), sin = op->getOperand(2);
    Value pos = op->getNumOperands() > 3 && !isa<NoneType>(op->getOperand(3).getType())
                    ? op->getOperand(3)
                    : Value();
    auto hd = heads(x, intAttr(op, "num_heads", 0));
    if (!hd || cos.getType() != sin.getType() || !rankedF32(cos))
      return;
    int64_t rot = intAttr(op, "rotary_embedding_dim", 0);
    if (rot == 0)
      rot = hd->second;
    int64_t inter = intAttr(op, "interleaved", 0);
    if (rot <= 0 || rot % 2 || rot > hd->second || (inter != 0 && inter != 1) ||
        staticLastDim(cos) != rot / 2 || op->getResult(0).getType() != x.getType())
      return;
    int64_t cosRank = rankedF32(cos).getRank();
    if (pos) {
      if (cosRank != 2 || !isPositions(pos))
        return;
      cos = gather(op, cos, pos);
      sin = gather(op, sin, pos);
    } else if (cosRank != 3) {
      return;
    }
    create(op, x, cos, sin, hd->first, rot, inter);
  }

  // com.microsoft RotaryEmbedding(input, position_ids [B, S], cos_cache,
  // sin_cache [maxPos, R/2]).
  void raiseMsRotary(Operation *op) {
    Value x = op->getOperand(0), pos = op->getOperand(1), cos = op->getOperand(2),
          sin = op->getOperand(3);
    auto ct = rankedF32(cos);
    if (!ct || ct.getRank() != 2 || ct.isDynamicDim(1) || cos.getType() != sin.getType() ||
        !isPositions(pos) || intAttr(op, "is_packed_batching", 0) != 0 ||
        floatAttr(op, "scale", 1.0) != 1.0)
      return;
    int64_t numHeads = intAttr(op, "num_heads", 0), rot = intAttr(op, "rotary_embedding_dim", 0);
    auto xt = rankedF32(x);
    if (xt && xt.getRank() == 3 && numHeads <= 0 && rot == 0 && !xt.isDynamicDim(2) &&
        xt.getDimSize(2) % (2 * ct.getDimSize(1)) == 0)
      numHeads = xt.getDimSize(2) / (2 * ct.getDimSize(1)); // the kernel's inference
    auto hd = heads(x, numHeads);
    if (!hd)
      return;
    if (rot == 0)
      rot = hd->second;
    int64_t inter = intAttr(op, "interleaved", 0);
    if (rot % 2 || rot > hd->second || ct.getDimSize(1) != rot / 2 || (inter != 0 && inter != 1) ||
        op->getResult(0).getType() != x.getType())
      return;
    Value c = gather(op, cos, pos);
    Value s = gather(op, sin, pos);
    create(op, x, c, s, hd->first, rot, inter);
  }
};

struct RaiseRotaryPass : impl::RaiseRotaryBase<RaiseRotaryPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      Raiser(func).run();
  }
};

} // namespace
} // namespace resa
