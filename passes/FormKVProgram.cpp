// resa-form-kv-program: see Passes.td.
#include "passes/Passes.h"
#include "passes/ShapeInference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/BitVector.h"

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_FORMKVPROGRAM
#include "passes/Passes.h.inc"

namespace {

StringRef argName(func::FuncOp f, unsigned i) {
  auto n = f.getArgAttrOfType<StringAttr>(i, "onnx.name");
  return n ? n.getValue() : StringRef();
}

StringRef resultName(func::FuncOp f, unsigned i) {
  auto n = f.getResultAttrOfType<StringAttr>(i, "onnx.name");
  return n ? n.getValue() : StringRef();
}

void eraseResults(func::FuncOp f, const llvm::BitVector &drop) {
  Operation *ret = f.getBody().front().getTerminator();
  SmallVector<Value> keep;
  for (unsigned i = 0; i < ret->getNumOperands(); ++i)
    if (!drop[i])
      keep.push_back(ret->getOperand(i));
  OpBuilder b(ret);
  b.create<func::ReturnOp>(ret->getLoc(), keep);
  ret->erase();
  (void)f.eraseResults(drop);
}

void dce(func::FuncOp f) {
  IRRewriter rewriter(f.getContext());
  (void)runRegionDCE(rewriter, f.getBody());
}

Value constI64(OpBuilder &b, Location loc, ArrayRef<int64_t> values) {
  auto type = RankedTensorType::get({int64_t(values.size())}, b.getI64Type());
  auto c = b.create<onnx::ConstantOp>(loc, TypeRange{type}, ValueRange{});
  c->setAttr("value", DenseElementsAttr::get(type, values));
  return c->getResult(0);
}

// A scalar holding dim `d` of `x`.
Value dimOf(OpBuilder &b, Location loc, Value x, int64_t d) {
  auto i64 = b.getI64Type();
  auto shape =
      b.create<onnx::ShapeOp>(loc, TypeRange{RankedTensorType::get({1}, i64)}, ValueRange{x});
  shape->setAttr("start", b.getI64IntegerAttr(d));
  shape->setAttr("end", b.getI64IntegerAttr(d + 1));
  auto sq = b.create<onnx::SqueezeOp>(loc, TypeRange{RankedTensorType::get({}, i64)},
                                      ValueRange{shape->getResult(0), constI64(b, loc, {0})});
  return sq->getResult(0);
}

bool isZero(Value v) {
  auto c = v.getDefiningOp<onnx::ConstantOp>();
  if (!c)
    return false;
  auto d = c->getAttrOfType<DenseElementsAttr>("value");
  return d && d.getNumElements() == 1 && d.getElementType().isInteger(64) &&
         (*d.getValues<APInt>().begin()).isZero();
}

bool isOne(Value v) {
  auto c = v.getDefiningOp<onnx::ConstantOp>();
  if (!c)
    return false;
  auto d = c->getAttrOfType<DenseElementsAttr>("value");
  return d && d.getNumElements() == 1 && d.getElementType().isInteger(64) &&
         (*d.getValues<APInt>().begin()).isOne();
}

class Former {
public:
  Former(ModuleOp module) : module_(module) {}

  LogicalResult run() {
    auto main = module_.lookupSymbol<func::FuncOp>("main");
    if (!main)
      return module_.emitError("resa-form-kv-program needs a function @main");
    int ids = -1;
    for (unsigned i = 0; i < main.getNumArguments(); ++i)
      if (argName(main, i) == "input_ids")
        ids = static_cast<int>(i);
    if (ids < 0)
      return main.emitError("the model has no 'input_ids' input");
    auto idsType = cast<RankedTensorType>(main.getArgument(ids).getType());
    if (idsType.getRank() != 2)
      return main.emitError("input_ids must be [batch, seq]");

    auto prefill = cast<func::FuncOp>(main->clone());
    prefill.setName("prefill");
    module_.push_back(prefill);
    if (failed(makeCached(prefill, ids)))
      return failure();

    auto decode = cast<func::FuncOp>(prefill->clone());
    decode.setName("decode");
    module_.push_back(decode);

    auto rectify = cast<func::FuncOp>(prefill->clone());
    rectify.setName("rectify");
    module_.push_back(rectify);
    eraseResults(rectify, llvm::BitVector(rectify.getNumResults(), true));
    dce(rectify);

    Builder b(module_.getContext());
    module_->setAttr("resa.kv_cache",
                     b.getDictionaryAttr({b.getNamedAttr("layers", b.getI64IntegerAttr(layers_)),
                                          b.getNamedAttr("kv_heads", b.getI64IntegerAttr(kvHeads_)),
                                          b.getNamedAttr("head_dim", b.getI64IntegerAttr(headDim_))}));
    return success();
  }

private:
  ModuleOp module_;
  int64_t layers_ = 0, kvHeads_ = 0, headDim_ = 0;

  LogicalResult makeCached(func::FuncOp f, int ids) {
    // Present outputs are the cache now.
    llvm::BitVector present(f.getNumResults());
    for (unsigned i = 0; i < f.getNumResults(); ++i)
      present[i] = resultName(f, i).starts_with("present");
    eraseResults(f, present);

    Value idsArg = f.getArgument(ids);
    // The symbol the shape expressions use for the sequence length: the
    // dim_param made an identifier, or arg<N>_dim1 when the dim is unnamed.
    auto params = f.getArgAttrOfType<ArrayAttr>(ids, "onnx.dim_params");
    std::string seqSymbol = symbolName(
        ids, 1, params && params.size() == 2 ? cast<StringAttr>(params[1]).getValue() : StringRef());

    OpBuilder b(f.getContext());
    b.setInsertionPointToStart(&f.getBody().front());
    Location loc = f.getLoc();
    Value seqLen = dimOf(b, loc, idsArg, 1);
    auto posType = RankedTensorType::get({ShapedType::kDynamic}, b.getI64Type());
    Value positions = b.create<ir::PositionsOp>(loc, posType, seqLen);

    SmallVector<Operation *> ops;
    f.walk([&](Operation *op) { ops.push_back(op); });
    for (Operation *op : ops) {
      if (auto att = dyn_cast<ir::AttentionOp>(op)) {
        if (failed(recordShape(att)))
          return failure();
        b.setInsertionPoint(att);
        auto cached = b.create<ir::CacheAttentionOp>(
            att.getLoc(), att.getType(), att.getQ(), att.getK(), att.getV(),
            att.getNumHeadsAttr(), att.getKvHeadsAttr(), att.getScaleAttr(), att.getLayoutAttr(),
            b.getI64IntegerAttr(layers_++));
        att.replaceAllUsesWith(cached.getResult());
        att.erase();
      } else if (isa<onnx::RangeOp>(op) && isZero(op->getOperand(0)) &&
                 isOne(op->getOperand(2)) && isSeqLength(op->getOperand(1), seqSymbol)) {
        // Range(0, seq) counts the call's tokens: their absolute positions.
        b.setInsertionPoint(op);
        auto pos = b.create<ir::PositionsOp>(op->getLoc(), op->getResult(0).getType(),
                                             op->getOperand(1));
        op->getResult(0).replaceAllUsesWith(pos.getResult());
        op->erase();
      }
    }
    if (layers_ == 0)
      return f.emitError("the model has no attention that resa-raise-attention raised; "
                         "cannot form a KV-cache program");

    // position_ids inputs: the call's positions, as [1, S] (cached programs
    // run one sequence per call).
    for (unsigned i = 0; i < f.getNumArguments(); ++i) {
      if (!argName(f, i).contains("position_ids"))
        continue;
      b.setInsertionPointAfterValue(positions);
      auto type = RankedTensorType::get({1, ShapedType::kDynamic}, b.getI64Type());
      auto unsq = b.create<onnx::UnsqueezeOp>(loc, TypeRange{type},
                                              ValueRange{positions, constI64(b, loc, {0})});
      f.getArgument(i).replaceAllUsesWith(unsq->getResult(0));
    }
    dce(f);

    // Only the token ids stay as inputs.
    llvm::BitVector drop(f.getNumArguments());
    for (unsigned i = 0; i < f.getNumArguments(); ++i) {
      if (static_cast<int>(i) == ids)
        continue;
      Value arg = f.getArgument(i);
      if (!arg.use_empty()) {
        Operation *user = *arg.getUsers().begin();
        return user->emitError() << "input '" << argName(f, i)
                                 << "' is still used after forming the KV-cache program";
      }
      drop[i] = true;
    }
    (void)f.eraseArguments(drop);

    WalkResult leftover = f.walk([&](Operation *op) {
      if (isa<onnx::AttentionOp, onnx::MsGroupQueryAttentionOp, onnx::MsMultiHeadAttentionOp>(op)) {
        op->emitError("this attention was not raised; cannot form a KV-cache program");
        return WalkResult::interrupt();
      }
      // A softmax over [B, H, S, S'] that raising did not take is attention
      // in a form it does not know: in a cached call it would see only the
      // call's own tokens, so refuse rather than decode wrongly.
      if (auto sm = dyn_cast<onnx::SoftmaxOp>(op)) {
        auto t = dyn_cast<RankedTensorType>(sm->getOperand(0).getType());
        if (t && t.getRank() == 4) {
          op->emitError("this softmax over a rank-4 tensor looks like attention that "
                        "resa-raise-attention does not recognise; cannot form a KV-cache "
                        "program");
          return WalkResult::interrupt();
        }
      }
      return WalkResult::advance();
    });
    return failure(leftover.wasInterrupted());
  }

  // True when v is the scalar shape expression of the sequence symbol.
  bool isSeqLength(Value v, const std::string &seq) {
    auto se = v.getDefiningOp<ir::ShapeExprOp>();
    return se && se.getScalar() && se.getExprs().size() == 1 &&
           cast<StringAttr>(se.getExprs()[0]).getValue() == seq;
  }

  LogicalResult recordShape(ir::AttentionOp att) {
    auto k = cast<RankedTensorType>(att.getK().getType());
    int64_t kvHeads = att.getKvHeads();
    int64_t d = att.getLayout() == "bhsd" ? k.getDimSize(3)
                : k.isDynamicDim(2)       ? ShapedType::kDynamic
                                          : k.getDimSize(2) / kvHeads;
    if (ShapedType::isDynamic(d))
      return att.emitError("the head size of this attention is not static");
    if (layers_ > 0 && (kvHeads != kvHeads_ || d != headDim_))
      return att.emitError() << "layers with different KV shapes (" << kvHeads << "x" << d
                             << " here, " << kvHeads_ << "x" << headDim_
                             << " before) are not supported";
    kvHeads_ = kvHeads;
    headDim_ = d;
    return success();
  }
};

struct FormKVProgramPass : impl::FormKVProgramBase<FormKVProgramPass> {
  void runOnOperation() override {
    if (failed(Former(getOperation()).run()))
      signalPassFailure();
  }
};

} // namespace
} // namespace resa
