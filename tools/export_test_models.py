#!/usr/bin/env python3
"""Export tiny random-weight Hugging Face decoders to ONNX test fixtures.

How to run (needs torch >= 2.9, transformers 5.x, onnx, onnxscript, onnxruntime;
no GPU and no network needed, everything runs on the CPU):

    python3 tools/export_test_models.py test/fixtures/models [--jobs 12] [--only llama-sdpa ...]

The committed fixtures were made with torch 2.11.0, transformers 5.17.0, onnxscript 0.7.2,
onnx 1.23.1 and onnxruntime 1.30.0 (about 50 s with 12 workers on 16 cores); the versions
are recorded in MANIFEST.json. tools/check_fixtures.py re-checks them without torch.

What it writes into the output folder:
  <arch>-<attn>-op<opset>.onnx   arch in {llama, qwen2, mistral, phi3, gemma, gpt2},
                                 attn in {eager, sdpa}, opset in {18, 23};
                                 exported with torch.onnx.export(dynamo=True), one input
                                 `input_ids` int64 [batch, sequence_length] (both dynamic),
                                 one output `logits` float32 [batch, sequence_length, vocab],
                                 no KV cache, weights embedded (float32, one file).
  <same name>.ref.npz            input_ids int64 [1, 7] (seeded) and logits float32
                                 [1, 7, vocab] computed by onnxruntime (CPU).
  MANIFEST.json                  one entry per model (config, ops used, export settings,
                                 torch-vs-onnxruntime max abs diff), and under
                                 generators["tools/export_test_models.py"] the versions used
                                 and every failed export attempt with its error; entries
                                 written by other generators (tools/build_contrib_models.py)
                                 are kept.
Per-worker logs go to --workdir (default: a new temp folder, printed at the start).

Each (arch, attn) pair is exported in its own subprocess, so one failure or crash does
not lose the others. For each opset the exporter is tried with optimize=True, then
optimize=True with batch-shaped position_ids (see LogitsBatchPositions), then
optimize=False, then with Dim.AUTO dynamic shapes; the first attempt whose model runs in
onnxruntime on [1, 7] and [2, 5] inputs and matches torch (1e-3) is kept. Bulky per-node
debug metadata (stack traces, fx nodes, class hierarchies) is stripped before saving.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

ARCHS = ["llama", "qwen2", "mistral", "phi3", "gemma", "gpt2"]
ATTNS = ["eager", "sdpa"]
OPSETS = [18, 23]

HIDDEN = 64
LAYERS = 2
HEADS = 4
KV_HEADS = 2
HEAD_DIM = HIDDEN // HEADS
INTERMEDIATE = 160
VOCAB = 300
MAX_POS = 256

REF_SEED = 1234          # seeds the reference token sequence
REF_SHAPE = (1, 7)
CHECK_SHAPE = (2, 5)     # second input, checks that batch/sequence are really dynamic
EXPORT_SHAPE = (3, 11)   # example input given to the exporter (no dim equal to 1)
WEIGHT_SEED = {"llama": 11, "qwen2": 12, "mistral": 13, "phi3": 14, "gemma": 15, "gpt2": 16}
TOL = 1e-3
GENERATOR = "tools/export_test_models.py"


def make_config(arch):
    import transformers as tf

    common = dict(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
                  num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                  num_key_value_heads=KV_HEADS, max_position_embeddings=MAX_POS,
                  use_cache=False, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    if arch == "llama":
        return tf.LlamaConfig(**common)
    if arch == "qwen2":
        return tf.Qwen2Config(**common, use_sliding_window=False)
    if arch == "mistral":
        # sliding_window=None as in Mistral-7B v0.2/v0.3 (full causal attention)
        return tf.MistralConfig(**common, head_dim=HEAD_DIM, sliding_window=None)
    if arch == "phi3":
        return tf.Phi3Config(**common, original_max_position_embeddings=MAX_POS)
    if arch == "gemma":
        return tf.GemmaConfig(**common, head_dim=HEAD_DIM)
    if arch == "gpt2":
        return tf.GPT2Config(vocab_size=VOCAB, n_positions=MAX_POS, n_embd=HIDDEN,
                             n_layer=LAYERS, n_head=HEADS, n_inner=INTERMEDIATE,
                             use_cache=False, bos_token_id=1, eos_token_id=2)
    raise ValueError(arch)


def config_summary(cfg, arch):
    g = lambda *names: next((getattr(cfg, n) for n in names if getattr(cfg, n, None) is not None), None)
    heads = g("num_attention_heads", "n_head")
    hidden = g("hidden_size", "n_embd")
    d = dict(model_type=cfg.model_type,
             hidden=hidden,
             layers=g("num_hidden_layers", "n_layer"),
             heads=heads,
             kv_heads=g("num_key_value_heads") or heads,
             head_dim=g("head_dim") or hidden // heads,
             intermediate=g("intermediate_size", "n_inner"),
             vocab=cfg.vocab_size,
             max_position=g("max_position_embeddings", "n_positions"),
             act=g("hidden_activation", "hidden_act", "activation_function"),
             norm_eps=g("rms_norm_eps", "layer_norm_epsilon"),
             tie_word_embeddings=bool(getattr(cfg, "tie_word_embeddings", False)),
             attention_bias=bool(g("attention_bias") or arch in ("qwen2", "gpt2")),
             sliding_window=(g("sliding_window") if arch not in ("gpt2", "qwen2")
                             or (arch == "qwen2" and cfg.use_sliding_window) else None))
    rp = getattr(cfg, "rope_parameters", None)
    if rp:
        d["rope_parameters"] = {k: v for k, v in dict(rp).items() if isinstance(v, (int, float, str, type(None)))}
    return d


def randomize(model, seed):
    """Weights large enough that attention patterns and logits are far from uniform."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if p.dim() >= 2:
                p.copy_(noise * HIDDEN ** -0.5)
            else:  # norm weights keep their base value (1, or 0 for Gemma's 1+w), biases start at 0
                p.add_(noise * 0.1)


STRIP_KEYS = ("pkg.torch.onnx.stack_trace", "pkg.torch.onnx.class_hierarchy", "pkg.torch.onnx.fx_node")


def strip_metadata(mp):
    """Drop the bulky per-node debug metadata (about 60% of a small model's bytes);
    keeps `namespace`, `pkg.torch.onnx.name_scopes` and rewriter rule names."""
    removed = set()
    nodes = list(mp.graph.node) + [n for f in mp.functions for n in f.node]
    for n in nodes:
        keep = [(p.key, p.value) for p in n.metadata_props if p.key not in STRIP_KEYS]
        removed |= {p.key for p in n.metadata_props if p.key in STRIP_KEYS}
        del n.metadata_props[:]
        for k, v in keep:
            n.metadata_props.add(key=k, value=v)
    return sorted(removed)


def graph_ops(model_proto):
    ops = set()

    def walk(graph):
        for n in graph.node:
            ops.add((n.domain or "ai.onnx", n.op_type))
            for a in n.attribute:
                if a.g is not None and a.HasField("g"):
                    walk(a.g)
                for sg in a.graphs:
                    walk(sg)

    walk(model_proto.graph)
    func_ops = set()
    for f in model_proto.functions:
        for n in f.node:
            func_ops.add((n.domain or "ai.onnx", n.op_type))
    return sorted(ops), sorted(func_ops)


def io_desc(values):
    out = []
    for v in values:
        t = v.type.tensor_type
        dims = [d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else None)
                for d in t.shape.dim]
        out.append(dict(name=v.name, elem_type=int(t.elem_type), shape=dims))
    return out


def worker(arch, attn, outdir, log):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    import transformers

    torch.set_num_threads(1)
    torch.manual_seed(WEIGHT_SEED[arch])
    cfg = make_config(arch)
    model = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation=attn, dtype=torch.float32)
    got_attn = model.config._attn_implementation
    randomize(model, WEIGHT_SEED[arch])
    model.eval()

    class Logits(torch.nn.Module):
        """input_ids -> logits; HF derives position_ids [1, seq] itself."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, use_cache=False).logits

    class LogitsBatchPositions(Logits):
        """Same, but passes position_ids expanded to [batch, seq]. Works around an exporter
        bug: at opset 23 the onnxscript optimizer fuses HF rotary code into ONNX
        RotaryEmbedding with cos/sin caches of batch 1, which onnxruntime rejects (and the
        spec forbids) for batch > 1."""

        def forward(self, input_ids):
            b, s = input_ids.shape
            pos = torch.arange(s, dtype=torch.int64, device=input_ids.device).unsqueeze(0).expand(b, s)
            return self.m(input_ids=input_ids, position_ids=pos, use_cache=False).logits

    wrappers = {"default": Logits(model).eval(), "batch_position_ids": LogitsBatchPositions(model).eval()}
    wrapped = wrappers["default"]
    rng = np.random.default_rng(REF_SEED)
    ref_ids = rng.integers(0, VOCAB, size=REF_SHAPE, dtype=np.int64)
    chk_ids = rng.integers(0, VOCAB, size=CHECK_SHAPE, dtype=np.int64)
    exp_ids = torch.from_numpy(rng.integers(0, VOCAB, size=EXPORT_SHAPE, dtype=np.int64))
    with torch.no_grad():
        t_ref = wrapped(torch.from_numpy(ref_ids)).float().numpy()
        t_chk = wrapped(torch.from_numpy(chk_ids)).float().numpy()

    results, failures = [], []
    for opset in OPSETS:
        name = f"{arch}-{attn}-op{opset}"
        path = os.path.join(outdir, name + ".onnx")
        attempts = [
            dict(optimize=True, dyn="names", wrapper="default"),
            dict(optimize=True, dyn="names", wrapper="batch_position_ids"),
            dict(optimize=False, dyn="names", wrapper="default"),
            dict(optimize=True, dyn="auto", wrapper="default"),
        ]
        done = False
        for att in attempts:
            t0 = time.time()
            try:
                if att["dyn"] == "names":
                    dyn = {"input_ids": {0: "batch", 1: "sequence_length"}}
                else:
                    A = torch.export.Dim.AUTO
                    dyn = {"input_ids": {0: A, 1: A}}
                if os.path.exists(path):
                    os.remove(path)
                with torch.no_grad():
                    torch.onnx.export(wrappers[att["wrapper"]], (exp_ids,), path, dynamo=True, opset_version=opset,
                                      input_names=["input_ids"], output_names=["logits"],
                                      dynamic_shapes=dyn, optimize=att["optimize"],
                                      external_data=False, verify=False, report=False)
                leftovers = [f for f in os.listdir(outdir) if f.startswith(name + ".onnx") and f != name + ".onnx"]
                if leftovers:
                    raise RuntimeError(f"external data written: {leftovers}")
                mp = onnx.load(path, load_external_data=False)
                stripped = strip_metadata(mp)
                onnx.save(mp, path)
                try:
                    onnx.checker.check_model(mp)
                except Exception as ce:  # noqa: BLE001 - onnxruntime is the real test
                    log(f"[{name}] onnx.checker warning: {ce}")
                ext = [i.name for i in mp.graph.initializer if i.data_location == onnx.TensorProto.EXTERNAL]
                if ext:
                    raise RuntimeError(f"initializers stored externally: {ext[:3]}")
                so = ort.SessionOptions()
                sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                o_ref = sess.run(["logits"], {"input_ids": ref_ids})[0]
                o_chk = sess.run(["logits"], {"input_ids": chk_ids})[0]
                d_ref = float(np.abs(o_ref - t_ref).max())
                d_chk = float(np.abs(o_chk - t_chk).max())
                log(f"[{name}] attempt {att}: exported in {time.time()-t0:.1f}s, "
                    f"{os.path.getsize(path)} bytes; max|torch-ort| ref={d_ref:.3g} dyn-check={d_chk:.3g}")
                if not (d_ref <= TOL and d_chk <= TOL):
                    raise RuntimeError(f"torch vs onnxruntime mismatch: ref {d_ref:.3g}, check {d_chk:.3g}")
                ops, func_ops = graph_ops(mp)
                np.savez(os.path.join(outdir, name + ".ref.npz"), input_ids=ref_ids,
                         logits=o_ref.astype(np.float32))
                results.append(dict(
                    name=name, file=name + ".onnx", ref=name + ".ref.npz", generator=GENERATOR,
                    kind="hf-export", arch=arch, attn_implementation=got_attn, opset=opset,
                    config=config_summary(cfg, arch), weight_seed=WEIGHT_SEED[arch],
                    export=dict(exporter="torch.onnx.export(dynamo=True)", opset_version=opset,
                                optimize=att["optimize"],
                                dynamic_shapes=("{input_ids: {0: 'batch', 1: 'sequence_length'}}"
                                                if att["dyn"] == "names" else "{input_ids: {0: Dim.AUTO, 1: Dim.AUTO}}"),
                                external_data=False, use_cache=False, dtype="float32",
                                wrapper=att["wrapper"],
                                wrapper_doc=("input_ids -> model(input_ids, use_cache=False).logits"
                                             if att["wrapper"] == "default" else
                                             "input_ids -> model(input_ids, position_ids=arange(seq) "
                                             "expanded to [batch, seq], use_cache=False).logits"),
                                stripped_node_metadata_keys=stripped,
                                example_input_shape=list(EXPORT_SHAPE)),
                    opset_imports={(o.domain or "ai.onnx"): o.version for o in mp.opset_import},
                    inputs=io_desc(mp.graph.input), outputs=io_desc(mp.graph.output),
                    num_nodes=len(mp.graph.node), num_initializers=len(mp.graph.initializer),
                    num_functions=len(mp.functions),
                    ops=[list(o) for o in ops], function_ops=[list(o) for o in func_ops],
                    size_bytes=os.path.getsize(path),
                    ref_input_shape=list(REF_SHAPE),
                    max_abs_diff_torch_vs_ort=dict(ref=d_ref, dynamic_check=d_chk,
                                                  dynamic_check_shape=list(CHECK_SHAPE)),
                ))
                done = True
                break
            except Exception as e:  # noqa: BLE001 - record every failure
                msg = f"{type(e).__name__}: {e}"
                log(f"[{name}] attempt {att} FAILED after {time.time()-t0:.1f}s: {msg[:2000]}")
                log(traceback.format_exc()[-6000:])
                failures.append(dict(name=name, attempt=att, error=msg[:4000]))
        if not done:
            if os.path.exists(path):
                os.remove(path)
            log(f"[{name}] GAVE UP")
    return dict(results=results, failures=failures,
                versions=dict(torch=torch.__version__, transformers=transformers.__version__,
                              onnx=onnx.__version__, onnxruntime=ort.__version__,
                              onnxscript=__import__("onnxscript").__version__))


def merge_manifest(outdir, entries, generator, extra=None):
    path = os.path.join(outdir, "MANIFEST.json")
    man = {"models": []}
    if os.path.exists(path):
        with open(path) as f:
            man = json.load(f)
    keep = [m for m in man.get("models", []) if m.get("generator") != generator]
    man["models"] = sorted(keep + entries, key=lambda m: m["name"])
    gens = man.setdefault("generators", {})
    if extra is not None:
        gens[generator] = extra
    man["description"] = ("resa test models: tiny random-weight decoders. Each <name>.onnx has a "
                          "<name>.ref.npz holding every input fed and the onnxruntime (CPU) logits.")
    with open(path, "w") as f:
        json.dump(man, f, indent=1, sort_keys=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--only", nargs="*", help="arch-attn pairs, e.g. llama-sdpa")
    ap.add_argument("--timeout", type=int, default=420, help="seconds per arch-attn subprocess")
    ap.add_argument("--workdir", help="per-worker logs and results (default: a new temp folder)")
    ap.add_argument("--collect-only", action="store_true",
                    help="do not export; rebuild MANIFEST.json from the results in --workdir")
    ap.add_argument("--worker", nargs=2, metavar=("ARCH", "ATTN"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    workdir = args.workdir or tempfile.mkdtemp(prefix="export_test_models_")
    os.makedirs(workdir, exist_ok=True)

    if args.worker:
        arch, attn = args.worker

        def log(s):
            print(s, flush=True)

        try:
            res = worker(arch, attn, args.outdir, log)
        except Exception as e:  # noqa: BLE001
            log(traceback.format_exc())
            res = dict(results=[], failures=[dict(name=f"{arch}-{attn}-*", attempt=None,
                                                  error=f"{type(e).__name__}: {e}"[:4000])])
        with open(os.path.join(workdir, f"result-{arch}-{attn}.json"), "w") as f:
            json.dump(res, f, indent=1)
        return

    pairs = [(a, b) for a in ARCHS for b in ATTNS]
    if args.only:
        pairs = [p for p in pairs if "-".join(p) in args.only]
    print(f"workdir (logs, per-worker results): {workdir}", flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    procs, pending = {}, ([] if args.collect_only else list(pairs))
    t0 = time.time()
    while pending or procs:
        while pending and len(procs) < args.jobs:
            a, b = pending.pop(0)
            logf = open(os.path.join(workdir, f"log-{a}-{b}.txt"), "w")
            p = subprocess.Popen([sys.executable, os.path.abspath(__file__), args.outdir, "--workdir", workdir,
                                  "--worker", a, b], stdout=logf, stderr=subprocess.STDOUT, env=env)
            procs[(a, b)] = (p, logf, time.time())
        for k, (p, logf, ts) in list(procs.items()):
            if p.poll() is None and time.time() - ts > args.timeout:
                p.kill()
                p.wait()
                print(f"{k}: killed after {args.timeout}s", flush=True)
            if p.poll() is not None:
                logf.close()
                print(f"{'-'.join(k)}: exit {p.returncode} after {time.time()-ts:.0f}s", flush=True)
                del procs[k]
        time.sleep(0.5)
    print(f"all workers done in {time.time()-t0:.0f}s", flush=True)

    entries, failures, versions = [], [], {}
    for a, b in pairs:
        rp = os.path.join(workdir, f"result-{a}-{b}.json")
        if not os.path.exists(rp):
            failures.append(dict(name=f"{a}-{b}-*", attempt=None, error="worker produced no result (crash/timeout)"))
            continue
        with open(rp) as f:
            r = json.load(f)
        entries += r["results"]
        failures += r["failures"]
        versions = r.get("versions") or versions
    kept = {e["name"] for e in entries}
    not_exported = sorted({f["name"] for f in failures} - kept)
    merge_manifest(args.outdir, entries, GENERATOR, extra=dict(
        versions=versions, ref_seed=REF_SEED,
        weight_init="params>=2D: N(0, 1/sqrt(hidden)); 1D: base value + N(0, 0.1)",
        not_exported=not_exported,
        failed_attempts=[dict(name=f["name"], attempt=f["attempt"], error=f["error"][:600]) for f in failures]))
    print(f"exported {len(entries)} models; failed attempts {len(failures)}; not exported: {not_exported}")
    union = {}
    for e in entries:
        for d, o in e["ops"]:
            union[(d, o)] = union.get((d, o), 0) + 1
    for (d, o), n in sorted(union.items()):
        print(f"  {d:16s} {o:28s} {n}")


if __name__ == "__main__":
    main()
