#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: lit (FileCheck),
# GoogleTest units, end-to-end comparisons with onnxruntime. Tests that need
# a GPU report themselves as skipped, by name, when there is none. Then a
# short fuzz run (scripts/fuzz.sh: its regression inputs, then
# RESA_FUZZ_SECONDS per target, default 10; 0 replays the regressions only),
# skipped with a visible line when clang with libFuzzer is not there. Then
# the runtime-only ASan+UBSan build and its tests (scripts/sanitize.sh), and
# last the compiler's ASan+UBSan build and its tests (lit and the end-to-end
# compiles: scripts/sanitize_compiler.sh).
# Measured on 2 cores: fuzz about 2.5 min to build, 1 min to run; sanitize
# about 2.7 min to build, 10 s to run; sanitize_compiler about 3.3 min to
# build, 1.6 min to run. Each is bounded.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$RESA_BUILD"
ctest --output-on-failure -j "$jobs" "$@"

# The steps after it are bounded so that none can push CI far: reaching a
# bound is reported with a SKIPPED line naming what was cut short, not
# failed (it says nothing about the code); any other failure fails the run.
bounded() { # seconds what command...
  local seconds=$1 what=$2 rc=0
  shift 2
  timeout "$seconds" "$@" || rc=$?
  if [ "$rc" = 124 ]; then
    echo "SKIPPED: the rest of $what (stopped at its $seconds s bound)"
  elif [ "$rc" != 0 ]; then
    exit "$rc"
  fi
}
bounded 330 "the fuzz run" env RESA_BUILD="$RESA_BUILD" "$RESA_ROOT/scripts/fuzz.sh" \
  "${RESA_FUZZ_SECONDS:-10}"
bounded 480 "the sanitizer run" "$RESA_ROOT/scripts/sanitize.sh"
bounded 840 "the compiler's sanitizer run" "$RESA_ROOT/scripts/sanitize_compiler.sh"
