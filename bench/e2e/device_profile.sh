#!/usr/bin/env bash
# Where a step's time goes, kernel by kernel: Nsight Compute times every
# kernel inside resa-bench's NVTX ranges (each timed decode step is
# "resa-decode", each rectification "resa-rectify"; graph replays are
# profiled node by node), and profile_report.py sums them by kernel against
# the wall time measured without the profiler. One call on the GPU machine
# (about 3 minutes), with the carry of device_bench.sh:
#   OUT=/tmp/out SHAPE=1x16384 bash bench/e2e/device_profile.sh
# Profiles: dense and sparse decode steps (3 each), ReSA rectification (2).
source "$(dirname "$0")/carry_env.sh"
packages=${PACKAGES:-$carry/e2e}
shape=${SHAPE:-1x16384}
status=0
# policy, NVTX range, timed ranges in the run, resa-bench's JSON field for its wall time
for spec in "dense resa-decode 3 median_ms" "sparse resa-decode 3 median_ms" \
            "resa resa-rectify 2 rectify_ms_per_window"; do
  read -r policy range ranges field <<< "$spec"
  case $policy in dense) flag=--package ;; *) flag=--package-$policy ;; esac
  args=(e2e "$flag" "$packages/$policy" --shapes "$shape" --steps 3 --warmup 2 --windows 1
        --prefill-max 0)
  timeout 120 "$carry/bin/resa-bench" "${args[@]}" --json "$OUT/$policy-wall.json" \
    > "$OUT/$policy-wall.log" 2>&1 || status=1
  timeout 200 ncu --clock-control none --nvtx --nvtx-include "$range/" --launch-count 6000 \
    --metrics gpu__time_duration.sum --csv --page raw \
    "$carry/bin/resa-bench" "${args[@]}" > "$OUT/$policy-ncu.csv" 2> "$OUT/$policy-ncu.log" ||
    status=1
  python3 bench/e2e/profile_report.py "$OUT/$policy-ncu.csv" "$OUT/$policy-wall.json" \
    --ranges "$ranges" --field "$field" --title "$policy $range $shape" |
    tee "$OUT/$policy-profile.md" || status=1
done
exit $status
