"""What report.py and report_sparse.py share: their command line and inputs
(resa-bench-kernels' JSON, sdpa_peer.py's JSON or "-"), the merged JSON's
common fields, the markdown table and the outputs (JSON, markdown, the
markdown printed last)."""
import argparse
import json


def load():
    """Parses RESA SDPA --json OUT --md OUT; returns (args, resa, sdpa)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("resa")
    ap.add_argument("sdpa")
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    a = ap.parse_args()
    resa = json.load(open(a.resa))
    sdpa = json.load(open(a.sdpa)) if a.sdpa != "-" else {"results": []}
    return a, resa, sdpa


def by_shape(results):
    """(batch, context) -> row."""
    return {(r["batch"], r["context"]): r for r in results}


def merged_head(resa, sdpa):
    """The merged JSON's first fields, from the bench's run, and the peer's identity."""
    head = {k: resa[k] for k in ("date", "device", "sms", "copy_ceiling_tbps", "shape")}
    peer = {k: sdpa.get(k) for k in ("peer", "torch")}
    return head, peer


def fmt(x, spec):
    """x formatted, or "-" when missing."""
    return format(x, spec) if x is not None else "-"


def verdict(ok):
    return "met" if ok else "NOT met"


def table(header, rows):
    """A markdown table: header cells, then rows of cells (strings)."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] +
            ["| " + " | ".join(r) + " |" for r in rows])


def targets(checks):
    return ["", "Targets:", ""] + [f"- {c}" for c in checks]


def write(args, merged, md):
    """Writes the merged JSON and the markdown, and prints the markdown."""
    json.dump(merged, open(args.json, "w"), indent=1)
    open(args.md, "w").write("\n".join(md) + "\n")
    print("\n".join(md))
