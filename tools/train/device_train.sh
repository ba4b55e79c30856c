#!/usr/bin/env bash
# One training round of the task model, for one call on the GPU machine
# (tools/train/README.md). Builds nothing; writes everything under $OUT:
#   $OUT/ckpt/{config.json,weights-*.safetensors,trainer_state.json}
#   $OUT/candidates.jsonl.gz   candidates sampled with the new checkpoint
#   $OUT/eval.json             pass@1, majority@4, GSR@4 on test problems
#   $OUT/log.txt               everything printed
# (7 files: the call brings back at most 8, 16 MiB each.)
#
#   bash tools/train/device_train.sh round1 [MINUTES]   # from scratch, synthetic candidates
#   bash tools/train/device_train.sh round2 [MINUTES]   # from .carry/ckpt + .carry/candidates.jsonl.gz
#   OUT=/tmp/smoke bash tools/train/device_train.sh smoke   # the CPU smoke test, tiny model
#
# MINUTES is the training time (default 5.5); sampling and evaluation take
# the rest of DEADLINE (default 530 s from the start; a call's limit is 600).
# IN (default .carry) is where round2 finds the previous round's files.
set -euo pipefail
: "${OUT:?set OUT to the output folder}"
MODE=${1:?round1, round2 or smoke}
IN=${IN:-.carry}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1

$PY -c 'import torch, transformers, tokenizers; print("torch", torch.__version__, "transformers",
transformers.__version__, "tokenizers", tokenizers.__version__, "cuda", torch.cuda.is_available())'

case "$MODE" in
  round1)
    $PY "$HERE/train.py" --out "$OUT/ckpt" --minutes "${2:-5.5}" --bindings 360:480 \
        --curriculum 0.5 --refine 0.3
    ;;
  round2)
    $PY "$HERE/train.py" --resume "$IN/ckpt" --pool "$IN/candidates.jsonl.gz" --out "$OUT/ckpt" \
        --minutes "${2:-5.5}" --bindings 360:480 --refine 0.5 --bootstrap 0.25 --lr 6e-4 \
        --warmup 100
    ;;
  smoke)
    # The whole pipeline at toy size on the CPU: data -> train -> sample ->
    # refine-train -> export -> onnxruntime vs torch.
    export OMP_NUM_THREADS=1
    tiny=(--preset tiny --bindings 12:16 --steps 5 --batch-tokens 2048 --workers 1 --buffer 16
          --threads 1 --eval-problems 4 --eval-bindings 14 --max-new-tokens 160 --log-every 20
          --warmup 10 --eval-every 0.25)
    $PY "$HERE/train.py" --out "$OUT/round1" --minutes "${2:-0.75}" "${tiny[@]}"
    $PY "$HERE/sample.py" --ckpt "$OUT/round1" --out "$OUT/candidates.jsonl.gz" --problems 16 \
        --bindings 14 --steps 5 --max-new-tokens 160 --threads 1 --batch-size 32
    $PY "$HERE/train.py" --resume "$OUT/round1" --pool "$OUT/candidates.jsonl.gz" \
        --out "$OUT/ckpt" --minutes "${2:-0.75}" --refine 0.5 "${tiny[@]}"
    $PY "$HERE/sample.py" --ckpt "$OUT/ckpt" --split test --problems 8 --bindings 14 --steps 5 \
        --max-new-tokens 160 --threads 1 --batch-size 32 --refine --summary "$OUT/eval.json"
    $PY "$HERE/export.py" --ckpt "$OUT/ckpt" --out "$OUT/bundle"
    ls -l "$OUT" "$OUT/ckpt" "$OUT/bundle"
    exit 0
    ;;
  *) echo "unknown mode $MODE (round1, round2 or smoke)"; exit 2 ;;
esac

# Candidates for the next round's refinement examples, then the evaluation,
# each cut short (between chunks) to end by DEADLINE seconds after the start.
DEADLINE=${DEADLINE:-530}
left() { local s=$(( DEADLINE - SECONDS - $1 )); echo $(( s > 1 ? s : 1 )); }
$PY "$HERE/sample.py" --ckpt "$OUT/ckpt" --out "$OUT/candidates.jsonl.gz" --problems 2048 \
    --bindings 400 --max-seconds "$(left 100)"
$PY "$HERE/sample.py" --ckpt "$OUT/ckpt" --split test --problems 128 --bindings 400 --refine \
    --chunk 64 --max-seconds "$(left 20)" --summary "$OUT/eval.json"

echo "== summary ($MODE)"
grep -E "^(eval|done)" "$OUT/log.txt" | tail -6
cat "$OUT/eval.json"
ls -l "$OUT" "$OUT/ckpt"
