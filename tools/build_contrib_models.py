#!/usr/bin/env python3
"""Hand-build tiny decoder graphs with the com.microsoft ops that the onnxruntime-genai
model builder emits, and write them as test fixtures.

How to run (needs numpy, onnx, onnxruntime; CPU only, a few seconds):

    python3 tools/build_contrib_models.py test/fixtures/models

What it writes into the output folder (random weights from a seeded numpy generator):
  contrib-gqa-op18.onnx         2-layer Llama-like decoder: Gather embedding ->
                                SimplifiedLayerNormalization -> MatMul q/k/v ->
                                com.microsoft GroupQueryAttention (do_rotary=1, cos/sin
                                caches, past_key/past_value, seqlens_k and
                                total_sequence_length computed in-graph from attention_mask)
                                -> MatMul o -> com.microsoft SkipSimplifiedLayerNormalization
                                -> SiLU MLP (MatMul, Sigmoid, Mul, Mul) -> ... -> lm_head MatMul.
  contrib-gqa-rotary-op18.onnx  same weights, but rotary as separate com.microsoft
                                RotaryEmbedding nodes (position_ids input) and GQA with
                                do_rotary=0.
  contrib-mha-op18.onnx         4 KV heads (plain multi-head), com.microsoft RotaryEmbedding +
                                com.microsoft MultiHeadAttention (unidirectional=1,
                                key_padding_mask from attention_mask, past/present BNSH).
  <name>.ref.npz                prefill case: every input fed (input_ids [1, 7], attention_mask,
                                position_ids where the graph has it, empty past_key_values.N.*
                                [1, kv_heads, 0, head_dim]) and every output (logits,
                                present.N.key/value) from onnxruntime; plus a one-token decode
                                step that feeds the prefill's present as past, under keys
                                prefixed "decode." (e.g. decode.input_ids, decode.logits).
  MANIFEST.json                 entries for these models are replaced; entries written by
                                other generators (tools/export_test_models.py) are kept.

Every model is also checked against a plain numpy Llama forward pass (prefill, decode, and a
batch-2 prefill), so the fixtures mean what their names say.

The graph builder (build) takes the model's shape as a DecoderConfig; tools/build_shape_model.py
uses it for real model shapes (Llama-3-8B, Qwen2.5-7B) with weights known by their shape alone.
"""

import dataclasses
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


@dataclasses.dataclass(frozen=True)
class DecoderConfig:
    """The shape of a Llama-like decoder (Qwen2 with qkv_bias) and the opset of its graph."""
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    max_pos: int              # rows of the cos/sin caches
    rope_theta: float = 10000.0
    eps: float = 1e-5
    qkv_bias: bool = False    # q/k/v projections add a bias (Qwen2)
    opset: int = 18


# The fixtures' model: 4 heads of 16, 2 KV heads (GQA; the mha variant uses 4).
CONTRIB = DecoderConfig(hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16, intermediate=160,
                        vocab=300, max_pos=128)
GENERATOR = "tools/build_contrib_models.py"
SEED = 2024
REF_SEED = 1234
PREFILL_LEN = 7
TOL = 1e-4


# ---------------------------------------------------------------------------- weights

def weight_shapes(c):
    """Every weight's key and shape, in the order make_weights draws them; the cos/sin caches
    ([max_pos, head_dim / 2]) come last."""
    H, q, kv = c.hidden, c.heads * c.head_dim, c.kv_heads * c.head_dim
    s = {"embed": (c.vocab, H)}
    for i in range(c.layers):
        p = f"layers.{i}."
        s[p + "input_ln"] = (H,)
        s.update({p + "q": (H, q), p + "k": (H, kv), p + "v": (H, kv)})
        if c.qkv_bias:
            s.update({p + "q_bias": (q,), p + "k_bias": (kv,), p + "v_bias": (kv,)})
        s.update({p + "o": (q, H), p + "post_ln": (H,), p + "gate": (H, c.intermediate),
                  p + "up": (H, c.intermediate), p + "down": (c.intermediate, H)})
    s.update({"final_ln": (H,), "lm_head": (H, c.vocab)})
    s.update({"cos_cache": (c.max_pos, c.head_dim // 2), "sin_cache": (c.max_pos, c.head_dim // 2)})
    return s


def make_weights(c, seed):
    """Seeded random weights: matrices N(0, 1/hidden), norm scales and biases 1 + N(0, 0.01)."""
    rng = np.random.default_rng(seed)
    std = c.hidden ** -0.5
    w = {}
    for key, shape in weight_shapes(c).items():
        if key in ("cos_cache", "sin_cache"):
            continue
        if len(shape) == 1:
            w[key] = (1 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        elif key == "embed":  # scaled after the cast, as the fixtures always were
            w[key] = rng.standard_normal(shape).astype(np.float32) * std
        else:
            w[key] = (rng.standard_normal(shape) * std).astype(np.float32)
    w["cos_cache"], w["sin_cache"] = rope_caches(c)
    return w


def rope_caches(c):
    inv = 1.0 / (c.rope_theta ** (np.arange(0, c.head_dim, 2, dtype=np.float64) / c.head_dim))
    ang = np.outer(np.arange(c.max_pos, dtype=np.float64), inv)        # [max_pos, head_dim/2]
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


# ---------------------------------------------------------------------------- numpy reference

def np_rmsnorm(x, g, eps):
    return (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g).astype(np.float32)


def np_rope(x, pos, cos, sin):
    """x [B, N, S, H], pos [B, S]; half-split (non-interleaved) rotation."""
    c = cos[pos][:, None]
    s = sin[pos][:, None]
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1)


def np_forward(c, w, input_ids, attention_mask, position_ids, past):
    """Llama forward. past: list of (k, v) [B, KV, P, H]. Returns logits, presents."""
    cos, sin = w["cos_cache"], w["sin_cache"]
    HD, kv_heads = c.head_dim, c.kv_heads
    B, S = input_ids.shape
    x = w["embed"][input_ids]
    T = attention_mask.shape[1]
    P = T - S
    presents = []

    def proj(h, p, key):
        y = h @ w[p + key]
        return y + w[p + key + "_bias"] if c.qkv_bias else y

    for i in range(c.layers):
        p = f"layers.{i}."
        h = np_rmsnorm(x, w[p + "input_ln"], c.eps)
        q = proj(h, p, "q").reshape(B, S, c.heads, HD).transpose(0, 2, 1, 3)
        k = proj(h, p, "k").reshape(B, S, kv_heads, HD).transpose(0, 2, 1, 3)
        v = proj(h, p, "v").reshape(B, S, kv_heads, HD).transpose(0, 2, 1, 3)
        q = np_rope(q, position_ids, cos, sin)
        k = np_rope(k, position_ids, cos, sin)
        k = np.concatenate([past[i][0], k], axis=2)
        v = np.concatenate([past[i][1], v], axis=2)
        presents.append((k.astype(np.float32), v.astype(np.float32)))
        rep = c.heads // kv_heads
        kk = np.repeat(k, rep, axis=1)
        vv = np.repeat(v, rep, axis=1)
        sc = q @ kk.transpose(0, 1, 3, 2) / np.sqrt(HD)                   # [B, N, S, T]
        causal = np.arange(T)[None, :] <= (P + np.arange(S))[:, None]      # [S, T]
        allowed = causal[None, None] & (attention_mask[:, None, None, :] > 0)
        sc = np.where(allowed, sc, -np.inf)
        sc = sc - sc.max(-1, keepdims=True)
        pr = np.exp(sc)
        pr /= pr.sum(-1, keepdims=True)
        a = (pr @ vv).transpose(0, 2, 1, 3).reshape(B, S, c.heads * HD)
        x = x + a @ w[p + "o"]
        h = np_rmsnorm(x, w[p + "post_ln"], c.eps)
        g = h @ w[p + "gate"]
        x = x + ((g / (1 + np.exp(-g))) * (h @ w[p + "up"])) @ w[p + "down"]
    x = np_rmsnorm(x, w["final_ln"], c.eps)
    return (x @ w["lm_head"]).astype(np.float32), presents


# ---------------------------------------------------------------------------- graph building

class G:
    def __init__(self):
        self.nodes, self.inits = [], []

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(self, op, inputs, outputs, name, domain="", **attrs):
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain or None, **attrs))
        return outputs[0] if len(outputs) == 1 else outputs


def build(c, variant, w, g=None, graph_name=None, producer="resa tools/build_contrib_models.py"):
    """variant: 'gqa' (GQA do_rotary), 'gqa-rotary' (RotaryEmbedding + GQA), 'mha' (needs
    kv_heads == heads). w: the weights by make_weights' keys; g: the G that holds the
    initializers (tools/build_shape_model.py passes one that writes none of their data)."""
    if variant == "mha" and c.kv_heads != c.heads:
        raise ValueError("the mha variant needs kv_heads == heads")
    g = g or G()
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    inputs = [helper.make_tensor_value_info("input_ids", i64, ["batch_size", "sequence_length"]),
              helper.make_tensor_value_info("attention_mask", i64, ["batch_size", "total_sequence_length"])]
    if variant != "gqa":
        inputs.append(helper.make_tensor_value_info("position_ids", i64, ["batch_size", "sequence_length"]))
    outputs = [helper.make_tensor_value_info("logits", f32, ["batch_size", "sequence_length", c.vocab])]
    for i in range(c.layers):
        for kv in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(
                f"past_key_values.{i}.{kv}", f32, ["batch_size", c.kv_heads, "past_sequence_length", c.head_dim]))
            outputs.append(helper.make_tensor_value_info(
                f"present.{i}.{kv}", f32, ["batch_size", c.kv_heads, "total_sequence_length", c.head_dim]))

    g.init("model.embed_tokens.weight", w["embed"])
    g.init("cos_cache", w["cos_cache"])
    g.init("sin_cache", w["sin_cache"])
    # --- attention mask reformatting, as the genai builder does it
    if variant.startswith("gqa"):
        g.init("one_i64", np.array(1, np.int64))
        g.init("axes_1", np.array([1], np.int64))
        g.node("ReduceSum", ["attention_mask", "axes_1"], ["/model/attn_mask_reformat/ReduceSum/output_0"],
               "/model/attn_mask_reformat/attn_mask_subgraph/ReduceSum", keepdims=0)
        g.node("Sub", ["/model/attn_mask_reformat/ReduceSum/output_0", "one_i64"],
               ["/model/attn_mask_reformat/Sub/output_0"], "/model/attn_mask_reformat/attn_mask_subgraph/Sub")
        g.node("Cast", ["/model/attn_mask_reformat/Sub/output_0"], ["seqlens_k"],
               "/model/attn_mask_reformat/attn_mask_subgraph/Sub/Cast", to=TensorProto.INT32)
        g.node("Shape", ["attention_mask"], ["/model/attn_mask_reformat/Shape/output_0"],
               "/model/attn_mask_reformat/attn_mask_subgraph/Shape")
        g.node("Gather", ["/model/attn_mask_reformat/Shape/output_0", "one_i64"],
               ["/model/attn_mask_reformat/Gather/output_0"], "/model/attn_mask_reformat/attn_mask_subgraph/Gather",
               axis=0)
        g.node("Cast", ["/model/attn_mask_reformat/Gather/output_0"], ["total_seq_len"],
               "/model/attn_mask_reformat/attn_mask_subgraph/Gather/Cast", to=TensorProto.INT32)
    else:
        g.node("Cast", ["attention_mask"], ["key_padding_mask"], "/model/attn_mask_reformat/Cast",
               to=TensorProto.INT32)

    x = g.node("Gather", ["model.embed_tokens.weight", "input_ids"], ["/model/embed_tokens/Gather/output_0"],
               "/model/embed_tokens/Gather")
    residual = x
    mlp_out = None
    for i in range(c.layers):
        L = f"/model/layers.{i}"
        p = f"layers.{i}."
        wn = f"model.layers.{i}."
        g.init(wn + "input_layernorm.weight", w[p + "input_ln"])
        if i == 0:
            h = g.node("SimplifiedLayerNormalization", [x, wn + "input_layernorm.weight"],
                       [f"{L}/input_layernorm/output_0"], f"{L}/input_layernorm/LayerNorm",
                       axis=-1, epsilon=c.eps, stash_type=1)
        else:
            outs = g.node("SkipSimplifiedLayerNormalization", [mlp_out, residual, wn + "input_layernorm.weight"],
                          [f"{L}/input_layernorm/output_0", "", "", f"{L}/input_layernorm/output_3"],
                          f"{L}/input_layernorm/SkipLayerNorm", domain="com.microsoft", epsilon=c.eps)
            h, residual = outs[0], outs[3]
        qkv = []
        for proj, key in (("q_proj", "q"), ("k_proj", "k"), ("v_proj", "v")):
            g.init(wn + f"self_attn.{proj}.weight", w[p + key])  # stored [in, out] for MatMul
            y = g.node("MatMul", [h, wn + f"self_attn.{proj}.weight"], [f"{L}/attn/{proj}/MatMul/output_0"],
                       f"{L}/attn/{proj}/MatMul")
            if c.qkv_bias:
                g.init(wn + f"self_attn.{proj}.bias", w[p + key + "_bias"])
                y = g.node("Add", [y, wn + f"self_attn.{proj}.bias"], [f"{L}/attn/{proj}/Add/output_0"],
                           f"{L}/attn/{proj}/Add")
            qkv.append(y)
        q, k, v = qkv
        if variant in ("gqa-rotary", "mha"):
            q = g.node("RotaryEmbedding", [q, "position_ids", "cos_cache", "sin_cache"],
                       [f"{L}/attn/q_rotary/output_0"], f"{L}/attn/q_rotary/RotaryEmbedding",
                       domain="com.microsoft", interleaved=0, num_heads=c.heads, rotary_embedding_dim=c.head_dim)
            k = g.node("RotaryEmbedding", [k, "position_ids", "cos_cache", "sin_cache"],
                       [f"{L}/attn/k_rotary/output_0"], f"{L}/attn/k_rotary/RotaryEmbedding",
                       domain="com.microsoft", interleaved=0, num_heads=c.kv_heads, rotary_embedding_dim=c.head_dim)
        pk, pv = f"past_key_values.{i}.key", f"past_key_values.{i}.value"
        prk, prv = f"present.{i}.key", f"present.{i}.value"
        if variant == "gqa":
            a = g.node("GroupQueryAttention", [q, k, v, pk, pv, "seqlens_k", "total_seq_len", "cos_cache", "sin_cache"],
                       [f"{L}/attn/GroupQueryAttention/output_0", prk, prv], f"{L}/attn/GroupQueryAttention",
                       domain="com.microsoft", num_heads=c.heads, kv_num_heads=c.kv_heads, do_rotary=1,
                       rotary_interleaved=0, scale=float(c.head_dim ** -0.5), local_window_size=-1)[0]
        elif variant == "gqa-rotary":
            a = g.node("GroupQueryAttention", [q, k, v, pk, pv, "seqlens_k", "total_seq_len"],
                       [f"{L}/attn/GroupQueryAttention/output_0", prk, prv], f"{L}/attn/GroupQueryAttention",
                       domain="com.microsoft", num_heads=c.heads, kv_num_heads=c.kv_heads, do_rotary=0,
                       scale=float(c.head_dim ** -0.5), local_window_size=-1)[0]
        else:
            a = g.node("MultiHeadAttention", [q, k, v, "", "key_padding_mask", "", pk, pv],
                       [f"{L}/attn/MultiHeadAttention/output_0", prk, prv], f"{L}/attn/MultiHeadAttention",
                       domain="com.microsoft", num_heads=c.heads, unidirectional=1,
                       scale=float(c.head_dim ** -0.5))[0]
        g.init(wn + "self_attn.o_proj.weight", w[p + "o"])
        o = g.node("MatMul", [a, wn + "self_attn.o_proj.weight"], [f"{L}/attn/o_proj/MatMul/output_0"],
                   f"{L}/attn/o_proj/MatMul")
        g.init(wn + "post_attention_layernorm.weight", w[p + "post_ln"])
        outs = g.node("SkipSimplifiedLayerNormalization", [o, residual, wn + "post_attention_layernorm.weight"],
                      [f"{L}/post_attention_layernorm/output_0", "", "", f"{L}/post_attention_layernorm/output_3"],
                      f"{L}/post_attention_layernorm/SkipLayerNorm", domain="com.microsoft", epsilon=c.eps)
        h, residual = outs[0], outs[3]
        for proj, key in (("gate_proj", "gate"), ("up_proj", "up"), ("down_proj", "down")):
            g.init(wn + f"mlp.{proj}.weight", w[p + key])
        gate = g.node("MatMul", [h, wn + "mlp.gate_proj.weight"], [f"{L}/mlp/gate_proj/MatMul/output_0"],
                      f"{L}/mlp/gate_proj/MatMul")
        up = g.node("MatMul", [h, wn + "mlp.up_proj.weight"], [f"{L}/mlp/up_proj/MatMul/output_0"],
                    f"{L}/mlp/up_proj/MatMul")
        sg = g.node("Sigmoid", [gate], [f"{L}/mlp/act_fn/Sigmoid/output_0"], f"{L}/mlp/act_fn/Sigmoid")
        silu = g.node("Mul", [gate, sg], [f"{L}/mlp/act_fn/Mul/output_0"], f"{L}/mlp/act_fn/Mul")
        hm = g.node("Mul", [silu, up], [f"{L}/mlp/Mul/output_0"], f"{L}/mlp/Mul")
        mlp_out = g.node("MatMul", [hm, wn + "mlp.down_proj.weight"], [f"{L}/mlp/down_proj/MatMul/output_0"],
                         f"{L}/mlp/down_proj/MatMul")
    g.init("model.norm.weight", w["final_ln"])
    outs = g.node("SkipSimplifiedLayerNormalization", [mlp_out, residual, "model.norm.weight"],
                  ["/model/norm/output_0", "", "", "/model/norm/output_3"], "/model/norm/SkipLayerNorm",
                  domain="com.microsoft", epsilon=c.eps)
    g.init("lm_head.weight", w["lm_head"])
    g.node("MatMul", [outs[0], "lm_head.weight"], ["logits"], "/lm_head/MatMul")

    graph = helper.make_graph(g.nodes, graph_name or f"resa_contrib_{variant.replace('-', '_')}", inputs, outputs,
                              g.inits)
    model = helper.make_model(graph, producer_name=producer,
                              opset_imports=[helper.make_opsetid("", c.opset), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


# ---------------------------------------------------------------------------- run + check

def feeds_for(c, variant, input_ids, attention_mask, position_ids, past):
    f = {"input_ids": input_ids, "attention_mask": attention_mask}
    if variant != "gqa":
        f["position_ids"] = position_ids
    for i in range(c.layers):
        f[f"past_key_values.{i}.key"] = past[i][0]
        f[f"past_key_values.{i}.value"] = past[i][1]
    return f


def run_case(sess, c, variant, w, input_ids, attention_mask, position_ids, past, label, log):
    feeds = feeds_for(c, variant, input_ids, attention_mask, position_ids, past)
    names = [o.name for o in sess.get_outputs()]
    outs = dict(zip(names, sess.run(names, feeds)))
    ref_logits, ref_pres = np_forward(c, w, input_ids, attention_mask, position_ids, past)
    d = float(np.abs(outs["logits"] - ref_logits).max())
    dp = max(float(np.abs(outs[f"present.{i}.{kv}"] - ref_pres[i][j]).max())
             for i in range(c.layers) for j, kv in enumerate(("key", "value")))
    log(f"  {label}: max|ort-numpy| logits {d:.3g}, present {dp:.3g}")
    if not (d <= TOL and dp <= TOL):
        raise RuntimeError(f"{label}: onnxruntime disagrees with the numpy reference ({d}, {dp})")
    return feeds, outs, dict(logits=d, present=dp)


def graph_ops(mp):
    return sorted({(n.domain or "ai.onnx", n.op_type) for n in mp.graph.node})


def io_desc(values):
    return [dict(name=v.name, elem_type=int(v.type.tensor_type.elem_type),
                 shape=[d.dim_param if d.HasField("dim_param") else d.dim_value for d in v.type.tensor_type.shape.dim])
            for v in values]


def merge_manifest(outdir, entries, generator, extra=None):
    path = os.path.join(outdir, "MANIFEST.json")
    man = {"models": []}
    if os.path.exists(path):
        with open(path) as f:
            man = json.load(f)
    keep = [m for m in man.get("models", []) if m.get("generator") != generator]
    man["models"] = sorted(keep + entries, key=lambda m: m["name"])
    if extra is not None:
        man.setdefault("generators", {})[generator] = extra
    man["description"] = ("resa test models: tiny random-weight decoders. Each <name>.onnx has a "
                          "<name>.ref.npz holding every input fed and the onnxruntime (CPU) logits.")
    with open(path, "w") as f:
        json.dump(man, f, indent=1)
        f.write("\n")


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        print(__doc__)
        sys.exit(2)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    log = print
    entries = []
    rng = np.random.default_rng(REF_SEED)
    prompt = rng.integers(0, CONTRIB.vocab, size=(1, PREFILL_LEN), dtype=np.int64)
    next_tok = rng.integers(0, CONTRIB.vocab, size=(1, 1), dtype=np.int64)
    batch2 = rng.integers(0, CONTRIB.vocab, size=(2, 5), dtype=np.int64)
    mha = dataclasses.replace(CONTRIB, kv_heads=CONTRIB.heads)
    gqa_weights = make_weights(CONTRIB, SEED)
    for variant in ("gqa", "gqa-rotary", "mha"):
        c = mha if variant == "mha" else CONTRIB
        name = f"contrib-{variant}-op{c.opset}"
        w = gqa_weights if variant != "mha" else make_weights(c, SEED + 1)
        model = build(c, variant, w)
        try:
            onnx.checker.check_model(model)
            checker = "ok"
        except onnx.checker.ValidationError as e:
            # expected: SimplifiedLayerNormalization sits in the default ONNX domain but is an
            # onnxruntime-only op (the genai builder emits it that way), so the checker rejects it
            checker = str(e).strip().splitlines()[0]
            log(f"{name}: onnx.checker: {checker}")
        path = os.path.join(outdir, name + ".onnx")
        onnx.save(model, path)
        log(f"{name}: {os.path.getsize(path)} bytes, {len(model.graph.node)} nodes")
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])

        def empty_past(b):
            return [(np.zeros((b, c.kv_heads, 0, c.head_dim), np.float32),) * 2 for _ in range(c.layers)]

        # prefill, batch 1
        S = PREFILL_LEN
        feeds, outs, d_pre = run_case(sess, c, variant, w, prompt, np.ones((1, S), np.int64),
                                      np.arange(S, dtype=np.int64)[None], empty_past(1), "prefill [1,7]", log)
        # decode one token, feeding the presents back as past
        past = [(outs[f"present.{i}.key"], outs[f"present.{i}.value"]) for i in range(c.layers)]
        dfeeds, douts, d_dec = run_case(sess, c, variant, w, next_tok, np.ones((1, S + 1), np.int64),
                                        np.array([[S]], np.int64), past, "decode [1,1] after 7", log)
        # batch 2 prefill (dynamic batch)
        _, _, d_b2 = run_case(sess, c, variant, w, batch2, np.ones((2, 5), np.int64),
                              np.tile(np.arange(5, dtype=np.int64), (2, 1)), empty_past(2), "prefill [2,5]", log)
        ref = {k: v for k, v in feeds.items()}
        ref.update(outs)
        ref.update({"decode." + k: v for k, v in dfeeds.items()})
        ref.update({"decode." + k: v for k, v in douts.items()})
        np.savez(os.path.join(outdir, name + ".ref.npz"), **ref)

        mp = onnx.load(path)
        entries.append(dict(
            name=name, file=name + ".onnx", ref=name + ".ref.npz", generator=GENERATOR, kind="contrib-handbuilt",
            arch="llama-like", attn_implementation={"gqa": "com.microsoft.GroupQueryAttention(do_rotary=1)",
                                                    "gqa-rotary": "com.microsoft.RotaryEmbedding + GroupQueryAttention",
                                                    "mha": "com.microsoft.RotaryEmbedding + MultiHeadAttention"}[variant],
            opset=c.opset,
            config=dict(hidden=c.hidden, layers=c.layers, heads=c.heads, kv_heads=c.kv_heads, head_dim=c.head_dim,
                        intermediate=c.intermediate, vocab=c.vocab, rope_theta=c.rope_theta, rope_interleaved=False,
                        rope_cache_rows=c.max_pos, norm_eps=c.eps, act="silu", tie_word_embeddings=False),
            weight_seed=SEED if variant != "mha" else SEED + 1,
            export=dict(exporter="onnx.helper (hand-built, onnxruntime-genai builder style)",
                        opset_version=c.opset, weights_layout="MatMul weights stored [in, out]"),
            opset_imports={(o.domain or "ai.onnx"): o.version for o in mp.opset_import},
            inputs=io_desc(mp.graph.input), outputs=io_desc(mp.graph.output),
            num_nodes=len(mp.graph.node), num_initializers=len(mp.graph.initializer), num_functions=0,
            ops=[list(o) for o in graph_ops(mp)], function_ops=[],
            size_bytes=os.path.getsize(path),
            onnx_checker=checker,
            ref_input_shape=[1, PREFILL_LEN],
            ref_contents=("prefill: every input fed + every output; decode.*: one-token decode step "
                          "whose past_key_values.* are the prefill's present.*"),
            max_abs_diff_ort_vs_numpy=dict(prefill=d_pre, decode=d_dec, prefill_batch2=d_b2),
        ))
    merge_manifest(outdir, entries, GENERATOR, extra=dict(
        versions=dict(onnx=onnx.__version__, onnxruntime=ort.__version__, numpy=np.__version__),
        seed=SEED, ref_seed=REF_SEED))
    union = {}
    for e in entries:
        for d, o in e["ops"]:
            union[(d, o)] = union.get((d, o), 0) + 1
    for (d, o), n in sorted(union.items()):
        print(f"  {d:16s} {o:34s} {n}")


if __name__ == "__main__":
    main()
