#ifndef RESA_RESA_OPS_TD
#define RESA_RESA_OPS_TD

include "ResaDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Resa_ShapeExprOp : Op<Resa_Dialect, "shape_expr", [Pure]> {
  let summary = "a 1-D int64 tensor whose elements are polynomials of the symbolic dims";
  let description = [{
    What the exporters' shape arithmetic (Shape, Gather, Concat, Mul...) folds
    to when a result depends on dynamic input dimensions. Each element of
    `exprs` is a polynomial over the symbols of the enclosing function's
    `resa.symbols` attribute, e.g. `"batch"`, `"seq + 1"`, `"4*batch*seq"`.
    `scalar` makes a rank-0 result of the single expression.
  }];
  let arguments = (ins StrArrayAttr:$exprs, UnitAttr:$scalar);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$exprs attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Resa_WeightOp : Op<Resa_Dialect, "weight", [Pure]> {
  let summary = "a weight buffer of the package, by name";
  let description = [{
    `stored_type` (f16 or bf16, with an f32 result): the package stores the
    weight in that type (the model did: onnx.initializer's stored_type);
    the runtime widens it or computes in it, as for resa-compile --dtype.
    `columns_of` (from resa.concat_columns): the weight is these model
    initializers' columns side by side, each [K, N_i], in order.
  }];
  let arguments = (ins StrAttr:$name,
                       OptionalAttr<TypeAttrOf<AnyTypeOf<[F16, BF16]>>>:$stored_type,
                       OptionalAttr<StrArrayAttr>:$columns_of);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Resa_ConcatColumnsOp : Op<Resa_Dialect, "concat_columns", [Pure]> {
  let summary = "weights [K, N_i] side by side: [K, sum N_i]";
  let description = [{
    What resa-fuse-gate-up makes of a gated MLP's separate gate and up
    weights (so that one GEMM computes both). Its operands are initializers;
    lowering turns it into one resa.weight whose `columns_of` names them, and
    the package stores the concatenation (or, with random weights, makes
    each part from its own name and places them side by side).
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$parts);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$parts attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Resa_ConstantOp : Op<Resa_Dialect, "constant", [Pure]> {
  let summary = "a small constant stored in the plan itself";
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$value attr-dict `:` type($result)";
}

def Resa_KernelCallOp : Op<Resa_Dialect, "kernel_call", [Pure]> {
  let summary = "one call of a runtime kernel";
  let description = [{
    The lowered form: `kernel` names a kernel of the runtime's kernel library
    (see kernels/include/resa/kernels/Kernel.h); `attrs` are its attributes.
    An omitted optional input is a `none` value.
  }];
  let arguments = (ins StrAttr:$kernel, DictionaryAttr:$attrs, Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$outputs);
  let assemblyFormat =
      "$kernel `(` $inputs `)` $attrs attr-dict `:` functional-type($inputs, $outputs)";
}

class Resa_AttentionBase<string mnemonic, list<Trait> traits>
    : Op<Resa_Dialect, mnemonic, traits> {
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$q `,` $k `,` $v attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Resa_AttentionOp : Resa_AttentionBase<"attention", [Pure]> {
  let summary = "causal multi-head attention with grouped KV heads";
  let description = [{
    softmax(scale * q k^T + causal mask) v, where query i attends to keys
    0..i of the same call. Layout "bhsd": q [B, num_heads, S, D], k and v
    [B, kv_heads, S, D]. Layout "bsd": q [B, S, num_heads*D], k and v
    [B, S, kv_heads*D]. The result has q's layout. Query head h reads KV head
    h / (num_heads / kv_heads). What the raising passes produce from every
    exporter's attention form once its mask is proven causal.
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k, AnyRankedTensor:$v,
                       I64Attr:$num_heads, I64Attr:$kv_heads, F32Attr:$scale,
                       StrAttr:$layout);
}

def Resa_CacheAttentionOp : Resa_AttentionBase<"cache_attention",
    [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "attention of the call's tokens over the managed KV cache";
  let description = [{
    Writes k and v (the call's tokens, at their absolute positions) into
    layer `layer` of the runtime's paged KV cache, overwriting what was there
    (rectification rewrites positions), then attends each query at absolute
    position p to cache positions 0..p. Operands and layout as resa.attention.
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k, AnyRankedTensor:$v,
                       I64Attr:$num_heads, I64Attr:$kv_heads, F32Attr:$scale,
                       StrAttr:$layout, I64Attr:$layer);
}

def Resa_RotaryCacheAttentionOp : Op<Resa_Dialect, "rotary_cache_attention",
    [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "rotary position embedding of q and k, then resa.cache_attention";
  let description = [{
    resa.cache_attention(rotary(q), rotary(k), v) with the rotation of
    resa.multi_rotary (cos, sin, rotary_dim, interleaved; num_heads for q,
    kv_heads for k): what resa-fuse-rotary-cache makes of a multi_rotary whose
    two results only this cache_attention reads, so that a runtime can rotate
    k on its way into the cache instead of in a launch of its own.
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k, AnyRankedTensor:$v,
                       AnyRankedTensor:$cos, AnyRankedTensor:$sin,
                       I64Attr:$num_heads, I64Attr:$kv_heads, F32Attr:$scale,
                       StrAttr:$layout, I64Attr:$layer, I64Attr:$rotary_dim,
                       I64Attr:$interleaved);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat =
      "$q `,` $k `,` $v `,` $cos `,` $sin attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Resa_RotaryCacheWriteOp : Op<Resa_Dialect, "rotary_cache_write",
    [MemoryEffects<[MemWrite]>]> {
  let summary = "rotary position embedding of q and k; k and v into the KV cache; q out";
  let description = [{
    resa.cache_write(rotary(k), v) into layer `layer`, and rotary(q) as the
    result, with the rotation of resa.multi_rotary (cos, sin, rotary_dim,
    interleaved; num_heads for q, kv_heads for k): what
    resa-fuse-rotary-cache makes of a multi_rotary whose rotated k only a
    cache_write reads (a block-sparse decode step, whose rotated q goes to
    the block selection and attention), so that a runtime can rotate k on
    its way into the cache instead of in a launch of its own.
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k, AnyRankedTensor:$v,
                       AnyRankedTensor:$cos, AnyRankedTensor:$sin,
                       I64Attr:$num_heads, I64Attr:$kv_heads, StrAttr:$layout,
                       I64Attr:$layer, I64Attr:$rotary_dim, I64Attr:$interleaved);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat =
      "$q `,` $k `,` $v `,` $cos `,` $sin attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Resa_CacheWriteOp : Op<Resa_Dialect, "cache_write", [MemoryEffects<[MemWrite]>]> {
  let summary = "write the call's keys and values into one layer of the KV cache";
  let description = [{
    k and v as resa.attention takes them; they go to the call's absolute
    positions, and the pages' key summaries (min/max) are updated.
  }];
  let arguments = (ins AnyRankedTensor:$k, AnyRankedTensor:$v, I64Attr:$kv_heads,
                       StrAttr:$layout, I64Attr:$layer);
  let assemblyFormat = "$k `,` $v attr-dict `:` type($k) `,` type($v)";
}

def Resa_BlockSelectOp : Op<Resa_Dialect, "block_select", [MemoryEffects<[MemRead]>]> {
  let summary = "ReSA block selection for the call's (single) query";
  let description = [{
    For each KV head: the query heads of its group are averaged into one
    query (times `scale`); each block (page) of the sequence scores
    sum_j max(q_j kmax_j, q_j kmin_j) over its key summaries; the
    `local_blocks` most recent blocks are always kept; the top
    n = clamp(max(min_blocks, ceil(M * kept_ratio)), local_blocks, M) blocks
    of the M are returned ascending, one row per KV head: [kv_heads, n].
  }];
  let arguments = (ins AnyRankedTensor:$q, I64Attr:$num_heads, I64Attr:$kv_heads,
                       StrAttr:$layout, I64Attr:$layer, F32Attr:$scale, F32Attr:$kept_ratio,
                       I64Attr:$min_blocks, I64Attr:$local_blocks);
  let results = (outs AnyRankedTensor:$blocks);
  let assemblyFormat = "$q attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Resa_BlockAttentionOp : Op<Resa_Dialect, "block_attention", [MemoryEffects<[MemRead]>]> {
  let summary = "attention of the call's query over the selected blocks of the cache";
  let description = [{
    As resa.cache_attention's attention half, over the tokens of `blocks`
    (resa.block_select's result) only; the partial last block is masked.
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$blocks, I64Attr:$num_heads,
                       I64Attr:$kv_heads, StrAttr:$layout, I64Attr:$layer, F32Attr:$scale);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$q `,` $blocks attr-dict `:` functional-type(operands, results)";
}

def Resa_RectificationScheduleOp : Op<Resa_Dialect, "rectification_schedule",
    [HasParent<"mlir::ModuleOp">]> {
  let summary = "when the generation program runs dense rectification";
  let description = [{
    Every `interval` decode steps of a sequence, `function` (a KV-only,
    dense, causal pass) re-encodes the sequence's last `window` tokens,
    overwriting their KV in every layer and refreshing the block summaries.
    Each sequence of a batch keeps its own count.
  }];
  let arguments = (ins FlatSymbolRefAttr:$function, I64Attr:$interval, I64Attr:$window);
  let assemblyFormat = "$function `every` $interval `steps` `window` $window attr-dict";
  let hasVerifier = 1;
}

def Resa_GsrPipelineOp : Op<Resa_Dialect, "gsr_pipeline", [HasParent<"mlir::ModuleOp">]> {
  let summary = "Generative Self-Refinement around the generation program";
  let description = [{
    The problem is prefilled once; `candidates` solutions are sampled from it
    in parallel (sharing its KV pages, decoding as one batch) with the
    candidate sampling; a refinement prompt is built from the template
    (`refine_template`: placeholders {problem}, {n}, {candidates}; each candidate is written as
    "Candidate i:" and its text) and one more answer is generated from it
    with the refinement sampling. Generation of any part stops at a `stop`
    string or its max tokens; `answer` says how an answer is extracted
    from a text: "last-number", "boxed" (\boxed{...}) or "after:<marker>"
    (the rest of the line after the last marker).
  }];
  let arguments = (ins I64Attr:$candidates, StrAttr:$refine_template,
                       F32Attr:$candidate_temperature, F32Attr:$candidate_top_p,
                       I64Attr:$candidate_max_tokens, F32Attr:$refine_temperature,
                       F32Attr:$refine_top_p, I64Attr:$refine_max_tokens,
                       StrArrayAttr:$stop, StrAttr:$answer);
  let assemblyFormat = "attr-dict";
  let hasVerifier = 1;
}

def Resa_PositionsOp : Op<Resa_Dialect, "positions", [Pure]> {
  let summary = "absolute positions of the call's tokens";
  let description = [{
    start + [0, count): `start` is the position of the call's first token in
    its sequence (0 outside a KV-cache program, where every call starts a
    sequence). Replaces the exporters' Range(0, seq).
  }];
  let arguments = (ins AnyRankedTensor:$count);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$count attr-dict `:` functional-type(operands, results)";
}

def Resa_NoneOp : Op<Resa_Dialect, "none", [Pure]> {
  let summary = "an omitted optional kernel input";
  let results = (outs NoneType:$result);
  let assemblyFormat = "attr-dict";
}

include "ResaLayerOps.td"

#endif
