#!/usr/bin/env bash
# Installs what is missing, builds, then compiles a bundled model and runs it.
# Until the trained model lands (step 7), the bundled models are small test
# models with RANDOM weights: the tokens they produce mean nothing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
model="$RESA_ROOT/test/fixtures/models/llama-sdpa-op18.onnx"
pkg="$RESA_BUILD/demo/llama-sdpa-op18.resa"
mkdir -p "$(dirname "$pkg")"
echo "demo: the bundled model has random weights (a trained one comes with step 7)"
echo "demo: compiling $model with ReSA attention"
"$RESA_BUILD/bin/resa-compile" "$model" -o "$pkg" --attention=resa
echo "demo: greedy generation of 16 tokens after the prompt 1,2,3,4,5"
"$RESA_BUILD/bin/resa-run" "$pkg" --tokens 1,2,3,4,5 --max-new-tokens 16
