#!/usr/bin/env python3
"""Samples N candidate solutions per problem with a checkpoint, batched on the
GPU (Hugging Face generate, KV cache), for the refinement examples of the
next training round; with --refine it also runs GSR's refinement and reports
the accuracies (a PyTorch-side check; the evaluation of record runs through
resa's runtime).

    python3 tools/train/sample.py --ckpt CKPT --out OUT/candidates.jsonl.gz \\
        --problems 1024 --max-seconds 90                       # a training pool
    python3 tools/train/sample.py --ckpt CKPT --split test --problems 128 --refine

Train problems are drawn at random indices of task.py's train split; test
problems are indices 0.. of the test split. Sampling uses the runtime's GSR
defaults (temperature 0.8, top-p 0.95); the refinement is greedy, as is the
runtime's. Output: one JSON object per problem (split, index, bindings, steps,
answer, candidates, answers[, refinement, refined_answer]) and a summary:
pass@1 (mean candidate accuracy), pass@N, majority@N, [GSR@N].
"""
import argparse
import gzip
import json
import os
import random
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import generation  # noqa: E402
import gsr_format  # noqa: E402
import model as M  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", help="candidate sets, jsonl (.gz compresses)")
    ap.add_argument("--summary", help="write the summary JSON here too")
    ap.add_argument("--split", default="train", choices=["train", "test"])
    ap.add_argument("--problems", type=int, default=256)
    ap.add_argument("--bindings", type=int, default=data.task.BINDINGS)
    ap.add_argument("--steps", type=int, default=data.task.STEPS)
    ap.add_argument("--n", type=int, default=4, help="candidates per problem")
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--refine", action="store_true", help="also refine and report GSR@N")
    ap.add_argument("--batch-size", type=int, default=512, help="sequences per generate call")
    ap.add_argument("--chunk", type=int, default=256, help="problems between time checks")
    ap.add_argument("--max-seconds", type=float, default=0,
                    help="stop before a chunk that would end past this (0: no limit)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0)
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    net, state, _ = M.load(args.ckpt)
    net.to(device)
    tok = data.TaskTokenizer()
    template = gsr_format.read_template()
    rng = random.Random(f"sample/{args.seed}")
    if args.split == "train":
        indices = [rng.getrandbits(40) for _ in range(args.problems)]
    else:
        indices = list(range(args.problems))
    records, last_chunk = [], 0.0
    for start in range(0, len(indices), args.chunk):
        # Stop where another chunk as long as the last would pass the limit.
        if args.max_seconds and records and time.time() - t0 + last_chunk > args.max_seconds:
            break
        t_chunk = time.time()
        probs = [data.problem(args.split, i, args.bindings, args.steps)
                 for i in indices[start:start + args.chunk]]
        prompts = [data.prompt_ids(tok, e["problem"]) for e in probs for _ in range(args.n)]
        outs = generation.generate(net, tok, prompts, args.max_new_tokens, args.temperature,
                                   args.top_p, args.batch_size, seed=args.seed + start)
        texts = [tok.decode(o) for o in outs]
        chunk = []
        for p, e in enumerate(probs):
            cands = texts[p * args.n:(p + 1) * args.n]
            chunk.append(dict(split=e["split"], index=e["index"], bindings=e["bindings"],
                              steps=e["steps"], answer=e["answer"], candidates=cands,
                              answers=[gsr_format.extract_answer(c) for c in cands]))
        if args.refine:
            refine = [data.prompt_ids(tok, gsr_format.build_refine_prompt(
                template, e["problem"], r["candidates"])) for e, r in zip(probs, chunk)]
            outs = generation.generate(net, tok, refine, args.max_new_tokens,
                                       batch_size=args.batch_size)
            for r, o in zip(chunk, outs):
                r["refinement"] = tok.decode(o)
                r["refined_answer"] = gsr_format.extract_answer(r["refinement"])
        records += chunk
        last_chunk = time.time() - t_chunk
        print(f"{len(records)} problems sampled, {time.time() - t0:.0f} s", flush=True)

    n = len(records)
    right = [[a == r["answer"] for a in r["answers"]] for r in records]
    summary = dict(ckpt=args.ckpt, step=state["step"], split=args.split, problems=n,
                   candidates=args.n, bindings=args.bindings,
                   pass_at_1=sum(sum(x) for x in right) / (n * args.n),
                   pass_at_n=sum(any(x) for x in right) / n,
                   all_wrong=sum(not any(x) for x in right) / n,
                   majority_at_n=sum(generation.majority(r["answers"]) == r["answer"]
                                     for r in records) / n,
                   seconds=round(time.time() - t0, 1))
    if args.refine:
        summary["gsr_at_n"] = sum(r["refined_answer"] == r["answer"] for r in records) / n
    if args.out:
        opener = gzip.open if args.out.endswith(".gz") else open
        with opener(args.out, "wt", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
    text = json.dumps(summary, indent=1)
    print(text, flush=True)
    if args.summary:
        with open(args.summary, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
