#!/usr/bin/env bash
# The step-3 measurement: KV drift of sparse decoding with and without ReSA's
# rectification, over 512 decode steps after a 1200-token prompt (75 blocks
# of 16: ReSA's budget max(16, ceil(0.1 M)) keeps 16 of 75..107 blocks, under
# a quarter), on the Llama test model. Writes bench/results/kv-drift.{json,md}.
# usage: bench/kv_drift.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
model="$root/test/fixtures/models/llama-eager-op18.onnx"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$build/bin/resa-compile" --quiet "$model" -o "$work/sparse.resa" --attention=sparse
"$build/bin/resa-compile" --quiet "$model" -o "$work/resa.resa" --attention=resa
mkdir -p "$root/bench/results"
{
  echo "# KV drift: sparse decoding vs ReSA (relative error of the cache against a dense recompute)"
  echo
  echo "Model: test/fixtures/models/llama-eager-op18.onnx (random weights), prompt 1200 tokens,"
  echo "512 teacher-forced decode steps (measured every 8), block 16, kept ratio 0.1, n_min 16, 1 local block,"
  echo "ReSA rectifying every 32 steps. Command: bench/kv_drift.sh"
  echo
  "$build/bin/resa-kv-drift" --json "$root/bench/results/kv-drift.json" \
    --prompt 1200 --steps 512 --every 8 "$work/sparse.resa" "$work/resa.resa"
} > "$root/bench/results/kv-drift.md"
cat "$root/bench/results/kv-drift.md"
