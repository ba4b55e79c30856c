#ifndef RESA_PASSES_TD
#define RESA_PASSES_TD

include "mlir/Pass/PassBase.td"

def InferShapes : Pass<"resa-infer-shapes", "mlir::ModuleOp"> {
  let summary = "Infer element types and (symbolic) shapes of every onnx value";
  let description = [{
    Propagates element types, ranks and dims through the onnx dialect. Dynamic
    input dims are symbols (named by the ONNX dim_param, e.g. `batch`, `seq`);
    dims that are polynomials of them stay '?' in the types. Conflicts between
    a declared type and what the inputs give are errors naming the node.
  }];
  let dependentDialects = ["resa::onnx::OnnxDialect"];
}

def FoldShapes : Pass<"resa-fold-shapes", "mlir::ModuleOp"> {
  let summary = "Fold the exporters' shape arithmetic to constants or shape expressions";
  let description = [{
    Integer tensors whose elements are known (constant, or polynomials of the
    symbolic input dims) are replaced by `onnx.Constant` or `resa.shape_expr`;
    ops that no longer have users are erased. Shapes are inferred again
    afterwards, so Reshape/Expand targets that became constant give static
    result types.
  }];
  let dependentDialects = ["resa::onnx::OnnxDialect", "resa::ir::ResaDialect"];
}

def RaiseAttention : Pass<"resa-raise-attention", "mlir::ModuleOp"> {
  let summary = "Raise every exporter's attention form to resa.attention";
  let description = [{
    Recognises softmax(scale * q k^T + mask) v as eager attention and the
    opset-18 SDPA decomposition emit it (with HF's repeat_kv peeled off so
    that k and v keep their KV heads), opset-23 `Attention`, and
    `com.microsoft` GroupQueryAttention (its do_rotary becomes
    com.microsoft RotaryEmbedding at `resa.positions`) and
    MultiHeadAttention. A mask computed in the graph is accepted only when
    proven causal by evaluating it at small sizes; otherwise the pass fails
    with an error naming the node. Masks and other subgraphs left without
    users are erased.
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

def FormKVProgram : Pass<"resa-form-kv-program", "mlir::ModuleOp"> {
  let summary = "Turn the stateless graph into prefill/decode/rectify over a managed KV cache";
  let description = [{
    From @main (tokens -> logits, every resa.attention raised) builds
    @prefill and @decode (the call's tokens -> their logits) and @rectify
    (the call's tokens -> nothing: it only rewrites their KV). Each
    resa.attention becomes resa.cache_attention of its layer; the exporters'
    Range(0, seq) and `position_ids` inputs become resa.positions (absolute
    positions of the call's tokens); past_key_values inputs and present
    outputs are dropped, the cache holds them. The module gets a
    `resa.kv_cache` attribute: layers, KV heads and head size.
  }];
  let dependentDialects = ["resa::ir::ResaDialect", "mlir::func::FuncDialect"];
}

def LowerToKernels : Pass<"resa-lower-to-kernels", "mlir::ModuleOp"> {
  let summary = "Lower every op to runtime kernel calls over buffers";
  let description = [{
    onnx ops become `resa.kernel_call` of the kernel of the same name (contrib
    ops: `com.microsoft.<Op>`), initializers become `resa.weight`, constants
    `resa.constant`. Fails naming the node when the runtime has no kernel.
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

#endif
