#!/usr/bin/env python3
"""Shape-only models and random weights, on the CPU.

usage: shape_model_check.py BIN_DIR TOOLS_DIR

tools/build_shape_model.py's tiny preset (its weights external data that is never written)
compiled with resa-compile --weights=random:SEED, then:
  - without --weights=random the missing data stays an error;
  - the package holds no weight bytes (weights.safetensors is its header alone);
  - resa-run generates the same tokens and logits twice; another seed gives other logits;
  - the weights are the generator's: the same graph with its data written by an independent
    implementation of the recipe (below, numpy) compiles normally and gives the same logits;
  - --dtype bf16 records bf16 weights and stays close to float32.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnx

PROMPT = "1,2,3,4,5,6,7,8,9,10"
NEW_TOKENS = 6

# ---------------------------------------------------------------- the generator's recipe
# (kernels/include/resa/kernels/RandomWeights.h), in numpy's wrapping uint64 arithmetic.
U64 = np.uint64
GOLDEN = 0x9e3779b97f4a7c15
MASK = (1 << 64) - 1


def mix(z):
    z = (z ^ (z >> U64(30))) * U64(0xbf58476d1ce4e5b9)
    z = (z ^ (z >> U64(27))) * U64(0x94d049bb133111eb)
    return z ^ (z >> U64(31))


def mix_int(z):
    return int(mix(np.array([z], dtype=U64))[0])


def random_weight(seed, name, shape):
    """float32 values of weight `name` of `shape` under `seed`."""
    fnv = 0xcbf29ce484222325
    for b in name.encode():
        fnv = ((fnv ^ b) * 0x100000001b3) & MASK
    key = mix_int(fnv ^ mix_int((seed + GOLDEN) & MASK))
    if len(shape) >= 2:
        k = math.prod(shape) // shape[-1] if shape[-1] else 0
        bound, offset = (1 / math.sqrt(k) if k else 0.0), 0.0
    else:
        bound, offset = 0.1, 1.0
    step = float(np.float32(math.ldexp(bound, -24)))
    i = np.arange(1, math.prod(shape) + 1, dtype=U64)
    with np.errstate(over="ignore"):
        h = mix(U64(key) + i * U64(GOLDEN))
    m = (h >> U64(40)).astype(np.int64) * 2 + 1 - (1 << 24)
    # m * step is exact in float64 (24 + 24 bits), and so is adding 1: one rounding to float32,
    # as the fma does.
    return (m.astype(np.float64) * step + offset).astype(np.float32).reshape(shape)


# ---------------------------------------------------------------- helpers

def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def weights_header(pkg):
    with open(os.path.join(pkg, "weights.safetensors"), "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return 8 + n, json.loads(f.read(n))


def generate(bin_dir, pkg, work, tag):
    """Greedy tokens and the prompt's logits on the CPU."""
    logits = os.path.join(work, f"{tag}.npy")
    r = run([os.path.join(bin_dir, "resa-run"), pkg, "--device", "cpu", "--tokens", PROMPT,
             "--max-new-tokens", str(NEW_TOKENS), "--dump-logits", logits], check=True)
    return r.stdout.strip(), np.load(logits)


def main():
    bin_dir, tools = sys.argv[1], sys.argv[2]
    compile_ = os.path.join(bin_dir, "resa-compile")
    failures = []

    def check(ok, what):
        print(("PASS: " if ok else "FAIL: ") + what)
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory() as work:
        model = os.path.join(work, "tiny.onnx")
        subprocess.run([sys.executable, os.path.join(tools, "build_shape_model.py"), "tiny", model],
                       check=True)
        check(not os.path.exists(model + ".data"), "the weights file is not written")

        r = run([compile_, "--quiet", model, "-o", os.path.join(work, "read.resa")])
        check(r.returncode == 1 and "tiny.onnx.data" in r.stderr and "missing" in r.stderr,
              f"without --weights=random missing external data is an error ({r.stderr.strip()})")

        def compile_random(name, *flags):
            pkg = os.path.join(work, name)
            subprocess.run([compile_, "--quiet", model, "-o", pkg] + list(flags), check=True)
            return pkg

        pkg7 = compile_random("seed7.resa", "--weights=random:7")
        header_end, header = weights_header(pkg7)
        size = os.path.getsize(os.path.join(pkg7, "weights.safetensors"))
        declared = max(e["data_offsets"][1] for k, e in header.items() if k != "__metadata__")
        check(size == header_end and declared > 100000,
              f"the weights file is its header alone ({size} bytes, {declared} declared)")

        tokens7, logits7 = generate(bin_dir, pkg7, work, "seed7")
        again, logits_again = generate(bin_dir, pkg7, work, "seed7-again")
        check(tokens7 == again and np.array_equal(logits7, logits_again),
              f"two runs agree exactly (tokens {tokens7})")
        check(np.isfinite(logits7).all() and logits7.std() > 0.1,
              f"the logits are finite and spread (std {logits7.std():.3f})")

        _, logits8 = generate(bin_dir, compile_random("seed8.resa", "--weights=random:8"), work, "seed8")
        check(np.abs(logits8 - logits7).max() > 0.1,
              f"another seed gives other logits (max diff {np.abs(logits8 - logits7).max():.3f})")
        _, logits0 = generate(bin_dir, compile_random("seed0.resa", "--weights=random"), work, "seed0")
        check(not np.array_equal(logits0, logits7), "--weights=random takes seed 0")

        # The same graph with the generator's values as real data.
        m = onnx.load(model, load_external_data=False)
        with open(model + ".data", "wb") as f:
            for t in m.graph.initializer:
                if t.data_location != onnx.TensorProto.EXTERNAL:
                    continue
                ext = {e.key: e.value for e in t.external_data}
                data = random_weight(7, t.name, tuple(t.dims)).tobytes()
                assert len(data) == int(ext["length"])
                f.seek(int(ext["offset"]))
                f.write(data)
        real = os.path.join(work, "real.resa")
        subprocess.run([compile_, "--quiet", model, "-o", real], check=True)
        tokens_real, logits_real = generate(bin_dir, real, work, "real")
        check(tokens_real == tokens7 and np.array_equal(logits_real, logits7),
              "the random package equals the model with the recipe's weights written out "
              f"(max diff {np.abs(logits_real - logits7).max():.3g})")

        bf16 = compile_random("bf16.resa", "--weights=random:7", "--dtype", "bf16")
        _, header = weights_header(bf16)
        dtypes = {e["dtype"] for k, e in header.items() if k != "__metadata__"}
        _, logits_bf16 = generate(bin_dir, bf16, work, "bf16")
        rel = np.linalg.norm(logits_bf16 - logits7) / np.linalg.norm(logits7)
        check(dtypes == {"BF16"} and rel < 2e-2,
              f"--dtype bf16 records bf16 weights ({sorted(dtypes)}) within 2e-2 of float32 ({rel:.2g})")

    print(f"{len(failures)} failure(s)" if failures else "all shape-model checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
