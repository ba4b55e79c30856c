// resa-raise-norms: see Passes.td.
#include "passes/RaiseUtil.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_RAISENORMS
#include "passes/Passes.h.inc"

namespace {
using namespace raise;

bool unused(Operation *op, unsigned result) {
  return op->getNumResults() <= result || op->getResult(result).use_empty();
}

// x and weight of a norm over the last axis: x f32 with a static last dim D,
// weight (or bias) a [D] tensor.
bool normOperands(Value x, Value weight, Value bias = Value()) {
  int64_t d = staticLastDim(x);
  auto fits = [&](Value p) {
    auto t = rankedF32(p);
    return t && t.getRank() == 1 && !t.isDynamicDim(0) && t.getDimSize(0) == d;
  };
  return d > 0 && fits(weight) && (!bias || fits(bias));
}

class Raiser {
public:
  explicit Raiser(func::FuncOp func) : func_(func) {}

  void run() {
    raise::raiseEach(func_, [&](Operation *op) {
      if (isa<onnx::RMSNormalizationOp, onnx::SimplifiedLayerNormalizationOp,
              onnx::MsSimplifiedLayerNormalizationOp>(op))
        raiseRmsOp(op);
      else if (isa<onnx::LayerNormalizationOp>(op))
        raiseLayerNorm(op);
      else if (isa<onnx::MsSkipSimplifiedLayerNormalizationOp>(op))
        raiseSkipRms(op);
      else if (isa<onnx::SqrtOp>(op))
        raiseDecomposed(op);
    });
  }

private:
  func::FuncOp func_;

  Value rmsNorm(OpBuilder &b, Location loc, Type type, Value x, Value w, double eps,
                double offset = 0.0) {
    auto op = b.create<ir::RMSNormOp>(loc, type, x, w, b.getF32FloatAttr(float(eps)),
                                      offset != 0.0 ? b.getF32FloatAttr(float(offset))
                                                    : FloatAttr());
    return op.getResult();
  }

  // RMSNormalization (opset 23) and SimplifiedLayerNormalization (default
  // and com.microsoft domains): X, scale; normalised over the last axis only,
  // inv_std_var output unused.
  void raiseRmsOp(Operation *op) {
    Value x = op->getOperand(0), w = op->getOperand(1);
    auto xt = rankedF32(x);
    if (!xt || !isLastAxis(intAttr(op, "axis", -1), xt.getRank()) || !normOperands(x, w) ||
        !unused(op, 1))
      return;
    OpBuilder b(op);
    Value y = rmsNorm(b, op->getLoc(), op->getResult(0).getType(), x, w,
                      floatAttr(op, "epsilon", 1e-5));
    op->getResult(0).replaceAllUsesWith(y);
  }

  // LayerNormalization: X, Scale, [B]; the last axis only, Mean and
  // InvStdDev outputs unused.
  void raiseLayerNorm(Operation *op) {
    Value x = op->getOperand(0), w = op->getOperand(1);
    Value bias = op->getNumOperands() > 2 && !isa<NoneType>(op->getOperand(2).getType())
                     ? op->getOperand(2)
                     : Value();
    auto xt = rankedF32(x);
    if (!xt || !isLastAxis(intAttr(op, "axis", -1), xt.getRank()) || !normOperands(x, w, bias) ||
        !unused(op, 1) || !unused(op, 2))
      return;
    OpBuilder b(op);
    auto ln = b.create<ir::LayerNormOp>(op->getLoc(), op->getResult(0).getType(), x, w, bias,
                                        b.getF32FloatAttr(float(floatAttr(op, "epsilon", 1e-5))));
    op->getResult(0).replaceAllUsesWith(ln.getResult());
  }

  // com.microsoft SkipSimplifiedLayerNormalization: input, skip, gamma,
  // [bias] -> output, mean, inv_std_var, input_skip_bias_sum. The sum
  // becomes onnx.Add(s) (input + skip [+ bias], in that order, as the kernel
  // adds), the output resa.rms_norm of it. Mean and inv_std_var unused.
  void raiseSkipRms(Operation *op) {
    Value x = op->getOperand(0), skip = op->getOperand(1), gamma = op->getOperand(2);
    Value bias = op->getNumOperands() > 3 && !isa<NoneType>(op->getOperand(3).getType())
                     ? op->getOperand(3)
                     : Value();
    auto xt = rankedF32(x);
    if (!xt || xt.getRank() < 1 || !normOperands(x, gamma, bias) || !unused(op, 1) ||
        !unused(op, 2) || !rankedF32(skip) || rankedF32(skip).getRank() > xt.getRank())
      return;
    OpBuilder b(op);
    Location loc = op->getLoc();
    Value sum = b.create<onnx::AddOp>(loc, TypeRange{xt}, ValueRange{x, skip})->getResult(0);
    if (bias)
      sum = b.create<onnx::AddOp>(loc, TypeRange{xt}, ValueRange{sum, bias})->getResult(0);
    Value y = rmsNorm(b, loc, op->getResult(0).getType(), sum, gamma,
                      floatAttr(op, "epsilon", 1e-5));
    op->getResult(0).replaceAllUsesWith(y);
    if (op->getNumResults() > 3 && !op->getResult(3).use_empty()) {
      if (op->getResult(3).getType() != sum.getType())
        sum = b.create<onnx::IdentityOp>(loc, TypeRange{op->getResult(3).getType()},
                                         ValueRange{sum})
                  ->getResult(0);
      op->getResult(3).replaceAllUsesWith(sum);
    }
  }

  // x * 1/sqrt(mean(x^2, -1) + eps) * w, as torch's dynamo export emits
  // RMSNorm: Pow(x, 2) (or x * x) -> ReduceMean(axes = [-1], keepdims = 1)
  // -> Add(eps) -> Sqrt -> Reciprocal -> Mul(x, .) -> Mul(w, .), or
  // Div(x, sqrt); w may be Gemma's Add(w, 1). Anchored on the Sqrt.
  void raiseDecomposed(Operation *sqrt) {
    auto add = producer<onnx::AddOp>(sqrt->getOperand(0));
    if (!add)
      return;
    Value ms;
    std::optional<double> eps;
    for (int i = 0; i < 2 && !eps; ++i)
      if ((eps = scalarConstant(add->getOperand(1 - i))))
        ms = add->getOperand(i);
    if (!eps || *eps < 0)
      return;
    auto mean = producer<onnx::ReduceMeanOp>(ms);
    if (!mean || intAttr(mean, "keepdims", 1) != 1)
      return;
    Value sq = mean->getOperand(0);
    auto sqt = rankedF32(sq);
    if (!sqt)
      return;
    std::optional<std::vector<int64_t>> axes;
    if (mean->getNumOperands() > 1 && !isa<NoneType>(mean->getOperand(1).getType()))
      axes = intsConstant(mean->getOperand(1));
    else if (auto a = mean->getAttrOfType<ArrayAttr>("axes"); a && a.size() == 1)
      axes = std::vector<int64_t>{cast<IntegerAttr>(a[0]).getInt()};
    else if (auto a = mean->getAttrOfType<DenseI64ArrayAttr>("axes"))
      axes = std::vector<int64_t>(a.asArrayRef());
    if (!axes || axes->size() != 1 || !isLastAxis((*axes)[0], sqt.getRank()))
      return;
    // x^2 as Pow(x, 2) or Mul(x, x).
    Value x;
    if (auto pow = producer<onnx::PowOp>(sq)) {
      auto e = scalarConstant(pow->getOperand(1));
      if (!e || *e != 2.0)
        return;
      x = pow->getOperand(0);
    } else if (auto mul = producer<onnx::MulOp>(sq)) {
      if (mul->getOperand(0) != mul->getOperand(1))
        return;
      x = mul->getOperand(0);
    } else {
      return;
    }
    auto xt = rankedF32(x);
    int64_t d = staticLastDim(x);
    if (!xt || d <= 0 || xt != sqt)
      return;
    // Down: x * Reciprocal(sqrt) or x / sqrt.
    SmallVector<Value> normed;
    for (Operation *user : sqrt->getResult(0).getUsers()) {
      if (isa<onnx::DivOp>(user) && user->getOperand(0) == x && user->getOperand(1) == sqrt->getResult(0))
        normed.push_back(user->getResult(0));
      if (isa<onnx::ReciprocalOp>(user))
        for (Operation *mul : user->getResult(0).getUsers())
          if (isa<onnx::MulOp>(mul)) {
            Value other = mul->getOperand(mul->getOperand(0) == user->getResult(0) ? 1 : 0);
            if (other == x)
              normed.push_back(mul->getResult(0));
          }
    }
    for (Value n : normed) {
      if (n.getType() != xt)
        continue;
      // Then the weight: Mul(n, w) or Mul(w, n), w = [D] or Add(w, 1).
      for (Operation *mul : llvm::make_early_inc_range(n.getUsers())) {
        if (!isa<onnx::MulOp>(mul) || mul->getResult(0).getType() != xt)
          continue;
        Value w = mul->getOperand(mul->getOperand(0) == n ? 1 : 0);
        if (w == n)
          continue;
        double offset = 0.0;
        if (auto wadd = producer<onnx::AddOp>(w)) {
          for (int i = 0; i < 2; ++i) {
            auto one = scalarConstant(wadd->getOperand(1 - i));
            if (one && *one == 1.0 && isVectorParameter(wadd->getOperand(i), d)) {
              w = wadd->getOperand(i);
              offset = 1.0;
              break;
            }
          }
        }
        auto wt = rankedF32(w);
        if (!wt || wt.getRank() != 1 || wt.isDynamicDim(0) || wt.getDimSize(0) != d)
          continue;
        OpBuilder b(mul);
        Value y = rmsNorm(b, mul->getLoc(), xt, x, w, *eps, offset);
        mul->getResult(0).replaceAllUsesWith(y);
      }
    }
  }
};

struct RaiseNormsPass : impl::RaiseNormsBase<RaiseNormsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      Raiser(func).run();
  }
};

} // namespace
} // namespace resa
