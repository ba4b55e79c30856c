#!/usr/bin/env bash
# Installs what is missing, builds, then compiles the bundled task model with
# ReSA attention and the GSR pipeline and solves the default problem (the
# task's test problem 0: 800 bindings, 4K tokens): 4 candidates decoded as one
# batch sharing the problem's KV pages, then one refinement; prints each
# candidate's answer, the refinement and the final answer against the known
# one. Runs on the GPU when there is one (resa-run --device auto), else on the
# CPU (a few minutes on 2 cores).
#   bash scripts/demo.sh [PROBLEM_INDEX]
# Environment: RESA_DEMO_MODEL (default models/task: model.onnx + tokenizer).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
bundle="${RESA_DEMO_MODEL:-$RESA_ROOT/models/task}"
if [ ! -f "$bundle/model.onnx" ]; then
  # Until the trained model is bundled (step 7, tools/train/README.md): a
  # small test model with RANDOM weights, whose tokens mean nothing.
  model="$RESA_ROOT/test/fixtures/models/llama-sdpa-op18.onnx"
  pkg="$RESA_BUILD/demo/llama-sdpa-op18.resa"
  mkdir -p "$(dirname "$pkg")"
  echo "demo: no trained model in $bundle yet: running a test model with random weights instead"
  echo "demo: compiling $model with ReSA attention"
  "$RESA_BUILD/bin/resa-compile" "$model" -o "$pkg" --attention=resa
  echo "demo: greedy generation of 16 tokens after the prompt 1,2,3,4,5"
  "$RESA_BUILD/bin/resa-run" "$pkg" --tokens 1,2,3,4,5 --max-new-tokens 16
  exit 0
fi
index="${1:-0}"
work="$RESA_BUILD/demo"
mkdir -p "$work"
python3 "$RESA_ROOT/tools/train/task.py" --split test --count 1 --seed "$index" > "$work/problem.json"
python3 -c 'import json, sys; open(sys.argv[2], "w").write(json.load(open(sys.argv[1]))["problem"])' \
  "$work/problem.json" "$work/problem.txt"
echo "demo: compiling $bundle/model.onnx (ReSA attention, GSR pipeline: 4 candidates + refinement)"
# Blocks of 8 tokens: the bundled model's keys were trained for ReSA's selection
# over blocks of 8 (tools/train/README.md; with blocks of 16 its lookups fail).
"$RESA_BUILD/bin/resa-compile" "$bundle/model.onnx" -o "$work/task.resa" --quiet \
  --attention=resa --resa-block-size=8 --pipeline=gsr --gsr-candidates=4 --gsr-max-tokens=512 \
  --gsr-temperature=0.5 --gsr-answer='after:Answer:' --gsr-template="$bundle/refine-template.txt"
echo "demo: solving test problem $index ($(wc -c < "$work/problem.txt") characters of bindings and program)"
# The problem as the model was trained on it, its final newline kept ($(cat)
# would drop it).
prompt="$(cat "$work/problem.txt"; echo .)"
"$RESA_BUILD/bin/resa-run" "$work/task.resa" --tokenizer "$bundle" --prompt "${prompt%.}" \
  --json > "$work/result.json"
python3 "$RESA_ROOT/scripts/demo_print.py" "$work/result.json" "$work/problem.json"
