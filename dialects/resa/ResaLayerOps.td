// The transformer-layer ops that raising produces besides attention:
// embedding, norms, linear layers, rotary embeddings, the gated MLP and the
// final logits. Included at the end of ResaOps.td; verifiers in
// ResaLayerOps.cpp. Every op has a CPU kernel of the same name ("resa.<op>")
// that reproduces the onnx ops it replaces (fp32).
#ifndef RESA_RESA_LAYER_OPS_TD
#define RESA_RESA_LAYER_OPS_TD

include "ResaDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class Resa_LayerOp<string mnemonic, list<Trait> traits = []>
    : Op<Resa_Dialect, mnemonic, !listconcat([Pure], traits)> {
  let results = (outs AnyRankedTensor:$result);
  let hasVerifier = 1;
}

def Resa_EmbeddingOp : Resa_LayerOp<"embedding"> {
  let summary = "token embedding lookup: rows of a [vocab, hidden] table";
  let description = [{
    result[i..., :] = table[ids[i...], :], with ONNX Gather's negative-index
    wrap (ids in [-vocab, vocab)). table is [vocab, hidden]; ids is an
    integer tensor of any shape; the result is ids' shape + [hidden].
  }];
  let arguments = (ins AnyRankedTensor:$table, AnyRankedTensor:$ids);
  let assemblyFormat = "$table `,` $ids attr-dict `:` functional-type(operands, results)";
}

def Resa_RMSNormOp : Resa_LayerOp<"rms_norm"> {
  let summary = "RMS normalisation over the last axis";
  let description = [{
    y = x / sqrt(mean(x^2, axis = -1) + epsilon) * (weight + weight_offset);
    weight is [hidden] (hidden = x's last dim). weight_offset is 1.0 for
    Gemma's (1 + w) scaling, 0.0 (the default) otherwise.
  }];
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$weight, F32Attr:$epsilon,
                       OptionalAttr<F32Attr>:$weight_offset);
  let assemblyFormat = "$x `,` $weight attr-dict `:` functional-type(operands, results)";
}

def Resa_AddRMSNormOp : Op<Resa_Dialect, "add_rms_norm", [Pure]> {
  let summary = "a residual add and the RMS normalisation of its sum, in one pass";
  let description = [{
    sum = a + b (same shapes, no broadcasting), result = rms_norm(sum) with
    rms_norm's weight, epsilon and weight_offset. What resa-fuse-add-norm makes
    of an onnx.Add whose sum a resa.rms_norm reads (the residual stream of
    pre-norm decoders): the sum is written and normalised in one pass.
  }];
  let arguments = (ins AnyRankedTensor:$a, AnyRankedTensor:$b, AnyRankedTensor:$weight,
                       F32Attr:$epsilon, OptionalAttr<F32Attr>:$weight_offset);
  let results = (outs AnyRankedTensor:$sum, AnyRankedTensor:$result);
  let assemblyFormat = "$a `,` $b `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Resa_LayerNormOp : Resa_LayerOp<"layer_norm"> {
  let summary = "layer normalisation over the last axis";
  let description = [{
    y = (x - mean) / sqrt(var + epsilon) * weight (+ bias), statistics over
    the last axis; weight and bias are [hidden].
  }];
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$weight,
                       Optional<AnyRankedTensor>:$bias, F32Attr:$epsilon);
  let assemblyFormat = "$x `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
}

def Resa_LinearOp : Resa_LayerOp<"linear"> {
  let summary = "y = x W (+ b) over the last axis of x";
  let description = [{
    x is [..., in], weight [in, out], bias [out]; the result is [..., out].
  }];
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$weight,
                       Optional<AnyRankedTensor>:$bias);
  let assemblyFormat = "$x `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
}

def Resa_RotaryOp : Resa_LayerOp<"rotary"> {
  let summary = "rotary position embedding with cos/sin as the graph computes them";
  let description = [{
    x is [B, H, S, D] (rank 4) or [B, S, H*D] (rank 3, H = num_heads).
    cos and sin are [Bc, Sc, W] with Bc in {1, B} and Sc in {1, S}
    (broadcast), and W = rotary_dim ("full": one value per rotated element,
    as the rotate-half decomposition multiplies) or rotary_dim / 2 ("half":
    one value per rotated pair, as RotaryEmbedding's caches hold). The first
    rotary_dim elements of each head are rotated in pairs (i1, i2): (i,
    i + rotary_dim/2) when interleaved = 0, (2i, 2i + 1) when 1:
      y[i1] = x[i1] * cos[i1] - x[i2] * sin[i1]
      y[i2] = x[i2] * cos[i2] + x[i1] * sin[i2]
    (half width: both use cos[i], sin[i]); the rest of the head is copied.
  }];
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$cos, AnyRankedTensor:$sin,
                       I64Attr:$num_heads, I64Attr:$rotary_dim, I64Attr:$interleaved);
  let assemblyFormat = "$x `,` $cos `,` $sin attr-dict `:` functional-type(operands, results)";
}

def Resa_MultiRotaryOp : Op<Resa_Dialect, "multi_rotary", [Pure]> {
  let summary = "resa.rotary of several tensors with one cos and sin";
  let description = [{
    What resa-group-rotary makes of the resa.rotary ops of one block that
    share cos, sin, rotary_dim and interleaved (a layer's q and k): result i
    is resa.rotary(xs[i], cos, sin) with num_heads[i]; one kernel launch on
    the GPU instead of one per tensor.
  }];
  let arguments = (ins AnyRankedTensor:$cos, AnyRankedTensor:$sin,
                       Variadic<AnyRankedTensor>:$xs, DenseI64ArrayAttr:$num_heads,
                       I64Attr:$rotary_dim, I64Attr:$interleaved);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$cos `,` $sin `,` $xs attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Resa_MultiLinearOp : Op<Resa_Dialect, "multi_linear", [Pure]> {
  let summary = "several projections of one input: result i = x W_i (+ b_i)";
  let description = [{
    What resa-group-linears makes of the resa.linear ops that read the same
    x (a layer's q, k and v projections): a backend whose GEMMs take the
    weights' type converts x once for all of them. `params` is (W_1, b_1,
    ..., W_n, b_n), n >= 2, with b_i a none value where projection i has no
    bias; result i is what resa.linear(x, W_i, b_i) gives.

    With `widths` [N_1, ..., N_n] (what resa-fuse-multi-linear makes of
    projections whose weights are initializers stored alike), `params` is
    (W, b_1, ..., b_n) instead: one weight [K, N_1 + ... + N_n] holding the
    projections' weights side by side, and each projection's bias (or none);
    result i is the N_i columns of x W after the first N_1 + ... + N_{i-1},
    plus b_i: one GEMM for all of them.
  }];
  let arguments = (ins AnyRankedTensor:$x, Variadic<AnyType>:$params,
                       OptionalAttr<DenseI64ArrayAttr>:$widths);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$x `,` $params attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Resa_GatedMLPOp : Resa_LayerOp<"gated_mlp"> {
  let summary = "down(act(x W_gate) * (x W_up)): the gated MLP of Llama-style models";
  let description = [{
    x is [..., hidden]. `weights` is (gate [hidden, inter], up [hidden,
    inter], down [inter, hidden_out]) or, for a fused gate-up projection,
    (gate_up [hidden, 2*inter], down [inter, hidden_out]) whose first `inter`
    columns are the gate's and last `inter` the up's. activation is "silu"
    (x * sigmoid(x)), "gelu_tanh" (tanh approximation) or "gelu" (erf).
  }];
  let arguments = (ins AnyRankedTensor:$x, Variadic<AnyRankedTensor>:$weights,
                       StrAttr:$activation);
  let assemblyFormat = "$x `,` $weights attr-dict `:` functional-type(operands, results)";
  let extraClassDeclaration = [{
    bool isFusedGateUp() { return getWeights().size() == 2; }
    ::mlir::Value getDownWeight() { return getWeights().back(); }
  }];
}

def Resa_ProjectionAddRMSNormOp : Op<Resa_Dialect, "projection_add_rms_norm", [Pure]> {
  let summary = "a projection, the residual add of its output and the RMS normalisation of the sum";
  let description = [{
    p = x W (one weight: resa.linear without bias) or the gated MLP of
    `weights` and `activation` (two or three weights, as resa.gated_mlp);
    sum = residual + p, result = rms_norm(sum) with norm_weight, epsilon and
    weight_offset: resa.add_rms_norm(residual, p) exactly. What
    resa-fuse-projection-norm makes of a projection whose only reader is an
    add_rms_norm (a layer's o projection and its MLP). A GPU may then hand
    the norm the projection's partial products over slices of its inner
    dimension and sum them there, instead of a reduction of its own.
  }];
  let arguments = (ins AnyRankedTensor:$x, Variadic<AnyRankedTensor>:$weights,
                       AnyRankedTensor:$residual, AnyRankedTensor:$norm_weight,
                       F32Attr:$epsilon, OptionalAttr<F32Attr>:$weight_offset,
                       OptionalAttr<StrAttr>:$activation);
  let results = (outs AnyRankedTensor:$sum, AnyRankedTensor:$result);
  let assemblyFormat = [{
    $x `,` `[` $weights `]` `,` $residual `,` $norm_weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Resa_LogitsOp : Resa_LayerOp<"logits"> {
  let summary = "the final projection to the vocabulary";
  let description = [{
    logits = x W: x is [..., hidden], weight [hidden, vocab]. A linear layer
    that the program treats apart (decoding needs only the last position's).
  }];
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$weight);
  let assemblyFormat = "$x `,` $weight attr-dict `:` functional-type(operands, results)";
}

#endif
