#!/usr/bin/env python3
"""How well block-selection rules keep the task model's answers: a CPU study
(numpy only) of the trained checkpoint, teacher-forced on held-out problems.

For each problem the prompt is run densely once (the prefill); then, per rule,
its reference solution is teacher-forced after it layer by layer, every
solution token's query attending only to the blocks the rule selects, as
sparse decoding without rectification would (each layer's keys come from the
previous layer's sparse outputs). Reported per rule: the fraction of solution
tokens whose argmax is the reference token, the same for the looked-up values,
the traces with every token right,
and the share of each head's dense attention mass that the selected blocks
hold (mean and 5th percentile over solution tokens, heads and layers).

Rules (blocks of --page tokens, n = max(n_min, ceil(M * kept)), the newest
block always kept):
  mean     DESIGN.md's: the group's query heads averaged into one query, Quest's
           bound sum_j max(q_j kmax_j, q_j kmin_j)
  head     the same bound, each query head choosing its own blocks (no group
           averaging): whether the averaging is what loses a block
  oracle   the blocks holding the most dense attention mass (the largest over the
           group's heads): what a perfect score would keep
  dense    every block (the reference)

With --rule-layer L a rule applies in layer L alone, the oracle's blocks in
the others: which layer's selection loses the answers.

    python3 bench/quality/selection_study.py --ckpt .carry/ckpt --count 4
"""
import argparse
import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
import task  # noqa: E402


def load_safetensors(folder):
    """Every tensor of the checkpoint's shards as float32 (bf16, f16 or f32)."""
    out = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".safetensors"):
            continue
        with open(os.path.join(folder, name), "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
            data = f.read()
        for key, info in header.items():
            if key == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            raw = data[begin:end]
            if info["dtype"] == "BF16":
                bits = np.frombuffer(raw, np.uint16).astype(np.uint32) << 16
                arr = bits.view(np.float32)
            elif info["dtype"] == "F16":
                arr = np.frombuffer(raw, np.float16).astype(np.float32)
            elif info["dtype"] == "F32":
                arr = np.frombuffer(raw, np.float32).copy()
            else:
                raise SystemExit(f"{name}: {key}: dtype {info['dtype']} not handled")
            out[key] = arr.reshape(info["shape"])
    return out


def tokenize(resa_tokenize, tokenizer, texts):
    """Token ids of each text through resa's own tokenizer (no special tokens)."""
    lines = "".join(json.dumps(t) + "\n" for t in texts)
    res = subprocess.run([resa_tokenize, tokenizer, "encode", "--no-special"], input=lines,
                         capture_output=True, text=True, check=True)
    return [json.loads(line)["ids"] for line in res.stdout.splitlines()]


def lookup_positions(resa_tokenize, tokenizer, ids, text):
    """Indices of the tokens of `ids` (the tokens of `text`) that hold a
    looked-up value's first digit (task.value_spans' LOOKUP spans)."""
    lines = "".join(json.dumps([i]) + "\n" for i in ids)
    res = subprocess.run([resa_tokenize, tokenizer, "decode"], input=lines, capture_output=True,
                         text=True, check=True)
    pieces = [json.loads(line)["text"] for line in res.stdout.splitlines()]
    if "".join(pieces) != text:
        raise SystemExit("token texts do not add up to the solution: offsets unknown")
    starts = {a for a, _, kind in task.value_spans(text) if kind == task.LOOKUP}
    out, offset = [], 0
    for i, piece in enumerate(pieces):
        if any(offset <= a < offset + len(piece) for a in starts):
            out.append(i)
        offset += len(piece)
    return out


class Model:
    def __init__(self, ckpt):
        with open(os.path.join(ckpt, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = load_safetensors(ckpt)
        c = self.cfg
        self.heads, self.kv_heads = c["num_attention_heads"], c["num_key_value_heads"]
        self.d = c.get("head_dim") or c["hidden_size"] // self.heads
        self.layers = c["num_hidden_layers"]
        self.eps = c["rms_norm_eps"]
        theta = (c.get("rope_parameters") or {}).get("rope_theta", c.get("rope_theta", 10000.0))
        self.inv_freq = 1.0 / theta ** (np.arange(0, self.d, 2, dtype=np.float64) / self.d)

    def p(self, name):
        return self.w["model." + name]

    def norm(self, x, weight):
        var = np.mean(x.astype(np.float64) ** 2, axis=-1, keepdims=True)
        return (x / np.sqrt(var + self.eps)).astype(np.float32) * weight

    def rotary(self, x, positions):
        # x [heads, T, d]; Llama's rotate-half layout.
        ang = positions[:, None].astype(np.float64) * self.inv_freq[None, :]
        cos = np.cos(np.concatenate([ang, ang], -1)).astype(np.float32)
        sin = np.sin(np.concatenate([ang, ang], -1)).astype(np.float32)
        half = self.d // 2
        rot = np.concatenate([-x[..., half:], x[..., :half]], -1)
        return x * cos + rot * sin


def block_summaries(k, page):
    """Per full block of `page` positions: the elementwise min and max of k [T, d]."""
    nb = k.shape[0] // page
    blocks = k[:nb * page].reshape(nb, page, -1)
    return blocks.min(1), blocks.max(1)


def causal_softmax(logits, query_pos):
    """Softmax of logits [..., S, T] over the keys at or before each query's
    position (query_pos [S])."""
    t = logits.shape[-1]
    allowed = np.arange(t)[None, :] <= query_pos[:, None]
    z = np.where(allowed, logits, -np.inf)
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def keep_mask(rule, pooled, probs, kmin, kmax, query_pos, kept, n_min, page, t):
    """[S, T] the key positions one KV group's queries may read under `rule`:
    the n best blocks of each query (its own, newest, always among them).
    pooled [S, d] the group's averaged scaled query, probs [group, S, T] its
    heads' dense attention (for the oracle), kmin/kmax [nb_full, d]."""
    s = len(query_pos)
    if rule == "dense":
        return np.ones((s, t), bool)
    own = query_pos // page
    m = own + 1  # blocks up to and including the query's own
    n = np.minimum(m, np.maximum(n_min, np.ceil(m * kept * (1 - 1e-6)).astype(int)))
    nb = kmin.shape[0]
    if rule == "mean":
        score = quest(pooled, kmin, kmax)
    elif rule == "oracle":
        mass = probs[..., :nb * page].reshape(probs.shape[0], s, nb, page).sum(-1)
        score = mass.max(0)
    else:
        raise ValueError(rule)
    score = np.where(np.arange(nb)[None, :] < own[:, None], score.astype(np.float64), -np.inf)
    # Blocks 0..nb: the last (past the full ones) is the newest, partial block.
    keep_blocks = np.zeros((s, nb + 1), bool)
    order = np.argsort(-score, axis=1, kind="stable")
    for i in range(s):
        keep_blocks[i, order[i, :n[i] - 1]] = True  # n - 1 besides the own block
        keep_blocks[i, min(own[i], nb)] = True
    return np.repeat(keep_blocks, page, axis=1)[:, :t]


def quest(q, lo, hi):
    """Quest's bound of q [..., d] against blocks [nb, d] -> [..., nb]."""
    return q @ ((hi + lo) / 2).T + np.abs(q) @ ((hi - lo) / 2).T


def attention_inputs(m, layer, h, positions):
    pre = f"layers.{layer}."
    t = h.shape[0]
    q = (h @ m.p(pre + "self_attn.q_proj.weight").T).reshape(t, m.heads, m.d).transpose(1, 0, 2)
    k = (h @ m.p(pre + "self_attn.k_proj.weight").T).reshape(t, m.kv_heads, m.d).transpose(1, 0, 2)
    v = (h @ m.p(pre + "self_attn.v_proj.weight").T).reshape(t, m.kv_heads, m.d).transpose(1, 0, 2)
    return m.rotary(q, positions), m.rotary(k, positions), v


def finish_layer(m, layer, x, attn_heads):
    """Residual, MLP: attn_heads [heads, S, d] -> the layer's output for x [S, D]."""
    pre = f"layers.{layer}."
    s = x.shape[0]
    x = x + attn_heads.transpose(1, 0, 2).reshape(s, -1) @ m.p(pre + "self_attn.o_proj.weight").T
    h = m.norm(x, m.p(pre + "post_attention_layernorm.weight"))
    gate = h @ m.p(pre + "mlp.gate_proj.weight").T
    up = h @ m.p(pre + "mlp.up_proj.weight").T
    return x + ((gate / (1 + np.exp(-gate))) * up) @ m.p(pre + "mlp.down_proj.weight").T


def prefill(model, prompt):
    """The prompt's dense forward: per layer its keys and values [G, P, d],
    and the token its last position predicts (the first of the solution,
    chosen from the dense prefill's logits as the runtime does)."""
    m = model
    p = len(prompt)
    positions = np.arange(p)
    x = m.w["model.embed_tokens.weight"][prompt]
    group = m.heads // m.kv_heads
    cache = []
    for layer in range(m.layers):
        h = m.norm(x, m.p(f"layers.{layer}.input_layernorm.weight"))
        q, k, v = attention_inputs(m, layer, h, positions)
        cache.append((k, v))
        out = np.zeros((m.heads, p, m.d), np.float32)
        for g in range(m.kv_heads):
            hs = slice(g * group, (g + 1) * group)
            probs = causal_softmax(np.einsum("hsd,td->hst", q[hs] / np.sqrt(m.d), k[g]), positions)
            out[hs] = probs @ v[g]
        x = finish_layer(m, layer, x, out)
    last = m.norm(x[-1:], m.w["model.norm.weight"])
    return cache, int((last @ m.w["lm_head.weight"].T).argmax())


def run(model, cache, prompt_len, solution_ids, rule, kept, n_min, page, rule_layer=None):
    """The solution tokens teacher-forced after the cached prompt, each query
    reading only the blocks `rule` keeps (in layer rule_layer alone, the
    oracle's elsewhere, when given). Returns (argmax per solution position,
    attention-mass recall per query [layers, heads, S])."""
    m = model
    s = len(solution_ids)
    positions = np.arange(prompt_len, prompt_len + s)
    x = m.w["model.embed_tokens.weight"][solution_ids]
    group = m.heads // m.kv_heads
    scale = 1.0 / np.sqrt(m.d)
    recall = np.zeros((m.layers, m.heads, s), np.float32)
    for layer in range(m.layers):
        h = m.norm(x, m.p(f"layers.{layer}.input_layernorm.weight"))
        q, k, v = attention_inputs(m, layer, h, positions)
        kp, vp = cache[layer]
        out = np.zeros((m.heads, s, m.d), np.float32)
        for g in range(m.kv_heads):
            hs = slice(g * group, (g + 1) * group)
            keys = np.concatenate([kp[g], k[g]])
            values = np.concatenate([vp[g], v[g]])
            logits = np.einsum("hsd,td->hst", q[hs] * scale, keys)
            probs = causal_softmax(logits, positions)
            kmin, kmax = block_summaries(keys, page)
            here = rule if rule_layer is None or layer == rule_layer else "oracle"
            # [group or 1, S, T]: per head for "head", shared by the group otherwise.
            queries = q[hs] if here == "head" else q[hs].mean(0, keepdims=True)
            allowed = np.stack([keep_mask("mean" if here == "head" else here, qh * scale, probs,
                                          kmin, kmax, positions, kept, n_min, page,
                                          keys.shape[0]) for qh in queries])
            recall[layer, hs] = (probs * allowed).sum(-1)
            sparse = np.where(allowed, logits, -np.inf)
            out[hs] = causal_softmax(sparse, positions) @ values
        x = finish_layer(m, layer, x, out)
    x = m.norm(x, m.w["model.norm.weight"])
    return (x @ m.w["lm_head.weight"].T).argmax(-1), recall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", default=os.path.join(ROOT, ".carry", "ckpt"))
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "tools", "train", "tokenizer.json"))
    ap.add_argument("--resa-tokenize", default=os.path.join(ROOT, "build", "bin", "resa-tokenize"))
    ap.add_argument("--count", type=int, default=4, help="test problems 0..count-1")
    ap.add_argument("--rules", default="dense,mean,oracle")
    ap.add_argument("--rule-layer", type=int,
                    help="apply the rules in this layer only (the oracle's blocks elsewhere)")
    ap.add_argument("--kept", type=float, default=0.1)
    ap.add_argument("--min-blocks", type=int, default=16)
    ap.add_argument("--page", type=int, default=16)
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()

    model = Model(args.ckpt)
    problems = [task.make_problem("test", i) for i in range(args.count)]
    encoded = tokenize(args.resa_tokenize, args.tokenizer,
                       [x for p in problems for x in (p["problem"], p["solution"])])
    bos = model.cfg["bos_token_id"]
    eos = model.cfg["eos_token_id"]
    rules = args.rules.split(",")
    totals = {r: dict(right=0, tokens=0, solved=0, lookups=0, lookups_right=0, recall=[]) for r in rules}
    for i, p in enumerate(problems):
        prompt = [bos] + encoded[2 * i]
        target = encoded[2 * i + 1] + [eos]
        lookups = lookup_positions(args.resa_tokenize, args.tokenizer, encoded[2 * i + 1],
                                   p["solution"])
        # The dense prefill chooses the first token; the decode the rest.
        cache, first = prefill(model, prompt)
        for r in rules:
            pred, recall = run(model, cache, len(prompt), target[:-1], r, args.kept,
                               args.min_blocks, args.page, args.rule_layer)
            right = np.concatenate([[first], pred]) == np.array(target)
            tot = totals[r]
            tot["right"] += int(right.sum())
            tot["tokens"] += len(target)
            tot["solved"] += bool(right.all())
            tot["lookups"] += len(lookups)
            tot["lookups_right"] += int(right[lookups].sum())
            tot["recall"].append(recall.reshape(-1))
            print(f"problem {i} ({len(prompt)} + {len(target)} tokens) {r:>6}: "
                  f"{right.mean():.3f} of tokens right, lookups {int(right[lookups].sum())}/"
                  f"{len(lookups)}, first wrong at "
                  f"{int(np.argmin(right)) if not right.all() else '-'}, "
                  f"mass recall mean {recall.mean():.3f} p5 {np.percentile(recall, 5):.3f}",
                  flush=True)
    summary = {}
    for r in rules:
        tot = totals[r]
        rec = np.concatenate(tot["recall"])
        summary[r] = dict(token_accuracy=tot["right"] / tot["tokens"],
                          lookup_accuracy=tot["lookups_right"] / max(1, tot["lookups"]),
                          traces_all_right=tot["solved"], problems=len(problems),
                          recall_mean=float(rec.mean()), recall_p5=float(np.percentile(rec, 5)))
        print(f"{r:>6}: token accuracy {summary[r]['token_accuracy']:.4f}, lookups "
              f"{tot['lookups_right']}/{tot['lookups']}, every token right in "
              f"{tot['solved']}/{len(problems)} traces, mass recall mean "
              f"{summary[r]['recall_mean']:.3f} p5 {summary[r]['recall_p5']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(args=vars(args), summary=summary), f, indent=1)


if __name__ == "__main__":
    main()
