"""Candidate solutions for GSR's refinement examples without a model (the
bootstrap of the first training round): the task's trace re-computed from the
problem text with mistakes injected where a model makes them.

A mistake is made at one step and the trace goes on consistently from the
wrong value, as a model's would:
  - lookup: a wrong value for the step's binding (another binding's value);
  - key: another key read from the program (and its value looked up);
  - arithmetic: a wrong result of the step's operation;
  - copy: the previous register copied wrong;
  - operator: the wrong operation applied.
A candidate may also be cut short (as one that hit the token limit).
trace() with no mistake reproduces tools/train/task.py's solution exactly
(test/e2e/task_tokenizer_check.py checks it).
"""
import re

import task

KINDS = ("lookup", "key", "arithmetic", "copy", "operator")


def parse(problem):
    """Bindings {key: value}, the first key, the steps [(op, key)] and the modulus."""
    bindings = {k: int(v) for k, v in re.findall(r"^(k\d+) = (\d+)$", problem, re.M)}
    program = problem.split("Program:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    first = re.fullmatch(r"r0 = (k\d+)", program[0])[1]
    steps, mod = [], None
    for line in program[1:]:
        m = re.fullmatch(r"r\d+ = \(r\d+ ([-+*]) (k\d+)\) mod (\d+)", line)
        steps.append((m[1], m[2]))
        mod = int(m[3])
    return bindings, first, steps, mod


def trace(problem, mistake=None, rng=None, cut=None):
    """The solution text. `mistake`: (step, kind) with kind in KINDS, drawn
    with `rng`; `cut`: keep only this many characters."""
    bindings, first, steps, mod = parse(problem)
    keys, values = list(bindings), list(bindings.values())
    at, kind = mistake if mistake else (-1, None)

    def other(v, lo=0, hi=None):
        hi = mod - 1 if hi is None else hi
        w = rng.randint(lo, hi - 1)
        return w + 1 if w >= v else w

    def other_key(k):
        return rng.choice([x for x in keys if x != k] or [k])

    # Step 0 (r0 = key) can only read the wrong key or the wrong value.
    first_key = other_key(first) if at == 0 and kind == "key" else first
    acc = bindings[first_key]
    if at == 0 and kind == "lookup":
        acc = rng.choice([v for v in values if v != acc] or [other(acc)])
    lines = [task.first_line(first_key, acc)]
    for s, (op, key) in enumerate(steps, start=1):
        if s == at and kind == "key":
            key = other_key(key)
        a, b = acc, bindings[key]
        if s == at and kind == "lookup":
            b = rng.choice([v for v in values if v != b] or [other(b)])
        if s == at and kind == "copy":
            a = other(a)
        shown = applied = op
        if s == at and kind == "operator":
            shown = applied = rng.choice([o for o in task.OPS if o != op])
        new = task.APPLY[applied](a, b) % mod
        if s == at and kind == "arithmetic":
            new = other(new)
        lines.append(task.step_line(s, shown, key, a, b, new, mod))
        acc = new
    text = task.solution_text(lines, acc)
    return text[:cut] if cut is not None else text


def corrupted(problem, rng, cut_prob=0.05):
    """One wrong (or cut) candidate: one mistake at a random step."""
    _, _, steps, _ = parse(problem)
    step = rng.randint(0, len(steps))
    kind = rng.choice(("lookup", "key")) if step == 0 else rng.choice(KINDS)
    text = trace(problem, (step, kind), rng)
    if rng.random() < cut_prob:
        text = text[:rng.randint(len(text) // 4, len(text) - 1)]
    return text


def candidate_set(problem, solution, rng, n=4):
    """n candidates: how many are right is drawn with weight on the cases
    where refinement matters (all wrong: 30%; a wrong majority: 30%), and a
    wrong candidate is sometimes repeated so that a majority vote is wrong."""
    r = rng.random()
    if r < 0.3:
        right = 0
    elif r < 0.6:
        right = rng.randint(1, (n - 1) // 2)
    else:
        right = rng.randint((n - 1) // 2 + 1, n)
    wrong = []
    while len(wrong) < n - right:
        if wrong and rng.random() < 0.25:
            wrong.append(rng.choice(wrong))
        else:
            wrong.append(corrupted(problem, rng))
    cands = [solution] * right + wrong
    rng.shuffle(cands)
    return cands
