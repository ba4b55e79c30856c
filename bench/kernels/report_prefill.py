#!/usr/bin/env python3
"""The prefill attention kernel against issue 5's target and PyTorch SDPA.

  python3 report_prefill.py RESA.json SDPA.json --json OUT.json --md OUT.md
RESA.json: resa-bench-prefill --out (a list of shapes, each naming the kernel its plan ran);
SDPA.json: prefill_peer.py --out (the same shape names), or "-". Prints the table (last) and
checks the target: causal prefill at 32K, batch 1, >= 400 TFLOP/s with the kernel the runtime
picks (resa-bench-prefill's default, --kernel auto).
"""
from report_common import fmt, load, table, targets, verdict, write

TARGET_TFLOPS = 400.0


def main():
    a, resa, sdpa = load()
    peer = {p["name"]: p for p in sdpa} if isinstance(sdpa, list) else {}
    rows = []
    for r in resa:
        p = peer.get(r["name"])
        row = dict(r)
        if p:
            row.update({"sdpa_ms": p["ms"], "sdpa_tflops": p["tflops"], "speedup": p["ms"] / r["ms"]})
        rows.append(row)
    merged = {
        "method": "median of CUDA-event timed calls after 3 warm-ups; FLOPs = 4 * D * H * (keys "
                  "each query sees, summed); K/V in the paged cache (page size and order per row); "
                  "SDPA: contiguous K/V, is_causal=True for prefill, False for rectification",
        "rows": rows,
    }
    lines = table(
        ["shape", "kernel", "pages", "keys before", "queries", "splits", "resa ms", "TFLOP/s",
         "SDPA ms", "SDPA TFLOP/s", "vs SDPA"],
        [[r["name"], r["kernel"], f"{r.get('page_size', 16)} {r.get('pages', 'shuffled')}",
          f"{r['start']}", f"{r['qlen']}", f"{r['splits']}", f"{r['ms']:.3f}", f"{r['tflops']:.0f}",
          fmt(r.get("sdpa_ms"), ".3f"), fmt(r.get("sdpa_tflops"), ".0f"),
          f"{r['speedup']:.2f}x" if "speedup" in r else "-"] for r in rows])
    checks = [f"causal 32K, {r['kernel']} kernel, {r.get('page_size', 16)}-token "
              f"{r.get('pages', 'shuffled')} pages: {r['tflops']:.0f} TFLOP/s (target >= "
              f"{TARGET_TFLOPS:.0f}): {verdict(r['tflops'] >= TARGET_TFLOPS)}"
              for r in rows if r["name"] == "causal_32k"]
    md = ["# Causal prefill attention over the paged KV cache", "",
          "bf16, batch 1, 32 query heads / 8 KV heads, head dim 128. "
          f"Method: {merged['method']}.", ""] + lines + targets(checks)
    write(a, merged, md)


if __name__ == "__main__":
    main()
