#!/usr/bin/env bash
# Packs the benchmark programs of one build (a branch or a change to compare)
# for bench/e2e/device_ab.sh: builds resa-bench, resa-bench-kernels and the
# decode-attention / block-sparse kernel tests (resa-cuda-tests) in BUILD_DIR
# (a CUDA build, e.g. a worktree's build/) and writes them, stripped and
# xz-packed (~3 MB), to .carry/ab/NAME.tar.xz. The carry of the
# call then names .carry/ab beside .carry/bin.tar.xz (prepare_carry.sh).
#   bash bench/e2e/pack_variant.sh NAME BUILD_DIR
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 NAME BUILD_DIR" >&2; exit 2; }
name=$1
build=$(cd "$2" && pwd)
root="$(cd "$(dirname "$0")/../.." && pwd)"
[[ $name =~ ^[A-Za-z0-9_-]+$ ]] || { echo "$0: NAME must be letters, digits, - or _" >&2; exit 2; }
ninja -C "$build" resa-bench resa-bench-kernels resa-cuda-tests
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in resa-bench resa-bench-kernels resa-cuda-tests; do
  bin=$(find "$build" -name "$t" -type f -perm -u+x | head -1)
  [ -n "$bin" ] || { echo "$0: no $t in $build" >&2; exit 1; }
  cp "$bin" "$tmp/$t"
done
strip "$tmp"/*
mkdir -p "$root/.carry/ab"
tar -C "$tmp" -cf - resa-bench resa-bench-kernels resa-cuda-tests | xz -T0 -9 > "$root/.carry/ab/$name.tar.xz"
ls -la "$root/.carry/ab/$name.tar.xz"
