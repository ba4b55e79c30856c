#!/usr/bin/env python3
"""Sums Nsight Compute's kernel durations (ncu --csv --page raw --metrics
gpu__time_duration.sum, NVTX-filtered to resa-bench's timed calls) by kernel
and compares them with the call's wall time from resa-bench's JSON: what
each kernel costs per call, and the time between kernels (launch, tails).

usage: profile_report.py NCU.csv WALL.json --ranges N --field F [--title T]
  N: the profiled calls (NVTX ranges); F: the JSON field of the wall time
  per call (median_ms, rectify_ms_per_window)."""
import argparse
import csv
import io
import json
import re
from collections import defaultdict


def short_name(name):
    """The kernel's name without template arguments or parameters."""
    name = re.sub(r"\(.*$", "", name.strip())
    depth, out = 0, []
    for ch in name:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    name = "".join(out)
    return name.split("::")[-1] or name


def ncu_table(path):
    """The header, units and data rows of an ncu --csv --page raw file."""
    text = open(path, errors="replace").read()
    start = text.find('"ID"')
    if start < 0:
        raise SystemExit(f"{path}: no ncu CSV table (see the ncu log)")
    rows = list(csv.reader(io.StringIO(text[start:])))
    return rows[0], rows[1], rows[2:]


def read_ncu(path):
    """[(kernel name, duration in us)] in launch order."""
    head, units, data = ncu_table(path)
    name_col = head.index("Kernel Name")
    t_col = head.index("gpu__time_duration.sum")
    # ncu 2024 wrote "nsecond", ncu 2025 (CUDA 13) writes "ns".
    scales = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3}
    if units[t_col] not in scales:
        raise SystemExit(f"{path}: unknown unit {units[t_col]!r} of gpu__time_duration.sum")
    scale = scales[units[t_col]]
    out = []
    for r in data:
        if len(r) > t_col and r[t_col]:
            out.append((r[name_col], float(r[t_col].replace(",", "")) * scale))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ncu")
    ap.add_argument("wall")
    ap.add_argument("--ranges", type=int, required=True)
    ap.add_argument("--field", required=True)
    ap.add_argument("--title", default="decode")
    a = ap.parse_args()
    kernels = read_ncu(a.ncu)
    wall = json.load(open(a.wall))
    row = next(r for r in wall["results"] if r.get("kind") == "decode")
    steps = a.ranges
    step_ms = row[a.field]
    by = defaultdict(lambda: [0, 0.0])
    for name, us in kernels:
        by[short_name(name)][0] += 1
        by[short_name(name)][1] += us
    total_us = sum(us for _, us in kernels) / steps
    print(f"# {a.title}: {len(kernels) / steps:.0f} kernels per call, {total_us / 1e3:.3f} ms of "
          f"kernel time per call against {step_ms:.3f} ms of wall time "
          f"({step_ms - total_us / 1e3:.3f} ms between kernels)\n")
    print("| kernel | per call | us per call | share of kernel time |")
    print("|---|---|---|---|")
    for name, (n, us) in sorted(by.items(), key=lambda kv: -kv[1][1]):
        print(f"| {name} | {n / steps:.1f} | {us / steps:.1f} | {100 * us / steps / total_us:.1f}% |")


if __name__ == "__main__":
    main()
