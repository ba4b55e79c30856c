#!/usr/bin/env bash
# Builds what bench/e2e/device_check.sh runs on the GPU machine into .carry/:
# the CUDA tests and resa-device-check (a CUDA build of the runtime, by
# default without the compiler in build-cuda/; RESA_CUDA_BUILD=build takes
# them from the main build instead, which has CUDA wherever nvcc is), the
# shared libraries they need that the GPU machine lacks, and the fixture
# packages compiled here (float32 for the CPU, bf16 and f16 for CUDA) with the
# compiler of the main build ($RESA_BUILD, default build/, as
# scripts/setup.sh makes it).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$root/${RESA_CUDA_BUILD:-build-cuda}"
compiler="${RESA_BUILD:-$root/build}/bin"
carry="$root/.carry"
[ -f "$build/build.ninja" ] ||
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRESA_CUDA=ON \
    -DRESA_BUILD_COMPILER=OFF >/dev/null
targets=(resa-cuda-ops-tests resa-cuda-layers-tests resa-cuda-generic-attention-tests
         resa-cuda-tests resa-cuda-prefill-tests resa-cuda-random-weights-tests resa-device-check
         resa-bench resa-bench-prefill resa-bench-gemm resa-bench-kernels)
ninja -C "$build" -j "$(nproc)" "${targets[@]}"
rm -rf "$carry/bin" "$carry/lib" "$carry/packages"
mkdir -p "$carry/bin" "$carry/lib"
for t in "${targets[@]}"; do
  find "$build" -name "$t" -type f -perm -u+x -exec cp {} "$carry/bin/" \;
done
strip "$carry"/bin/*
# The libraries the GPU machine lacks: protobuf, and ICU (the tokenizers' regex).
for lib in libprotobuf.so.32 libicuuc.so.72 libicudata.so.72; do
  cp -L "/lib/x86_64-linux-gnu/$lib" "$carry/lib/"
done
# CUPTI (resa-bench e2e --timeline), the version it was built against, where it linked it.
cupti=$(ldd "$carry/bin/resa-bench" | awk '/libcupti/ {print $3}')
[ -z "$cupti" ] || cp -L "$cupti" "$carry/lib/"
python3 "$root/test/e2e/device_check.py" "$compiler" "$root/test/fixtures" \
  --packages "$carry/packages" --compile-only
# f16 packages beside them (*.cuda-f16): the strict check the bf16 format fails
# on some models whatever the kernels do (bench/NOTES.md, session 23).
python3 "$root/test/e2e/device_check.py" "$compiler" "$root/test/fixtures" \
  --packages "$carry/packages" --compile-only --dtype f16
# The carry is limited to 64 MiB: the packages travel compressed, all of them
# (7 MB: xz -9e's 64 MB window finds the weights a model's exporter variants
# share; 19 MB at the default level) and the bf16 ones alone (1.5 MB: what
# device_check.sh's "same" reference needs, small enough to go beside a
# training checkpoint in every call).
tar -C "$carry" -cf - packages | xz -T0 -9e > "$carry/packages.tar.xz"
(cd "$carry" && tar -cf - packages/*.cuda | xz -T0 -9e > packages-cuda.tar.xz)
rm -rf "$carry/packages"
# bench/e2e/device_bench.sh's packages: the Llama-3-8B shape, bf16, weights
# made on the device (a few hundred KB each). Their prefill computes the last
# position's logits only (--prefill-logits=last), as Hugging Face's prefill
# does (logits_to_keep=1): the prefill timing compares like with like, with
# no [seq, 128K] projection and download (8 GB of fp32 logits at 16K tokens).
# The Qwen2.5-7B shape (4 KV heads) goes to e2e-qwen/: its KV cache is half
# the Llama shape's, so batch 8 at 128K fits in the H200 (60 GB of KV).
build_shape() { # model dir
  rm -rf "$carry/$2"
  python3 "$root/tools/build_shape_model.py" "$1" "$carry/$1.onnx"
  for policy in dense sparse resa; do
    "$compiler/resa-compile" "$carry/$1.onnx" -o "$carry/$2/$policy" --quiet \
      --attention=$policy --dtype=bf16 --weights=random --prefill-logits=last
  done
  rm -f "$carry/$1.onnx"
}
build_shape llama3-8b e2e
build_shape qwen2.5-7b e2e-qwen
# bin/ and lib/ travel packed (about 13 MB instead of 90; -9e: its 64 MB
# window finds what the binaries share, 2.6 MB less than -6, which matters
# under the carry's 64 MiB beside a 47 MB tree; carry_env.sh unpacks them
# there): carry .carry/bin.tar.xz, .carry/packages.tar.xz (or
# .carry/packages-cuda.tar.xz), .carry/e2e and .carry/e2e-qwen.
tar -C "$carry" -cf - bin lib | xz -T0 -9e > "$carry/bin.tar.xz"
du -sh "$carry"/*
