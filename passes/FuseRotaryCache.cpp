// resa-fuse-rotary-cache: see Passes.td.
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

using namespace mlir;

namespace resa {
#define GEN_PASS_DEF_FUSEROTARYCACHE
#include "passes/Passes.h.inc"

namespace {

struct FuseRotaryCachePass : impl::FuseRotaryCacheBase<FuseRotaryCachePass> {
  void runOnOperation() override {
    SmallVector<ir::CacheAttentionOp> attentions;
    getOperation().walk([&](ir::CacheAttentionOp a) { attentions.push_back(a); });
    OpBuilder b(&getContext());
    for (ir::CacheAttentionOp a : attentions) {
      // q and k: the two results of one multi_rotary that nothing else reads,
      // with this attention's head counts.
      auto rotary = a.getQ().getDefiningOp<ir::MultiRotaryOp>();
      if (!rotary || rotary.getXs().size() != 2 || a.getK().getDefiningOp() != rotary.getOperation() ||
          a.getQ() != rotary.getResult(0) || a.getK() != rotary.getResult(1) ||
          !rotary.getResult(0).hasOneUse() || !rotary.getResult(1).hasOneUse() ||
          rotary.getNumHeads()[0] != a.getNumHeadsAttr().getInt() ||
          rotary.getNumHeads()[1] != a.getKvHeadsAttr().getInt())
        continue;
      b.setInsertionPoint(a);
      auto fused = b.create<ir::RotaryCacheAttentionOp>(
          b.getFusedLoc({rotary.getLoc(), a.getLoc()}), a.getType(), rotary.getXs()[0],
          rotary.getXs()[1], a.getV(), rotary.getCos(), rotary.getSin(), a.getNumHeadsAttr(),
          a.getKvHeadsAttr(), a.getScaleAttr(), a.getLayoutAttr(), a.getLayerAttr(),
          rotary.getRotaryDimAttr(), rotary.getInterleavedAttr());
      a.getResult().replaceAllUsesWith(fused.getResult());
      a.erase();
      rotary.erase();
    }
    SmallVector<ir::CacheWriteOp> writes;
    getOperation().walk([&](ir::CacheWriteOp w) { writes.push_back(w); });
    for (ir::CacheWriteOp w : writes)
      fuseIntoWrite(b, w);
  }

  // A multi_rotary of (q, k) whose rotated k only this cache_write reads
  // (the block-sparse decode step's form: the rotated q goes on to the block
  // selection and attention) becomes one resa.rotary_cache_write in the
  // write's place, its result standing for the rotated q, when every reader
  // of that q comes after the write.
  static void fuseIntoWrite(OpBuilder &b, ir::CacheWriteOp w) {
    auto rotary = w.getK().getDefiningOp<ir::MultiRotaryOp>();
    if (!rotary || rotary.getXs().size() != 2 || w.getK() != rotary.getResult(1) ||
        !rotary.getResult(1).hasOneUse() || rotary->getBlock() != w->getBlock() ||
        rotary.getNumHeads()[1] != w.getKvHeadsAttr().getInt())
      return;
    Value q = rotary.getResult(0);
    for (Operation *user : q.getUsers())
      if (user->getBlock() != w->getBlock() || !w->isBeforeInBlock(user))
        return;
    b.setInsertionPoint(w);
    auto fused = b.create<ir::RotaryCacheWriteOp>(
        b.getFusedLoc({rotary.getLoc(), w.getLoc()}), q.getType(), rotary.getXs()[0], rotary.getXs()[1],
        w.getV(), rotary.getCos(), rotary.getSin(), b.getI64IntegerAttr(rotary.getNumHeads()[0]),
        w.getKvHeadsAttr(), w.getLayoutAttr(), w.getLayerAttr(), rotary.getRotaryDimAttr(),
        rotary.getInterleavedAttr());
    q.replaceAllUsesWith(fused.getResult());
    w.erase();
    rotary.erase();
  }
};

} // namespace
} // namespace resa
