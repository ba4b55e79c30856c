#!/usr/bin/env bash
# One call on the GPU machine for ReSA's kernels: the CUDA tests (dense and
# block-sparse), resa-bench-kernels --sparse (ReSA step + dense, same run),
# the SDPA peer, and report_sparse.py. Everything lands in $OUT; the summary
# table is printed last.
#   OUT=/tmp/out bash bench/kernels/device_run_sparse.sh [bench args...]
# Uses the binaries in $BIN (default build-dev/bin; .carry/bin as
# bench/e2e/prepare_carry.sh makes it) when they run there (built on another
# machine and carried), else builds with the standalone CMake
# (bench/kernels/standalone).
set -u -o pipefail
OUT=${OUT:-/tmp/resa-out}
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw \
  --format=csv > "$OUT/run.log" 2>&1
t0=$(date +%s)
BIN=${BIN:-$PWD/build-dev/bin}
export LD_LIBRARY_PATH=$BIN:${LD_LIBRARY_PATH:-}
if ! "$BIN/resa-cuda-tests" --filter __none__ > /dev/null 2>&1; then
  echo "carried binaries do not run here: building" | tee -a "$OUT/run.log"
  if ! { cmake -S bench/kernels/standalone -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release &&
         ninja -C build-cuda; } > "$OUT/build.log" 2>&1; then
    tail -40 "$OUT/build.log"; exit 1
  fi
  mkdir -p build-cuda/bin
  cp build-cuda/test-unit-cuda/resa-cuda-tests build-cuda/bench-kernels/resa-bench-kernels build-cuda/bin/
  BIN=$PWD/build-cuda/bin
fi
echo "binaries ready: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/run.log"

timeout 300 "$BIN/resa-cuda-tests" > "$OUT/test.log" 2>&1
test_rc=$?
grep -v '^PASS' "$OUT/test.log"
grep -E '^PASS: (sparse|select|alldense|summaries)' "$OUT/test.log" | cut -c1-230
echo "test rc $test_rc: $(grep -c '^PASS' "$OUT/test.log") passed; $(( $(date +%s) - t0 )) s" | tee -a "$OUT/run.log"

timeout 240 "$BIN/resa-bench-kernels" --sparse --out "$OUT/resa.json" "$@" >> "$OUT/run.log" 2>&1 ||
  { echo "bench failed"; tail -20 "$OUT/run.log"; }
echo "bench done: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/run.log"
PYTHONUNBUFFERED=1 timeout 200 python3 bench/kernels/sdpa_peer.py --out "$OUT/sdpa.json" >> "$OUT/run.log" 2>&1 ||
  { echo "sdpa failed"; tail -20 "$OUT/run.log"; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv >> "$OUT/run.log" 2>&1
echo "total: $(( $(date +%s) - t0 )) s; test rc $test_rc"
sed -n '/^resa dense decode/,$p' "$OUT/run.log" | grep -v '^sdpa batch' | head -40
python3 bench/kernels/report_sparse.py "$OUT/resa.json" "$OUT/sdpa.json" \
  --json "$OUT/kernels-sparse.json" --md "$OUT/kernels-sparse.md"
