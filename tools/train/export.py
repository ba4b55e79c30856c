#!/usr/bin/env python3
"""Exports a checkpoint to ONNX and bundles it with its tokenizer and the
refinement template into one folder:

    python3 tools/train/export.py --ckpt CKPT --out models/task [--weights f16]

    OUT/model.onnx              input_ids int64 [batch, sequence_length] ->
                                logits float32 [batch, sequence_length, vocab];
                                torch.onnx.export(dynamo=True), opset 18, no KV
                                cache, as tools/export_test_models.py exports
                                the test fixtures (same wrapper and settings,
                                its strip_metadata)
    OUT/tokenizer.json, OUT/tokenizer_config.json   (tools/train/)
    OUT/refine-template.txt     (data/gsr/refine-template.txt)
    OUT/MANIFEST.json           config, parameters, training state, export
                                settings, torch-vs-onnxruntime check

--weights f16 (default) or bf16 stores each float initializer of >= 1024
elements in that type, followed by a Cast to float, so that the model fits
in 25 MB (the checkpoint is bf16: f16 holds its values exactly except below
6e-5 in magnitude); f32 keeps float initializers (about 46 MB for the base
preset). The graph computes in float32 either way. The export is checked in
onnxruntime against torch (same weights) on a task prompt and on a random
batch of two.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import data  # noqa: E402
import gsr_format  # noqa: E402
import model as M  # noqa: E402
from export_test_models import strip_metadata  # noqa: E402
from narrow_weights import MIN_CONVERTED, narrow_initializers  # noqa: E402

OPSET = 18
# torch and onnxruntime both compute in fp32 but in different orders: their
# logits differ by a few ulps of the largest ones (round 8's reach 32, its
# attention logits ~70). The bound is relative to the largest |logit| (at
# least 1).
TOL = 1e-4
TORCH_TYPES = {"f16": torch.float16, "bf16": torch.bfloat16}


class Logits(torch.nn.Module):
    """input_ids -> logits; HF derives position_ids [1, seq] itself."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m(input_ids=input_ids, use_cache=False).logits


def export(net, path, weights):
    import onnx
    wrapper = Logits(net).eval()
    example = torch.randint(3, net.config.vocab_size, (3, 11))
    dyn = {"input_ids": {0: "batch", 1: "sequence_length"}}
    for optimize in (True, False):
        try:
            with torch.no_grad():
                torch.onnx.export(wrapper, (example,), path, dynamo=True, opset_version=OPSET,
                                  input_names=["input_ids"], output_names=["logits"],
                                  dynamic_shapes=dyn, optimize=optimize, external_data=False,
                                  verify=False, report=False)
            break
        except Exception as e:  # noqa: BLE001 - the unoptimized export is the fallback
            if not optimize:
                raise
            print(f"export with optimize=True failed ({type(e).__name__}: {e}); "
                  f"retrying with optimize=False", flush=True)
    mp = onnx.load(path)
    strip_metadata(mp)
    converted = narrow_initializers(mp, weights) if weights != "f32" else 0
    onnx.save(mp, path)
    onnx.checker.check_model(path)
    return dict(exporter="torch.onnx.export(dynamo=True)", opset_version=OPSET,
                optimize=optimize, dynamic_shapes="{input_ids: {0: 'batch', 1: 'sequence_length'}}",
                use_cache=False, wrapper="input_ids -> model(input_ids, use_cache=False).logits",
                weights=weights, converted_initializers=converted)


def check(net, path, weights, tok):
    """{input: (max |torch - onnxruntime|, max(1, max |torch|))} over a task
    prompt and a random batch, torch running the weights as stored in the
    ONNX file."""
    import onnxruntime as ort
    ref = M.create(net.config, attn="sdpa")
    ref.load_state_dict(net.state_dict())
    if weights != "f32":
        with torch.no_grad():
            for p in ref.parameters():
                if p.numel() >= MIN_CONVERTED:
                    p.copy_(p.to(TORCH_TYPES[weights]).float())
    ref.eval()
    e = data.problem("test", 0, 16, 6)
    prompt = torch.tensor([data.prompt_ids(tok, e["problem"])])
    rand = torch.randint(0, net.config.vocab_size, (2, 37), generator=torch.Generator().manual_seed(5))
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    diffs = {}
    for name, ids in (("task_prompt", prompt), ("random_2x37", rand)):
        with torch.no_grad():
            want = ref(input_ids=ids, use_cache=False).logits.float().numpy()
        got = sess.run(["logits"], {"input_ids": ids.numpy()})[0]
        diffs[name] = (float(np.abs(got - want).max()), max(1.0, float(np.abs(want).max())))
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True, help="bundle folder")
    ap.add_argument("--weights", default="f16", choices=["f16", "bf16", "f32"])
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    ap.add_argument("--max-bytes", type=int, default=25_000_000,
                    help="fail when model.onnx is larger")
    args = ap.parse_args()
    torch.set_num_threads(1)
    net, state, _ = M.load(args.ckpt, attn=args.attn)
    net.eval()
    tok = data.TaskTokenizer()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "model.onnx")
    settings = export(net, path, args.weights)
    size = os.path.getsize(path)
    diffs = check(net, path, args.weights, tok)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(HERE, name), os.path.join(args.out, name))
    shutil.copyfile(gsr_format.TEMPLATE_PATH, os.path.join(args.out, "refine-template.txt"))
    manifest = dict(
        model="model.onnx", size_bytes=size, parameters=M.parameter_count(net),
        config=json.loads(net.config.to_json_string()), attn_implementation=args.attn,
        export=settings, max_abs_diff_torch_vs_onnxruntime={k: d for k, (d, _) in diffs.items()},
        max_abs_logit={k: m for k, (_, m) in diffs.items()},
        training={k: state[k] for k in ("step", "tokens", "target_tokens", "seconds", "rounds",
                                        "evals") if k in state},
        tokenizer="tokenizer.json (tools/train/build_tokenizer.py)",
        refine_template="refine-template.txt (data/gsr/refine-template.txt)",
        answer="after:Answer:")
    with open(os.path.join(args.out, "MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(json.dumps(dict(model=path, size_bytes=size, weights=args.weights,
                          max_abs_diff_torch_vs_onnxruntime=manifest[
                              "max_abs_diff_torch_vs_onnxruntime"],
                          max_abs_logit=manifest["max_abs_logit"]), indent=1))
    bad = [k for k, (d, m) in diffs.items() if not d <= TOL * m]
    if bad:
        sys.exit(f"export: onnxruntime and torch disagree on {bad} (> {TOL} of the largest "
                 "|logit|)")
    if size > args.max_bytes:
        sys.exit(f"export: {path} has {size} bytes, more than --max-bytes {args.max_bytes}")


if __name__ == "__main__":
    main()
