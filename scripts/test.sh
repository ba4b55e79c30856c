#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: lit (FileCheck),
# GoogleTest units, end-to-end comparisons with onnxruntime. Tests that need
# a GPU report themselves as skipped, by name, when there is none.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$RESA_BUILD"
ctest --output-on-failure -j "$jobs" "$@"
