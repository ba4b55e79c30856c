#!/usr/bin/env bash
# Where ReSA's block selection spends its time at batch 1, 256K (top-n: 20.7
# us a layer on 8 SMs; scoring: 21.5 us for a 15.9 us floor; bench/NOTES.md,
# session 13): Nsight Compute's full set on one launch of each kernel
# (resa-bench-kernels --sparse, after its warm-up), then the source page of
# each (SASS, with the warp-stall samples of every instruction): which
# instructions the warps wait at. One call on the GPU machine, about 2-3
# minutes; the reports land in $OUT as text.
#   OUT=/tmp/out bash bench/kernels/device_profile_select.sh
source "$(dirname "$0")/../e2e/carry_env.sh"
bench=$carry/bin/resa-bench-kernels
[ -x "$bench" ] || { echo "no $bench (bench/e2e/prepare_carry.sh)"; exit 1; }
status=0
for name in blockTopNKernel blockScoreKernel; do
  args=(--kernel-name "regex:$name" --launch-skip 10 --launch-count 1)
  timeout 240 ncu --set full --import-source yes "${args[@]}" --page details --print-details all \
    "$bench" --sparse --batches 1 --contexts 262144 > "$OUT/ncu-$name.txt" 2> "$OUT/ncu-$name.log" || status=1
  grep -E "Duration|Memory Throughput|Achieved Occupancy|Registers Per|Warp Cycles Per Issued|Stall|Issue Slots" \
    "$OUT/ncu-$name.txt" | head -30 | sed "s/^/$name: /"
  # Per-instruction samples: the hottest SASS lines first.
  timeout 240 ncu --set full --import-source yes "${args[@]}" --page source --print-source sass --csv \
    "$bench" --sparse --batches 1 --contexts 262144 > "$OUT/ncu-$name-source.csv" \
    2> "$OUT/ncu-$name-source.log" || status=1
done
exit $status
