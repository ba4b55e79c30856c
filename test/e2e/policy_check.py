#!/usr/bin/env python3
"""Attention policies on one model (DESIGN.md, ReSA):

- with kept ratio 1, sparse and ReSA decoding give exactly the dense tokens
  (greedy, 48 tokens, prompts of 3 lengths; ReSA rectifying every 8 steps);
- with ReSA keeping few blocks, the rectified window's KV equals a dense
  recompute (resa-rectify-check).

usage: policy_check.py BIN_DIR MODEL.onnx
"""
import os
import subprocess
import sys
import tempfile


def main():
    bin_dir, model = sys.argv[1], sys.argv[2]
    name = os.path.basename(model)
    tool = lambda t: os.path.join(bin_dir, t)
    policies = {
        "dense": [],
        "sparse": ["--attention=sparse", "--resa-kept-ratio=1"],
        "resa": ["--attention=resa", "--resa-kept-ratio=1", "--resa-rectify-every=8"],
    }
    # Prompt + new tokens stay within the test models' 128 positions.
    prompts = [[(i * 37) % 250 + 1 for i in range(n)] for n in (60, 37, 75)]
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        outputs = {}
        for policy, flags in policies.items():
            pkg = os.path.join(work, policy + ".resa")
            subprocess.run([tool("resa-compile"), "--quiet", model, "-o", pkg] + flags, check=True)
            outputs[policy] = [
                subprocess.run([tool("resa-run"), pkg, "--tokens", ",".join(map(str, p)),
                                "--max-new-tokens", "48", "--device", "cpu"], check=True, stdout=subprocess.PIPE,
                               text=True).stdout
                for p in prompts]
        for policy in ("sparse", "resa"):
            same = outputs[policy] == outputs["dense"]
            failures += not same
            print(f"{'PASS' if same else 'FAIL'}: {name}: {policy} with kept ratio 1 "
                  f"{'gives' if same else 'does not give'} the dense tokens")
        pkg = os.path.join(work, "resa-few-blocks.resa")
        # Few blocks kept, so that sparse decoding really leaves blocks out
        # within the test models' short maximum contexts (128 positions).
        subprocess.run([tool("resa-compile"), "--quiet", model, "-o", pkg, "--attention=resa",
                        "--resa-min-blocks=2"], check=True)
        failures += subprocess.run([tool("resa-rectify-check"), pkg, "--prompt", "80"]).returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
