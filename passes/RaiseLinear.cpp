// resa-raise-linear: see Passes.td.
#include "passes/RaiseUtil.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"

#include <limits>

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_RAISELINEAR
#include "passes/Passes.h.inc"

namespace {
using namespace raise;

// A projection weight [in, out]: a 2-D parameter, or Transpose(p, [1, 0]) of
// one (GPT-2's tied lm_head).
bool isWeight(Value w) {
  if (isParameter(w, 2))
    return true;
  auto t = producer<onnx::TransposeOp>(w);
  if (!t || !rankedF32(w) || !rankedF32(w).hasStaticShape())
    return false;
  auto perm = t->getAttrOfType<DenseI64ArrayAttr>("perm");
  return perm && perm.asArrayRef() == ArrayRef<int64_t>{1, 0} && isParameter(t->getOperand(0), 2);
}

int64_t cols(Value w) { return cast<RankedTensorType>(w.getType()).getDimSize(1); }

// The product of scalar constants and other factors that v is, through Mul
// and Div by a scalar constant: v = k * prod(factors).
void flattenProduct(Value v, double &k, SmallVectorImpl<Value> &factors, int depth = 0) {
  if (auto c = scalarConstant(v)) {
    k *= *c;
    return;
  }
  Operation *op = v.getDefiningOp();
  if (depth < 6 && op && isa<onnx::MulOp>(op)) {
    flattenProduct(op->getOperand(0), k, factors, depth + 1);
    flattenProduct(op->getOperand(1), k, factors, depth + 1);
    return;
  }
  if (depth < 6 && op && isa<onnx::DivOp>(op))
    if (auto c = scalarConstant(op->getOperand(1)); c && *c != 0.0) {
      k /= *c;
      flattenProduct(op->getOperand(0), k, factors, depth + 1);
      return;
    }
  factors.push_back(v);
}

// The other operand of a + 1 (either way round), or null.
Value plusOne(Value v) {
  auto add = producer<onnx::AddOp>(v);
  if (!add)
    return Value();
  for (int i = 0; i < 2; ++i)
    if (auto c = scalarConstant(add->getOperand(1 - i)); c && *c == 1.0)
      return add->getOperand(i);
  return Value();
}

// The value an activation is applied to and the activation's name, for v =
// act(g): SiLU g * Sigmoid(g); Gelu (approximate none|tanh); the tanh and
// erf Gelu decompositions 0.5 * g * (1 + tanh(sqrt(2/pi) * (g + 0.044715 *
// g^3))) and 0.5 * g * (1 + erf(g / sqrt(2))) in any association.
std::optional<std::pair<Value, StringRef>> activation(Value v) {
  Operation *op = v.getDefiningOp();
  if (!op)
    return std::nullopt;
  if (isa<onnx::GeluOp>(op)) {
    auto a = op->getAttrOfType<StringAttr>("approximate");
    StringRef approx = a ? a.getValue() : "none";
    if (approx == "none")
      return std::make_pair(op->getOperand(0), StringRef("gelu"));
    if (approx == "tanh")
      return std::make_pair(op->getOperand(0), StringRef("gelu_tanh"));
    return std::nullopt;
  }
  if (!isa<onnx::MulOp, onnx::DivOp>(op))
    return std::nullopt;
  if (isa<onnx::MulOp>(op))
    for (int i = 0; i < 2; ++i)
      if (auto sig = producer<onnx::SigmoidOp>(op->getOperand(1 - i)))
        if (sig->getOperand(0) == op->getOperand(i))
          return std::make_pair(op->getOperand(i), StringRef("silu"));
  double k = 1.0;
  SmallVector<Value> f;
  flattenProduct(v, k, f);
  if (f.size() != 2 || !near(k, 0.5))
    return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    Value g = f[i], inner = plusOne(f[1 - i]);
    Operation *fn = inner ? inner.getDefiningOp() : nullptr;
    if (!fn || fn->getNumOperands() != 1)
      continue;
    double kz = 1.0;
    SmallVector<Value> z;
    flattenProduct(fn->getOperand(0), kz, z);
    if (isa<onnx::ErfOp>(fn) && z.size() == 1 && z[0] == g && near(kz, M_SQRT1_2))
      return std::make_pair(g, StringRef("gelu"));
    if (!isa<onnx::TanhOp>(fn) || z.size() != 1 || !near(kz, std::sqrt(2.0 / M_PI)))
      continue;
    // z = g + 0.044715 * g^3 (either way round); g^3 = Pow(g, 3) or g*g*g.
    auto add = producer<onnx::AddOp>(z[0]);
    if (!add)
      continue;
    for (int j = 0; j < 2; ++j) {
      if (add->getOperand(j) != g)
        continue;
      double kc = 1.0;
      SmallVector<Value> c;
      flattenProduct(add->getOperand(1 - j), kc, c);
      bool cube = false;
      if (c.size() == 1)
        if (auto pow = producer<onnx::PowOp>(c[0]))
          cube = pow->getOperand(0) == g && scalarConstant(pow->getOperand(1)) == 3.0;
      if (c.size() == 3)
        cube = c[0] == g && c[1] == g && c[2] == g;
      if (cube && near(kc, 0.044715))
        return std::make_pair(g, StringRef("gelu_tanh"));
    }
  }
  return std::nullopt;
}

class Raiser {
public:
  explicit Raiser(func::FuncOp func) : func_(func) {}

  void run() {
    SmallVector<Operation *> ops;
    func_.walk([&](Operation *op) { ops.push_back(op); });
    for (Operation *op : ops) {
      if (isa<onnx::GatherOp>(op))
        raiseEmbedding(op);
      else if (isa<onnx::MatMulOp>(op))
        raiseMatMul(op);
      else if (isa<onnx::GemmOp>(op))
        raiseGemm(op);
    }
    SmallVector<ir::LinearOp> linears;
    func_.walk([&](ir::LinearOp op) { linears.push_back(op); });
    for (ir::LinearOp down : linears)
      raiseGatedMLP(down);
    raiseLogits();
    IRRewriter rewriter(func_.getContext());
    (void)runRegionDCE(rewriter, func_.getBody());
  }

private:
  func::FuncOp func_;

  // Gather(table [V, D], ids, axis = 0) with table a parameter.
  void raiseEmbedding(Operation *op) {
    Value table = op->getOperand(0), ids = op->getOperand(1);
    auto it = dyn_cast<RankedTensorType>(ids.getType());
    if (intAttr(op, "axis", 0) != 0 || !isParameter(table, 2) || !it ||
        !(it.getElementType().isInteger(64) || it.getElementType().isInteger(32)))
      return;
    auto rt = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!rt || rt.getRank() != it.getRank() + 1)
      return;
    // A rotary cos/sin cache read at the positions (resa-raise-rotary's
    // Gathers) is not an embedding: it stays as the graph computes it.
    if (!op->getResult(0).use_empty() &&
        llvm::all_of(op->getResult(0).getUsers(), [](Operation *u) { return isa<ir::RotaryOp>(u); }))
      return;
    OpBuilder b(op);
    auto e = b.create<ir::EmbeddingOp>(op->getLoc(), rt, table, ids);
    op->getResult(0).replaceAllUsesWith(e.getResult());
  }

  // MatMul(x [..., K], W [K, N]) (+ b [N], either way round).
  void raiseMatMul(Operation *op) {
    Value x = op->getOperand(0), w = op->getOperand(1);
    auto xt = rankedF32(x);
    if (!xt || xt.getRank() < 2 || !isWeight(w) || staticLastDim(x) != rankedF32(w).getDimSize(0))
      return;
    Operation *replaced = op;
    Value bias;
    if (op->getResult(0).hasOneUse()) {
      Operation *user = *op->getResult(0).getUsers().begin();
      if (isa<onnx::AddOp>(user) && user->getResult(0).getType() == op->getResult(0).getType()) {
        Value other = user->getOperand(user->getOperand(0) == op->getResult(0) ? 1 : 0);
        if (other != op->getResult(0) && isVectorParameter(other, cols(w))) {
          bias = other;
          replaced = user;
        }
      }
    }
    OpBuilder b(replaced);
    auto l = b.create<ir::LinearOp>(replaced->getLoc(), replaced->getResult(0).getType(), x, w, bias);
    replaced->getResult(0).replaceAllUsesWith(l.getResult());
  }

  // Gemm(A [M, K], B [K, N], [C [N]]) with alpha = beta = 1 and no
  // transposes: GPT-2's Conv1D on the flattened input.
  void raiseGemm(Operation *op) {
    Value a = op->getOperand(0), w = op->getOperand(1);
    Value c = op->getNumOperands() > 2 && !isa<NoneType>(op->getOperand(2).getType())
                  ? op->getOperand(2)
                  : Value();
    auto at = rankedF32(a);
    if (!at || at.getRank() != 2 || intAttr(op, "transA", 0) || intAttr(op, "transB", 0) ||
        floatAttr(op, "alpha", 1.0) != 1.0 || (c && floatAttr(op, "beta", 1.0) != 1.0) ||
        !isWeight(w) || staticLastDim(a) != rankedF32(w).getDimSize(0) ||
        (c && !isVectorParameter(c, cols(w))))
      return;
    OpBuilder b(op);
    auto l = b.create<ir::LinearOp>(op->getLoc(), op->getResult(0).getType(), a, w, c);
    op->getResult(0).replaceAllUsesWith(l.getResult());
  }

  static bool plain(ir::LinearOp l) { return l && !l.getBias(); }

  // The fused projection that g and u are the two halves of: Split(h, axis =
  // -1) into two equal outputs (#0 gate, #1 up), or Slices [0, I) and
  // [I, 2I) of the last axis; h = linear(x, W [K, 2I]).
  ir::LinearOp fusedHalves(Value g, Value u) {
    auto rg = dyn_cast<OpResult>(g), ru = dyn_cast<OpResult>(u);
    if (!rg || !ru)
      return ir::LinearOp();
    Operation *sg = rg.getOwner(), *su = ru.getOwner();
    Value h;
    if (sg == su && isa<onnx::SplitOp>(sg) && sg->getNumResults() == 2 && rg.getResultNumber() == 0 &&
        ru.getResultNumber() == 1) {
      h = sg->getOperand(0);
      auto ht = rankedF32(h);
      if (!ht || !isLastAxis(intAttr(sg, "axis", 0), ht.getRank()))
        return ir::LinearOp();
      if (sg->getNumOperands() > 1 && !isa<NoneType>(sg->getOperand(1).getType())) {
        auto sizes = intsConstant(sg->getOperand(1));
        if (!sizes || sizes->size() != 2 || (*sizes)[0] != (*sizes)[1])
          return ir::LinearOp();
      } else if (intAttr(sg, "num_outputs", 2) != 2) {
        return ir::LinearOp();
      }
    } else if (isa<onnx::SliceOp>(sg) && isa<onnx::SliceOp>(su) && sg->getOperand(0) == su->getOperand(0)) {
      h = sg->getOperand(0);
      int64_t width = staticLastDim(h);
      auto ht = rankedF32(h);
      if (width <= 0 || width % 2)
        return ir::LinearOp();
      auto range = [&](Operation *s) -> std::optional<std::pair<int64_t, int64_t>> {
        auto st = intsConstant(s->getOperand(1)), en = intsConstant(s->getOperand(2));
        if (!st || !en || st->size() != 1 || en->size() != 1 || (*st)[0] < 0 || (*en)[0] < 0)
          return std::nullopt;
        if (s->getNumOperands() > 3) {
          auto ax = intsConstant(s->getOperand(3));
          if (!ax || ax->size() != 1 || !isLastAxis((*ax)[0], ht.getRank()))
            return std::nullopt;
        }
        if (s->getNumOperands() > 4 && intsConstant(s->getOperand(4)) != std::vector<int64_t>{1})
          return std::nullopt;
        return std::make_pair(std::min((*st)[0], width), std::min((*en)[0], width));
      };
      if (range(sg) != std::make_pair(int64_t(0), width / 2) ||
          range(su) != std::make_pair(width / 2, width))
        return ir::LinearOp();
    } else {
      return ir::LinearOp();
    }
    auto l = h.getDefiningOp<ir::LinearOp>();
    return plain(l) && cols(l.getWeight()) % 2 == 0 ? l : ir::LinearOp();
  }

  // down(act(x Wg) * (x Wu)) over linears without bias; the product either
  // way round.
  void raiseGatedMLP(ir::LinearOp down) {
    if (!plain(down))
      return;
    auto mul = producer<onnx::MulOp>(down.getX());
    if (!mul)
      return;
    for (int i = 0; i < 2; ++i) {
      auto act = activation(mul->getOperand(i));
      if (!act)
        continue;
      Value g = act->first, u = mul->getOperand(1 - i);
      SmallVector<Value> weights;
      Value x;
      auto lg = g.getDefiningOp<ir::LinearOp>(), lu = u.getDefiningOp<ir::LinearOp>();
      if (plain(lg) && plain(lu) && lg.getX() == lu.getX()) {
        x = lg.getX();
        weights = {lg.getWeight(), lu.getWeight()};
      } else if (auto fused = fusedHalves(g, u)) {
        x = fused.getX();
        weights = {fused.getWeight()};
      } else {
        continue;
      }
      // Static widths that line up: gate and up [K, I] (or [K, 2I]), down [I, N].
      int64_t inter = weights.size() == 1 ? cols(weights[0]) / 2 : cols(weights[0]);
      if ((weights.size() == 2 && cols(weights[1]) != inter) ||
          rankedF32(down.getWeight()).getDimSize(0) != inter)
        continue;
      weights.push_back(down.getWeight());
      OpBuilder b(down);
      auto m = b.create<ir::GatedMLPOp>(down.getLoc(), down.getType(), x, weights,
                                        b.getStringAttr(act->second));
      down.getResult().replaceAllUsesWith(m.getResult());
      return;
    }
  }

  // The function result named "logits", when a linear without bias
  // computes it.
  void raiseLogits() {
    Operation *ret = func_.getBody().front().getTerminator();
    for (unsigned i = 0; i < ret->getNumOperands(); ++i) {
      auto name = func_.getResultAttrOfType<StringAttr>(i, "onnx.name");
      auto l = ret->getOperand(i).getDefiningOp<ir::LinearOp>();
      if (!name || name.getValue() != "logits" || !plain(l))
        continue;
      OpBuilder b(l);
      auto lg = b.create<ir::LogitsOp>(l.getLoc(), l.getType(), l.getX(), l.getWeight());
      l.getResult().replaceAllUsesWith(lg.getResult());
    }
  }
};

struct RaiseLinearPass : impl::RaiseLinearBase<RaiseLinearPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      Raiser(func).run();
  }
};

} // namespace
} // namespace resa
