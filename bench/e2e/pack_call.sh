#!/usr/bin/env bash
# Packs what one call on the GPU machine needs into .carry/NAME, within the
# carry's limit: the programs named (from .carry/bin, which prepare_carry.sh
# fills) and the shared libraries they link that the GPU machine lacks
# (protobuf, ICU, CUPTI: from .carry/lib, only those some program needs) in
# NAME/bin.tar.xz, which carry_env.sh unpacks there; with E2E=1 the Llama
# shape's dense and ReSA packages (e2e-both.tar.xz, what device_ab.sh reads),
# with PACKAGES=1 the fixtures' bf16 packages (packages-cuda.tar.xz, for
# device_check.sh with REFERENCES=same), and with VARIANTS="a b" the A/B
# builds .carry/ab/a.tar.xz ... (pack_variant.sh) into NAME/ab/. Prints the
# carry's size beside the working tree's against the limit (the tree and the
# carried paths travel together: 66.9 MB was refused, 66.1 went), and fails
# past it. Then, e.g.:
#   bash bench/e2e/pack_call.sh c1 resa-cuda-layers-tests resa-device-check
#   (device) CARRY=.carry/c1 TESTS=resa-cuda-layers-tests REFERENCES=same bash bench/e2e/device_check.sh
#   carry: [".carry/c1"]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 NAME PROGRAM [PROGRAM ...]" >&2; exit 2; }
name=$1
shift
[[ $name =~ ^[A-Za-z0-9_-]+$ ]] || { echo "$0: NAME must be letters, digits, - or _" >&2; exit 2; }
root="$(cd "$(dirname "$0")/../.." && pwd)"
carry="$root/.carry"
out="$carry/$name"
limit=66100000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/lib"
for p in "$@"; do
  [ -x "$carry/bin/$p" ] || { echo "$0: no $carry/bin/$p (bench/e2e/prepare_carry.sh builds it)" >&2; exit 1; }
  cp "$carry/bin/$p" "$tmp/bin/"
  # The carried libraries this program links.
  for lib in $(ldd "$carry/bin/$p" | awk '{print $1}'); do
    [ -f "$carry/lib/$lib" ] && cp "$carry/lib/$lib" "$tmp/lib/"
  done
done
rm -rf "$out"
mkdir -p "$out"
tar -C "$tmp" -cf - bin lib | xz -T0 -9e > "$out/bin.tar.xz"
[ "${E2E:-0}" = 1 ] && cp "$carry/e2e-both.tar.xz" "$out/"
[ "${PACKAGES:-0}" = 1 ] && cp "$carry/packages-cuda.tar.xz" "$out/"
for v in ${VARIANTS:-}; do
  mkdir -p "$out/ab"
  cp "$carry/ab/$v.tar.xz" "$out/ab/"
done
# The working tree as it travels: tracked and untracked files git does not ignore.
tree=$(cd "$root" && git ls-files -z --cached --others --exclude-standard |
       xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
size=$(du -sb "$out" | awk '{print $1}')
total=$((tree + size))
echo "$out: $((size / 1000)) KB; with the tree ($((tree / 1000)) KB) $((total / 1000)) KB of ~$((limit / 1000)) KB"
du -sb "$out"/* | awk '{printf "  %8d KB  %s\n", $1 / 1000, $2}'
if [ "$total" -gt "$limit" ]; then
  echo "$0: over the carry's limit by $(((total - limit) / 1000)) KB: name fewer programs" >&2
  exit 1
fi
