#!/usr/bin/env bash
# Installs what resa needs (Debian packages, then PyPI packages for the tests
# and tools; clang with libFuzzer is for scripts/fuzz.sh) when it is missing,
# then configures and builds into build/.
# Idempotent: a second run installs nothing and rebuilds only what changed.
# Sourced by demo.sh and test.sh; not meant to be run alone.
set -euo pipefail

RESA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESA_BUILD="${RESA_BUILD:-$RESA_ROOT/build}"

APT_PACKAGES=(cmake g++ ninja-build llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools
  libzstd-dev libonnx-dev libprotobuf-dev protobuf-compiler libgtest-dev python3 python3-pip
  libicu-dev libsentencepiece-dev clang libclang-rt-dev)
PIP_PACKAGES=(numpy onnx onnxruntime tokenizers sentencepiece)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

missing=()
for p in "${PIP_PACKAGES[@]}"; do
  python3 -c "import $p" 2>/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing PyPI packages: ${missing[*]}"
  python3 -m pip install --quiet "${missing[@]}" 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages "${missing[@]}"
fi

jobs="$(nproc 2>/dev/null || echo 2)"
if [ ! -f "$RESA_BUILD/build.ninja" ]; then
  # The tests use the python3 on PATH, the one the packages went into.
  cmake -S "$RESA_ROOT" -B "$RESA_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DPython3_EXECUTABLE="$(command -v python3)"
fi
cmake --build "$RESA_BUILD" -j "$jobs"
