#!/usr/bin/env python3
"""Trains the task model (Llama architecture, transformers' LlamaForCausalLM)
with GSR's hybrid objective: direct solutions and refinements of N candidate
solutions (data.py), for a fixed wall-clock time.

    python3 tools/train/train.py --out OUT/ckpt --minutes 7                 # round 1
    python3 tools/train/train.py --resume CKPT --out OUT/ckpt --minutes 6 \\
        --pool OUT/candidates.jsonl.gz                                     # round 2

bf16 autocast with fp32 master weights, AdamW, a cosine learning rate over
the round's wall-clock time (after a linear warm-up), length-bucketed padded
batches (causal attention, no mask: SDPA's flash kernel), the loss on target
tokens only. It stops cleanly at --minutes (evaluation and saving included)
and saves a checkpoint (model.py) at --out, also every --save-every minutes.

Curriculum: the problems' bindings (the context to search) start at --level
and grow by --grow each time the model predicts --gate of the looked-up
values right (teacher-forced, over a log window), up to --max-bindings; with
--floor-at F the level also reaches --max-bindings by the fraction F of the
round whatever the accuracy. The level is saved and a resumed round goes on
from it.

Progress lines: step, loss, learning rate, tokens/s (all / target), the
teacher-forced accuracies on the batches trained on (lookup values,
arithmetic results, other tokens, whole trace lines) and the level; greedy
accuracy on held-out test problems at each --eval-bindings every
--eval-every minutes.
"""
import argparse
import math
import multiprocessing as mp
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import generation  # noqa: E402
import model as M  # noqa: E402
import selection_loss  # noqa: E402

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def ints(text):
    return [int(x) for x in text.split(",")]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="checkpoint folder to write")
    ap.add_argument("--resume", help="checkpoint folder to start from")
    ap.add_argument("--minutes", type=float, required=True, help="wall-clock budget, all included")
    ap.add_argument("--preset", default="base", choices=sorted(M.PRESETS))
    ap.add_argument("--seed", type=int, default=1)
    # data
    ap.add_argument("--max-bindings", type=int, default=900,
                    help="the curriculum's last level (task.py's default problem: %d)" %
                    data.task.BINDINGS)
    ap.add_argument("--min-bindings", type=int, default=4)
    ap.add_argument("--level", type=int,
                    help="bindings level to start at (default: the checkpoint's, else 16)")
    ap.add_argument("--grow", type=float, default=1.5, help="level factor at each gate passed")
    ap.add_argument("--gate", type=float, default=0.9,
                    help="lookup accuracy (teacher-forced) that opens the next level")
    ap.add_argument("--floor-at", type=float, default=0.0,
                    help="round fraction by which the level reaches --max-bindings anyway "
                         "(0: only the gate grows it)")
    ap.add_argument("--hard-from", type=float, default=0.6,
                    help="most examples have level x this .. level bindings")
    ap.add_argument("--short", type=float, default=0.2,
                    help="fraction of examples with --min-bindings .. level bindings")
    ap.add_argument("--steps", type=int, default=data.task.STEPS, help="program steps")
    ap.add_argument("--mod", type=int, default=data.task.MOD,
                    help="the programs' modulus (the CPU toy's smaller tables)")
    ap.add_argument("--key-digits", type=int, default=4,
                    help="digits of a key (2: one number token, the CPU toy's)")
    ap.add_argument("--refine", type=float, default=0.4, help="fraction of refine examples")
    ap.add_argument("--recall", type=float, default=0.0,
                    help="fraction of recall drills (task.make_recall)")
    ap.add_argument("--recall-steps", type=int, default=24, help="lookups of a drill")
    ap.add_argument("--arith", type=float, default=0.0,
                    help="fraction of arithmetic drills (task.make_arith)")
    ap.add_argument("--arith-lines", type=int, default=160, help="lines of an arithmetic drill")
    ap.add_argument("--pool", help="candidate sets from sample.py (jsonl[.gz])")
    ap.add_argument("--bootstrap", type=float, default=0.25,
                    help="with a pool: fraction of refine examples with synthetic candidates")
    ap.add_argument("--candidates", type=int, default=4, help="N")
    ap.add_argument("--strip-newline", type=float, default=0.05,
                    help="fraction of problems given without their final newline")
    ap.add_argument("--batch-tokens", type=int, default=65536, help="padded tokens per batch")
    ap.add_argument("--buffer", type=int, default=4,
                    help="batches' worth of examples bucketed together per worker")
    ap.add_argument("--workers", type=int, default=8)
    # optimisation
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=0.1, help="final lr as a fraction of --lr")
    ap.add_argument("--warmup", type=int, default=200, help="steps")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--select-loss", type=float, default=0.0,
                    help="weight of the block-selection loss (selection_loss.py; 0: off)")
    ap.add_argument("--select-form", choices=["listwise", "rank"], default="listwise",
                    help="the selection loss's form (selection_loss.py): listwise cross-entropy "
                         "of the bounds against the attention mass, or the peak block's rank")
    ap.add_argument("--select-free", type=float, default=0.5,
                    help="rank form: the fraction of the rule's n - 1 blocks that may outrank "
                         "the peak block unpenalised")
    ap.add_argument("--select-margin", type=float, default=0.0,
                    help="rank form: margin in units of the loss's temperature")
    ap.add_argument("--select-page", type=int, default=16,
                    help="tokens per block of the rule the selection loss and sparse batches "
                         "follow (resa-compile --resa-block-size)")
    ap.add_argument("--select-queries", type=int, default=64,
                    help="query positions per row for the selection loss")
    ap.add_argument("--select-lookup-boost", type=float, default=0.0,
                    help="a query that looks a binding up is drawn 1 + this as often")
    ap.add_argument("--select-sparse", type=float, default=0.0,
                    help="fraction of batches whose target positions attend only to the "
                         "blocks ReSA's rule keeps (selection_loss.sparse_positions)")
    ap.add_argument("--select-sparse-queries", type=int, default=384,
                    help="sparse positions per row in such a batch, at most")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--grad-checkpointing", action="store_true")
    # reporting
    ap.add_argument("--log-every", type=int, default=20, help="steps")
    ap.add_argument("--eval-every", type=float, default=2.0, help="minutes (0: only at the end)")
    ap.add_argument("--eval-problems", type=int, default=32)
    ap.add_argument("--eval-bindings", type=ints, default=[24, data.task.BINDINGS],
                    metavar="N,N", help="evaluate on test problems of these sizes")
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--save-every", type=float, default=3.0, help="minutes")
    ap.add_argument("--save-optimizer", action="store_true",
                    help="also save optimizer.pt (large: not for $OUT)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    return ap.parse_args(argv)


def lr_at(args, step, frac):
    warm = min(1.0, (step + 1) / args.warmup)
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
    return args.lr * warm * (args.min_lr + (1 - args.min_lr) * cos)


def optimizer_for(net, args, device):
    decay = [p for n, p in net.named_parameters() if p.dim() >= 2 and "embed" not in n]
    rest = [p for n, p in net.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    groups = [dict(params=decay, weight_decay=args.weight_decay),
              dict(params=rest, weight_decay=0.0)]
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95),
                             fused=device.type == "cuda")


# Counters of a window (a float vector on the device, read at log time only):
# [tokens, right] of each target kind, then [lines, lines all right].
KINDS = {data.OTHER: "other", data.task.LOOKUP: "lookup", data.task.RESULT: "result"}
N_STATS = 2 * len(KINDS) + 2
MAX_LINES = 256  # trace lines of a target, at most


def target_loss(net, input_ids, labels, token_kinds, lines):
    """Cross-entropy on the target tokens only (the lm_head runs on the
    positions that predict them), and the window counters of this batch."""
    hidden = net.model(input_ids=input_ids, use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != data.IGNORE
    logits = net.lm_head(hidden[:, :-1][keep])
    loss = torch.nn.functional.cross_entropy(logits.float(), targets[keep])
    with torch.no_grad():
        right = (logits.argmax(-1) == targets[keep]).float()
        kind = token_kinds[:, 1:][keep]
        stats = []
        for k in KINDS:
            sel = (kind == k).float()
            stats += [sel.sum(), (sel * right).sum()]
        # A line is right when all its tokens are: count the wrong ones per
        # (row, line).
        rows = torch.arange(lines.shape[0], device=lines.device)[:, None].expand_as(lines)
        line_id = (rows[:, 1:] * MAX_LINES + lines[:, 1:].long())[keep]
        wrong = torch.zeros(lines.shape[0] * MAX_LINES, device=right.device)
        seen = torch.zeros_like(wrong)
        wrong.index_add_(0, line_id, 1 - right)
        seen.index_add_(0, line_id, torch.ones_like(right))
        stats += [(seen > 0).sum().float(), ((seen > 0) & (wrong == 0)).sum().float()]
    return loss, torch.stack(stats)


def format_stats(stats):
    s = stats.tolist()
    parts = [f"{name} {s[2 * i + 1] / max(1.0, s[2 * i]):.3f}" for i, name in
             enumerate(KINDS.values())]
    parts.append(f"lines {s[-1] / max(1.0, s[-2]):.3f}")
    return "acc " + " ".join(parts)


def lookup_accuracy(stats):
    """Of a counter vector as a list; None when it counted no lookup."""
    i = list(KINDS).index(data.task.LOOKUP)
    return stats[2 * i + 1] / stats[2 * i] if stats[2 * i] > 0 else None


def level_floor(args, start, frac):
    """The time floor of the curriculum: geometric from the round's start
    level to --max-bindings at --floor-at of the round."""
    if args.floor_at <= 0:
        return start
    f = min(1.0, frac / args.floor_at)
    return int(start * (args.max_bindings / start) ** f)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    t_start = time.time()
    budget = args.minutes * 60
    tok = data.TaskTokenizer()

    if args.resume:
        net, state, opt_state = M.load(args.resume)
        print(f"resumed from {args.resume}: step {state['step']}", flush=True)
    else:
        torch.manual_seed(args.seed)
        net = M.create(M.make_config(args.preset, tok.vocab_size, tok.bos, tok.eos, tok.pad))
        state, opt_state = dict(step=0, tokens=0, target_tokens=0, seconds=0.0, rounds=[],
                                evals=[], level=16), None
    net.to(device)
    if args.grad_checkpointing:
        net.gradient_checkpointing_enable()
    opt = optimizer_for(net, args, device)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    selection = None
    if args.select_loss > 0:
        selection = selection_loss.install(net, page=args.select_page, form=args.select_form,
                                           free=args.select_free, margin=args.select_margin)
        print(f"block-selection loss ({args.select_form}, blocks of {args.select_page}), "
              f"weight {args.select_loss}, "
              f"{args.select_queries} queries "
              "a row", flush=True)
    if args.compile:
        net.model.compile(dynamic=True)  # in place: parameter names are unchanged
    n_params = M.parameter_count(net)
    c = net.config
    print(f"model: {c.num_hidden_layers} layers, hidden {c.hidden_size}, heads "
          f"{c.num_attention_heads}/{c.num_key_value_heads} of {c.head_dim}, mlp "
          f"{c.intermediate_size}, vocab {c.vocab_size}, positions {c.max_position_embeddings}: "
          f"{n_params / 1e6:.2f}M parameters ({n_params * 2 / 1e6:.1f} MB in bf16), "
          f"device {device}", flush=True)

    pool = data.load_pool(args.pool) if args.pool else None
    if pool is not None:
        print(f"candidate pool: {len(pool)} problems from {args.pool}", flush=True)
    start_level = min(args.max_bindings, args.level or state.get("level", 16))
    level = mp.Value("d", start_level)
    round_seed = f"{args.seed}/{state['step']}"
    stream = data.Stream(args, round_seed, level, pool)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=args.workers,
                                         pin_memory=device.type == "cuda",
                                         persistent_workers=args.workers > 0,
                                         prefetch_factor=4 if args.workers > 0 else None)
    eval_sets = {b: [data.problem("test", i, b, args.steps, args.mod, args.key_digits)
                     for i in range(args.eval_problems)]
                 for b in args.eval_bindings}
    eval_batch = 64 if device.type == "cuda" else 8

    def run_eval():
        t0 = time.time()
        for b, problems in eval_sets.items():
            t1 = time.time()
            r = generation.evaluate(net, tok, problems, args.max_new_tokens, eval_batch)
            r.update(step=state["step"], bindings=b, seconds=round(time.time() - t1, 1))
            state["evals"].append(r)
            print(f"eval step {state['step']}: {b} bindings: accuracy {r['accuracy']:.3f}, line "
                  f"accuracy {r['line_accuracy']:.3f} on {r['n']} test problems "
                  f"({r['seconds']} s)", flush=True)
        return time.time() - t0

    def save():
        state["seconds"] = round(state["seconds"] + time.time() - t_seg[0], 1)
        t_seg[0] = time.time()
        M.save(net, args.out, state, opt if args.save_optimizer else None)

    round_info = dict(start_step=state["step"], minutes=args.minutes, lr=args.lr,
                      refine=args.refine, pool=args.pool, start_level=start_level,
                      max_bindings=args.max_bindings)
    state["rounds"].append(round_info)
    t_seg = [time.time()]
    net.train()

    def new_window():
        return dict(t=time.time(), tokens=0, target=0, loss=0.0, n=0, kinds={},
                    stats=torch.zeros(N_STATS, device=device), select=0.0,
                    select_mass=torch.zeros(4, device=device),
                    sparse_stats=torch.zeros(N_STATS, device=device))

    round_step, window = 0, new_window()
    # The gate's counters: batches drawn at the current level only.
    gate_level, gate_stats, gate_batches = start_level, torch.zeros(N_STATS, device=device), 0
    # Until an evaluation has been timed, guess its cost (and the save's).
    eval_cost, margin = min(30.0, 0.1 * budget), min(10.0, 0.05 * budget)
    last_eval = last_save = time.time()
    for input_ids, labels, token_kinds, lines, meta in loader:
        elapsed = time.time() - t_start
        # Stop while the final evaluation and save still fit in the budget.
        if elapsed + eval_cost + margin > budget:
            break
        frac = elapsed / budget
        level.value = max(gate_level, level_floor(args, start_level, frac))
        lr = lr_at(args, round_step, frac)
        for g in opt.param_groups:
            g["lr"] = lr
        n_target = int((labels[:, 1:] != data.IGNORE).sum())
        input_ids = input_ids.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        token_kinds = token_kinds.to(device, non_blocking=True)
        lines = lines.to(device, non_blocking=True)
        sparse = None
        if selection is not None:
            if args.select_sparse > 0 and torch.rand(1).item() < args.select_sparse:
                sparse = selection_loss.sparse_positions(labels, data.IGNORE,
                                                         args.select_sparse_queries,
                                                         page=args.select_page)
            selection.begin(selection_loss.query_positions(
                labels, data.IGNORE, args.select_queries, token_kinds, args.select_lookup_boost,
                data.task.LOOKUP, page=args.select_page), sparse)
        with generation.autocast(device):
            loss, stats = target_loss(net, input_ids, labels, token_kinds, lines)
        objective = loss
        if selection is not None:
            select, select_mass = selection.end()
            window["select"] += select.detach()
            window["select_mass"] += select_mass
            objective = loss + args.select_loss * select
        objective.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), args.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        state["step"] += 1
        round_step += 1
        state["tokens"] += input_ids.numel()
        state["target_tokens"] += n_target
        window["tokens"] += input_ids.numel()
        window["target"] += n_target
        window["loss"] += loss.detach()
        window["n"] += 1
        window["stats"] += stats
        if sparse is not None:
            window["sparse_stats"] += stats
        if meta["level"] >= int(level.value):
            gate_stats += stats
            gate_batches += 1
        for k, v in meta["kinds"].items():
            window["kinds"][k] = window["kinds"].get(k, 0) + v
        if round_step % args.log_every == 0:
            dt = time.time() - window["t"]
            stats = window["stats"].cpu()
            select_text = ""
            if selection is not None:
                select_text = (f"select loss {window['select'].item() / window['n']:.3f} "
                               f"{selection_loss.recall_text(window['select_mass'].cpu())} ")
                if args.select_sparse > 0:
                    sparse_lookup = lookup_accuracy(window["sparse_stats"].cpu().tolist())
                    select_text += ("sparse lookup -" if sparse_lookup is None
                                    else f"sparse lookup {sparse_lookup:.3f}") + " "
            print(f"step {state['step']} loss {window['loss'].item() / window['n']:.4f} "
                  f"{format_stats(stats)} {select_text}level {int(level.value)} "
                  f"lr {lr:.2e} tok/s {window['tokens'] / dt:,.0f} target tok/s "
                  f"{window['target'] / dt:,.0f} batch {tuple(input_ids.shape)} "
                  f"examples {window['kinds']} elapsed {elapsed / 60:.1f} min", flush=True)
            window = new_window()
        # The gate, over at least a log window of batches of the current
        # level: pass it and the next level opens.
        if gate_batches >= args.log_every:
            accuracy = lookup_accuracy(gate_stats.cpu().tolist())
            if (accuracy is not None and accuracy >= args.gate
                    and level.value < args.max_bindings):
                gate_level = min(args.max_bindings, int(math.ceil(level.value * args.grow)))
                level.value = max(gate_level, level.value)
                print(f"level {int(level.value)} bindings from step {state['step']}", flush=True)
            gate_stats.zero_()
            gate_batches = 0
        state["level"] = int(level.value)
        if args.eval_every > 0 and time.time() - last_eval > args.eval_every * 60:
            eval_cost = max(eval_cost, run_eval())
            last_eval = time.time()
        if time.time() - last_save > args.save_every * 60:
            save()
            last_save = time.time()
    if not state["evals"] or state["evals"][-1]["step"] != state["step"]:
        run_eval()
    round_info.update(end_step=state["step"])
    if selection is not None:
        selection_loss.uninstall(net)
    save()
    total = time.time() - t_start
    memory = (f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"
              if device.type == "cuda" else "")
    print(f"done: {round_step} steps this round ({state['step']} in all), "
          f"{state['tokens'] / 1e6:.1f}M tokens in all, {total / 60:.1f} min{memory}; "
          f"checkpoint {args.out}", flush=True)


if __name__ == "__main__":
    main()
