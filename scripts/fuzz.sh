#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz (clang, ASan + UBSan, into
# build-fuzz/) and runs each for SECONDS (default 60), after replaying its
# regression corpus (test/fuzz/regressions/<target>/). SECONDS=0 replays the
# regressions only. A crash leaves its input in build-fuzz/crashes/<target>/:
# fix the bug, then add the file to test/fuzz/regressions/<target>/.
#   scripts/fuzz.sh [SECONDS]
# Environment: RESA_FUZZ_BUILD (build folder), RESA_FUZZ_TARGETS (names, e.g.
# "package refine"; default all), RESA_BUILD (a main build whose resa-compile
# makes the package seeds; optional).
# Without clang and libFuzzer it prints a SKIPPED line and succeeds.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${RESA_FUZZ_BUILD:-$root/build-fuzz}"
main_build="${RESA_BUILD:-$root/build}"
all_targets=(onnx_import package tokenizer_json tokenizer_text refine)
read -r -a targets <<<"${RESA_FUZZ_TARGETS:-${all_targets[*]}}"
jobs="$(nproc 2>/dev/null || echo 2)"

probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' \
  >"$probe/p.cpp"
if ! command -v clang++ >/dev/null ||
  ! clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2>/dev/null; then
  echo "SKIPPED: fuzzing (no clang++ with libFuzzer; apt install clang libclang-rt-dev)"
  exit 0
fi

if [ ! -f "$build/build.ninja" ]; then
  compiler=ON
  [ -d /usr/lib/llvm-19/lib/cmake/mlir ] || compiler=OFF
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_C_FLAGS="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" \
    -DRESA_FUZZ=ON -DRESA_CUDA=OFF -DRESA_BUILD_TESTS=OFF -DRESA_BUILD_COMPILER=$compiler >/dev/null
fi
build_targets=()
for t in "${targets[@]}"; do
  if [ "$t" = onnx_import ] && ! grep -q "fuzz-onnx_import" "$build/build.ninja"; then
    echo "SKIPPED: fuzz-onnx_import (this build has no compiler: MLIR 19 not found)"
    continue
  fi
  build_targets+=("fuzz-$t")
done
start=$(date +%s)
cmake --build "$build" -j "$jobs" --target "${build_targets[@]}"
echo "fuzz: built ${build_targets[*]} in $(($(date +%s) - start)) s"

# Seeds too large to commit, made from the test fixtures.
seeds="$build/seeds"
if [ "$seconds" != 0 ] && [ ! -d "$seeds" ]; then
  args=()
  [ -x "$main_build/bin/resa-compile" ] && args=(--resa-compile "$main_build/bin/resa-compile")
  python3 "$root/test/fuzz/make_seeds.py" "$seeds.tmp" "${args[@]}" && mv "$seeds.tmp" "$seeds" ||
    echo "fuzz: warning: could not generate seeds (python3 with onnx needed); committed seeds only"
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
failed=()
for bt in "${build_targets[@]}"; do
  t="${bt#fuzz-}"
  bin="$build/fuzz/$bt"
  regressions="$root/test/fuzz/regressions/$t"
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    if "$bin" -runs=0 "$regressions"/* >"$build/$t-regressions.log" 2>&1; then
      echo "fuzz: $t: $(ls "$regressions" | wc -l) regression inputs pass"
    else
      echo "fuzz: $t: FAILED on a regression input (log: $build/$t-regressions.log)"
      tail -30 "$build/$t-regressions.log"
      failed+=("$t(regressions)")
      continue
    fi
  fi
  [ "$seconds" = 0 ] && continue
  work="$build/corpus/$t"
  crashes="$build/crashes/$t"
  mkdir -p "$work" "$crashes"
  dirs=("$work")
  [ -d "$root/test/fuzz/corpus/$t" ] && dirs+=("$root/test/fuzz/corpus/$t")
  [ -d "$seeds/$t" ] && dirs+=("$seeds/$t")
  log="$build/$t.log"
  if "$bin" "${dirs[@]}" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
    -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    echo "fuzz: $t: ${seconds} s, $runs executions, no crash"
  else
    echo "fuzz: $t: CRASH (log: $log; input in $crashes/)"
    grep -E "ERROR|runtime error|SUMMARY|terminate" "$log" | head -5 || true
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all passed"
