#!/usr/bin/env bash
# One call on the GPU machine: build the CUDA kernels, their test and bench
# (standalone CMake: the machine has no protobuf/MLIR/GoogleTest), run the
# test, the bench (with the kernel variants), the SDPA peer, and the report.
# Everything lands in $OUT; the summary table is printed last.
#   OUT=/tmp/out bash bench/kernels/device_run.sh [bench args...]
set -u -o pipefail
OUT=${OUT:-/tmp/resa-out}
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw \
  --format=csv > "$OUT/run.log" 2>&1
t0=$(date +%s)
if ! { cmake -S bench/kernels/standalone -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release &&
       ninja -C build-cuda; } > "$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"; exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/run.log"
grep -E "registers|spill" "$OUT/build.log" | head -5
fn=_ZN4resa3gpu6detail23decodeAttentionTcKernelI13__nv_bfloat16Li128ELi32ELi2ELi4EEEvNS1_12DecodeParamsE
cuobjdump -sass -fun $fn build-cuda/kernels-cuda/libresa_kernels_cuda.a > "$OUT/sass.txt" 2>&1 || true
grep -oE '^ +/\*[0-9a-f]{4}\*/ +[A-Z0-9_.]+' "$OUT/sass.txt" | awk '{print $2}' | sort | uniq -c | sort -rn | head -30 | paste -sd' ' 

build-cuda/test-unit-cuda/resa-cuda-tests > "$OUT/test.log" 2>&1
test_rc=$?
grep -v '^PASS' "$OUT/test.log"
echo "test rc $test_rc: $(grep -c '^PASS' "$OUT/test.log") passed" | tee -a "$OUT/run.log"

build-cuda/bench-kernels/resa-bench-kernels --out "$OUT/resa.json" "$@" >> "$OUT/run.log" 2>&1 ||
  { echo "bench failed"; tail -20 "$OUT/run.log"; }
PYTHONUNBUFFERED=1 python3 bench/kernels/sdpa_peer.py --out "$OUT/sdpa.json" >> "$OUT/run.log" 2>&1 ||
  { echo "sdpa failed"; tail -20 "$OUT/run.log"; }
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv >> "$OUT/run.log" 2>&1
sed -n '/^variants:/,$p' "$OUT/run.log" | head -50
echo "total: $(( $(date +%s) - t0 )) s; test rc $test_rc"
python3 bench/kernels/report.py "$OUT/resa.json" "$OUT/sdpa.json" \
  --json "$OUT/kernels-decode.json" --md "$OUT/kernels-decode.md"
