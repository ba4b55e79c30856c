#!/usr/bin/env python3
"""Write a tiny decoder graph over the task model's vocabulary (that of
tools/train/tokenizer.json) whose weights are never written, for resa-bench quality's test:

    python3 bench/quality/tiny_task_model.py OUT.onnx

The graph is tools/build_shape_model.py's (tools/build_contrib_models.py's builder, float32
weights as external data that is not written): compile it with `resa-compile OUT.onnx -o PKG
--weights=random[:SEED]` and the runtime makes the weights at load. 2 layers, hidden 64, 4 heads
/ 2 KV heads of 16, FFN 128, 4096 positions. Its answers mean nothing; the test checks the
benchmark's mechanics.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))

from build_contrib_models import DecoderConfig, build, weight_shapes  # noqa: E402
from build_shape_model import ShapeOnlyG  # noqa: E402

TOKENIZER = os.path.join(HERE, "..", "..", "tools", "train", "tokenizer.json")


def vocab_size(path=TOKENIZER):
    """One more than the largest id, added tokens included (the model's embedding rows)."""
    with open(path, encoding="utf-8") as f:
        t = json.load(f)
    ids = list(t["model"]["vocab"].values()) + [a["id"] for a in t.get("added_tokens", [])]
    return max(ids) + 1


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    config = DecoderConfig(hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16, intermediate=128,
                           vocab=vocab_size(), max_pos=4096)
    g = ShapeOnlyG(os.path.basename(out) + ".data")
    model = build(config, "gqa", weight_shapes(config), g=g, graph_name="resa_tiny_task",
                  producer="resa bench/quality/tiny_task_model.py")
    with open(out, "wb") as f:
        f.write(model.SerializeToString())


if __name__ == "__main__":
    main()
