#!/usr/bin/env python3
"""resa-compile --prefill-logits=last against --prefill-logits=all: test models
compiled both ways (dense, sparse and ReSA attention) through
resa-prefill-logits-check (prefill's one row is the last row exactly;
generate() and generateShared() give identical tokens), resa-run's
generation and --dump-logits, and a GSR package (resa-gsr-check,
resa-capi-check, resa-run --json: the same result as the all-positions one).

usage: prefill_logits_check.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CASES = [("llama-eager-op18", "dense"), ("contrib-gqa-rotary-op18", "resa"),
         ("gpt2-eager-op18", "sparse")]


def main():
    bin_dir, fixtures = sys.argv[1], sys.argv[2]
    tool = lambda t: os.path.join(bin_dir, t)
    tokenizer = os.path.join(fixtures, "tokenizers", "bpe300.json")
    failures = 0

    def report(ok, what):
        nonlocal failures
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'}: {what}")

    def compile_both(work, model, name, extra):
        pkgs = {}
        for keep in ("all", "last"):
            pkgs[keep] = os.path.join(work, f"{name}-{keep}.resa")
            subprocess.run([tool("resa-compile"), "--quiet", model, "-o", pkgs[keep],
                            f"--prefill-logits={keep}"] + extra, check=True)
        return pkgs

    def run(args):
        return subprocess.run([tool("resa-run")] + args, check=True, capture_output=True,
                              text=True)

    with tempfile.TemporaryDirectory() as work:
        for name, policy in CASES:
            model = os.path.join(fixtures, "models", name + ".onnx")
            print(f"-- {name}, --attention={policy}")
            pkgs = compile_both(work, model, name, [f"--attention={policy}"])
            failures += subprocess.run([tool("resa-prefill-logits-check"), pkgs["all"],
                                        pkgs["last"]]).returncode != 0
            gen = ["--tokens", "3,1,4,1,5,9,2,6", "--max-new-tokens", "8", "--device", "cpu"]
            report(run([pkgs["all"]] + gen).stdout == run([pkgs["last"]] + gen).stdout,
                   "resa-run generates the same tokens")
            # The CPU dumps the stateless @main's logits: every position, either way.
            dumps = {}
            for keep in ("all", "last"):
                dumps[keep] = os.path.join(work, f"{name}-{keep}.npy")
                run([pkgs[keep], "--tokens", "3,1,4,1,5", "--max-new-tokens", "0",
                     "--device", "cpu", "--dump-logits", dumps[keep]])
            a, b = np.load(dumps["all"]), np.load(dumps["last"])
            report(a.shape[:2] == (1, 5) and np.array_equal(a, b),
                   f"resa-run --dump-logits on the CPU: every position either way ({b.shape})")

        print("-- GSR")
        model = os.path.join(fixtures, "models", "llama-eager-op18.onnx")
        pkgs = compile_both(work, model, "gsr", ["--pipeline=gsr", "--gsr-candidates=3",
                                                 "--gsr-max-tokens=16", "--attention=resa"])
        failures += subprocess.run([tool("resa-gsr-check"), pkgs["last"],
                                    tokenizer]).returncode != 0
        failures += subprocess.run([tool("resa-capi-check"), pkgs["last"],
                                    tokenizer]).returncode != 0
        results = []
        for keep in ("all", "last"):
            r = json.loads(run([pkgs[keep], "--tokenizer", tokenizer, "--prompt",
                                "What is 3 + 4?", "--json", "--seed", "1", "--device",
                                "cpu"]).stdout)
            results.append({k: v for k, v in r.items() if not k.endswith("_seconds")})
        report(results[0] == results[1],
               "resa-run --json: the same candidates, refinement and answers")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
