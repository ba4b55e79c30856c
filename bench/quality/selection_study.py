#!/usr/bin/env python3
"""How well block-selection rules keep the task model's answers: a CPU study
(numpy only) of the trained checkpoint, teacher-forced on held-out problems.

For each problem the prompt and its reference solution are run through the
model layer by layer; the prompt's queries attend densely (the prefill), every
solution token's query attends only to the blocks a rule selects, as sparse
decoding without rectification would (each layer's keys come from the
previous layer's sparse outputs). Reported per rule: the fraction of solution
tokens whose argmax is the reference token and the share of each head's dense attention mass that the selected
blocks hold (mean and 5th percentile over solution tokens, heads and layers).

Rules (blocks of --page tokens, n = max(n_min, ceil(M * kept)), the newest
block always kept):
  mean     DESIGN.md's: the group's query heads averaged into one query, Quest's
           bound sum_j max(q_j kmax_j, q_j kmin_j)
  max      each head's own Quest bound, the block's score the largest of its group's
  oracle   the blocks holding the most dense attention mass (the largest over the
           group's heads): what a perfect score would keep
  dense    every block (the reference)

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
    """Per block of `page` positions: the elementwise min and max of k [T, d]
    (the last block partial)."""
    t = k.shape[0]
    nb = (t + page - 1) // page
    pad = nb * page - t
    lo = np.concatenate([k, np.full((pad, k.shape[1]), np.inf, np.float32)]).reshape(nb, page, -1)
    hi = np.concatenate([k, np.full((pad, k.shape[1]), -np.inf, np.float32)]).reshape(nb, page, -1)
    return lo.min(1), hi.max(1)


def quest(q, lo, hi):
    """Quest's bound of q [..., d] against blocks [nb, d] -> [..., nb]."""
    return np.maximum(q[..., None, :] * hi, q[..., None, :] * lo).sum(-1)


def select(rule, qg, probs, kmin, kmax, n, nb, page):
    """The blocks (a boolean mask over nb) one group keeps for one query.
    qg [group, d] (scaled), probs [group, t+1] dense attention (oracle)."""
    keep = np.zeros(nb, bool)
    if rule == "dense" or n >= nb:
        keep[:] = True
        return keep
    if rule == "mean":
        score = quest(qg.mean(0), kmin, kmax)
    elif rule == "max":
        score = quest(qg, kmin, kmax).max(0)
    elif rule == "oracle":
        t1 = probs.shape[1]
        padded = np.concatenate([probs, np.zeros((probs.shape[0], nb * page - t1))], 1)
        score = padded.reshape(probs.shape[0], nb, page).sum(-1).max(0)
    else:
        raise ValueError(rule)
    score = score.astype(np.float64)
    score[nb - 1] = np.inf  # the newest block
    order = np.argsort(-score, kind="stable")[:n]
    keep[order] = True
    return keep


def run(model, ids, prompt_len, rule, kept, n_min, page):
    """Teacher-forced forward; solution queries attend to the selected blocks.
    Returns (argmax per position, attention-mass recall per solution query
    [layers, heads, S])."""
    m = model
    t = len(ids)
    positions = np.arange(t)
    x = m.w["model.embed_tokens.weight"][ids]
    group = m.heads // m.kv_heads
    scale = 1.0 / np.sqrt(m.d)
    sol = np.arange(prompt_len, t)
    recall = np.zeros((m.layers, m.heads, len(sol)), np.float32)
    causal = np.tril(np.ones((t, t), bool))
    for layer in range(m.layers):
        pre = f"layers.{layer}."
        h = m.norm(x, m.p(pre + "input_layernorm.weight"))
        q = (h @ m.p(pre + "self_attn.q_proj.weight").T).reshape(t, m.heads, m.d).transpose(1, 0, 2)
        k = (h @ m.p(pre + "self_attn.k_proj.weight").T).reshape(t, m.kv_heads, m.d).transpose(1, 0, 2)
        v = (h @ m.p(pre + "self_attn.v_proj.weight").T).reshape(t, m.kv_heads, m.d).transpose(1, 0, 2)
        q, k = m.rotary(q, positions), m.rotary(k, positions)
        out = np.zeros((m.heads, t, m.d), np.float32)
        for g in range(m.kv_heads):
            hs = range(g * group, (g + 1) * group)
            s = np.einsum("htd,sd->hts", q[hs.start:hs.stop] * scale, k[g])
            s = np.where(causal[None], s, -np.inf)
            s -= s.max(-1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(-1, keepdims=True)
            out[hs.start:hs.stop] = p @ v[g]
            kmin_all, kmax_all = block_summaries(k[g], page)
            for i, pos in enumerate(sol):
                nb = pos // page + 1
                n = min(nb, max(n_min, int(np.ceil(nb * kept * (1 - 1e-6)))))
                # The newest block's summary covers positions <= pos only.
                kmin, kmax = kmin_all[:nb].copy(), kmax_all[:nb].copy()
                last = k[g][(nb - 1) * page:pos + 1]
                kmin[-1], kmax[-1] = last.min(0), last.max(0)
                keep = select(rule, q[hs.start:hs.stop, pos] * scale, p[:, pos, :pos + 1],
                              kmin, kmax, n, nb, page)
                mask = np.repeat(keep, page)[:pos + 1]
                recall[layer, hs.start:hs.stop, i] = p[:, pos, :pos + 1][:, mask].sum(-1)
                if rule == "dense" or keep.all():
                    continue
                ss = np.einsum("hd,sd->hs", q[hs.start:hs.stop, pos] * scale, k[g][:pos + 1][mask])
                ss -= ss.max(-1, keepdims=True)
                ps = np.exp(ss)
                ps /= ps.sum(-1, keepdims=True)
                out[hs.start:hs.stop, pos] = ps @ v[g][:pos + 1][mask]
        attn = out.transpose(1, 0, 2).reshape(t, -1) @ m.p(pre + "self_attn.o_proj.weight").T
        x = x + attn
        h = m.norm(x, m.p(pre + "post_attention_layernorm.weight"))
        gate = h @ m.p(pre + "mlp.gate_proj.weight").T
        up = h @ m.p(pre + "mlp.up_proj.weight").T
        x = x + ((gate / (1 + np.exp(-gate))) * up) @ m.p(pre + "mlp.down_proj.weight").T
    x = m.norm(x[prompt_len - 1:], m.w["model.norm.weight"])
    logits = x @ m.w["lm_head.weight"].T
    return logits.argmax(-1), recall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", default=os.path.join(ROOT, ".carry", "ckpt"))
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "tools", "train", "tokenizer.json"))
    ap.add_argument("--resa-tokenize", default=os.path.join(ROOT, "build", "bin", "resa-tokenize"))
    ap.add_argument("--count", type=int, default=4, help="test problems 0..count-1")
    ap.add_argument("--rules", default="dense,mean,max,oracle")
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
    totals = {r: dict(right=0, tokens=0, recall=[]) for r in rules}
    for i, p in enumerate(problems):
        prompt = [bos] + encoded[2 * i]
        target = encoded[2 * i + 1] + [eos]
        ids = prompt + target[:-1]
        for r in rules:
            pred, recall = run(model, ids, len(prompt), r, args.kept, args.min_blocks, args.page)
            right = pred == np.array(target)
            tot = totals[r]
            tot["right"] += int(right.sum())
            tot["tokens"] += len(target)
            tot["recall"].append(recall.reshape(-1))
            print(f"problem {i} ({len(prompt)} + {len(target)} tokens) {r:>6}: "
                  f"{right.mean():.3f} of tokens right, first wrong at "
                  f"{int(np.argmin(right)) if not right.all() else '-'}, "
                  f"mass recall mean {recall.mean():.3f} p5 {np.percentile(recall, 5):.3f}",
                  flush=True)
    summary = {}
    for r in rules:
        tot = totals[r]
        rec = np.concatenate(tot["recall"])
        summary[r] = dict(token_accuracy=tot["right"] / tot["tokens"],
                          recall_mean=float(rec.mean()), recall_p5=float(np.percentile(rec, 5)))
        print(f"{r:>6}: token accuracy {summary[r]['token_accuracy']:.4f}, "
              f"mass recall mean {summary[r]['recall_mean']:.3f} p5 {summary[r]['recall_p5']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(args=vars(args), summary=summary), f, indent=1)


if __name__ == "__main__":
    main()
