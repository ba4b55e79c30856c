// resa-group-linears: see Passes.td.
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_GROUPLINEARS
#include "passes/Passes.h.inc"

namespace {

// The resa.linear users of `x` in one block, in order, whose weights and
// biases exist before the first of them (so one op there can take them all).
SmallVector<ir::LinearOp> groupOf(Value x, Block *block, DominanceInfo &dom) {
  SmallVector<ir::LinearOp> linears;
  for (Operation *user : x.getUsers())
    if (auto l = dyn_cast<ir::LinearOp>(user); l && l.getX() == x && l->getBlock() == block)
      linears.push_back(l);
  llvm::sort(linears, [](ir::LinearOp a, ir::LinearOp b) {
    return a->isBeforeInBlock(b.getOperation());
  });
  if (linears.size() < 2)
    return {};
  Operation *first = linears.front();
  for (ir::LinearOp l : linears)
    if (!dom.properlyDominates(l.getWeight(), first) ||
        (l.getBias() && !dom.properlyDominates(l.getBias(), first)))
      return {};
  return linears;
}

struct GroupLinearsPass : impl::GroupLinearsBase<GroupLinearsPass> {
  void runOnOperation() override {
    // The inputs read by more than one linear, each once, in program order.
    SmallVector<std::pair<Value, Block *>> inputs;
    llvm::DenseSet<Value> seen;
    getOperation().walk([&](ir::LinearOp l) {
      if (seen.insert(l.getX()).second)
        inputs.push_back({l.getX(), l->getBlock()});
    });
    DominanceInfo dom(getOperation());
    OpBuilder b(&getContext());
    for (auto [x, block] : inputs) {
      SmallVector<ir::LinearOp> linears = groupOf(x, block, dom);
      if (linears.empty())
        continue;
      b.setInsertionPoint(linears.front());
      Value none;
      SmallVector<Value> params;
      SmallVector<Type> types;
      SmallVector<Location> locs;
      for (ir::LinearOp l : linears) {
        if (!l.getBias() && !none)
          none = b.create<ir::NoneOp>(l.getLoc(), b.getNoneType());
        params.push_back(l.getWeight());
        params.push_back(l.getBias() ? l.getBias() : none);
        types.push_back(l.getType());
        locs.push_back(l.getLoc());
      }
      auto multi = b.create<ir::MultiLinearOp>(b.getFusedLoc(locs), types, x, params,
                                                /*widths=*/nullptr);
      for (auto [i, l] : llvm::enumerate(linears)) {
        l.getResult().replaceAllUsesWith(multi.getResult(i));
        l.erase();
      }
    }
  }
};
} // namespace
} // namespace resa
