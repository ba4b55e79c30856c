#!/usr/bin/env python3
"""Per kernel and variant, the means over the profiled launches of
device_l2.sh's Nsight Compute metrics: duration, DRAM bytes read, L2 sector
hit rate, L2 read sectors.

usage: l2_report.py VARIANT=NCU.csv [VARIANT=NCU.csv ...]"""
import sys
from collections import defaultdict

from profile_report import ncu_table, short_name

METRICS = ["gpu__time_duration.sum", "dram__bytes_read.sum", "lts__t_sector_hit_rate.pct",
           "lts__t_sectors_op_read.sum"]
# Each metric in one unit: us, MB, %, sectors.
SCALES = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3,
          "byte": 1e-6, "Kbyte": 1e-3, "Mbyte": 1.0, "Gbyte": 1e3, "%": 1.0, "sector": 1.0,
          "": 1.0}


def read(path):
    """{kernel: [sums of METRICS], count}."""
    head, units, data = ncu_table(path)
    cols = [head.index(m) for m in METRICS]
    for c in cols:
        if units[c] not in SCALES:
            raise SystemExit(f"{path}: unknown unit {units[c]!r} of {head[c]}")
    name = head.index("Kernel Name")
    out = defaultdict(lambda: [[0.0] * len(METRICS), 0])
    for r in data:
        if len(r) <= max(cols) or not r[cols[0]]:
            continue
        entry = out[short_name(r[name])]
        for i, c in enumerate(cols):
            entry[0][i] += float(r[c].replace(",", "")) * SCALES[units[c]]
        entry[1] += 1
    return out


def main():
    if len(sys.argv) < 2 or any("=" not in a for a in sys.argv[1:]):
        raise SystemExit(__doc__)
    print("| kernel | variant | launches | us | DRAM MB read | L2 hit % | L2 read sectors |")
    print("|---|---|---|---|---|---|---|")
    tables = [(a.rsplit("=", 1)[0], read(a.rsplit("=", 1)[1])) for a in sys.argv[1:]]
    for kernel in sorted({k for _, t in tables for k in t}):
        for variant, t in tables:
            if kernel not in t:
                continue
            sums, n = t[kernel]
            us, mb, hit, sectors = (s / n for s in sums)
            print(f"| {kernel} | {variant} | {n} | {us:.2f} | {mb:.2f} | {hit:.1f} | {sectors:.0f} |")


if __name__ == "__main__":
    main()
