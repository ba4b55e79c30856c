#!/usr/bin/env bash
# Where the prefill attention kernels spend a causal 32K launch: Nsight
# Compute's full section set (warp stall reasons, pipe utilisation, memory
# workload, source counters) on one causal 32K launch of each kernel
# (resa-bench-prefill --case causal_32k: its warm-up and timed launches; the
# profiled one is the fourth, after the caches and clocks settle). One call
# on the GPU machine, about 2 minutes; the reports land in $OUT as text.
#   OUT=/tmp/out bash bench/kernels/device_profile_prefill.sh
# The bench binary: $PREFILL_BENCH, default $carry/bin/resa-bench-prefill
# (bench/e2e/prepare_carry.sh), else build-cuda/bench-kernels/resa-bench-prefill
# (device_run_prefill.sh's standalone build).
source "$(dirname "$0")/../e2e/carry_env.sh"
bench=${PREFILL_BENCH:-$carry/bin/resa-bench-prefill}
[ -x "$bench" ] || bench=build-cuda/bench-kernels/resa-bench-prefill
[ -x "$bench" ] || { echo "no resa-bench-prefill (carry it or run device_run_prefill.sh)"; exit 1; }
status=0
for kernel in mma wgmma; do
  case $kernel in mma) name=prefillKernel ;; wgmma) name=prefillWgmmaKernel ;; esac
  timeout 240 ncu --set full --import-source yes --kernel-name "regex:$name" --launch-skip 3 \
    --launch-count 1 --page details --print-details all \
    "$bench" --kernel $kernel --case causal_32k > "$OUT/ncu-$kernel.txt" 2> "$OUT/ncu-$kernel.log" ||
    status=1
  # The lines to read first: throughput, occupancy, and the stall reasons.
  grep -E "SM Busy|Compute \(SM\) Throughput|Memory Throughput|L2 Hit|Achieved Occupancy|Registers Per|Issue Slots Busy|Stall|Warp Cycles Per Issued|Tensor|Executed Ipc" \
    "$OUT/ncu-$kernel.txt" | head -60 | sed "s/^/$kernel: /"
done
exit $status
