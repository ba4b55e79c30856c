#!/usr/bin/env bash
# Issue 5's kernel reports in one call on the GPU machine (about 40 s), from
# carried binaries (resa-bench-kernels and resa-bench-prefill in $CARRY/bin,
# as bench/e2e/prepare_carry.sh or pack_call.sh make them): the dense decode
# and ReSA step benchmark (resa-bench-kernels --sparse) with the PyTorch SDPA
# peer, the prefill attention (the runtime's kernel, then both kernels) with
# its SDPA peer, and the four reports (report.py, report_sparse.py,
# report_prefill.py twice). Raw files and reports land in $OUT, packed into
# $OUT/kernel-reports.tgz (a call returns at most 8 files).
#   (here)   bash bench/e2e/pack_call.sh k5 resa-bench-kernels resa-bench-prefill
#   (device) CARRY=.carry/k5 OUT=/tmp/out bash bench/kernels/device_report.sh
source "$(dirname "$0")/../e2e/carry_env.sh"
R=$(mktemp -d)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw \
  --format=csv > "$R/run.log" 2>&1
t0=$(date +%s)
status=0
timeout 250 "$carry/bin/resa-bench-kernels" --sparse --out "$R/resa.json" >> "$R/run.log" 2>&1 ||
  { echo "resa-bench-kernels failed"; status=1; }
PYTHONUNBUFFERED=1 timeout 150 python3 bench/kernels/sdpa_peer.py --out "$R/sdpa.json" >> "$R/run.log" 2>&1 ||
  { echo "sdpa_peer.py failed"; status=1; }
timeout 60 "$carry/bin/resa-bench-prefill" --out "$R/prefill.json" > "$R/prefill.log" 2>&1 ||
  { echo "resa-bench-prefill failed"; status=1; }
timeout 60 "$carry/bin/resa-bench-prefill" --kernel both --out "$R/prefill-both.json" >> "$R/prefill.log" 2>&1 ||
  { echo "resa-bench-prefill --kernel both failed"; status=1; }
PYTHONUNBUFFERED=1 timeout 60 python3 bench/kernels/prefill_peer.py --out "$R/prefill-sdpa.json" \
  >> "$R/prefill.log" 2>&1 || { echo "prefill_peer.py failed"; status=1; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv >> "$R/run.log" 2>&1
echo "measured in $(( $(date +%s) - t0 )) s"
report() { # script resa-input peer-input name
  python3 "bench/kernels/$1" "$R/$2" "$R/$3" --json "$R/kernels-$4.json" --md "$R/kernels-$4.md" \
    > /dev/null || { echo "$1 failed"; status=1; }
}
report report.py resa.json sdpa.json decode
report report_sparse.py resa.json sdpa.json sparse
report report_prefill.py prefill.json prefill-sdpa.json prefill
report report_prefill.py prefill-both.json prefill-sdpa.json prefill-both
for k in decode sparse prefill; do sed -n '/^Targets:/,$p' "$R/kernels-$k.md"; done
tar -C "$R" -czf "$OUT/kernel-reports.tgz" . && rm -rf "$R"
exit $status
