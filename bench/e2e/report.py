#!/usr/bin/env python3
"""Merges resa-bench e2e's JSON and hf_peer.py's JSON into the end-to-end
report: OUT_DIR/e2e-DATE.json (merged), .md (tables, speedups, the issue's
targets) and .png (plot; needs matplotlib, else says so and writes the rest).

  python3 report.py RESA.json [HF.json] --out-dir bench/results [--date YYYY-MM-DD]
                    [--shape NAME=RESA2.json ...]

Decode figures are ms per step (one token for each sequence of the batch);
"x floor" is the median over the byte floor (resa-bench: the weights a step
reads (those decode reads whole, and a row a sequence of the embedding table
and rotary caches) + KV read + key summaries + ReSA's amortised rectification
read, over the copy ceiling measured in the same run), so 1.00 is the floor
itself. (Reports before 2026-12-01 counted every weight whole, the embedding
table and rotary caches included: 1.18 GB more on the Llama-3-8B shape.)

GSR rows (resa-bench --gsr-fork N@C): N candidates forked from one prompt of
C tokens (sharing its KV pages) decoded as one batch, against one sequence
alone at the same context in the same run; the ratio of their tokens/s is
issue 7's target (N = 4, 16K: >= 3.5x).

--shape NAME=JSON adds another model shape's resa-bench run (decode only, no
peer): its own table, and issue 6's batch-8 128K target falls back to it when
the main run lacks that shape (the Llama-3-8B shape's KV does not fit the H200
at 8 x 128K; the Qwen2.5-7B shape's, half as large, does).
"""
import argparse
import json
import os
import sys

POLICIES = ("dense", "sparse", "resa")
PEERS = ("eager", "sdpa")
NAMES = {"dense": "dense", "sparse": "sparse", "resa": "ReSA", "eager": "HF eager",
         "sdpa": "HF SDPA"}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("resa", help="resa-bench e2e --json output")
    ap.add_argument("hf", nargs="?", help="hf_peer.py --json output (optional)")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--date", help="names the outputs (default: the resa-bench run's date)")
    ap.add_argument("--shape", action="append", default=[], metavar="NAME=JSON",
                    help="another model shape's resa-bench e2e --json (repeatable)")
    a = ap.parse_args()
    for s in a.shape:
        if "=" not in s:
            ap.error(f"--shape wants NAME=JSON, got '{s}'")
    return a


def ok(row):
    return row is not None and row.get("status") == "ok"


def index(rows, key):
    """(system, kind, batch, context) -> row, for resa-bench (key "policy") or
    hf_peer (key "impl") rows."""
    return {(r[key], r["kind"], r["batch"], r["context"]): r for r in rows}


def ratio(a, b):
    return a / b if a is not None and b else None


def median(row):
    return row["median_ms"] if ok(row) else None


def fmt(x, spec=".2f", suffix=""):
    return "-" if x is None else format(x, spec) + suffix


def cell(row, spec=".2f"):
    """A measured median, or why there is none."""
    if row is None:
        return "-"
    if not ok(row):
        return row["status"].split(":")[0]  # "skipped" / "error"
    return format(row["median_ms"], spec)


def merge(resa, hf):
    r_rows = index(resa["results"], "policy")
    h_rows = index(hf.get("results", []), "impl")
    shapes = sorted({(k[2], k[3]) for k in list(r_rows) + list(h_rows) if k[1] == "decode"})
    decode = []
    for batch, ctx in shapes:
        entry = {"batch": batch, "context": ctx}
        for p in POLICIES:
            r = r_rows.get((p, "decode", batch, ctx))
            if r is not None:
                entry[p] = r
                if ok(r):
                    entry[p + "_x_floor"] = r["median_ms"] / r["floor_ms"]
        for i in PEERS:
            if (i, "decode", batch, ctx) in h_rows:
                entry["hf_" + i] = h_rows[(i, "decode", batch, ctx)]
        sp = {}
        for p in POLICIES:
            for i in PEERS:
                sp[f"{p}_vs_hf_{i}"] = ratio(median(entry.get("hf_" + i)), median(entry.get(p)))
        sp["resa_vs_dense"] = ratio(median(entry.get("dense")), median(entry.get("resa")))
        sp["sparse_vs_dense"] = ratio(median(entry.get("dense")), median(entry.get("sparse")))
        entry["speedups"] = {k: v for k, v in sp.items() if v is not None}
        decode.append(entry)
    contexts = sorted({k[3] for k in list(r_rows) + list(h_rows) if k[1] == "prefill"})
    prefill = []
    for ctx in contexts:
        entry = {"context": ctx}
        for p in POLICIES:
            if (p, "prefill", 1, ctx) in r_rows:
                entry[p] = r_rows[(p, "prefill", 1, ctx)]
        for i in PEERS:
            if (i, "prefill", 1, ctx) in h_rows:
                entry["hf_" + i] = h_rows[(i, "prefill", 1, ctx)]
        hf_best = min([m for m in (median(entry.get("hf_" + i)) for i in PEERS) if m is not None],
                      default=None)
        entry["speedups"] = {k: v for k, v in (
            ("dense_vs_hf_best", ratio(hf_best, median(entry.get("dense")))),
            ("resa_vs_hf_best", ratio(hf_best, median(entry.get("resa"))))) if v is not None}
        prefill.append(entry)
    return decode, prefill


def gsr_rows(resa):
    """resa-bench's gsr-fork rows, by N, context, then policy."""
    order = {p: i for i, p in enumerate(POLICIES)}
    rows = [r for r in resa["results"] if r["kind"] == "gsr-fork"]
    return sorted(rows, key=lambda r: (r["batch"], r["context"], order.get(r["policy"], 9)))


def gsr_targets(gsr):
    """Issue 7: N = 4 candidates at >= 3.5x one sequence's tokens/s, 16K; per policy."""
    out = []
    for r in gsr:
        if r["batch"] == 4 and r["context"] == 16384:
            ratio_ = r["ratio"] if ok(r) else None
            out.append((f"{NAMES.get(r['policy'], r['policy'])}: 4 GSR candidates at >= 3.5x the "
                        f"tokens/s of one sequence, 16K: {fmt(ratio_, '.2f', 'x')}",
                        verdict(ratio_, ratio_ is not None and ratio_ >= 3.5)))
    return out or [("4 GSR candidates at >= 3.5x the tokens/s of one sequence, 16K",
                    "not measured")]


def verdict(value, good):
    if value is None:
        return "not measured"
    return "met" if good else "NOT met"


def targets(decode, prefill, shapes):
    """The issue's targets, each (text, verdict). shapes: [(name, decode)] of
    other model shapes, for a decode shape the main run lacks."""
    out = []
    by = {(e["batch"], e["context"]): e for e in decode}
    long = [e for e in decode if e["context"] >= 16384 and "dense_x_floor" in e]
    worst = max(long, key=lambda e: e["dense_x_floor"], default=None)
    if worst is None:
        out.append(("dense decode within 1.15x of the byte floor at every context >= 16K",
                    "not measured"))
    else:
        out.append((f"dense decode within 1.15x of the byte floor at every context >= 16K: worst "
                    f"{worst['dense_x_floor']:.2f}x ({worst['batch']}x{worst['context']})",
                    verdict(1, worst["dense_x_floor"] <= 1.15)))
    eager = [(e["speedups"]["dense_vs_hf_eager"], e) for e in decode
             if "dense_vs_hf_eager" in e["speedups"]]
    if eager:
        low, e = min(eager, key=lambda x: x[0])
        out.append((f"dense decode >= 8x faster than HF eager: lowest {low:.1f}x "
                    f"({e['batch']}x{e['context']})", verdict(1, low >= 8)))
    else:
        out.append(("dense decode >= 8x faster than HF eager", "not measured"))
    for (batch, ctx), want in (((1, 262144), 2.2), ((8, 131072), 2.6)):
        s = by.get((batch, ctx), {}).get("speedups", {}).get("resa_vs_dense")
        where = ""
        for name, other in ([] if s is not None else shapes):
            e = next((e for e in other if (e["batch"], e["context"]) == (batch, ctx)), None)
            s = e["speedups"].get("resa_vs_dense") if e else None
            if s is not None:
                where = f" ({name} shape)"
                break
        out.append((f"ReSA decode >= {want}x dense at batch {batch}, {ctx // 1024}K{where}: "
                    f"{fmt(s, '.2f', 'x')}", verdict(s, s is not None and s >= want)))
    p = next((e for e in prefill if e["context"] == 131072), None)
    s = p["speedups"].get("dense_vs_hf_best") if p else None
    out.append((f"prefill at 128K no slower than HF transformers (best of eager/SDPA): "
                f"{fmt(s, '.2f', 'x')}", verdict(s, s is not None and s >= 1.0)))
    return out


def table(header, rows):
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] +
            ["| " + " | ".join(r) + " |" for r in rows])


def policy_cells(e):
    """Per policy: the median (or why none), its floor, and their ratio."""
    cells = []
    for p in POLICIES:
        row = e.get(p)
        cells += [cell(row), fmt(row["floor_ms"]) if ok(row) else "-",
                  fmt(e.get(p + "_x_floor"), ".2f", "x")]
    return cells


POLICY_HEADER = ["dense", "floor", "x floor", "sparse", "floor", "x floor", "ReSA", "floor",
                 "x floor"]


def markdown(resa, hf, decode, prefill, checks, gsr, gsr_checks, plot_note, shapes):
    ceil = resa["copy_ceiling_tbps"]
    pk = {p["policy"]: p for p in resa.get("packages", [])}
    md = [f"# End-to-end decode and prefill, {resa['device']}, {resa['date']}", "",
          f"Llama-3-8B shape, bf16. Copy ceiling {ceil:.3f} TB/s (read + write, same run).",
          "", f"resa-bench: {resa['method']}.", ""]
    for p in POLICIES:
        if p in pk:
            info = pk[p]
            extra = ""
            if "kept_ratio" in info:
                extra += (f", kept ratio {info['kept_ratio']:g}, min blocks {info['min_blocks']}, "
                          f"local blocks {info['local_blocks']}")
            if "rectify_interval" in info:
                extra += (f", rectify every {info['rectify_interval']} steps over "
                          f"{info['rectify_window']}")
            if "error" in info:
                extra += f"; load error: {info['error']}"
            md.append(f"- {NAMES[p]}: `{info['path']}`, weights "
                      f"{info.get('weight_bytes', 0) / 1e9:.2f} GB, block size "
                      f"{info.get('block_size', '-')}{extra}")
    if hf:
        md += ["", f"Peer: transformers {hf.get('transformers')} (torch {hf.get('torch')}), "
                   f"config {hf.get('config')}, {hf.get('cache')} cache, on {hf.get('device')}; "
                   f"{hf.get('method')}."]
    md += ["", "## Decode, ms per step (median; p10-p90 in the JSON)", ""]
    md += table(["batch", "context"] + POLICY_HEADER + ["HF eager", "HF SDPA"],
                [[str(e["batch"]), str(e["context"])] + policy_cells(e) +
                 [cell(e.get("hf_" + i)) for i in PEERS] for e in decode])
    md += ["", "Speedups (ratio of medians):", ""]
    md += table(["batch", "context", "dense vs HF eager", "dense vs HF SDPA", "ReSA vs HF eager",
                 "ReSA vs HF SDPA", "ReSA vs dense", "sparse vs dense", "ReSA step / rectify ms"],
                [[str(e["batch"]), str(e["context"])] +
                 [fmt(e["speedups"].get(k), ".2f", "x") for k in
                  ("dense_vs_hf_eager", "dense_vs_hf_sdpa", "resa_vs_hf_eager", "resa_vs_hf_sdpa",
                   "resa_vs_dense", "sparse_vs_dense")] +
                 [f"{fmt(e['resa'].get('decode_step_median_ms'))} / "
                  f"{fmt(e['resa'].get('rectify_ms_per_window'))}" if ok(e.get("resa")) else "-"]
                 for e in decode])
    if prefill:
        md += ["", "## Prefill, ms (median; one sequence)", ""]
        md += table(["context", "dense", "sparse", "ReSA", "HF eager", "HF SDPA",
                     "dense vs best HF"],
                    [[str(e["context"])] + [cell(e.get(p), ".1f") for p in POLICIES] +
                     [cell(e.get("hf_" + i), ".1f") for i in PEERS] +
                     [fmt(e["speedups"].get("dense_vs_hf_best"), ".2f", "x")] for e in prefill])
    if gsr:
        md += ["", "## GSR: N candidates forked from one prompt vs one sequence", "",
               "Decode steps of the N forks (sharing the prompt's KV pages) as one batch and of "
               "one sequence alone at the same context, alternately in one run (no "
               "rectification).", ""]
        md += table(["policy", "N", "context", "ms/step N", "tokens/s N", "ms/step 1",
                     "tokens/s 1", "ratio", "x floor N"],
                    [[NAMES.get(r["policy"], r["policy"]), str(r["batch"]), str(r["context"]),
                      cell(r), fmt(r.get("tokens_per_s"), ".1f"),
                      fmt(r.get("single_median_ms")), fmt(r.get("single_tokens_per_s"), ".1f"),
                      fmt(r.get("ratio"), ".2f", "x"),
                      fmt(ratio(r.get("median_ms"), r.get("floor_ms")), ".2f", "x")]
                     for r in gsr])
        md += ["", "Target (issue 7):", ""] + [f"- {t}: **{v}**" for t, v in gsr_checks]
    for name, run, other in shapes:
        md += ["", f"## Decode, {name} shape, ms per step (median; resa-bench alone)", "",
               f"Packages: {', '.join(p['path'] for p in run.get('packages', []))}; copy ceiling "
               f"{run['copy_ceiling_tbps']:.3f} TB/s in that run.", ""]
        md += table(["batch", "context"] + POLICY_HEADER + ["ReSA vs dense", "sparse vs dense"],
                    [[str(e["batch"]), str(e["context"])] + policy_cells(e) +
                     [fmt(e["speedups"].get(k), ".2f", "x")
                      for k in ("resa_vs_dense", "sparse_vs_dense")] for e in other])
    notes = sorted({f"{name} {r['kind']} {r['batch']}x{r['context']}: {r['status']}"
                    for name, rows_ in (("resa-bench", resa["results"]),
                                        ("HF", hf.get("results", []) if hf else []))
                    for r in rows_ if r.get("status") != "ok"})
    if notes:
        md += ["", "Not measured:", ""] + [f"- {n}" for n in notes]
    md += ["", "## Targets (issue 6)", ""] + [f"- {t}: **{v}**" for t, v in checks]
    md += ["", plot_note]
    return md


def plot(path, decode, prefill):
    """Writes the PNG; returns a line for the markdown."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        msg = "matplotlib is not importable here: no plot written (pip install matplotlib)"
        print("report: " + msg, file=sys.stderr)
        return msg
    styles = {"dense": ("C0", "o"), "sparse": ("C1", "s"), "resa": ("C2", "^"),
              "eager": ("C3", "x"), "sdpa": ("C4", "+")}
    b1 = [e for e in decode if e["batch"] == 1]
    wide = [e for e in decode if e["batch"] > 1]
    panels = [p for p in ("b1", "wide", "prefill") if {"b1": b1, "wide": wide,
                                                          "prefill": prefill}[p]]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        if panel == "b1":
            for p in POLICIES:
                pts = [(e["context"], e[p]["median_ms"], e[p]["floor_ms"])
                       for e in b1 if ok(e.get(p))]
                if pts:
                    c, m = styles[p]
                    ax.plot([x[0] for x in pts], [x[1] for x in pts], color=c, marker=m,
                            label=NAMES[p])
                    ax.plot([x[0] for x in pts], [x[2] for x in pts], color=c, ls="--", lw=1,
                            label=NAMES[p] + " floor")
            for i in PEERS:
                pts = [(e["context"], e["hf_" + i]["median_ms"])
                       for e in b1 if ok(e.get("hf_" + i))]
                if pts:
                    c, m = styles[i]
                    ax.plot([x[0] for x in pts], [x[1] for x in pts], color=c, marker=m,
                            label=NAMES[i])
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("context (tokens)")
            ax.set_ylabel("ms per decode step")
            ax.set_title("Decode, batch 1")
        elif panel == "wide":
            systems = [s for s in POLICIES + PEERS
                       if any(ok(e.get(s if s in POLICIES else "hf_" + s)) for e in wide)]
            width = 0.8 / max(len(systems), 1)
            for k, s in enumerate(systems):
                key = s if s in POLICIES else "hf_" + s
                xs = [j + k * width for j, e in enumerate(wide) if ok(e.get(key))]
                ys = [e[key]["median_ms"] for e in wide if ok(e.get(key))]
                ax.bar(xs, ys, width, color=styles[s][0], label=NAMES[s])
                if s in POLICIES:
                    fl = [e[key]["floor_ms"] for e in wide if ok(e.get(key))]
                    ax.scatter(xs, fl, color="k", marker="_", s=200, zorder=3)
            ax.set_xticks([j + 0.4 - width / 2 for j in range(len(wide))])
            ax.set_xticklabels([f"{e['batch']}x{e['context'] // 1024}K" for e in wide])
            ax.set_yscale("log")
            ax.set_ylabel("ms per decode step (black: byte floor)")
            ax.set_title("Decode, batch > 1")
        else:
            for s in POLICIES + PEERS:
                key = s if s in POLICIES else "hf_" + s
                pts = [(e["context"], e[key]["median_ms"]) for e in prefill if ok(e.get(key))]
                if pts:
                    c, m = styles[s]
                    ax.plot([x[0] for x in pts], [x[1] for x in pts], color=c, marker=m,
                            label=NAMES[s])
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("prompt (tokens)")
            ax.set_ylabel("prefill ms")
            ax.set_title("Prefill, batch 1")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return f"Plot: `{os.path.basename(path)}`."


def main():
    a = parse_args()
    resa = json.load(open(a.resa))
    hf = json.load(open(a.hf)) if a.hf else {}
    date = a.date or resa["date"]
    os.makedirs(a.out_dir, exist_ok=True)
    base = os.path.join(a.out_dir, f"e2e-{date}")
    decode, prefill = merge(resa, hf)
    shapes = []
    for spec in a.shape:
        name, path = spec.split("=", 1)
        run = json.load(open(path))
        shapes.append((name, run, merge(run, {})[0]))
    checks = targets(decode, prefill, [(name, other) for name, _, other in shapes])
    gsr = gsr_rows(resa)
    gsr_checks = gsr_targets(gsr)
    plot_note = plot(base + ".png", decode, prefill)
    merged = {
        "date": date, "device": resa["device"], "copy_ceiling_tbps": resa["copy_ceiling_tbps"],
        "resa_bench": {k: v for k, v in resa.items() if k != "results"},
        "hf_peer": {k: v for k, v in hf.items() if k != "results"},
        "decode": decode, "prefill": prefill, "gsr": gsr,
        "shapes": [{"name": name, "copy_ceiling_tbps": run["copy_ceiling_tbps"],
                    "packages": run.get("packages", []), "decode": other}
                   for name, run, other in shapes],
        "targets": [{"target": t, "verdict": v} for t, v in checks + gsr_checks],
    }
    with open(base + ".json", "w") as f:
        json.dump(merged, f, indent=1)
    md = markdown(resa, hf, decode, prefill, checks, gsr, gsr_checks, plot_note, shapes)
    with open(base + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
