#!/usr/bin/env python3
"""Derive the f16-weight test fixture from a float32 one, storing its weights as
tools/train/export.py --weights f16 stores the task model's.

How to run (needs numpy, onnx, onnxruntime; CPU only, a second):

    python3 tools/build_f16_weight_fixture.py test/fixtures/models

What it writes into the folder:
  llama-sdpa-f16w-op18.onnx     llama-sdpa-op18.onnx (tools/export_test_models.py: Hugging Face
                                Llama, torch.onnx.export(dynamo=True), opset 18, as export.py
                                exports the task model) with every float initializer of >= 1024
                                elements stored as float16 under the name <name>_f16 and read
                                through a Cast to float (node <name>_cast) whose output has the
                                old name; the Casts come first in the graph. Smaller initializers
                                (norm scales) stay float32. The graph computes in float32.
  llama-sdpa-f16w-op18.ref.npz  the source's input_ids [1, 7] and onnxruntime's logits for this
                                model.
  MANIFEST.json                 this model's entry is replaced; the other entries are kept.

Run it again after tools/export_test_models.py regenerates llama-sdpa-op18.
"""

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build_contrib_models import graph_ops, io_desc, merge_manifest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "train"))
from narrow_weights import MIN_CONVERTED, narrow_initializers  # noqa: E402

GENERATOR = "tools/build_f16_weight_fixture.py"
SOURCE = "llama-sdpa-op18"
NAME = "llama-sdpa-f16w-op18"
CHECK_SEED = 1234


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        print(__doc__)
        sys.exit(2)
    folder = sys.argv[1]
    mp = onnx.load(os.path.join(folder, SOURCE + ".onnx"))
    converted = narrow_initializers(mp, "f16")
    path = os.path.join(folder, NAME + ".onnx")
    onnx.save(mp, path)
    onnx.checker.check_model(path)

    source = ort.InferenceSession(os.path.join(folder, SOURCE + ".onnx"),
                                  providers=["CPUExecutionProvider"])
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ref_ids = np.load(os.path.join(folder, SOURCE + ".ref.npz"))["input_ids"]
    logits = sess.run(["logits"], {"input_ids": ref_ids})[0]
    np.savez(os.path.join(folder, NAME + ".ref.npz"), input_ids=ref_ids,
             logits=logits.astype(np.float32))
    # How far rounding the weights to f16 moves the logits (a sanity bound,
    # not a test: resa is compared with onnxruntime on this model itself).
    check = np.random.default_rng(CHECK_SEED).integers(0, logits.shape[-1], size=(2, 33),
                                                       dtype=np.int64)
    drift = max(float(np.abs(sess.run(["logits"], {"input_ids": ids})[0] -
                             source.run(["logits"], {"input_ids": ids})[0]).max())
                for ids in (ref_ids, check))
    print(f"{NAME}: {converted} initializers stored as f16, {os.path.getsize(path)} bytes; "
          f"max |logits - {SOURCE}'s| {drift:.3g}")

    with open(os.path.join(folder, "MANIFEST.json")) as f:
        src = next(m for m in json.load(f)["models"] if m["name"] == SOURCE)
    entry = dict(src)
    entry.update(
        name=NAME, file=NAME + ".onnx", ref=NAME + ".ref.npz", generator=GENERATOR,
        kind="f16-weights", derived_from=SOURCE,
        weights=dict(dtype="float16", min_elements=MIN_CONVERTED, converted_initializers=converted,
                     layout="initializer <name>_f16 -> Cast(to=FLOAT) node <name>_cast -> <name>",
                     as_in="tools/train/export.py --weights f16"),
        inputs=io_desc(mp.graph.input), outputs=io_desc(mp.graph.output),
        num_nodes=len(mp.graph.node), num_initializers=len(mp.graph.initializer),
        ops=[list(o) for o in graph_ops(mp)],
        size_bytes=os.path.getsize(path),
        max_abs_diff_vs_source_ort=drift,
    )
    entry.pop("max_abs_diff_torch_vs_ort", None)  # the source's export check, not this model's
    merge_manifest(folder, [entry], GENERATOR, extra=dict(
        versions=dict(onnx=onnx.__version__, onnxruntime=ort.__version__, numpy=np.__version__),
        source=SOURCE + ".onnx", check_seed=CHECK_SEED))


if __name__ == "__main__":
    main()
