#!/usr/bin/env bash
# Builds the compiler (ONNX importer, dialects, passes, resa-compile,
# resa-opt) and the tools its end-to-end tests drive, CPU only, with
# AddressSanitizer + UndefinedBehaviorSanitizer into build-sanitize-compiler/,
# and runs the compiler-facing tests under them: lit (every FileCheck test of
# resa-opt and resa-compile, the pass plugin included) and the end-to-end
# tests that compile every fixture model (e2e-*, decode-*, policy-*,
# e2e-external-data, e2e-bad-input, dtype-bf16-cpu, shape-model,
# gsr-pipeline), and the ONNX-import fuzz corpus replayed (scripts/fuzz.sh
# fuzzes it with clang; this is g++'s instrumentation). Any sanitizer report
# aborts the tool, which fails the test that ran it.
# Measured on 2 cores from an empty build folder (nice -n 10): about 3.3 min
# to build (7 min with another build sharing the cores), 1.6 min to run.
#   scripts/sanitize_compiler.sh [ctest args...]
# Environment: RESA_SANITIZE_COMPILER_BUILD (build folder).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${RESA_SANITIZE_COMPILER_BUILD:-$root/build-sanitize-compiler}"
jobs="$(nproc 2>/dev/null || echo 2)"

# -g1: line tables are enough for the reports' stacks and keep the
# MLIR-heavy objects small. (With the compiler, RESA_SANITIZE leaves out
# UBSan's vptr check: LLVM/MLIR and the pass plugin have no RTTI. The runtime
# keeps that check in scripts/sanitize.sh's build.)
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_C_FLAGS="-O1 -g1" -DCMAKE_CXX_FLAGS="-O1 -g1" \
    -DRESA_SANITIZE=ON -DRESA_BUILD_COMPILER=ON -DRESA_CUDA=OFF \
    -DPython3_EXECUTABLE="$(command -v python3)" >/dev/null
fi
start=$(date +%s)
cmake --build "$build" -j "$jobs" --target resa-compile resa-opt ResaSlidingWindowPolicy \
  resa-run resa-rectify-check resa-decode-check resa-device-check resa-gsr-check resa-capi-check \
  fuzz-replay-onnx_import
echo "sanitize-compiler: built in $(($(date +%s) - start)) s"

# abort_on_error in both: UBSan would otherwise exit with 1, which lit's
# `not resa-compile ...` and the bad-input checks take for the expected error;
# an abort fails them. (libstdc++'s containers are not annotated for ASan
# unless asked for, so the uninstrumented MLIR libraries need no
# detect_container_overflow=0. Leak detection stays on: it reports nothing,
# MLIR's global singletons being still reachable at exit.)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1}"
cd "$build"
tests='^(lit|e2e-.*|decode-.*|policy-.*|dtype-bf16-cpu|shape-model|gsr-pipeline|fuzz-replay-onnx_import)$'
start=$(date +%s)
ctest --output-on-failure -j "$jobs" -R "$tests" "$@"
echo "sanitize-compiler: tests ran in $(($(date +%s) - start)) s"
