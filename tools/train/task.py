#!/usr/bin/env python3
"""The synthetic long-context reasoning task of step 7 (issue 8).

A problem is a long list of variable bindings ("k4178 = 23") followed by a
short program of lookups and arithmetic over them. The solution is the
program's trace, one line per step, then "Answer: <n>". The answer depends on
bindings scattered over the whole list (so the model must use its context)
and on every step of the trace (so sparse decoding errors show).

A trace line spells out every hop, so that each generated token needs one
operation a small transformer learns (round 1 of the first recipe, whose
lines wrote only the numbers, learned none of the lookups: a line's value
needed program line -> key -> binding inside one token):

    r1 = (r0 - k4178) mod 31, k4178 = 5, (20 - 5) mod 31 = 15
    ^ copied from the program ^ the binding, as listed ^ r0's value, the sum

The lookup "k4178 = 5" repeats the binding line's own text (an induction
head's pattern); the first operand is the previous line's result.

    python3 tools/train/task.py --split train --count 3 --seed 1   # print examples
    python3 tools/train/task.py --stats                            # lengths in tokens

Problems are seeded by (split, index): the same index always gives the same
problem, and the train and test splits are drawn from different seeds
(test/e2e/task_check.py checks that they share no problem).
"""
import argparse
import hashlib
import json
import random
import re

MOD = 31
OPS = ("+", "-", "*")
APPLY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}
# 800 bindings: a problem of 4,173 tokens with <s> (>= 4K; a binding is 5
# tokens since " = 23" is one); 8 steps: a solution of 301 tokens with </s>
# (>= 256). test/e2e/task_tokenizer_check.py checks both.
BINDINGS = 800
STEPS = 8


def _rng(split, index, name="resa-task"):
    digest = hashlib.sha256(f"{name}/{split}/{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def _bindings(rng, bindings, mod, key_digits):
    names = rng.sample(range(10 ** (key_digits - 1), 10 ** key_digits), bindings)
    return {f"k{n}": rng.randrange(mod) for n in names}


def _problem_text(values, program, steps):
    return ("Bindings:\n" + "\n".join(f"{k} = {v}" for k, v in values.items()) +
            "\n\nProgram:\n" + "\n".join(program) +
            f"\n\nWhat is r{steps - 1}? Trace the program.\n")


def first_line(key, value):
    return f"r0 = {key}, {key} = {value}"


def step_line(step, op, key, a, b, new, mod=MOD, applied=None):
    """Trace line of step >= 1: the program line, the lookup, the arithmetic
    (`applied`: the operation actually computed, for a wrong candidate)."""
    return (f"r{step} = (r{step - 1} {op} {key}) mod {mod}, {key} = {b}, "
            f"({a} {applied or op} {b}) mod {mod} = {new}")


def solution_text(lines, answer):
    return "\n".join(lines) + f"\nAnswer: {answer}\n"


def make_problem(split, index, bindings=BINDINGS, steps=STEPS, mod=MOD, key_digits=4):
    """Returns {"problem", "solution", "answer"} for problem `index` of `split`.
    `key_digits` 2 (keys of one number token: the CPU toy's) allows at most
    90 bindings."""
    rng = _rng(split, index)
    values = _bindings(rng, bindings, mod, key_digits)
    keys = list(values)
    first = rng.choice(keys)
    acc = values[first]
    program, trace = [f"r0 = {first}"], [first_line(first, acc)]
    for s in range(1, steps):
        key = rng.choice(keys)
        op = rng.choice(OPS)
        new = APPLY[op](acc, values[key]) % mod
        program.append(f"r{s} = (r{s - 1} {op} {key}) mod {mod}")
        trace.append(step_line(s, op, key, acc, values[key], new, mod))
        acc = new
    return {"problem": _problem_text(values, program, steps),
            "solution": solution_text(trace, acc), "answer": str(acc)}


def make_recall(split, index, bindings=BINDINGS, steps=24, mod=MOD, key_digits=4):
    """A training drill in the task's format: a program of lookups only
    ("r5 = k4178"), traced as "r5 = k4178, k4178 = 23" (the task's first
    line). Each line is the two retrievals a step needs (the program line of
    a register, the binding of a key) at a third of a step's tokens: the
    skill that forms last, trained densely. Seeded apart from make_problem."""
    rng = _rng(split, index, "resa-recall")
    values = _bindings(rng, bindings, mod, key_digits)
    keys = list(values)
    program, trace = [], []
    for s in range(steps):
        key = rng.choice(keys)
        program.append(f"r{s} = {key}")
        trace.append(f"r{s} = {key}, {key} = {values[key]}")
    return {"problem": _problem_text(values, program, steps),
            "solution": solution_text(trace, values[key]), "answer": str(values[key])}


def make_arith(split, index, lines=160, mod=MOD):
    """A training drill of the arithmetic alone, in the trace's own words:
    "(20 - 5) mod 31 = 15", one line each. In a problem the 7 results are
    1 target token in 40; the drill gives the 3 x 31 x 31 table the model
    must hold one result per 12 tokens (teacher-forced, round 1b's results
    stayed at 35% right while its lookups were at 99.8%)."""
    rng = _rng(split, index, "resa-arith")
    out = []
    for _ in range(lines):
        a, b, op = rng.randrange(mod), rng.randrange(mod), rng.choice(OPS)
        out.append(f"({a} {op} {b}) mod {mod} = {APPLY[op](a, b) % mod}")
    return {"problem": "Arithmetic:\n", "solution": "\n".join(out) + "\n", "answer": ""}


# The values a solution's tokens carry, by what producing them takes
# (train.py's per-kind accuracies): a binding looked up, an arithmetic result.
LOOKUP, RESULT = 2, 3
_VALUE_PATTERNS = ((LOOKUP, re.compile(r"k\d+ = (\d+)")),
                   (RESULT, re.compile(r"\) mod \d+ = (\d+)$", re.M)))


def value_spans(solution):
    """[(start, end, kind)] character spans of the looked-up values and the
    arithmetic results in a solution text."""
    return sorted((m.start(1), m.end(1), kind) for kind, rx in _VALUE_PATTERNS
                  for m in rx.finditer(solution))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="train", choices=["train", "test"])
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="first problem index")
    ap.add_argument("--bindings", type=int, default=BINDINGS)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--stats", action="store_true", help="mean lengths in tokens")
    args = ap.parse_args()
    if args.stats:
        from tokenizers import Tokenizer
        import os
        tok = Tokenizer.from_file(os.path.join(os.path.dirname(__file__), "tokenizer.json"))
        ex = [make_problem("test", i, args.bindings, args.steps) for i in range(20)]
        n_p = [len(tok.encode(e["problem"]).ids) for e in ex]
        n_s = [len(tok.encode(e["solution"], add_special_tokens=False).ids) + 1 for e in ex]
        print(json.dumps({"problem_tokens_with_bos": [min(n_p), max(n_p)],
                          "solution_tokens_with_eos": [min(n_s), max(n_s)]}))
        return
    for i in range(args.seed, args.seed + args.count):
        print(json.dumps(make_problem(args.split, i, args.bindings, args.steps)))


if __name__ == "__main__":
    main()
