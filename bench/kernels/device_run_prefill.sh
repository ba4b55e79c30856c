#!/usr/bin/env bash
# One call on the GPU machine for the prefill attention kernel: build with the
# standalone CMake, run resa-cuda-prefill-tests, resa-bench-prefill and the SDPA
# peer (prefill_peer.py). Everything lands in $OUT; the summary is printed last.
#   OUT=/tmp/out bash bench/kernels/device_run_prefill.sh
set -u -o pipefail
OUT=${OUT:-/tmp/resa-out}
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw \
  --format=csv > "$OUT/run.log" 2>&1
t0=$(date +%s)
if ! { cmake -S bench/kernels/standalone -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release &&
       ninja -C build-cuda resa-cuda-prefill-tests resa-bench-prefill; } > "$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"; exit 1
fi
echo "built: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/run.log"
timeout 150 build-cuda/test-unit-cuda/resa-cuda-prefill-tests > "$OUT/test.log" 2>&1
echo "test rc $?: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/run.log"
timeout 120 build-cuda/bench-kernels/resa-bench-prefill --out "$OUT/resa_prefill.json" \
  > "$OUT/bench.log" 2>&1 || echo "bench failed rc $?"
PYTHONUNBUFFERED=1 timeout 90 python3 bench/kernels/prefill_peer.py --out "$OUT/sdpa_prefill.json" \
  > "$OUT/sdpa.log" 2>&1 || echo "sdpa failed rc $?"
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv >> "$OUT/run.log" 2>&1
echo "total: $(( $(date +%s) - t0 )) s"
cut -c1-200 "$OUT/test.log"; cat "$OUT/bench.log" "$OUT/sdpa.log" | tail -30
