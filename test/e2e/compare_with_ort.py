#!/usr/bin/env python3
"""End-to-end check: compile an ONNX model with resa-compile, run it with
resa-run on token ids of several lengths and batch sizes, and compare the
logits with onnxruntime's on the same model (1e-4 absolute, DESIGN.md).

usage: compare_with_ort.py BIN_DIR MODEL.onnx [--lengths 1,7,33] [--batches 1,2]
                           [--external-data]
Also checks the committed reference logits (MODEL.ref.npz) when present.
--decode-check instead runs resa-decode-check on the compiled package: KV-cache
decoding against recomputation (greedy tokens and logits).
--external-data first re-saves the model with its weights in a separate file
(ONNX external data) and compiles that copy.
Prints one PASS/FAIL line per case; exits non-zero on any failure.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

TOL = 1e-4


def feeds_for(session, ids):
    """The inputs a caller gives a decoder besides input_ids, with no past."""
    batch, seq = ids.shape
    feeds = {}
    for inp in session.get_inputs():
        if inp.name == "input_ids":
            feeds[inp.name] = ids
        elif "attention_mask" in inp.name:
            feeds[inp.name] = np.ones((batch, seq), dtype=np.int64)
        elif "position_ids" in inp.name:
            feeds[inp.name] = np.tile(np.arange(seq, dtype=np.int64), (batch, 1))
        elif "past" in inp.name:
            shape = [batch if i == 0 else (0 if not isinstance(d, int) else d)
                     for i, d in enumerate(inp.shape)]
            feeds[inp.name] = np.zeros(shape, dtype=np.float32)
        else:
            raise SystemExit(f"cannot feed model input {inp.name}")
    return feeds


def resa_logits(bin_dir, package, ids, workdir):
    ids_path = os.path.join(workdir, "ids.npy")
    out_path = os.path.join(workdir, "logits.npy")
    np.save(ids_path, ids)
    # --device cpu: the exact path (auto would take CUDA's bf16 on a GPU machine).
    subprocess.run([os.path.join(bin_dir, "resa-run"), package, "--input-ids", ids_path,
                    "--max-new-tokens", "0", "--dump-logits", out_path, "--device", "cpu"], check=True)
    return np.load(out_path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("model")
    ap.add_argument("--lengths", default="1,7,33")
    ap.add_argument("--batches", default="1,2")
    ap.add_argument("--external-data", action="store_true")
    ap.add_argument("--decode-check", action="store_true")
    args = ap.parse_args()
    name = os.path.basename(args.model)
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        package = os.path.join(work, "model.resa")
        source = args.model
        if args.external_data:
            source = os.path.join(work, "external.onnx")
            onnx.save_model(onnx.load(args.model), source, save_as_external_data=True,
                            all_tensors_to_one_file=True, location="external.weights",
                            size_threshold=1024)
            name += " (external data)"
        subprocess.run([os.path.join(args.bin_dir, "resa-compile"), "--quiet", source,
                        "-o", package], check=True)
        if args.decode_check:
            return subprocess.run([os.path.join(args.bin_dir, "resa-decode-check"),
                                   package]).returncode
        session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
        vocab = session.get_outputs()[0].shape[-1]
        vocab = vocab if isinstance(vocab, int) else 100
        rng = np.random.default_rng(1234)
        cases = []
        ref = args.model[:-len(".onnx")] + ".ref.npz"
        if os.path.exists(ref):
            data = np.load(ref)
            cases.append(("committed", data["input_ids"], data["logits"]))
        for b in map(int, args.batches.split(",")):
            for s in map(int, args.lengths.split(",")):
                ids = rng.integers(0, vocab, size=(b, s), dtype=np.int64)
                expect = session.run(["logits"], feeds_for(session, ids))[0]
                cases.append((f"batch {b} seq {s}", ids, expect))
        for label, ids, expect in cases:
            got = resa_logits(args.bin_dir, package, ids, work)
            err = float(np.abs(got - expect).max()) if got.shape == expect.shape else float("inf")
            ok = err <= TOL and not np.isnan(got).any()
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'}: {name} {label}: max abs err {err:.2e}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
