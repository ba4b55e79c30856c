"""Batched generation with a checkpoint in PyTorch (Hugging Face generate with
its KV cache, left padding), and the task's metrics on what it generates.

Sampling follows the runtime's GSR defaults (temperature 0.8, top-p 0.95, no
top-k); temperature 0 is greedy. Generation stops at </s>.
"""
import contextlib
from collections import Counter

import torch

import gsr_format


def autocast(device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def generate(model, tok, prompts, max_new_tokens, temperature=0.0, top_p=1.0, batch_size=64,
             seed=0):
    """Token lists generated after each prompt (a list of ids starting with
    <s>), </s> and what follows it removed."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = [None] * len(prompts)
    sampling = dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=0) \
        if temperature > 0 else dict(do_sample=False)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = max(len(prompts[i]) for i in idx)
        ids = torch.full((len(idx), width), tok.pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for r, i in enumerate(idx):
            p = prompts[i]
            ids[r, width - len(p):] = torch.tensor(p)
            mask[r, width - len(p):] = 1
        with autocast(device):
            seqs = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                  max_new_tokens=max_new_tokens, pad_token_id=tok.pad,
                                  eos_token_id=tok.eos, use_cache=True, **sampling)
        for r, i in enumerate(idx):
            new = seqs[r, width:].tolist()
            out[i] = new[:new.index(tok.eos)] if tok.eos in new else new
    model.train(was_training)
    return out


def line_accuracy(text, solution):
    """Fraction of the reference trace's lines reproduced at their place."""
    ref = solution.strip().split("\n")
    got = text.strip().split("\n")
    return sum(a == b for a, b in zip(got, ref)) / len(ref)


def majority(answers):
    """The most common non-empty answer, the earliest on a tie (Gsr.cpp)."""
    counts = Counter(a for a in answers if a)
    best = ""
    for a in answers:
        if a and (not best or counts[a] > counts[best]):
            best = a
    return best


def evaluate(model, tok, problems, max_new_tokens, batch_size=64):
    """Greedy direct solutions: answer accuracy and trace-line accuracy."""
    outs = generate(model, tok, [[tok.bos] + tok.encode(e["problem"]) for e in problems],
                    max_new_tokens, batch_size=batch_size)
    texts = [tok.decode(o) for o in outs]
    n = len(problems)
    return dict(
        accuracy=sum(gsr_format.extract_answer(t) == e["answer"] for t, e in zip(texts, problems)) / n,
        line_accuracy=sum(line_accuracy(t, e["solution"]) for t, e in zip(texts, problems)) / n,
        n=n)
