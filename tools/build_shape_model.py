#!/usr/bin/env python3
"""Write an ONNX decoder graph of a real model's shape whose weights are never written.

    python3 tools/build_shape_model.py PRESET OUT.onnx [--max-positions N]

The graph is tools/build_contrib_models.py's (the onnxruntime-genai builder's form:
SimplifiedLayerNormalization, MatMul projections, com.microsoft GroupQueryAttention with
do_rotary and cos/sin caches, SiLU MLP, lm_head), built for the preset's shape. Every float
initializer (the weights and the cos/sin caches) is external data in OUT.onnx.data with the
offsets and lengths it would have, but that file is not written: compile the model with
`resa-compile OUT.onnx -o PKG --weights=random[:SEED]`, and the runtime fills the weights with
seeded random values at load (on the GPU for the CUDA backend), so an 8B package holds no
weight bytes and never has to travel. The few small integer initializers (the attention-mask
arithmetic's constants) stay in the graph: the compiler folds them, so they need their values.

Presets:
  llama3-8b   32 layers, hidden 4096, 32 heads / 8 KV heads of 128, FFN 14336, vocab 128256
  qwen2.5-7b  28 layers, hidden 3584, 28 heads / 4 KV heads of 128, FFN 18944, vocab 152064,
              q/k/v biases
  tiny        2 layers, hidden 128, 4 heads / 2 KV heads of 64, FFN 384, vocab 512 (tests)
  wide        1 layer, hidden 1024, 8 heads / 2 KV heads of 128, FFN 1024, vocab 512 (tests: the
              CUDA backend's decode-step paths for K >= 1024, such as q/k/v in slices of K)
  wide-bias   wide with q/k/v biases

The 8B-class presets' rotary caches have 524288 rows (positions up to 512K: the long-context
benchmarks); --max-positions changes that. The caches are initializers like the weights, so
they get random values too: the outputs mean nothing, the time and the bytes moved are the
real model's. No weight array is made: an 8B graph takes well under a second and a few MB of
memory.
"""

import argparse
import dataclasses
import math
import os
import sys
import time

from onnx import TensorProto

from build_contrib_models import DecoderConfig, G, build, weight_shapes

PRESETS = {
    "llama3-8b": DecoderConfig(hidden=4096, layers=32, heads=32, kv_heads=8, head_dim=128, intermediate=14336,
                               vocab=128256, max_pos=524288, rope_theta=500000.0, eps=1e-5),
    "qwen2.5-7b": DecoderConfig(hidden=3584, layers=28, heads=28, kv_heads=4, head_dim=128, intermediate=18944,
                                vocab=152064, max_pos=524288, rope_theta=1000000.0, eps=1e-6, qkv_bias=True),
    "tiny": DecoderConfig(hidden=128, layers=2, heads=4, kv_heads=2, head_dim=64, intermediate=384, vocab=512,
                          max_pos=256),
    "wide": DecoderConfig(hidden=1024, layers=1, heads=8, kv_heads=2, head_dim=128, intermediate=1024, vocab=512,
                          max_pos=256),
}
PRESETS["wide-bias"] = dataclasses.replace(PRESETS["wide"], qkv_bias=True)
ALIGNMENT = 64  # where each tensor would start in the data file


class ShapeOnlyG(G):
    """Initializers given as a shape (a tuple) become float32 external data in `location`, laid
    out as a writer would lay them out; arrays (the integer constants) stay in the graph."""

    def __init__(self, location):
        super().__init__()
        self.location = location
        self.bytes = 0

    def init(self, name, arr):
        if not isinstance(arr, tuple):
            return super().init(name, arr)
        t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=arr,
                        data_location=TensorProto.EXTERNAL)
        offset = -(-self.bytes // ALIGNMENT) * ALIGNMENT
        length = 4 * math.prod(arr)
        for key, value in (("location", self.location), ("offset", offset), ("length", length)):
            t.external_data.add(key=key, value=str(value))
        self.bytes = offset + length
        self.inits.append(t)
        return name


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("preset", choices=sorted(PRESETS))
    ap.add_argument("out", help="the .onnx file to write (its weights: OUT.data, not written)")
    ap.add_argument("--max-positions", type=int, help="rows of the rotary caches (default: the preset's)")
    args = ap.parse_args()
    start = time.perf_counter()
    config = PRESETS[args.preset]
    if args.max_positions is not None:
        if args.max_positions < 1:
            sys.exit("--max-positions must be at least 1")
        config = dataclasses.replace(config, max_pos=args.max_positions)
    g = ShapeOnlyG(os.path.basename(args.out) + ".data")
    model = build(config, "gqa", weight_shapes(config), g=g,
                  graph_name=f"resa_shape_{args.preset.replace('-', '_').replace('.', '_')}",
                  producer="resa tools/build_shape_model.py")
    with open(args.out, "wb") as f:
        f.write(model.SerializeToString())
    print(f"{args.out}: {args.preset}, {len(model.graph.node)} nodes, {len(g.inits)} initializers, "
          f"{os.path.getsize(args.out)} bytes; weights {g.bytes / 2**30:.2f} GiB of float32 external data "
          f"(not written) ({time.perf_counter() - start:.2f} s)")


if __name__ == "__main__":
    main()
