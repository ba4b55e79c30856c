#!/usr/bin/env python3
"""The synthetic long-context reasoning task of step 7 (issue 8).

A problem is a long list of variable bindings ("k417 = 83") followed by a
short program of lookups and arithmetic over them. The solution is the
program's trace, one evaluated line per step, then "Answer: <n>". The answer
depends on bindings scattered over the whole list (so the model must use its
context) and on every step of the trace (so sparse decoding errors show).

    python3 tools/train/task.py --split train --count 3 --seed 1   # print examples
    python3 tools/train/task.py --stats                            # lengths

Problems are seeded by (split, index): the same index always gives the same
problem, and the train and test splits are drawn from different seeds
(test/e2e/task_check.py checks that they share no problem).
"""
import argparse
import hashlib
import json
import random

MOD = 97
OPS = ("+", "-", "*")


def _rng(split, index):
    digest = hashlib.sha256(f"resa-task/{split}/{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def make_problem(split, index, bindings=400, steps=24):
    """Returns {"problem", "solution", "answer"} for problem `index` of `split`."""
    rng = _rng(split, index)
    names = rng.sample(range(1000, 10000), bindings)
    values = {f"k{n}": rng.randrange(MOD) for n in names}
    keys = list(values)
    lines = [f"{k} = {v}" for k, v in values.items()]
    first = rng.choice(keys)
    acc = values[first]
    program, trace = [f"r0 = {first}"], [f"r0 = {first} = {acc}"]
    for s in range(1, steps):
        key = rng.choice(keys)
        op = rng.choice(OPS)
        name = f"r{s}"
        prev = f"r{s - 1}"
        if op == "+":
            new = (acc + values[key]) % MOD
        elif op == "-":
            new = (acc - values[key]) % MOD
        else:
            new = (acc * values[key]) % MOD
        program.append(f"{name} = ({prev} {op} {key}) mod {MOD}")
        trace.append(f"{name} = ({acc} {op} {values[key]}) mod {MOD} = {new}")
        acc = new
    problem = ("Bindings:\n" + "\n".join(lines) + "\n\nProgram:\n" + "\n".join(program) +
               f"\n\nWhat is r{steps - 1}? Trace the program.\n")
    solution = "\n".join(trace) + f"\nAnswer: {acc}\n"
    return {"problem": problem, "solution": solution, "answer": str(acc)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="train", choices=["train", "test"])
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="first problem index")
    ap.add_argument("--stats", action="store_true")
    args = ap.parse_args()
    if args.stats:
        ex = [make_problem("train", i) for i in range(20)]
        chars_p = sum(len(e["problem"]) for e in ex) / len(ex)
        chars_s = sum(len(e["solution"]) for e in ex) / len(ex)
        print(json.dumps({"problem_chars": chars_p, "solution_chars": chars_s}))
        return
    for i in range(args.seed, args.seed + args.count):
        print(json.dumps(make_problem(args.split, i)))


if __name__ == "__main__":
    main()
