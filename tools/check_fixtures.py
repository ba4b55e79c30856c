#!/usr/bin/env python3
"""Re-run every fixture model in onnxruntime (CPU) and compare with its .ref.npz.

How to run (needs numpy, onnx, onnxruntime):

    python3 tools/check_fixtures.py [test/fixtures/models] [--tol 1e-4]

Reads MANIFEST.json in that folder; for each model feeds the inputs stored in
<name>.ref.npz (and, where present, the "decode." step) and checks every stored output.
Also checks that each model file is under 1 MB and the folder under 20 MB. Writes nothing;
exits 1 on any mismatch.
"""

import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "test", "fixtures",
                                                               "models"))
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()
    with open(os.path.join(args.folder, "MANIFEST.json")) as f:
        man = json.load(f)
    bad = 0
    so = ort.SessionOptions()
    so.log_severity_level = 3
    for m in man["models"]:
        path = os.path.join(args.folder, m["file"])
        ref = dict(np.load(os.path.join(args.folder, m["ref"])))
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        in_names = [i.name for i in sess.get_inputs()]
        out_names = [o.name for o in sess.get_outputs()]
        worst = 0.0
        for prefix in ("", "decode."):
            if prefix + in_names[0] not in ref:
                continue
            outs = sess.run(out_names, {n: ref[prefix + n] for n in in_names})
            for n, v in zip(out_names, outs):
                if prefix + n in ref:
                    worst = max(worst, float(np.abs(v - ref[prefix + n]).max()))
        size = os.path.getsize(path)
        ok = worst <= args.tol and size < 1 << 20
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} {m['name']:28s} {size:8d} B  max|diff| {worst:.3g}")
    total = sum(os.path.getsize(os.path.join(args.folder, f)) for f in os.listdir(args.folder))
    print(f"{len(man['models'])} models, folder {total / 2**20:.1f} MiB")
    if total >= 20 << 20:
        bad += 1
        print("BAD: folder over 20 MiB")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
