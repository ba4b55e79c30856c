#!/usr/bin/env python3
"""Tables and plot of `resa-bench quality` runs (issue 8).

    python3 bench/quality/report.py RUN.json [RUN.json ...] --out-dir DIR [--name NAME]

Several runs are the --shard parts of one evaluation (the same packages, samples and seed;
no problem twice): their problems are merged. Writes DIR/NAME.md (the tables), DIR/NAME.json
(the statistics and the merged per-problem results) and, where matplotlib is installed,
DIR/NAME.png (the fraction of problems whose greedy trace is still right after t generated
tokens, per policy, and the accuracies with their intervals). NAME defaults to
quality-DATE (the first run's date). The tables need only the standard library.

Statistics (95%):
  - an accuracy: the Wilson score interval;
  - a difference of two accuracies on the same problems (ReSA - dense, sparse - dense,
    GSR@N - majority@K): Newcombe's score interval for paired proportions (Newcombe 1998,
    method 10, as in Altman et al., "Statistics with confidence", 2000), from the two Wilson
    intervals and the (shrunk) correlation of the paired outcomes; beside it the discordant
    counts and the exact McNemar test (two-sided binomial on the discordant pairs).
"""
import argparse
import json
import math
import os
import sys

Z = 1.959963984540054  # the normal 97.5% quantile
POLICIES = ("dense", "sparse", "resa")
CURVE_POINTS = (0, 16, 32, 64, 96, 128, 192, 256, 320, 384, 448, 512)
GOAL_POINTS = 0.01  # issue 8: ReSA within 1 point of dense


def wilson(k, n):
    """The Wilson score interval of k successes in n trials (nan, nan when n = 0)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    denom = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / denom
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denom
    # Exact at the ends (rounding would leave them a hair inside).
    return (0.0 if k == 0 else centre - half), (1.0 if k == n else centre + half)


def paired(x, y):
    """x - y for two lists of booleans on the same problems: the estimate, Newcombe's
    hybrid score interval, the discordant counts (x only, y only), McNemar's exact p."""
    n = len(x)
    a = sum(1 for u, v in zip(x, y) if u and v)
    b = sum(1 for u, v in zip(x, y) if u and not v)
    c = sum(1 for u, v in zip(x, y) if v and not u)
    d = n - a - b - c
    out = {"n": n, "both": a, "x_only": b, "y_only": c, "neither": d}
    if n == 0:
        return dict(out, estimate=math.nan, low=math.nan, high=math.nan, mcnemar_p=math.nan)
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n)
    l2, u2 = wilson(a + c, n)
    # The outcomes' correlation, shrunk towards 0 as Newcombe does (a positive
    # ad - bc less n/2, at least 0; a negative one as it is); 0 when a margin is empty.
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    cross = max(0.0, cross - n / 2) if cross > 0 else cross
    phi = cross / math.sqrt(margins) if margins else 0.0
    diff = p1 - p2
    low = diff - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = diff + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    m = b + c
    tail = sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2 ** m if m else 1.0
    return dict(out, estimate=diff, low=max(-1.0, low), high=min(1.0, high),
                mcnemar_p=min(1.0, 2 * tail))


def merge(runs):
    """One evaluation from its shards: the first run's settings, every run's problems."""
    first = runs[0]
    keys = ("seed", "samples", "gsr_candidates", "sampling_policy", "pipeline")
    names = [p["name"] for p in first["policies"]]
    for r in runs[1:]:
        for k in keys:
            if r[k] != first[k]:
                sys.exit(f"report.py: the runs differ in {k}: {first[k]!r} and {r[k]!r}")
        if [p["name"] for p in r["policies"]] != names:
            sys.exit("report.py: the runs have different packages")
    problems, seen = [], set()
    for r in runs:
        for p in r["problems"]:
            if p["index"] in seen:
                sys.exit(f"report.py: problem {p['index']} is in two runs")
            seen.add(p["index"])
            problems.append(p)
    problems.sort(key=lambda p: p["index"])
    return first, names, problems


def trace_curve(problems, policy, points):
    """The fraction of problems (with a reference trace) whose greedy trace is right through
    the first t generated tokens, for each t of `points`; the fraction whose whole trace is
    right; how many problems have a reference trace."""
    fwt = [p["greedy"][policy]["first_wrong_token"] for p in problems if p["reference_lines"] > 0]
    if not fwt:
        return [math.nan] * len(points), math.nan, 0
    curve = [sum(1 for f in fwt if f is None or f >= t) / len(fwt) for t in points]
    return curve, sum(1 for f in fwt if f is None) / len(fwt), len(fwt)


def statistics(first, names, problems):
    n = len(problems)
    s = {"problems": n, "indices": [p["index"] for p in problems], "greedy": {}, "sampled": {},
         "differences": {}, "trace": {}}
    right = {}
    for name in names:
        right[name] = [p["greedy"][name]["correct"] for p in problems]
        k = sum(right[name])
        s["greedy"][name] = {"right": k, "accuracy": k / n if n else math.nan,
                             "wilson": wilson(k, n)}
    K, N = first["samples"], first["gsr_candidates"]
    sampled = [p["sampled"] for p in problems if "sampled" in p]
    if sampled and len(sampled) == n:
        for key, label in (("pass1", "pass@1"), ("majority", f"majority@{K}"),
                           ("best_of_n", f"best-of-{K}"), ("gsr", f"GSR@{N}")):
            k = sum(x[key] for x in sampled)
            s["sampled"][key] = {"label": label, "right": k, "accuracy": k / n, "wilson": wilson(k, n)}
    for name in ("resa", "sparse"):
        if name in right and "dense" in right:
            s["differences"][f"{name} - dense"] = dict(paired(right[name], right["dense"]),
                                                        label=f"{name} - dense (greedy)")
    if s["sampled"]:
        s["differences"]["gsr - majority"] = dict(
            paired([x["gsr"] for x in sampled], [x["majority"] for x in sampled]),
            label=f"GSR@{N} - majority@{K} ({first['sampling_policy']})")
    max_tokens = first["pipeline"]["max_tokens"]
    points = [t for t in CURVE_POINTS if t <= max_tokens] + (
        [max_tokens] if max_tokens not in CURVE_POINTS else [])
    for name in names:
        values, whole, m = trace_curve(problems, name, points)
        s["trace"][name] = {"points": points, "fraction_right": values, "problems": m,
                            "whole_trace_right": whole}
    ref = sorted(p["reference_tokens"] for p in problems if p.get("reference_tokens"))
    s["reference_tokens_median"] = ref[len(ref) // 2] if ref else None
    return s


def pct(x):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def interval(lo_hi):
    lo, hi = lo_hi
    return f"[{pct(lo)}, {pct(hi)}]"


def points_(x):
    return "n/a" if math.isnan(x) else f"{100 * x:+.1f}"


def markdown(first, runs, names, s):
    n = s["problems"]
    pipe = first["pipeline"]
    K, N = first["samples"], first["gsr_candidates"]
    out = [f"# Answer quality through resa's runtime ({first['date'][:10]})", ""]
    out.append(f"`resa-bench quality` on {n} held-out problems "
               f"({os.path.basename(first['problems_file'])}, indices {min(s['indices'], default=0)}"
               f"..{max(s['indices'], default=0)}, {len(runs)} run(s)), device {first['device']}; "
               f"{sum(r['problems_selected'] for r in runs)} problems were selected, "
               f"{sum(r['problems_done'] for r in runs)} done"
               + ("; stopped by the time budget" if any(r["stopped_by_budget"] for r in runs) else "")
               + ".")
    out.append("")
    out.append(f"Pipeline (from the packages, `--pipeline=gsr`): {pipe['candidates']} candidates at "
               f"temperature {pipe['candidate_temperature']:.2g}, top-p {pipe['candidate_top_p']:.2g}, "
               f"at most {pipe['max_tokens']} tokens; refinement at temperature "
               f"{pipe['refine_temperature']:.2g}; answers by `{pipe['answer_rule']}`, right when "
               f"equal to the reference answer.")
    out.append("")
    out.append("| policy | package | decode attention |")
    out.append("|---|---|---|")
    for p in first["policies"]:
        if p["rectify_interval"]:
            what = (f"kept ratio {p['kept_ratio']:.2g} (at least {p['min_blocks']} blocks of "
                    f"{p['block_size']}), dense rectification every {p['rectify_interval']} steps "
                    f"over {p['rectify_window']} tokens")
        elif "kept_ratio" in p:
            what = (f"kept ratio {p['kept_ratio']:.2g} (at least {p['min_blocks']} blocks of "
                    f"{p['block_size']}), no rectification")
        else:
            what = "dense"
        out.append(f"| {p['name']} | `{os.path.basename(p['package'].rstrip('/'))}` | {what} |")
    out += ["", "## Greedy accuracy", "", "| policy | right | accuracy | 95% Wilson |", "|---|---|---|---|"]
    for name in names:
        g = s["greedy"][name]
        out.append(f"| {name} | {g['right']}/{n} | {pct(g['accuracy'])} | {interval(g['wilson'])} |")
    if s["sampled"]:
        out += ["", f"## Sampling ({first['sampling_policy']}, {K} samples per problem)", "",
                "| metric | right | accuracy | 95% Wilson |", "|---|---|---|---|"]
        for v in s["sampled"].values():
            out.append(f"| {v['label']} | {v['right']}/{n} | {pct(v['accuracy'])} | {interval(v['wilson'])} |")
        out += ["", f"pass@1: the first sample; majority@{K}: the most frequent non-empty answer "
                f"of the {K} (ties: the earliest); best-of-{K}: the sample of highest mean token "
                f"log-probability; GSR@{N}: the package's refinement over the first {N} of the same "
                f"samples (no new sampling)."]
    if s["differences"]:
        out += ["", "## Differences on the same problems", "",
                "| difference | estimate (points) | 95% interval (points) | only the first / only the second right | McNemar exact p |",
                "|---|---|---|---|---|"]
        for d in s["differences"].values():
            out.append(f"| {d['label']} | {points_(d['estimate'])} | [{points_(d['low'])}, "
                       f"{points_(d['high'])}] | {d['x_only']} / {d['y_only']} | {d['mcnemar_p']:.3g} |")
        out += ["", "Intervals: Newcombe's score interval for paired proportions (1998, method "
                "10), from the two accuracies' Wilson intervals and the correlation of the paired "
                "outcomes; p: the exact McNemar test on the discordant problems."]
        d = s["differences"].get("resa - dense")
        if d and not math.isnan(d["estimate"]):
            inside = -GOAL_POINTS <= d["low"] and d["high"] <= GOAL_POINTS
            out += ["", f"ReSA against dense (goal: within 1 point): {points_(d['estimate'])} points, "
                    f"{'within' if abs(d['estimate']) <= GOAL_POINTS else 'not within'} 1 point; the "
                    f"interval [{points_(d['low'])}, {points_(d['high'])}] "
                    f"{'lies inside' if inside else 'does not lie inside'} +-1 point"
                    + ("" if inside else f" ({n} problems cannot show it)") + "."]
    points = next(iter(s["trace"].values()))["points"] if s["trace"] else []
    if points:
        ref = s["reference_tokens_median"]
        out += ["", "## Greedy trace still right after t generated tokens", "",
                "Fraction of problems whose greedy trace reproduces the reference solution line by "
                "line through its first t tokens (a wrong line counts from its first token)"
                + (f"; a right trace is {ref} tokens (median, `</s>` included)" if ref else "") + ".",
                "", "| t | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for i, t in enumerate(points):
            out.append(f"| {t} | " + " | ".join(pct(s["trace"][nm]["fraction_right"][i]) for nm in names) + " |")
        out.append("| whole trace | " + " | ".join(pct(s["trace"][nm]["whole_trace_right"]) for nm in names) + " |")
    out += ["", "## Time", "", "| part | seconds (sum over runs) | tokens | tokens/s |", "|---|---|---|---|"]
    for name in names:
        secs = sum(p["greedy_seconds"] for r in runs for p in r["policies"] if p["name"] == name)
        toks = sum(p["greedy_tokens"] for r in runs for p in r["policies"] if p["name"] == name)
        out.append(f"| greedy {name} (batches of {first['batch']}) | {secs:.1f} | {toks} | "
                   f"{toks / secs if secs else 0:.0f} |")
    if s["sampled"]:
        for key, label in (("sampling", f"{K} samples"), ("refine", f"GSR@{N} refinement")):
            secs = sum(r[f"{key}_seconds"] for r in runs)
            toks = sum(r["sampled_tokens" if key == "sampling" else "refine_tokens"] for r in runs)
            out.append(f"| {label} ({first['sampling_policy']}) | {secs:.1f} | {toks} | "
                       f"{toks / secs if secs else 0:.0f} |")
    out.append(f"| whole runs (wall, longest) | {max(r['seconds'] for r in runs):.1f} | | |")
    return "\n".join(out) + "\n"


def plot(path, names, s, first, problems):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:
        print("report.py: no matplotlib: no plot (run it with /tmp/venv-plot/bin/python)")
        return False
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    t = np.arange(0, first["pipeline"]["max_tokens"] + 1)
    for name in names:
        fwt = [p["greedy"][name]["first_wrong_token"] for p in problems if p["reference_lines"] > 0]
        if not fwt:
            continue
        f = np.array([np.inf if v is None else v for v in fwt], dtype=float)
        frac = (f[None, :] >= t[:, None]).mean(axis=1)
        band = np.array([wilson(round(v * len(f)), len(f)) for v in frac])
        ax.step(t, frac, where="post", label=f"{name} (whole trace right: {pct(np.isinf(f).mean())})")
        ax.fill_between(t, band[:, 0], band[:, 1], step="post", alpha=0.15)
    if s["reference_tokens_median"]:
        ax.axvline(s["reference_tokens_median"], color="grey", ls=":", lw=1,
                   label="end of a right trace (median)")
    ax.set_xlabel("generated tokens t")
    ax.set_ylabel("traces still right after t tokens")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Greedy traces against the reference ({s['problems']} problems, 95% Wilson)")
    ax.legend(fontsize=8)
    labels, acc, lo, hi = [], [], [], []
    for name in names:
        g = s["greedy"][name]
        labels.append(f"greedy {name}")
        acc.append(g["accuracy"])
        lo.append(g["wilson"][0])
        hi.append(g["wilson"][1])
    for v in s["sampled"].values():
        labels.append(f"{first['sampling_policy']} {v['label']}")
        acc.append(v["accuracy"])
        lo.append(v["wilson"][0])
        hi.append(v["wilson"][1])
    y = np.arange(len(labels))[::-1]
    acc, lo, hi = np.array(acc), np.array(lo), np.array(hi)
    bx.errorbar(acc, y, xerr=[np.maximum(acc - lo, 0), np.maximum(hi - acc, 0)], fmt="o", capsize=3)
    bx.set_yticks(y)
    bx.set_yticklabels(labels, fontsize=8)
    bx.set_xlabel("answer accuracy (95% Wilson)")
    bx.set_xlim(0, max(0.1, float(hi.max()) * 1.1) if len(hi) else 1)
    bx.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="resa-bench quality --json files (shards of one evaluation)")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--name", help="output name (default quality-DATE)")
    args = ap.parse_args()
    runs = []
    for path in args.runs:
        with open(path, encoding="utf-8") as f:
            runs.append(json.load(f))
    first, names, problems = merge(runs)
    s = statistics(first, names, problems)
    name = args.name or f"quality-{first['date'][:10]}"
    os.makedirs(args.out_dir, exist_ok=True)
    base = os.path.join(args.out_dir, name)
    with open(base + ".md", "w", encoding="utf-8") as f:
        f.write(markdown(first, runs, names, s))
    headers = [{k: v for k, v in r.items() if k != "problems"} for r in runs]
    with open(base + ".json", "w", encoding="utf-8") as f:
        json.dump({"runs": headers, "statistics": s, "problems": problems}, f, indent=1)
        f.write("\n")
    made = plot(base + ".png", names, s, first, problems)
    print(f"report.py: {base}.md, {base}.json" + (f", {base}.png" if made else "") +
          f" ({s['problems']} problems)")


if __name__ == "__main__":
    main()
