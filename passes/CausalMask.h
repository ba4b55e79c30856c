// Proving that an attention mask computed inside the graph is causal, by
// evaluating its subgraph with the CPU kernels at several small sizes.
#pragma once

#include "mlir/IR/Value.h"

#include <string>

namespace mlir::func {
class FuncOp;
}

namespace resa {

// How the attention consumes the mask.
enum class MaskUse {
  Additive, // added to the scores: 0 keeps a key, a large negative value drops it
  Keep,     // boolean, true keeps a key
  Drop,     // boolean, true drops a key (masked_fill)
};

// Evaluates `mask` for batch 1..2 and sequence lengths 1..5 (graph inputs
// bound as a caller without past would bind them) and checks that, after
// broadcasting, query i keeps exactly keys 0..i. On failure returns a
// sentence saying why (for the error naming the node); on success "".
std::string proveCausal(mlir::func::FuncOp func, mlir::Value mask, MaskUse use, int64_t opset);

} // namespace resa
