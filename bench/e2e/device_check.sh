#!/usr/bin/env bash
# One call on the GPU machine: the CUDA kernel tests and the CUDA backend's
# end-to-end check over every fixture model, from binaries and packages built
# on a development machine (the GPU machine has no MLIR or protobuf) and
# carried in .carry/ (bench/e2e/prepare_carry.sh makes it). Logs land in $OUT;
# a summary is printed.
#   OUT=/tmp/out bash bench/e2e/device_check.sh [--sanitize memcheck:TEST racecheck:TEST ...]
source "$(dirname "$0")/carry_env.sh"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/run.log"
status=0
# TESTS overrides the kernel test programs to run ("" for none).
for t in ${TESTS-resa-cuda-ops-tests resa-cuda-layers-tests resa-cuda-generic-attention-tests
                resa-cuda-tests resa-cuda-prefill-tests resa-cuda-random-weights-tests}; do
  t0=$(date +%s)
  timeout 300 "$carry/bin/$t" > "$OUT/$t.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || status=1
  echo "$t: rc $rc, $(grep -c '^PASS' "$OUT/$t.log") passed, $(grep -c '^FAIL' "$OUT/$t.log")" \
       "failed ($(( $(date +%s) - t0 )) s)" | tee -a "$OUT/run.log"
  grep -E '^FAIL|error' "$OUT/$t.log" | head -15
done
packages=$(mktemp -d)
# The issue's figure (bf16 CUDA against the float32 package, strict), the
# same strict check of f16 packages (f16: CTest's device-e2e-f16), then what
# CTest's device-e2e checks (the backend against the same package);
# REFERENCES picks (default "f32 f16 same"; "same" alone when only the bf16
# packages travelled, .carry/packages-cuda.tar.xz).
if [ -f "$carry/packages.tar.xz" ]; then
  tar -C "$packages" -xJf "$carry/packages.tar.xz"
  references=${REFERENCES-f32 f16 same}
elif [ -f "$carry/packages-cuda.tar.xz" ]; then
  tar -C "$packages" -xJf "$carry/packages-cuda.tar.xz"
  references=${REFERENCES-same}
else
  echo "device-e2e: no $carry/packages.tar.xz or packages-cuda.tar.xz (bench/e2e/prepare_carry.sh)" |
    tee -a "$OUT/run.log"
  status=1
  references=
fi
for reference in $references; do
  t0=$(date +%s)
  case $reference in
    same) flags=(--reference same --tolerance 3e-2 --tie-margin 3e-2)
          what="bf16 packages against the same packages on the CPU" ;;
    f16) flags=(--reference f32 --dtype f16)
         what="f16 packages against the float32 packages on the CPU, strict" ;;
    f32) flags=(--reference f32)
         what="bf16 packages against the float32 packages on the CPU, strict" ;;
    *) echo "device_check.sh: unknown reference '$reference' in REFERENCES" | tee -a "$OUT/run.log"
       status=1
       continue ;;
  esac
  timeout 300 python3 test/e2e/device_check.py "$carry/bin" test/fixtures \
    --packages "$packages/packages" --run-only "${flags[@]}" \
    > "$OUT/device-e2e-$reference.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || status=1
  echo "device-e2e ($reference: $what): rc $rc ($(( $(date +%s) - t0 )) s)" |
    tee -a "$OUT/run.log"
  grep -E 'checks passed|failed:' "$OUT/device-e2e-$reference.log" | head -5
done
# --sanitize TOOL:TEST[,ARG...] ...: compute-sanitizer runs (bounded; rc 124 =
# cut off), e.g. memcheck:resa-cuda-tests,--filter,cascade.
if [ "${1:-}" = "--sanitize" ]; then
  shift
  for run in "$@"; do
    tool=${run%%:*}
    IFS=, read -r -a cmd <<< "${run#*:}"
    name=$(IFS=_; echo "${cmd[*]}" | tr -c 'A-Za-z0-9_.\n-' _)
    # API errors are off: the allocator tests provoke an out-of-memory on purpose.
    timeout 100 compute-sanitizer --tool "$tool" --report-api-errors no --error-exitcode 9 \
      "$carry/bin/${cmd[0]}" "${cmd[@]:1}" > "$OUT/$name.$tool.log" 2>&1
    echo "compute-sanitizer $tool ${cmd[*]}: rc $? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' \
      "$OUT/$name.$tool.log" | tail -1)" | tee -a "$OUT/run.log"
  done
fi
exit $status
