#!/usr/bin/env python3
"""GSR end to end: compile a test model with --pipeline=gsr (dense and ReSA),
run resa-gsr-check on it (sharing, determinism), resa-run --json (the
structured result) and resa-capi-check (the C API).

usage: gsr_check.py BIN_DIR FIXTURES_DIR
"""
import json
import os
import subprocess
import sys
import tempfile


def main():
    bin_dir, fixtures = sys.argv[1], sys.argv[2]
    tool = lambda t: os.path.join(bin_dir, t)
    model = os.path.join(fixtures, "models", "llama-eager-op18.onnx")
    tokenizer = os.path.join(fixtures, "tokenizers", "bpe300.json")
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        for policy in ("dense", "resa"):
            pkg = os.path.join(work, policy + ".resa")
            subprocess.run([tool("resa-compile"), "--quiet", model, "-o", pkg, "--pipeline=gsr",
                            "--gsr-candidates=4", "--gsr-max-tokens=24", f"--attention={policy}"],
                           check=True)
            print(f"-- {policy}")
            failures += subprocess.run([tool("resa-gsr-check"), pkg, tokenizer]).returncode != 0
            out = subprocess.run([tool("resa-run"), pkg, "--tokenizer", tokenizer, "--prompt",
                                  "What is 3 + 4?", "--json", "--seed", "1", "--device", "cpu"],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out)
            ok = (len(r["candidates"]) == 4 and r["refine_prompt"].startswith("What is 3 + 4?")
                  and all(c["text"] in r["refine_prompt"] for c in r["candidates"])
                  and r["refinement"]["tokens"] > 0 and r["decode_tokens"] > 0)
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'}: resa-run --json prints the candidates, the "
                  f"refinement prompt built from them and the refinement")
            failures += subprocess.run([tool("resa-capi-check"), pkg, tokenizer]).returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
