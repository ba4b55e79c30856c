#!/usr/bin/env python3
"""Checks the step-7 task generator (tools/train/task.py): deterministic,
train and test disjoint, long enough (>= 4K characters of problem, >= 256 of
solution), and every answer right by an independent evaluation of the
program text against the bindings text.

usage: task_check.py TOOLS_DIR
"""
import os
import re
import sys


def evaluate(problem):
    bindings = dict(re.findall(r"^(k\d+) = (\d+)$", problem, re.M))
    regs = {}
    for line in problem.split("Program:\n")[1].split("\n\n")[0].splitlines():
        m = re.fullmatch(r"(r\d+) = (k\d+)", line)
        if m:
            regs[m[1]] = int(bindings[m[2]])
            continue
        m = re.fullmatch(r"(r\d+) = \((r\d+) ([-+*]) (k\d+)\) mod (\d+)", line)
        a, b, mod = regs[m[2]], int(bindings[m[4]]), int(m[5])
        regs[m[1]] = {"+": a + b, "-": a - b, "*": a * b}[m[3]] % mod
    return str(regs[max(regs, key=lambda r: int(r[1:]))])


def eval_line(line):
    m = re.fullmatch(r"\((\d+) ([-+*]) (\d+)\) mod (\d+) = (\d+)", line)
    a, b, mod = int(m[1]), int(m[3]), int(m[4])
    return {"+": a + b, "-": a - b, "*": a * b}[m[2]] % mod == int(m[5])


def main():
    sys.path.insert(0, os.path.join(sys.argv[1], "train"))
    import task
    failures = 0
    train = [task.make_problem("train", i) for i in range(150)]
    test = [task.make_problem("test", i) for i in range(150)]
    checks = [
        ("deterministic", task.make_problem("train", 3) == train[3]),
        ("train and test share no problem",
         not {e["problem"] for e in train} & {e["problem"] for e in test}),
        ("problems hold >= 4000 characters", min(len(e["problem"]) for e in train + test) >= 4000),
        ("solutions hold >= 256 characters", min(len(e["solution"]) for e in train + test) >= 256),
        ("every answer equals an independent evaluation",
         all(evaluate(e["problem"]) == e["answer"] and
             e["solution"].rstrip().endswith("Answer: " + e["answer"]) for e in train + test)),
        ("arithmetic drills are seeded and right",
         task.make_arith("train", 5) == task.make_arith("train", 5) and
         all(eval_line(line) for i in range(20)
             for line in task.make_arith("train", i)["solution"].splitlines())),
        ("value spans find every drill result",
         len([k for _, _, k in task.value_spans(task.make_arith("train", 1, 40)["solution"])
              if k == task.RESULT]) == 40),
    ]
    for name, ok in checks:
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'}: task generator: {name}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
