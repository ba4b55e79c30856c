// Evaluating IR at compile time with the runtime's exact CPU kernels: the
// one place where MLIR attributes and resa::Tensor meet. Used to fold
// constant subgraphs and to prove a mask subgraph causal by running it at
// small sizes.
#pragma once

#include "resa/kernels/Kernel.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

#include <map>
#include <string>

namespace resa {

Tensor tensorFromDense(mlir::DenseElementsAttr attr);
mlir::DenseElementsAttr denseFromTensor(mlir::MLIRContext *ctx, const Tensor &t);
// An op's attributes as the kernels take them. Throws resa::Error for a kind
// the kernels cannot take.
Attrs kernelAttrs(mlir::DictionaryAttr attrs);

// Evaluates the values that `root` depends on, in IR order, with the CPU
// kernels. Function arguments must be given in `arguments`; symbols bind the
// shape expressions. Throws resa::Error (naming the node) when something on
// the way cannot be evaluated.
class KernelEvaluator {
public:
  KernelEvaluator(int64_t opset, std::map<std::string, int64_t> symbols)
      : opset_(opset), symbols_(std::move(symbols)) {}
  void bind(mlir::Value v, Tensor t) { values_[v] = std::move(t); }
  const Tensor &evaluate(mlir::Value root);

private:
  int64_t opset_;
  std::map<std::string, int64_t> symbols_;
  llvm::DenseMap<mlir::Value, Tensor> values_;
  void evaluateOp(mlir::Operation *op);
};

} // namespace resa
