#!/usr/bin/env bash
# Where chosen kernels' bytes come from inside resa-bench's decode steps:
# Nsight Compute on the kernels matching KERNELS (a regex) within the timed
# steps' NVTX ranges ("resa-decode"; graph replays profiled node by node), L2
# left as the step leaves it (--cache-control none: the first replay pass
# sees the step's L2; the metrics are few, so that they fit one pass), for
# each variant of the environment, then l2_report.py: per kernel and
# variant, the duration, DRAM bytes read, L2 hit rate and L2 read sectors.
# One call on the GPU machine, with the carry of device_ab.sh
# (pack_call.sh E2E=1):
#   OUT=/tmp/out CARRY=.carry/c1 POLICY=resa SHAPE=1x32768 KERNELS=decodeAttention \
#     VARIANTS="RESA_SUMMARIES_EF=0 RESA_SUMMARIES_EF=1" bash bench/e2e/device_l2.sh
# Environment: PACKAGE (default $CARRY/e2e/$POLICY), PROGRAM (default
# $CARRY/bin/resa-bench), STEPS (3), LAUNCHES (the kernels profiled a
# variant, 150: about two 32-layer steps of three kernels; each costs ncu
# tens of ms), VARIANTS ("-": the environment as is; otherwise K=V[+K2=V2]
# each).
source "$(dirname "$0")/carry_env.sh"
policy=${POLICY:-resa}
package=${PACKAGE:-$carry/e2e/$policy}
program=${PROGRAM:-$carry/bin/resa-bench}
shape=${SHAPE:-1x32768}
steps=${STEPS:-3}
case $policy in dense) flag=--package ;; *) flag=--package-$policy ;; esac
[ -d "$carry/e2e" ] || tar -C "$carry" -xJf "$carry/e2e-both.tar.xz"
metrics=gpu__time_duration.sum,dram__bytes_read.sum,lts__t_sector_hit_rate.pct,lts__t_sectors_op_read.sum
status=0
csvs=()
for v in ${VARIANTS:--}; do
  envs=()
  [ "$v" = - ] || IFS=+ read -r -a envs <<< "$v"
  name=${v//[^A-Za-z0-9_.-]/_}
  env "${envs[@]}" timeout 120 ncu --clock-control none --cache-control none --nvtx \
    --nvtx-include "resa-decode/" --kernel-name "regex:${KERNELS:-decodeAttention}" \
    --launch-count "${LAUNCHES:-150}" --metrics "$metrics" --csv --page raw \
    "$program" e2e "$flag" "$package" --shapes "$shape" --steps "$steps" --warmup 2 --windows 1 \
    --prefill-max 0 > "$OUT/l2-$name.csv" 2> "$OUT/l2-$name.log" || status=1
  csvs+=("$v=$OUT/l2-$name.csv")
done
python3 bench/e2e/l2_report.py "${csvs[@]}" | tee "$OUT/l2-report.md" || status=1
exit $status
