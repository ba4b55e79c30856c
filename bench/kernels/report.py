#!/usr/bin/env python3
"""Merges resa-bench-kernels' JSON and sdpa_peer.py's JSON into one table.

  python3 report.py RESA.json SDPA.json --json OUT.json --md OUT.md
Prints the table (last) and checks the step-4 targets (batch 1).
"""
from report_common import by_shape, fmt, load, merged_head, table, targets, verdict, write


def main():
    a, resa, sdpa = load()
    ceil = resa["copy_ceiling_tbps"]
    peer = by_shape(sdpa.get("results", []))
    rows = []
    for r in resa["results"]:
        p = peer.get((r["batch"], r["context"]))
        row = {
            "batch": r["batch"], "context": r["context"], "splits": r["splits"], "grid": r["grid"],
            "bytes": r["bytes"], "floor_us": r["bytes"] / (ceil * 1e12) * 1e6,
            "resa_us": r["median_us"], "resa_tbps": r["tbps"], "resa_frac": r["fraction_of_ceiling"],
        }
        if p:
            row.update({"sdpa_us": p["median_us"], "sdpa_tbps": p["tbps"],
                        "sdpa_frac": p["tbps"] / ceil, "sdpa_do_bench_us": p["do_bench_median_us"],
                        "speedup": p["median_us"] / r["median_us"]})
        rows.append(row)
    head, peer_info = merged_head(resa, sdpa)
    merged = {
        **head,
        "method": "median over CUDA-graph replays of 20 calls (/20); KV rotated among buffers "
                  "when it would fit in L2; bytes = K+V read + q read + out written; ceiling = "
                  "cudaMemcpy D2D 2 GiB, read+write, same run",
        "peer": peer_info,
        "peer_kernels": {f"{r['batch']}x{r['context']}": r.get("kernels") for r in sdpa.get("results", [])},
        "rows": rows, "variants": resa.get("variants", []),
    }

    lines = table(
        ["batch", "context", "splits", "bytes MB", "floor us", "resa us", "resa TB/s", "resa % ceil", "SDPA us",
         "SDPA TB/s", "SDPA % ceil", "speedup"],
        [[f"{r['batch']}", f"{r['context']}", f"{r['splits']}", f"{r['bytes'] / 1e6:.1f}",
          f"{r['floor_us']:.1f}", f"{r['resa_us']:.1f}",
          f"{r['resa_tbps']:.2f}", f"{100 * r['resa_frac']:.0f}%", fmt(r.get('sdpa_us'), '.1f'),
          fmt(r.get('sdpa_tbps'), '.2f'),
          f"{fmt(100 * r['sdpa_frac'] if 'sdpa_frac' in r else None, '.0f')}%",
          f"{fmt(r.get('speedup'), '.2f')}x"] for r in rows])
    checks = []
    by = by_shape(rows)
    for c in (65536, 131072, 262144):
        if (1, c) in by:
            checks.append(f"batch 1, {c}: {by[(1, c)]['resa_tbps']:.2f} TB/s (target >= 3.9): "
                          f"{verdict(by[(1, c)]['resa_tbps'] >= 3.9)}")
    for c, t in ((65536, 1.5), (16384, 2.0)):
        r = by.get((1, c))
        if r and "speedup" in r:
            checks.append(f"batch 1, {c}: {r['speedup']:.2f}x SDPA (target >= {t}x): "
                          f"{verdict(r['speedup'] >= t)}")
    md = [f"# Dense decode attention, {resa['device']}, {resa['date']}", "",
          f"bf16, 32 q heads / 8 KV heads, head dim 128, page size 16 (shuffled pages). "
          f"Copy ceiling {ceil:.3f} TB/s (read + write, measured in the same run).",
          f"Method: {merged['method']}. SDPA: {sdpa.get('peer')} (torch {sdpa.get('torch')}), "
          f"contiguous K/V, enable_gqa=True, same method.", ""] + lines + targets(checks)
    if merged["variants"]:
        md += ["", "Kernel variants (stage tokens x stages in flight):", ""] + table(
            ["batch", "context", "variant", "pages", "splits", "us", "TB/s", "% ceil"],
            [[f"{v['batch']}", f"{v['context']}", f"{v['variant']}", f"{v['pages']}", f"{v['splits']}",
              f"{v['median_us']:.1f}", f"{v['tbps']:.2f}", f"{100 * v['fraction_of_ceiling']:.0f}%"]
             for v in merged["variants"]])
    write(a, merged, md)


if __name__ == "__main__":
    main()
