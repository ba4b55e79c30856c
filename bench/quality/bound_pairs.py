#!/usr/bin/env python3
"""Where Quest's bound loses a lookup's block, per rotary frequency pair: for
one layer and KV group of the task model (by default the last layer's group
whose heads look bindings up, see selection_study.py --rule-layer), over the
looked-up values of a held-out problem (dense, teacher-forced), the pooled
query's energy per pair and each pair's share of the bound
sum_j max(q_j kmax_j, q_j kmin_j) for the block holding the most attention
mass (the binding) and for the block the rule ranks at its budget's edge
(the n-th). Pairs are Llama's rotate-half (j, j + d/2), theta_j = base^(-2j/d)
radians a token: a pair that turns by much over a 16-token block has a wide
min/max whatever the content, a slow one carries content.

    python3 bench/quality/bound_pairs.py --ckpt .carry/ckpt --layer 5 --group 2
"""
import argparse
import os

import numpy as np

import selection_study as S


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", required=True, help="a checkpoint folder (config.json, safetensors)")
    ap.add_argument("--problem", type=int, default=0, help="test problem index")
    ap.add_argument("--layer", type=int, default=-1, help="default: the last")
    ap.add_argument("--group", type=int, default=2, help="KV head")
    ap.add_argument("--kept", type=float, default=0.1)
    ap.add_argument("--min-blocks", type=int, default=16)
    ap.add_argument("--page", type=int, default=16)
    ap.add_argument("--rows", type=int, default=12, help="pairs shown, by query energy")
    args = ap.parse_args()
    tk = os.path.join(S.ROOT, "build", "bin", "resa-tokenize")
    tj = os.path.join(S.ROOT, "tools", "train", "tokenizer.json")
    m = S.Model(args.ckpt)
    layer_of_interest = args.layer % m.layers
    p = S.task.make_problem("test", args.problem)
    enc = S.tokenize(tk, tj, [p["problem"], p["solution"]])
    prompt = [m.cfg["bos_token_id"]] + enc[0]
    solution = enc[1]
    looks = S.lookup_positions(tk, tj, solution, p["solution"])
    cache, _ = S.prefill(m, prompt)
    positions = np.arange(len(prompt), len(prompt) + len(solution))
    x = m.w["model.embed_tokens.weight"][solution]
    group = m.heads // m.kv_heads
    scale = 1.0 / np.sqrt(m.d)
    half = m.d // 2
    for layer in range(layer_of_interest + 1):
        h = m.norm(x, m.p(f"layers.{layer}.input_layernorm.weight"))
        q, k, v = S.attention_inputs(m, layer, h, positions)
        out = np.zeros((m.heads, len(solution), m.d), np.float32)
        for g in range(m.kv_heads):
            hs = slice(g * group, (g + 1) * group)
            keys = np.concatenate([cache[layer][0][g], k[g]])
            values = np.concatenate([cache[layer][1][g], v[g]])
            probs = S.causal_softmax(np.einsum("hsd,td->hst", q[hs] * scale, keys), positions)
            out[hs] = probs @ values
        x = S.finish_layer(m, layer, x, out)
    g = args.group
    hs = slice(g * group, (g + 1) * group)
    keys = np.concatenate([cache[layer_of_interest][0][g], k[g]])
    kmin, kmax = S.block_summaries(keys, args.page)
    nb = kmin.shape[0]
    probs = S.causal_softmax(np.einsum("hsd,td->hst", q[hs] * scale, keys), positions)
    energy, peak, edge = np.zeros(half), np.zeros(half), np.zeros(half)
    ranks = []
    for j in looks:
        i = j - 1  # the position whose query predicts the looked-up token
        own = positions[i] // args.page
        pooled = q[hs, i].mean(0) * scale
        mass = probs[:, i, :nb * args.page].reshape(group, nb, args.page).sum(-1).max(0)
        mass[own:] = 0
        b = int(mass.argmax())
        score = np.where(np.arange(nb) < own, S.quest(pooled[None], kmin, kmax)[0], -np.inf)
        order = np.argsort(-score)
        n = min(own + 1, max(args.min_blocks, int(np.ceil((own + 1) * args.kept))))
        ranks.append(int(np.where(order == b)[0][0]))

        def by_pair(block):
            t = np.maximum(pooled * kmax[block], pooled * kmin[block])
            return t[:half] + t[half:]
        peak += by_pair(b)
        edge += by_pair(order[n - 2])  # the last of the n - 1 blocks kept besides the own
        energy += pooled[:half] ** 2 + pooled[half:] ** 2
    print(f"layer {layer_of_interest}, KV group {g}, test problem {args.problem}: the looked-up "
          f"values' blocks ranked {ranks} (kept: the first {n - 1})")
    print("pair  theta/token  query energy  bound: binding's block  edge block  difference")
    for i in np.argsort(-energy)[:args.rows]:
        print(f"{i:4d}  {m.inv_freq[i]:11.4f}  {energy[i] / energy.sum():12.3f}  "
              f"{peak[i] / len(looks):22.2f}  {edge[i] / len(looks):10.2f}  "
              f"{(peak[i] - edge[i]) / len(looks):10.2f}")
    print(f"all {half} pairs: binding's block {peak.sum() / len(looks):.2f}, edge block "
          f"{edge.sum() / len(looks):.2f}")


if __name__ == "__main__":
    main()
