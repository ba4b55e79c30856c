#!/usr/bin/env bash
# One call on the GPU machine (under 9 minutes, each part time-bounded): the
# end-to-end benchmark of issue 6. resa-bench e2e on the packages carried in
# .carry/e2e/ (dense/, sparse/, resa/: Llama-3-8B shape-only bf16 packages whose
# random weights are made on the device; any of the three may be missing),
# then the Hugging Face peer (hf_peer.py, eager and SDPA), then report.py.
# Everything lands in $OUT: run.log, resa.json, hf.json and the report
# e2e-DATE.{md,json,png}, to be copied to bench/results/.
#
# The carry (made on a development machine; the GPU machine has no protobuf):
#   .carry/bin/resa-bench      (ninja -C BUILD resa-bench, CUDA build, stripped)
#   .carry/lib/libprotobuf.so.32
#   .carry/e2e/{dense,sparse,resa}/ or .carry/e2e.tar.xz holding e2e/{dense,...}
#   or .carry/e2e-both.tar.xz holding e2e/ and e2e-qwen/ (pack_call.sh E2E=1)
#
#   OUT=/tmp/out bash bench/e2e/device_bench.sh
# Environment (defaults): SHAPES (the issue's shapes plus 8x131072, which the
# 8B shape's KV does not fit: reported skipped), GSR_FORK (4@16384: issue 7's GSR candidates against one
# sequence, resa-bench --gsr-fork; empty: none), PREFILL_MAX (32768),
# RESA_SECONDS (240: resa-bench starts no measurement after it; killed 50 s
# later), HF_SECONDS (140; killed 40 s later), CARRY (.carry), PACKAGES
# ($CARRY/e2e), QWEN_SHAPES (8x131072: the Qwen2.5-7B shape's packages in
# $CARRY/e2e-qwen, where they travelled, for the batch-8 128K target, whose KV
# the 8B shape's does not fit; empty: none; killed after 60 s). Worst case
# about 580 s.
source "$(dirname "$0")/carry_env.sh"
export PYTHONUNBUFFERED=1
shapes=${SHAPES:-1x4096,1x16384,1x65536,1x131072,1x262144,8x65536,8x131072}
gsr_fork=${GSR_FORK-4@16384}
prefill_max=${PREFILL_MAX:-32768}
resa_s=${RESA_SECONDS:-240}
hf_s=${HF_SECONDS:-140}
packages=${PACKAGES:-$carry/e2e}
t0=$(date +%s)
log() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$OUT/run.log"; }

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem \
  --format=csv > "$OUT/run.log" 2>&1
if [ ! -d "$packages" ] && [ -f "$packages.tar.xz" ]; then
  tar -C "$(dirname "$packages")" -xJf "$packages.tar.xz" || log "cannot unpack $packages.tar.xz"
elif [ ! -d "$carry/e2e" ] && [ -f "$carry/e2e-both.tar.xz" ]; then
  tar -C "$carry" -xJf "$carry/e2e-both.tar.xz" || log "cannot unpack $carry/e2e-both.tar.xz"
fi
flags=()
for policy in dense sparse resa; do
  dir=$packages/$policy
  [ -f "$dir/plan.pb" ] || { log "no $policy package in $packages"; continue; }
  case $policy in
    dense) flags+=(--package "$dir") ;;
    *) flags+=("--package-$policy" "$dir") ;;
  esac
done

gsr=()
[ -z "$gsr_fork" ] || gsr=(--gsr-fork "$gsr_fork")

status=0
if [ ${#flags[@]} -gt 0 ] && [ -x "$carry/bin/resa-bench" ]; then
  log "resa-bench e2e ${flags[*]} ${gsr[*]} --shapes $shapes"
  timeout -k 10 $(( resa_s + 50 )) "$carry/bin/resa-bench" e2e "${flags[@]}" "${gsr[@]}" \
    --shapes "$shapes" \
    --prefill-max "$prefill_max" --budget-seconds "$resa_s" --json "$OUT/resa.json" \
    >> "$OUT/run.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || status=1
  log "resa-bench: rc $rc"
else
  # Nothing to compare the peer with: stop before spending minutes on it.
  log "resa-bench not run: no packages in $packages or no $carry/bin/resa-bench"
  exit 1
fi

qwen=${QWEN_SHAPES-8x131072}
extra=()
qdir=$carry/e2e-qwen
if [ -n "$qwen" ] && [ -f "$qdir/dense/plan.pb" ] && [ -f "$qdir/sparse/plan.pb" ] &&
   [ -f "$qdir/resa/plan.pb" ]; then
  log "resa-bench e2e (Qwen2.5-7B shape) --shapes $qwen"
  timeout -k 10 60 "$carry/bin/resa-bench" e2e --package "$qdir/dense" \
    --package-sparse "$qdir/sparse" --package-resa "$qdir/resa" \
    --shapes "$qwen" --prefill-max 0 --budget-seconds 40 --json "$OUT/resa-qwen.json" \
    >> "$OUT/run.log" 2>&1
  rc=$?
  log "resa-bench (Qwen2.5-7B shape): rc $rc"
  if [ $rc -eq 0 ]; then extra=(--shape "Qwen2.5-7B=$OUT/resa-qwen.json"); else status=1; fi
fi

log "hf_peer.py --shapes $shapes"
timeout -k 10 $(( hf_s + 40 )) python3 bench/e2e/hf_peer.py --shapes "$shapes" \
  --prefill-max "$prefill_max" --budget-seconds "$hf_s" --json "$OUT/hf.json" >> "$OUT/run.log" 2>&1
rc=$?
[ $rc -eq 0 ] || status=1
log "hf_peer: rc $rc"
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv \
  >> "$OUT/run.log" 2>&1
rm -f "$OUT"/*.tmp # a JSON rewrite cut off by the timeout

if [ -f "$OUT/resa.json" ]; then
  hf=()
  [ -f "$OUT/hf.json" ] && hf=("$OUT/hf.json")
  timeout 30 python3 bench/e2e/report.py "$OUT/resa.json" "${hf[@]}" "${extra[@]}" --out-dir "$OUT" ||
    { status=1; log "report failed"; }
else
  log "no resa.json: no report"
  status=1
fi
log "done (status $status)"
exit $status
