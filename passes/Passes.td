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

def FoldWeightCasts : Pass<"resa-fold-weight-casts", "mlir::ModuleOp"> {
  let summary = "Read f16/bf16 initializers cast to float as float32 weights stored narrow";
  let description = [{
    A model that stores its weights in f16 or bf16 and reads each through a
    Cast to float (tools/train/export.py --weights) computes in float32 on
    the same values. Cast(to = FLOAT) of such an onnx.initializer becomes
    the f32 onnx.initializer of the same name with `stored_type` f16/bf16,
    so that the raising passes see the parameter they see in a float32
    export and the package keeps the bytes as stored; Cast of a small f16/bf16
    onnx.Constant (an inlined initializer) becomes the f32 constant, exactly.
  }];
  let dependentDialects = ["resa::onnx::OnnxDialect"];
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

def PrefillLastLogits : Pass<"resa-prefill-last-logits", "mlir::ModuleOp"> {
  let summary = "Make @prefill compute the logits of the last position only";
  let description = [{
    Generation samples the first new token from the prompt's last position;
    the other positions' logits ([B, S, vocab] fp32: 8 GB at 16K tokens and
    a 128K vocabulary) cost compute and a download that nothing reads. In
    @prefill (resa-form-kv-program made it), the resa.logits op that
    computes the "logits" result gets the last position of its hidden
    states only (onnx.Slice along axis 1: [B, S, H] -> [B, 1, H]), so
    @prefill returns [B, 1, vocab]. Fails, naming @prefill, when no
    resa.logits computes that result. @main, @decode and @rectify are
    unchanged.
  }];
  let dependentDialects = ["resa::onnx::OnnxDialect", "resa::ir::ResaDialect",
                           "mlir::func::FuncDialect"];
}

class AttentionPolicy<string arg, string what> : Pass<arg, "mlir::ModuleOp"> {
  let summary = "Attention policy: " # what;
  let dependentDialects = ["resa::ir::ResaDialect"];
}

def AttentionDense : AttentionPolicy<"resa-attention-dense",
    "dense decode over the whole KV cache"> {
  let description = [{
    Keeps @decode's attention dense; sets the KV cache's page size.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "16", "tokens per KV page (a power of two)">,
  ];
}

def AttentionSparse : AttentionPolicy<"resa-attention-sparse",
    "block-sparse decode, no rectification"> {
  let description = [{
    @decode attends only to the blocks that resa.block_select picks (ReSA's
    selection rule, DESIGN.md); prefill stays dense; the cache is never
    rectified, so sparse decoding errors accumulate in it.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "16", "tokens per block (a power of two)">,
    Option<"keptRatio", "kept-ratio", "double", "0.1", "fraction of blocks kept, in (0, 1]">,
    Option<"minBlocks", "min-blocks", "int64_t", "16", "blocks kept at least (n_min)">,
    Option<"localBlocks", "local-blocks", "int64_t", "1", "most recent blocks always kept">,
  ];
}

def AttentionResa : AttentionPolicy<"resa-attention-resa",
    "block-sparse decode with scheduled dense rectification (ReSA)"> {
  let description = [{
    As resa-attention-sparse, plus a resa.rectification_schedule: every
    `rectify-every` decode steps, @rectify re-encodes the last that many
    tokens densely, overwriting their KV and refreshing block summaries.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "16", "tokens per block (a power of two)">,
    Option<"keptRatio", "kept-ratio", "double", "0.1", "fraction of blocks kept, in (0, 1]">,
    Option<"minBlocks", "min-blocks", "int64_t", "16", "blocks kept at least (n_min)">,
    Option<"localBlocks", "local-blocks", "int64_t", "1", "most recent blocks always kept">,
    Option<"rectifyEvery", "rectify-every", "int64_t", "32",
           "decode steps between dense rectifications (f)">,
  ];
}

def GsrPipeline : Pass<"resa-gsr-pipeline", "mlir::ModuleOp"> {
  let summary = "Wrap the generation program in a GSR pipeline (resa.gsr_pipeline)";
  let description = [{
    Adds resa.gsr_pipeline with the options below. The refinement template is
    data: a file (`template`), by default the one shipped in
    data/gsr/refine-template.txt, embedded when resa is built.
  }];
  let options = [
    Option<"candidates", "candidates", "int64_t", "4", "candidate solutions sampled (N)">,
    Option<"templatePath", "template", "std::string", "\"\"",
           "refinement template file (default: the shipped one)">,
    Option<"candidateTemperature", "candidate-temperature", "double", "0.8", "">,
    Option<"candidateTopP", "candidate-top-p", "double", "0.95", "">,
    Option<"candidateMaxTokens", "candidate-max-tokens", "int64_t", "256", "">,
    Option<"refineTemperature", "refine-temperature", "double", "0.0", "0: greedy">,
    Option<"refineTopP", "refine-top-p", "double", "1.0", "">,
    Option<"refineMaxTokens", "refine-max-tokens", "int64_t", "256", "">,
    ListOption<"stop", "stop", "std::string", "stop strings (comma-separated)">,
    Option<"answer", "answer", "std::string", "\"last-number\"",
           "answer extraction: last-number, boxed or after:<marker>">,
  ];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

def GroupLinears : Pass<"resa-group-linears", "mlir::ModuleOp"> {
  let summary = "Group the resa.linear ops that read one input into resa.multi_linear";
  let description = [{
    The linear layers applied to the same value in one block (a layer's q, k
    and v projections, in any order) become one resa.multi_linear at the
    first of them, with their weights and biases in program order, when
    those exist there already. On the GPU the input is then converted to the
    weights' type once instead of once per projection. A lone linear stays.
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

def GroupRotary : Pass<"resa-group-rotary", "mlir::ModuleOp"> {
  let summary = "Group the resa.rotary ops that share cos, sin and parameters into resa.multi_rotary";
  let description = [{
    The rotary ops of one block with the same cos and sin, rotary_dim and
    interleaved (a layer's q and k) become one resa.multi_rotary at the first
    of them, taking the tensors that exist there, in program order: one
    kernel launch instead of two per layer on the GPU. A lone rotary stays.
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

def FuseAddNorm : Pass<"resa-fuse-add-norm", "mlir::ModuleOp"> {
  let summary = "Fuse a residual onnx.Add and the resa.rms_norm of its sum into resa.add_rms_norm";
  let description = [{
    An Add of two values that shape inference proves to have one shape (no
    broadcasting), whose sum a resa.rms_norm normalises, becomes one
    resa.add_rms_norm giving both the sum (for the other readers: the next
    residual add) and its normalisation. Pre-norm decoders have two per
    layer; the GPU then reads the residual stream once per pair.
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

def FuseProjectionNorm : Pass<"resa-fuse-projection-norm", "mlir::ModuleOp"> {
  let summary = "Fuse a projection whose only reader is a resa.add_rms_norm into resa.projection_add_rms_norm";
  let description = [{
    A resa.linear without bias, or a resa.gated_mlp, whose output is read
    only by a resa.add_rms_norm (as either addend) becomes, with the norm,
    one resa.projection_add_rms_norm: in pre-norm decoders each layer's o
    projection and its MLP. The GPU then gives the norm the projection's
    partial products over slices of its inner dimension (one batched GEMM)
    and sums them in the norm: no split-K reduction kernel in between.
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

def FuseRotaryCache : Pass<"resa-fuse-rotary-cache", "mlir::ModuleOp"> {
  let summary = "Fuse a layer's q/k multi_rotary into the cache op that reads it";
  let description = [{
    A resa.multi_rotary of two tensors whose results are only the q and k of
    one resa.cache_attention (with its num_heads and kv_heads) becomes, with
    it, one resa.rotary_cache_attention of the unrotated q and k; one whose
    rotated k only a resa.cache_write reads (a block-sparse decode step) and
    whose rotated q is read only after that write becomes, with the write,
    one resa.rotary_cache_write whose result is the rotated q. A runtime may
    then rotate k while writing it into the KV cache. resa-compile runs it
    unless given --fuse-rotary-cache=false.
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

def FuseGateUp : Pass<"resa-fuse-gate-up", "mlir::ModuleOp"> {
  let summary = "Give gated MLPs with separate gate and up weights one concatenated weight";
  let description = [{
    resa.gated_mlp(x, gate [K, I], up [K, I], down) whose gate and up are
    model initializers stored alike becomes resa.gated_mlp(x,
    resa.concat_columns(gate, up), down): the fused gate-up form, one GEMM for
    both projections (the package stores the concatenation). Exporters that
    fuse them already (Phi-3) are unchanged.
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

def FuseMultiLinear : Pass<"resa-fuse-multi-linear", "mlir::ModuleOp"> {
  let summary = "Give resa.multi_linear ops one concatenated weight";
  let description = [{
    resa.multi_linear(x, W_1, b_1, ..., W_n, b_n) whose weights are model
    initializers stored alike becomes resa.multi_linear(x,
    resa.concat_columns(W_1, ..., W_n), b_1, ..., b_n) {widths = [N_1, ...,
    N_n]}: one GEMM for a layer's q, k and v projections (at batch 1 the
    separate k and v GEMMs are mostly launch and ramp: a few MB of weights
    each). The biases stay apart (none, weights, or the constants small
    initializers import as, as in Qwen2's k and v).
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
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

def RaiseNorms : Pass<"resa-raise-norms", "mlir::ModuleOp"> {
  let summary = "Raise RMSNorm and LayerNorm forms to resa.rms_norm / resa.layer_norm";
  let description = [{
    Recognises RMSNorm as torch's dynamo export decomposes it (Pow(x, 2) or
    x*x -> ReduceMean(axes = [-1], keepdims) -> Add(eps) -> Sqrt ->
    Reciprocal -> Mul(x, .) or Div(x, .) -> Mul by a [hidden] weight, which
    may be Gemma's Add(w, 1): weight_offset = 1), opset-23
    `RMSNormalization`, `SimplifiedLayerNormalization` (default and
    com.microsoft domains), com.microsoft `SkipSimplifiedLayerNormalization`
    (an onnx.Add for its sum, then resa.rms_norm) and `LayerNormalization`.
    Only normalisation over the last axis with [hidden] parameters and
    unused statistics outputs is raised; anything else stays as it is.
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

def RaiseRotary : Pass<"resa-raise-rotary", "mlir::ModuleOp"> {
  let summary = "Raise rotary position embeddings to resa.rotary";
  let description = [{
    Recognises HF's apply_rotary_pos_emb as exported (x * cos +
    Concat(-x[..., D/2:], x[..., :D/2]) * sin, cos/sin = Unsqueeze(c, [1]) of
    [B, S, D] values), opset-23 `RotaryEmbedding` and com.microsoft
    `RotaryEmbedding`. cos/sin stay as the graph computes them; caches
    indexed by position_ids become onnx.Gather(cache, position_ids).
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

def RaiseLinear : Pass<"resa-raise-linear", "mlir::ModuleOp"> {
  let summary = "Raise projections, embeddings, gated MLPs and logits";
  let description = [{
    MatMul by a [in, out] parameter (+ Add of a [out] parameter) and Gemm
    (no transposes, alpha = beta = 1) become resa.linear; Gather from a
    [vocab, hidden] parameter resa.embedding; down(act(x Wg) * (x Wu))
    (separate or fused gate-up projections; SiLU as x * Sigmoid(x), Gelu,
    and the tanh / erf Gelu decompositions) resa.gated_mlp; the linear that
    computes the function's "logits" output resa.logits.
  }];
  let dependentDialects = ["resa::ir::ResaDialect"];
}

#endif
