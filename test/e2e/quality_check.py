#!/usr/bin/env python3
"""resa-bench quality on the CPU, in seconds: a tiny random-weight model over the task
tokenizer (bench/quality/tiny_task_model.py, compiled with --weights=random and
--pipeline=gsr as dense, sparse and ReSA packages) on 3 short task problems. Its answers are
wrong; what is checked is the benchmark's mechanics:
  - the counts and every JSON field (greedy per policy, 5 samples, pass@1, majority, best-of,
    GSR@4), each consistent with the others;
  - GSR@4 over the first 4 of 5 samples is the package's pipeline: the candidates and the
    refinement equal resa-run --json's on the same problem and seed;
  - the trace check: solutions made from the model's own greedy output (ids from resa-run,
    text from resa-tokenize) give the expected right lines and first wrong token;
  - --shard parts merged by report.py equal the whole run; report.py's tables (Wilson and
    paired intervals); a package given under the wrong policy is refused.

usage: quality_check.py RESA_COMPILE BIN_DIR REPO_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

MAX_TOKENS = 24
failures = 0


def check(ok, what):
    global failures
    failures += not ok
    print(f"{'PASS' if ok else 'FAIL'}: {what}")


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, **kw).stdout


def main():
    compile_tool, bin_dir, repo = sys.argv[1:4]
    bench = os.path.join(bin_dir, "resa-bench")
    resa_run = os.path.join(bin_dir, "resa-run")
    tokenize = os.path.join(bin_dir, "resa-tokenize")
    tokenizer = os.path.join(repo, "tools", "train", "tokenizer.json")
    report = os.path.join(repo, "bench", "quality", "report.py")
    with tempfile.TemporaryDirectory() as work:
        w = lambda name: os.path.join(work, name)
        run([sys.executable, os.path.join(repo, "bench", "quality", "tiny_task_model.py"), w("tiny.onnx")])
        packages = {}
        for policy in ("dense", "sparse", "resa"):
            packages[policy] = w(policy + ".resa")
            # 2-block minimum: these short contexts are then really block-sparse.
            extra = [] if policy == "dense" else ["--resa-min-blocks=2"]
            run([compile_tool, "--quiet", w("tiny.onnx"), "-o", packages[policy], "--weights=random:1",
                 f"--attention={policy}", "--pipeline=gsr", "--gsr-candidates=4",
                 f"--gsr-max-tokens={MAX_TOKENS}", "--gsr-answer=after:Answer:",
                 "--gsr-template=" + os.path.join(repo, "data", "gsr", "refine-template.txt")] + extra)
        problems_text = run([sys.executable, os.path.join(repo, "tools", "train", "task.py"), "--split",
                             "test", "--count", "3", "--seed", "0", "--bindings", "40", "--steps", "3"])
        with open(w("problems.jsonl"), "w") as f:
            f.write(problems_text)
        problems = [json.loads(line) for line in problems_text.splitlines()]
        common = [bench, "quality", "--problems", w("problems.jsonl"), "--tokenizer", tokenizer,
                  "--device", "cpu", "--package-dense", packages["dense"], "--package-sparse",
                  packages["sparse"], "--package-resa", packages["resa"]]

        # The whole run: 3 problems in chunks of 2.
        run(common + ["--samples", "5", "--batch", "2", "--json", w("full.json")])
        with open(w("full.json")) as f:
            full = json.load(f)
        rows = full["problems"]
        check(full["problems_done"] == 3 and [r["index"] for r in rows] == [0, 1, 2]
              and not full["stopped_by_budget"] and full["gsr_candidates"] == 4
              and full["sampling_policy"] == "resa" and full["samples"] == 5
              and full["pipeline"]["max_tokens"] == MAX_TOKENS
              and [p["name"] for p in full["policies"]] == ["dense", "sparse", "resa"],
              "3 problems done, 3 policies, 5 samples, GSR@4, the package's token limit")
        check([p.get("kept_ratio") is not None for p in full["policies"]] == [False, True, True]
              and [p["rectify_interval"] > 0 for p in full["policies"]] == [False, False, True],
              "each package's policy recorded (kept ratio for sparse and ReSA, rectification for ReSA)")
        ok = True
        for r, p in zip(rows, problems):
            ok &= r["answer"] == p["answer"] and r["reference_lines"] == p["solution"].count("\n")
            for policy in ("dense", "sparse", "resa"):
                g = r["greedy"][policy]
                ok &= 0 < g["tokens"] <= MAX_TOKENS and g["correct"] == (g["answer"] == p["answer"])
                ok &= (g["first_wrong_token"] is None) == (g["lines_right"] == r["reference_lines"])
                ok &= g["first_wrong_token"] is None or 0 <= g["first_wrong_token"] <= g["tokens"]
            s = r["sampled"]
            answers = [c["answer"] for c in s["samples"]]
            counts = {a: answers.count(a) for a in answers if a}
            majority = next((a for a in answers if a and counts[a] == max(counts.values())), "")
            best = max(s["samples"], key=lambda c: c["mean_logprob"])["answer"]
            ok &= len(s["samples"]) == 5 and all(0 < c["tokens"] <= MAX_TOKENS for c in s["samples"])
            ok &= s["pass1"] == s["samples"][0]["correct"] and s["majority_answer"] == majority
            ok &= s["best_of_n_answer"] == best and 0 < s["gsr_tokens"] <= MAX_TOKENS
            ok &= s["gsr"] == (s["gsr_answer"] == p["answer"] and s["gsr_answer"] != "")
        check(ok, "every problem's greedy, sample, majority, best-of and GSR fields are consistent")

        # GSR@4 is the package's pipeline on the first 4 of the 5 samples (problem i: seed 1000 i).
        ok = True
        for i in (0, 1):
            g = json.loads(run([resa_run, packages["resa"], "--tokenizer", tokenizer, "--prompt",
                                problems[i]["problem"], "--json", "--seed", str(1000 * i),
                                "--device", "cpu"]))
            s = rows[i]["sampled"]
            for c, mine in zip(g["candidates"], s["samples"][:4]):
                ok &= (c["tokens"], c["answer"]) == (mine["tokens"], mine["answer"])
                ok &= abs(c["mean_logprob"] - mine["mean_logprob"]) <= 1e-5 * max(1, abs(c["mean_logprob"]))
            ref = g["refinement"]
            ok &= (ref["tokens"], ref["answer"]) == (s["gsr_tokens"], s["gsr_answer"])
            ok &= abs(ref["mean_logprob"] - s["gsr_mean_logprob"]) <= 1e-5 * max(1, abs(ref["mean_logprob"]))
        check(ok, "samples 1-4 and the GSR@4 refinement equal resa-run --json's candidates and "
                  "refinement (same problem and seed)")

        # The trace check against solutions made from the model's own greedy output.
        run([compile_tool, "--quiet", w("tiny.onnx"), "-o", w("plain.resa"), "--weights=random:1"])
        prompt = json.loads(run([tokenize, tokenizer, "encode", problems[0]["problem"]]))["ids"]
        ids = [int(t) for t in run([resa_run, w("plain.resa"), "--tokens", ",".join(map(str, prompt)),
                                    "--max-new-tokens", str(MAX_TOKENS), "--eos", "2",
                                    "--device", "cpu"]).split(",")]
        pieces = [json.loads(line)["text"] for line in
                  run([tokenize, tokenizer, "decode", "--skip-special"] + ids).splitlines()]
        text = "".join(pieces)
        ends_special = ids[-1] == 2

        def first_past(chars):
            """The first token whose text goes past `chars` characters."""
            total = 0
            for k, piece in enumerate(pieces):
                total += len(piece)
                if total > chars:
                    return k
            return len(ids) - (1 if ends_special else 0)

        last_nl = text.rfind("\n") + 1
        cases = [  # (solution, lines right, first wrong token)
            (text, text.count("\n") + (not text.endswith("\n")), None),
            ("WRONG\n" + text, 0, first_past(0)),
            (text + "\nmore\n", text.count("\n"), first_past(last_nl)),
        ]
        with open(w("traces.jsonl"), "w") as f:
            for solution, _, _ in cases:
                f.write(json.dumps({"problem": problems[0]["problem"], "answer": "0",
                                    "solution": solution}) + "\n")
        run([bench, "quality", "--problems", w("traces.jsonl"), "--tokenizer", tokenizer,
             "--device", "cpu", "--package-dense", packages["dense"], "--samples", "0",
             "--json", w("traces.json")])
        with open(w("traces.json")) as f:
            traced = json.load(f)["problems"]
        got = [(r["greedy"]["dense"]["lines_right"], r["greedy"]["dense"]["first_wrong_token"])
               for r in traced]
        want = [(lines, token) for _, lines, token in cases]
        check(got == want and traced[0]["greedy"]["dense"]["tokens"] == len(ids),
              f"trace check on the model's own output: (lines right, first wrong token) {got}, "
              f"expected {want}")

        # Shards: report.py merges them into the whole run.
        for shard in ("0/2", "1/2"):
            run(common + ["--samples", "5", "--batch", "2", "--shard", shard,
                          "--json", w(f"shard{shard[0]}.json")])
        run([sys.executable, report, w("shard0.json"), w("shard1.json"), "--out-dir", w("merged"),
             "--name", "q"])
        run([sys.executable, report, w("full.json"), "--out-dir", w("whole"), "--name", "q"])
        with open(w("merged/q.json")) as f:
            merged = json.load(f)
        with open(w("whole/q.json")) as f:
            whole = json.load(f)
        check(merged["problems"] == whole["problems"] and len(merged["runs"]) == 2
              and merged["statistics"]["greedy"] == whole["statistics"]["greedy"],
              "--shard 0/2 and 1/2 merged by report.py equal the whole run")
        st = whole["statistics"]
        ok = st["problems"] == 3
        for v in list(st["greedy"].values()) + list(st["sampled"].values()):
            lo, hi = v["wilson"]
            ok &= 0 <= lo <= v["accuracy"] <= hi <= 1 and hi - lo > 0.3
        for key in ("resa - dense", "sparse - dense", "gsr - majority"):
            d = st["differences"][key]
            ok &= -1 <= d["low"] <= d["estimate"] <= d["high"] <= 1 and 0 <= d["mcnemar_p"] <= 1
        with open(w("whole/q.md")) as f:
            md = f.read()
        for needle in ("## Greedy accuracy", "95% Wilson", "GSR@4", "majority@5", "best-of-5",
                       "resa - dense", "sparse - dense", "Newcombe", "McNemar", "after t generated tokens"):
            ok &= needle in md
        check(ok, "report.py: accuracies with Wilson intervals, paired differences with Newcombe "
                  "intervals and McNemar p, the trace table")

        wrong = subprocess.run([bench, "quality", "--problems", w("problems.jsonl"), "--tokenizer",
                                tokenizer, "--device", "cpu", "--package-dense", packages["resa"]],
                               capture_output=True, text=True)
        check(wrong.returncode == 1 and "a resa package, given as --package-dense" in wrong.stderr,
              "a ReSA package given as --package-dense is refused")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
