"""Training examples for GSR's hybrid objective, tokenized as the runtime
does (gsr_format.py), and the length-bucketed batch stream.

An example is one token sequence `<s> prompt target </s>` with the loss on
`target </s>` only:
  - direct: prompt = the problem, target = its solution;
  - recall: a drill of lookups only in the same format (task.make_recall),
    the retrievals a step needs at a third of its tokens;
  - arith: a drill of the arithmetic lines alone (task.make_arith), the
    3 x 31 x 31 table at one result per 12 tokens;
  - refine: prompt = the refinement prompt built from the problem and N
    candidates, target = the correct solution. The candidates come from a
    pool sampled with an earlier checkpoint (sample.py) or, for the first
    round, from candidates.py (synthetic mistakes).

Problems are task.py's train split at random indices (never the test split).
The curriculum is the trainer's: it sets the current number of bindings (the
level, a shared value) from what the model gets right, and the examples'
bindings are drawn around it (bindings_for).

Each target token also carries its kind (other, a looked-up value, an
arithmetic result: task.value_spans) and its line, so that the trainer can
count, on the batches it trains on, how many values and whole trace lines the
model predicts right (teacher-forced): the early sign that it learns.
"""
import gzip
import json
import math
import random

import torch

import candidates as cand
import gsr_format
import task

from tokens import OTHER, TOKENIZER, TaskTokenizer, example, prompt_ids  # noqa: F401

IGNORE = -100
ALIGN = 64  # padded lengths are multiples of this (kernel-friendly shapes)


def problem(split, index, bindings, steps, mod=task.MOD, key_digits=4):
    e = task.make_problem(split, index, bindings, steps, mod, key_digits)
    e.update(split=split, index=index, bindings=bindings, steps=steps)
    return e


def load_pool(path):
    """Candidate sets written by sample.py: one JSON object a line."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def bindings_for(level, args, rng):
    """The bindings of a new problem at curriculum level `level` (the
    current maximum): mostly the upper part of the range the level opened
    (the skill being learned), args.short of them anywhere from
    args.min_bindings (short problems keep the lookup sharp and are cheap)."""
    level = max(args.min_bindings, int(level))
    if rng.random() < args.short:
        return rng.randint(args.min_bindings, level)
    return rng.randint(max(args.min_bindings, int(args.hard_from * level)), level)


class Stream(torch.utils.data.IterableDataset):
    """Endless padded batches [B, T] of about args.batch_tokens tokens, each
    worker with its own seeded problem stream. `level` is a shared
    multiprocessing.Value the trainer sets (the curriculum's bindings)."""

    def __init__(self, args, seed, level, pool=None):
        super().__init__()
        self.args, self.seed, self.level, self.pool = args, seed, level, pool or []

    def make(self, rng, tok, template):
        """(ids, prompt tokens, target kinds, target lines, example kind,
        level it was drawn at)."""
        a = self.args
        level = int(self.level.value)
        u = rng.random()
        if u < a.refine:
            kind = "refine" if self.pool and rng.random() >= a.bootstrap else "refine-boot"
        elif u < a.refine + a.recall:
            kind = "recall"
        else:
            kind = "arith" if u < a.refine + a.recall + a.arith else "direct"
        cands = None
        if kind == "refine":
            rec = rng.choice(self.pool)
            e = problem(rec["split"], rec["index"], rec["bindings"], rec["steps"])
            cands = list(rec["candidates"])
            rng.shuffle(cands)
        elif kind == "recall":
            e = task.make_recall("train", rng.getrandbits(40), bindings_for(level, a, rng),
                                 a.recall_steps, a.mod, a.key_digits)
        elif kind == "arith":
            e = task.make_arith("train", rng.getrandbits(40), a.arith_lines, a.mod)
        else:
            e = problem("train", rng.getrandbits(40), bindings_for(level, a, rng), a.steps, a.mod,
                        a.key_digits)
        text, solution = e["problem"], e["solution"]
        # A prompt given on a command line often loses its final newline
        # ("$(cat file)"): then the model writes it first.
        if kind != "arith" and rng.random() < a.strip_newline:
            text = text.rstrip("\n")
            if kind in ("direct", "recall"):
                solution = "\n" + solution
        if kind in ("direct", "recall", "arith"):
            return example(tok, text, solution) + (kind, level)
        if cands is None:
            cands = cand.candidate_set(e["problem"], e["solution"], rng, a.candidates)
        prompt = gsr_format.build_refine_prompt(template, text, cands)
        return example(tok, prompt, solution) + (kind, level)

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info else 0
        rng = random.Random(f"{self.seed}/{wid}")
        tok = TaskTokenizer()
        template = gsr_format.read_template()
        rest = []
        while True:
            # About args.buffer batches' worth of examples, bucketed by length;
            # a last batch less than half full waits for the next buffer.
            buf, size = rest, sum(padded(len(ex[0])) for ex in rest)
            while size < self.args.buffer * self.args.batch_tokens:
                buf.append(self.make(rng, tok, template))
                size += padded(len(buf[-1][0]))
            buf.sort(key=lambda x: len(x[0]))
            batches = pack(buf, self.args.batch_tokens)
            last = batches[-1]
            rest = batches.pop() if len(batches) > 1 and \
                2 * len(last) * padded(len(last[-1][0])) < self.args.batch_tokens else []
            rng.shuffle(batches)
            for b in batches:
                yield collate(b, tok.pad)


def padded(n):
    return int(math.ceil(n / ALIGN) * ALIGN)


def pack(sorted_examples, batch_tokens):
    """Consecutive examples (sorted by length) while rows x padded length
    stays within the budget; a longer example than the budget is alone."""
    batches, cur = [], []
    for ex in sorted_examples:
        if cur and (len(cur) + 1) * padded(len(ex[0])) > batch_tokens:
            batches.append(cur)
            cur = []
        cur.append(ex)
    if cur:
        batches.append(cur)
    return batches


def collate(batch, pad):
    """Right padding: with causal attention real tokens never see the pads, so
    no attention mask is needed (SDPA's causal kernel). Returns input_ids,
    labels, the target tokens' kinds and lines (0 and -1 elsewhere), and
    {"kinds": examples by kind, "level": the lowest curriculum level its
    examples were drawn at} (batches are made ahead of their step: the
    trainer's gate counts only those of the current level)."""
    t = padded(max(len(ex[0]) for ex in batch))
    input_ids = torch.full((len(batch), t), pad, dtype=torch.long)
    labels = torch.full((len(batch), t), IGNORE, dtype=torch.long)
    token_kinds = torch.zeros((len(batch), t), dtype=torch.uint8)
    lines = torch.full((len(batch), t), -1, dtype=torch.int16)
    kinds = {}
    for r, (ids, n_prompt, tk, tl, kind, _) in enumerate(batch):
        input_ids[r, :len(ids)] = torch.tensor(ids)
        target = torch.tensor(ids[n_prompt:])
        tk_t = torch.tensor(tk, dtype=torch.uint8)
        if kind == "arith":
            # A drill's operands and operators are random: only its results
            # are targets (round 2's "other" accuracy fell to 0.85 on them).
            target[tk_t != task.RESULT] = IGNORE
            tk_t[tk_t != task.RESULT] = 0
        labels[r, n_prompt:len(ids)] = target
        token_kinds[r, n_prompt:len(ids)] = tk_t
        lines[r, n_prompt:len(ids)] = torch.tensor(tl, dtype=torch.int16)
        kinds[kind] = kinds.get(kind, 0) + 1
    return input_ids, labels, token_kinds, lines, dict(kinds=kinds,
                                                        level=min(ex[5] for ex in batch))
