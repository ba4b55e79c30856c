#!/usr/bin/env python3
"""The task model's tokenizer (tools/train/tokenizer.json) in resa's runtime
against the `tokenizers` package, on the text the model is trained on and
sees at run time:
  - the committed tokenizer files are what tools/train/build_tokenizer.py
    builds (deterministic, up to date);
  - resa-tokenize gives the reference's ids (with and without <s>) and its
    decodes, and decode(encode(x)) == x, for train and test problems, their
    solutions, refinement prompts with candidates (tools/train/candidates.py,
    gsr_format.py) and a few other texts;
  - BOS and EOS are <s> and </s>, each task value (0..96) is one token;
  - candidates.trace() without a mistake reproduces task.py's solutions.
Needs only the `tokenizers` package (no torch).

usage: task_tokenizer_check.py --driver build/bin/resa-tokenize
"""
import argparse
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "..", "..", "tools", "train")
sys.path.insert(0, TRAIN)
import build_tokenizer  # noqa: E402
import candidates  # noqa: E402
import tokens  # noqa: E402
import gsr_format  # noqa: E402
import task  # noqa: E402

try:
    from tokenizers import Tokenizer
except ImportError as e:  # scripts/setup.sh installs it
    sys.exit(f"task_tokenizer_check: needs the `tokenizers` package: {e}")

TOKENIZER = os.path.join(TRAIN, "tokenizer.json")
OTHER_TEXTS = ["", "\n", "  \t\n ", "What is 3 + 4?", "x<s>y</s>z <pad>", "0123456789 007",
               "café 日本語 👍🏽 naïve", "Answer: 42\n", "k4178 = 83\nr12 = (r11 * k4178) mod 97"]


def run_driver(driver, mode, inputs, *flags):
    stdin = "".join(json.dumps(x) + "\n" for x in inputs)
    proc = subprocess.run([driver, TOKENIZER, mode, *flags], input=stdin, capture_output=True,
                          text=True, encoding="utf-8")
    out = [json.loads(line) for line in proc.stdout.split("\n") if line]
    if len(out) != len(inputs):
        sys.exit(f"task_tokenizer_check: {mode} gave {len(out)} results for {len(inputs)} "
                 f"inputs (exit {proc.returncode}): {proc.stderr.strip()}")
    return out


def task_texts():
    rng = random.Random(3)
    template = gsr_format.read_template()
    texts = []
    for split in ("train", "test"):
        for i in range(6):
            e = task.make_problem(split, i)
            cands = candidates.candidate_set(e["problem"], e["solution"], rng)
            texts += [e["problem"], e["solution"], e["problem"] + e["solution"],
                      gsr_format.build_refine_prompt(template, e["problem"], cands)]
    return texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True, help="resa-tokenize")
    args = ap.parse_args()
    checks = []
    ref = Tokenizer.from_file(TOKENIZER)

    tokenizer, config = build_tokenizer.build()
    committed = [open(os.path.join(TRAIN, n), encoding="utf-8").read()
                 for n in ("tokenizer.json", "tokenizer_config.json")]
    checks.append(("the committed files are what build_tokenizer.py builds",
                   committed == [build_tokenizer.dumps(tokenizer), build_tokenizer.dumps(config)]))

    texts = task_texts() + OTHER_TEXTS
    mismatches = []
    for special in (True, False):
        got = run_driver(args.driver, "encode", texts, *([] if special else ["--no-special"]))
        for text, g in zip(texts, got):
            want = ref.encode(text, add_special_tokens=special).ids
            ok = ("error" not in g and g["ids"] == want
                  and g["decoded"] == ref.decode(want, skip_special_tokens=False)
                  and g["decoded_skip"] == ref.decode(want, skip_special_tokens=True))
            if not ok:
                mismatches.append(f"{text[:40]!r} special={special}: {str(g)[:200]}")
    for m in mismatches[:5]:
        print(f"  mismatch: {m}")
    checks.append((f"resa-tokenize encodes and decodes {len(texts)} texts x 2 as `tokenizers`",
                   not mismatches))

    plain = [t for t in texts if "<" not in t]
    got = run_driver(args.driver, "encode", plain, "--no-special")
    checks.append(("decode(encode(x)) == x", all(g["decoded"] == t for t, g in zip(plain, got))))

    info = json.loads(subprocess.run([args.driver, TOKENIZER, "info"], capture_output=True,
                                     text=True, check=True).stdout)
    checks.append(("BOS is <s>, EOS is </s> (tokenizer_config.json)",
                   (info["bos"], info["eos"]) == (ref.token_to_id("<s>"), ref.token_to_id("</s>"))))
    checks.append(("every task value 0..96 is one token",
                   all(len(ref.encode(str(v), add_special_tokens=False).ids) == 1
                       for v in range(97))))

    checks.append(("candidates.trace() reproduces task.py's solutions",
                   all(candidates.trace(e["problem"]) == e["solution"]
                       for e in (task.make_problem(s, i) for s in ("train", "test")
                                 for i in range(40)))))

    # The trainer's per-kind accuracies and its curriculum gate read these
    # kinds: each looked-up value and each result must be one target token
    # of its kind, also where the token begins before the digits (" = 23").
    tok = tokens.TaskTokenizer(TOKENIZER)
    kinds_ok = True
    for i in range(20):
        e = task.make_problem("train", i, bindings=30)
        want = sorted(k for _, _, k in task.value_spans(e["solution"]))
        _, _, kinds, _ = tokens.example(tok, e["problem"], e["solution"])
        kinds_ok &= sorted(k for k in kinds if k != tokens.OTHER) == want
    checks.append(("every looked-up value and result is one target token of its kind",
                   kinds_ok))

    e = task.make_problem("test", 0)
    n_problem = len(ref.encode(e["problem"]).ids)
    n_solution = len(ref.encode(e["solution"], add_special_tokens=False).ids)
    # Issue 8: the facts spread over >= 4K tokens of context, the solution
    # >= 256 generated tokens (the tokenizer decides both).
    checks.append(("a default problem is >= 4096 tokens, its solution >= 256",
                   n_problem >= 4096 and n_solution + 1 >= 256))
    print(f"tokens: problem {n_problem}, solution {n_solution}, "
          f"vocabulary {ref.get_vocab_size(with_added_tokens=True)}")
    failures = 0
    for name, ok in checks:
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'}: task tokenizer: {name}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
