// resa-group-rotary: see Passes.td.
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"

#include <map>
#include <tuple>

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_GROUPROTARY
#include "passes/Passes.h.inc"

namespace {

// What rotary ops must share to become one: the block, the tables and the
// rotation's parameters.
using Key = std::tuple<Block *, void *, void *, int64_t, int64_t>;

Key keyOf(ir::RotaryOp op) {
  return {op->getBlock(), op.getCos().getAsOpaquePointer(), op.getSin().getAsOpaquePointer(),
          op.getRotaryDim(), op.getInterleaved()};
}

struct GroupRotaryPass : impl::GroupRotaryBase<GroupRotaryPass> {
  void runOnOperation() override {
    // Rotary ops by key, each group in program order (the walk's).
    std::map<Key, SmallVector<ir::RotaryOp>> groups;
    SmallVector<Key> order;
    getOperation().walk([&](ir::RotaryOp op) {
      auto [it, fresh] = groups.try_emplace(keyOf(op));
      if (fresh)
        order.push_back(it->first);
      it->second.push_back(op);
    });
    DominanceInfo dom(getOperation());
    OpBuilder b(&getContext());
    for (const Key &key : order) {
      // Layers share the tables (merged by CSE), so one key holds every
      // layer's rotary ops: the earliest left takes the others whose tensor
      // exists there (its layer's), and the rest group again after it.
      SmallVector<ir::RotaryOp> left = groups[key];
      while (left.size() >= 2) {
        SmallVector<ir::RotaryOp> group, later;
        for (ir::RotaryOp op : left)
          (op == left.front() || dom.properlyDominates(op.getX(), left.front()) ? group : later)
              .push_back(op);
        if (group.size() >= 2)
          groupAt(b, group);
        left = std::move(later);
      }
    }
  }

  // One multi_rotary in place of `group` (>= 2 ops, program order), at the
  // first of them.
  static void groupAt(OpBuilder &b, MutableArrayRef<ir::RotaryOp> group) {
    ir::RotaryOp first = group.front();
    SmallVector<Value> xs;
    SmallVector<int64_t> heads;
    SmallVector<Type> types;
    SmallVector<Location> locs;
    for (ir::RotaryOp op : group) {
      xs.push_back(op.getX());
      heads.push_back(op.getNumHeads());
      types.push_back(op.getType());
      locs.push_back(op.getLoc());
    }
    b.setInsertionPoint(first);
    auto multi = b.create<ir::MultiRotaryOp>(b.getFusedLoc(locs), types, first.getCos(),
                                             first.getSin(), xs, b.getDenseI64ArrayAttr(heads),
                                             first.getRotaryDimAttr(), first.getInterleavedAttr());
    for (auto [i, op] : llvm::enumerate(group)) {
      op.getResult().replaceAllUsesWith(multi.getResult(i));
      op.erase();
    }
  }
};
} // namespace
} // namespace resa
