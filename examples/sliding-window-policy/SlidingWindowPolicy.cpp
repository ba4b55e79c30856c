// An out-of-tree attention policy, loaded with --load-pass-plugin: decode
// attends to a sliding window of the most recent tokens (whole blocks of the
// KV cache). It reuses the policy interface (passes/AttentionPolicy.h) and
// the runtime's block-sparse decode as they are: a new policy is a new pass,
// not an edit of the runtime.
#include "passes/AttentionPolicy.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"

namespace {

struct SlidingWindowPolicy
    : mlir::PassWrapper<SlidingWindowPolicy, mlir::OperationPass<mlir::ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(SlidingWindowPolicy)

  SlidingWindowPolicy() = default;
  SlidingWindowPolicy(const SlidingWindowPolicy &other) : PassWrapper(other) {}

  llvm::StringRef getArgument() const final { return "resa-attention-sliding-window"; }
  llvm::StringRef getDescription() const final {
    return "Attention policy: decode attends to the most recent `window` tokens";
  }

  Option<int64_t> window{*this, "window",
                         llvm::cl::desc("tokens decode attends to, rounded up to whole blocks"),
                         llvm::cl::init(256)};
  Option<int64_t> blockSize{*this, "block-size",
                            llvm::cl::desc("tokens per block (a power of two)"),
                            llvm::cl::init(16)};

  void runOnOperation() override {
    mlir::ModuleOp module = getOperation();
    if (window <= 0) {
      module.emitError() << "sliding window must be positive, got " << static_cast<int64_t>(window);
      return signalPassFailure();
    }
    if (mlir::failed(resa::checkBlockSize(module, blockSize)))
      return signalPassFailure();
    // No scored blocks, only the local ones: the window.
    resa::SparseDecodeOptions options;
    options.blockSize = blockSize;
    options.keptRatio = 0.0;
    options.minBlocks = 0;
    options.localBlocks = (window + blockSize - 1) / blockSize;
    if (mlir::failed(resa::rewriteDecodeSparse(module, options)))
      signalPassFailure();
  }
};

} // namespace

extern "C" LLVM_ATTRIBUTE_WEAK ::mlir::PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "ResaSlidingWindowPolicy", LLVM_VERSION_STRING,
          []() { mlir::PassRegistration<SlidingWindowPolicy>(); }};
}
