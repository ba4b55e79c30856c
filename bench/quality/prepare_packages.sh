#!/usr/bin/env bash
# Makes what bench/quality/device_quality.sh runs on, in $CARRY/quality/ (default .carry/):
# the dense, sparse (kept ratio 0.1, no rectification) and ReSA (kept ratio 0.1, dense
# rectification every 32 steps) packages of one exported task model, each with the GSR
# pipeline of tools/train/README.md, compiled here with the main build's resa-compile
# ($RESA_BUILD, default build/). The three differ only in plan.pb: their one weights file is
# kept once (quality/weights.safetensors; the device script links it into each package),
# beside the tokenizer (tokenizer.json and tokenizer_config.json).
#
#   bash bench/quality/prepare_packages.sh BUNDLE    # tools/train/export.py's folder: model.onnx,
#                                                    # tokenizer{,_config}.json, refine-template.txt
# BLOCK_SIZE (default 8: the bundled model's keys were trained for ReSA's selection over blocks
# of 8, tools/train/README.md) sets the sparse and ReSA packages' tokens per block.
# The resa-bench it runs is the CUDA build's (bench/e2e/prepare_carry.sh puts it in .carry/bin).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BUNDLE" >&2; exit 2; }
bundle=$1
root="$(cd "$(dirname "$0")/../.." && pwd)"
compiler="${RESA_BUILD:-$root/build}/bin"
out="${CARRY:-$root/.carry}/quality"
rm -rf "$out"
mkdir -p "$out"
block=(--resa-block-size="${BLOCK_SIZE:-8}")
for policy in dense sparse resa; do
  flags=()
  case $policy in
    sparse) flags=(--resa-kept-ratio=0.1 "${block[@]}") ;;
    resa) flags=(--resa-kept-ratio=0.1 --resa-rectify-every=32 "${block[@]}") ;;
  esac
  "$compiler/resa-compile" "$bundle/model.onnx" -o "$out/$policy" --quiet --attention=$policy \
    "${flags[@]}" --pipeline=gsr --gsr-candidates=4 --gsr-template="$bundle/refine-template.txt" \
    --gsr-answer='after:Answer:' --gsr-max-tokens=512
done
for policy in sparse resa; do
  cmp -s "$out/dense/weights.safetensors" "$out/$policy/weights.safetensors" ||
    { echo "$0: the $policy package's weights differ from the dense one's" >&2; exit 1; }
  rm "$out/$policy/weights.safetensors"
done
mv "$out/dense/weights.safetensors" "$out/weights.safetensors"
# tokenizer_config.json names </s> as EOS: without it no generation stops before the limit.
cp "$bundle/tokenizer.json" "$bundle/tokenizer_config.json" "$out/"
du -sh "$out"
