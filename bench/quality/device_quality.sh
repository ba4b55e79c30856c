#!/usr/bin/env bash
# One call on the GPU machine (under 9 minutes, time-bounded): issue 8's evaluation.
# resa-bench quality on the packages in $CARRY/quality/ (bench/quality/prepare_packages.sh)
# over the first COUNT held-out problems (tools/train/task.py --split test, made here), one
# process per GPU (--shard I/N: problem i on GPU i mod N), then report.py. Builds nothing.
# Everything lands in $OUT: run.log, problems.jsonl, shard-I.{json,log}, and the report
# quality-DATE.{md,json} (.png too where matplotlib is installed; otherwise run report.py on
# the shards on a machine that has it), to be copied to bench/results/.
#
# The carry (made on a development machine; the GPU machine has no protobuf):
#   .carry/bin/resa-bench    (the CUDA build's: bench/e2e/prepare_carry.sh)
#   .carry/lib/libprotobuf.so.32
#   .carry/quality/          (bench/quality/prepare_packages.sh BUNDLE)
#
#   OUT=/tmp/out bash bench/quality/device_quality.sh
# Environment (defaults): COUNT (500), SAMPLES (5), BATCH (16: problems decoded greedily as
# one batch), SEED (0), BUDGET (420: no chunk of BATCH problems starts that the last one's
# time says would end after it; each process is killed 60 s later), GPUS (every GPU that
# nvidia-smi lists), CARRY (.carry), DEVICE (cuda; cpu for a dry run elsewhere). Worst case
# about 500 s.
source "$(dirname "$0")/../e2e/carry_env.sh"
count=${COUNT:-500}
samples=${SAMPLES:-5}
batch=${BATCH:-16}
seed=${SEED:-0}
budget=${BUDGET:-420}
device=${DEVICE:-cuda}
packages=$carry/quality
t0=$(date +%s)
log() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$OUT/run.log"; }

nvidia-smi --query-gpu=index,name,driver_version,memory.total,clocks.max.sm \
  --format=csv > "$OUT/run.log" 2>&1
gpus=${GPUS:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')}
if [ "$gpus" -lt 1 ] || [ ! -x "$carry/bin/resa-bench" ]; then
  log "no GPU ($gpus) or no $carry/bin/resa-bench"
  exit 1
fi
for policy in dense sparse resa; do
  if [ ! -f "$packages/$policy/plan.pb" ]; then
    log "no $policy package in $packages (bench/quality/prepare_packages.sh)"
    exit 1
  fi
  [ -e "$packages/$policy/weights.safetensors" ] ||
    ln -s ../weights.safetensors "$packages/$policy/weights.safetensors"
done
python3 tools/train/task.py --split test --count "$count" --seed 0 > "$OUT/problems.jsonl" ||
  { log "task.py failed"; exit 1; }

log "resa-bench quality: $count problems on $gpus GPU(s), $samples samples, batch $batch, budget $budget s"
pids=()
for ((i = 0; i < gpus; i++)); do
  CUDA_VISIBLE_DEVICES=$i timeout -k 10 $(( budget + 60 )) "$carry/bin/resa-bench" quality \
    --problems "$OUT/problems.jsonl" --tokenizer "$packages/tokenizer.json" \
    --package-dense "$packages/dense" --package-sparse "$packages/sparse" \
    --package-resa "$packages/resa" --device "$device" --samples "$samples" --batch "$batch" \
    --seed "$seed" --shard "$i/$gpus" --budget-seconds "$budget" --json "$OUT/shard-$i.json" \
    > "$OUT/shard-$i.log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}"
  rc=$?
  [ $rc -eq 0 ] || status=1
  log "shard $i/$gpus: rc $rc, $(tail -n 1 "$OUT/shard-$i.log")"
done
nvidia-smi --query-gpu=index,clocks.sm,temperature.gpu,power.draw --format=csv >> "$OUT/run.log" 2>&1
rm -f "$OUT"/*.tmp # a JSON rewrite cut off by the timeout

shards=()
for ((i = 0; i < gpus; i++)); do
  [ -f "$OUT/shard-$i.json" ] && shards+=("$OUT/shard-$i.json")
done
if [ ${#shards[@]} -gt 0 ]; then
  timeout 60 python3 bench/quality/report.py "${shards[@]}" --out-dir "$OUT" >> "$OUT/run.log" 2>&1 ||
    { status=1; log "report failed"; }
else
  log "no shard JSON: no report"
  status=1
fi
log "done (status $status)"
exit $status
