#!/usr/bin/env python3
"""A model that stores its weights in f16 and reads each through a Cast to float
(tools/train/export.py --weights f16; the fixture llama-sdpa-f16w-op18, made from
llama-sdpa-op18 by tools/build_f16_weight_fixture.py), compiled with --attention=dense:

  - the lowered plan calls exactly the kernels the float32 source's plan calls (resa.embedding,
    resa.projection_add_rms_norm, resa.logits... raised alike), and no Cast of a weight;
  - the package stores those weights as f16 (half the source package's weight bytes);
  - its logits equal onnxruntime's on the f16 model (1e-4, the runtime widens them exactly);
  - --dtype f32 / f16 / bf16 store them in that type: f32 and f16 give the same logits,
    bf16 stays within 2e-2 of the largest logit.

usage: stored_weights_check.py BIN_DIR MODELS_DIR
Prints one PASS/FAIL line per check; exits non-zero on any failure.
"""
import collections
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_with_ort import TOL, feeds_for, resa_logits  # noqa: E402

MODEL = "llama-sdpa-f16w-op18.onnx"
SOURCE = "llama-sdpa-op18.onnx"
# bf16 keeps 8 bits of the f16 weights' 11: the logits of these small random
# models move by about 1e-2 of their largest magnitude (device_check.py's
# strict bf16 figure is 2e-2, relative).
BF16_REL_TOL = 2e-2

failures = 0


def report(ok, what):
    global failures
    failures += not ok
    print(f"{'PASS' if ok else 'FAIL'}: {MODEL}: {what}")


def kernel_calls(bin_dir, model):
    lowered = subprocess.run([os.path.join(bin_dir, "resa-compile"), "--quiet", model,
                              "--attention=dense", "--emit=lowered"],
                             check=True, capture_output=True, text=True).stdout
    return collections.Counter(re.findall(r'resa\.kernel_call "([^"]+)"', lowered))


def weight_dtypes(pkg):
    with open(os.path.join(pkg, "weights.safetensors"), "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return {k: v["dtype"] for k, v in header.items() if k != "__metadata__"}


def main():
    bin_dir, models = sys.argv[1], sys.argv[2]
    model, source = os.path.join(models, MODEL), os.path.join(models, SOURCE)

    got, want = kernel_calls(bin_dir, model), kernel_calls(bin_dir, source)
    raised = all(got[k] > 0 for k in ("resa.embedding", "resa.projection_add_rms_norm",
                                      "resa.logits", "resa.rms_norm"))
    report(got == want and raised,
           f"plan calls the float32 export's kernels ({got['resa.projection_add_rms_norm']} "
           f"resa.projection_add_rms_norm, {got['Cast']} Cast; "
           f"differences {dict((got - want) + (want - got)) or 'none'})")

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1234)
    cases = [rng.integers(0, 300, size=shape, dtype=np.int64) for shape in ((1, 1), (2, 33))]
    expect = [session.run(["logits"], feeds_for(session, ids))[0] for ids in cases]
    with tempfile.TemporaryDirectory() as work:
        def compile_(name, src, *flags):
            pkg = os.path.join(work, name + ".resa")
            subprocess.run([os.path.join(bin_dir, "resa-compile"), "--quiet", src, "-o", pkg,
                            "--attention=dense"] + list(flags), check=True)
            return pkg

        source_bytes = os.path.getsize(os.path.join(compile_("source", source),
                                                    "weights.safetensors"))
        scale = max(float(np.abs(e).max()) for e in expect)
        for dtype, stored, tol in ((None, "F16", TOL), ("f32", "F32", TOL), ("f16", "F16", TOL),
                                   ("bf16", "BF16", BF16_REL_TOL * scale)):
            flags = [f"--dtype={dtype}"] if dtype else []
            label = " ".join(flags) or "no --dtype"
            pkg = compile_(dtype or "default", model, *flags)
            dtypes = weight_dtypes(pkg)
            report(bool(dtypes) and set(dtypes.values()) == {stored},
                   f"{label}: weights stored as {stored} ({collections.Counter(dtypes.values())})")
            if dtype is None:
                size = os.path.getsize(os.path.join(pkg, "weights.safetensors"))
                report(size < 0.55 * source_bytes,
                       f"{label}: {size} weight bytes, float32 source {source_bytes}")
            err = max(float(np.abs(resa_logits(bin_dir, pkg, ids, work) - e).max())
                      for ids, e in zip(cases, expect))
            report(err <= tol, f"{label}: logits vs onnxruntime max abs err {err:.2e} "
                               f"(tolerance {tol:.2g}; largest logit {scale:.3g})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
