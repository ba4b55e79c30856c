# Sourced by the scripts that run on the GPU machine from the repository's
# root over binaries carried in .carry/ (bench/e2e/prepare_carry.sh): OUT
# made, the working directory the repository's root, `carry` the carried
# folder (CARRY, default .carry) with bin/ and lib/ unpacked from
# bin.tar.xz when they travelled packed, its libraries on the loader's path.
set -u -o pipefail
OUT=${OUT:-/tmp/resa-out}
mkdir -p "$OUT"
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
carry=${CARRY:-.carry}
export LD_LIBRARY_PATH=$PWD/$carry/lib:${LD_LIBRARY_PATH:-}
if [ ! -d "$carry/bin" ] && [ -f "$carry/bin.tar.xz" ]; then
  tar -C "$carry" -xJf "$carry/bin.tar.xz" || echo "cannot unpack $carry/bin.tar.xz" >&2
fi
