#!/usr/bin/env python3
"""The kernel reports (bench/kernels/report*.py) regenerate the committed ones
from the raw measurements they were made from, and their target checks can fail.

  python3 kernel_reports_check.py RESULTS_DIR RAW_DIR STEM
RAW_DIR holds one device call's outputs (resa.json, sdpa.json: resa-bench-kernels
--sparse and sdpa_peer.py; prefill.json, prefill-both.json, prefill-sdpa.json:
resa-bench-prefill and prefill_peer.py); RESULTS_DIR/kernels-KIND-STEM.md are
the reports committed from them. Prints "kernel reports: passed" when all agree.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "..", "..", "bench", "kernels")

# (kind, script, resa input, peer input)
REPORTS = [
    ("decode", "report.py", "resa.json", "sdpa.json"),
    ("sparse", "report_sparse.py", "resa.json", "sdpa.json"),
    ("prefill", "report_prefill.py", "prefill.json", "prefill-sdpa.json"),
    ("prefill-both", "report_prefill.py", "prefill-both.json", "prefill-sdpa.json"),
]


def run(script, resa, peer, tmp, kind):
    md = os.path.join(tmp, f"{kind}.md")
    subprocess.run([sys.executable, os.path.join(SCRIPTS, script), resa, peer,
                    "--json", os.path.join(tmp, f"{kind}.json"), "--md", md],
                   check=True, stdout=subprocess.DEVNULL)
    return open(md).read()


def main():
    results, raw, stem = sys.argv[1:4]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, script, resa, peer in REPORTS:
            made = run(script, os.path.join(raw, resa), os.path.join(raw, peer), tmp, kind)
            committed = open(os.path.join(results, f"kernels-{kind}-{stem}.md")).read()
            if made != committed:
                failures.append(f"{kind}: {script} does not regenerate kernels-{kind}-{stem}.md")
        # The prefill target's check must be able to fail: the same run 2x slower.
        slow = [dict(r, ms=r["ms"] * 2, tflops=r["tflops"] / 2)
                for r in json.load(open(os.path.join(raw, "prefill.json")))]
        path = os.path.join(tmp, "slow.json")
        json.dump(slow, open(path, "w"))
        md = run("report_prefill.py", path, "-", tmp, "slow")
        if "(target >= 400): NOT met" not in md:
            failures.append("report_prefill.py: a 2x slower causal 32K still reads as met")
    for f in failures:
        print(f"FAIL: {f}")
    if failures:
        return 1
    print("kernel reports: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
