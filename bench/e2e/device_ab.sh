#!/usr/bin/env bash
# A/B of resa-bench e2e between builds in ONE call on the GPU machine, the
# runs alternated (A B A B ...), so that what differs between machines and
# calls (dense 1x16K moves ~0.1 ms between calls, ~0.01 within one:
# bench/NOTES.md) stays out of the comparison. Variant "bin" is the carried
# .carry/bin (prepare_carry.sh); every other name is .carry/ab/NAME.tar.xz
# (pack_variant.sh); NAME+K=V[+K2=V2] runs NAME's programs with those
# environment variables set (an env-gated experiment against its own build:
# the same source from two build folders differs by up to ~15 us a step).
# Prints each run's decode lines; the logs go to
# $OUT/ab-logs.tgz (one file: what comes back from a call is counted in files).
# Environment: VARIANTS (names, default "bin"), ROUNDS (2), SHAPES
# (1x4096,1x16384), PACKAGES (the package flags of resa-bench e2e, paths
# under $carry; default the Llama shape's dense and ReSA), KERNELS (non-empty:
# also `resa-bench-kernels $KERNELS` per variant and round), EXTRA (more
# resa-bench e2e flags).
#   OUT=/tmp/out VARIANTS="bin topn" SHAPES=1x262144 bash bench/e2e/device_ab.sh
#   OUT=/tmp/out VARIANTS="bin bin+RESA_SCORE_CARVEOUT=100" bash bench/e2e/device_ab.sh
source "$(dirname "$0")/carry_env.sh"
variants=${VARIANTS:-bin}
rounds=${ROUNDS:-2}
shapes=${SHAPES:-1x4096,1x16384}
packages=${PACKAGES:---package $carry/e2e/dense --package-resa $carry/e2e/resa}
[ -d "$carry/e2e/dense" ] || tar -C "$carry" -xJf "$carry/e2e-both.tar.xz"
dirOf() { # variant -> the folder holding its programs
  if [ "$1" = bin ]; then echo "$carry/bin"; return; fi
  if [ ! -x "$carry/v/$1/resa-bench" ]; then
    mkdir -p "$carry/v/$1" && tar -C "$carry/v/$1" -xJf "$carry/ab/$1.tar.xz"
  fi
  echo "$carry/v/$1"
}
logs=$(mktemp -d)
status=0
for r in $(seq 1 "$rounds"); do
  for v in $variants; do
    d=$(dirOf "${v%%+*}")
    envs=()
    [ "$v" = "${v%%+*}" ] || IFS=+ read -r -a envs <<< "${v#*+}"
    name=${v//[^A-Za-z0-9_.-]/_}
    log="$logs/e2e-$name-$r.log"
    # shellcheck disable=SC2086
    env "${envs[@]}" timeout 300 "$d/resa-bench" e2e $packages --shapes "$shapes" --prefill-max 0 \
      --windows 2 ${EXTRA:-} > "$log" 2>&1
    rc=$?
    [ $rc -eq 0 ] || status=1
    echo "== $v round $r (rc $rc)"
    grep -h "decode [0-9]*x" "$log" | sed -E 's/ \(p10.*\)//'
    if [ -n "${KERNELS:-}" ]; then
      # shellcheck disable=SC2086
      env "${envs[@]}" timeout 200 "$d/resa-bench-kernels" $KERNELS > "$logs/kernels-$name-$r.log" \
        2>&1 || status=1
    fi
  done
done
tar -C "$logs" -czf "$OUT/ab-logs.tgz" . && rm -rf "$logs"
exit $status
