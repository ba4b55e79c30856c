#!/usr/bin/env python3
"""Hugging Face transformers as the end-to-end peer of resa-bench e2e.

The Llama-3-8B shape (32 layers, hidden 4096, 32/8 heads, FFN 14336, vocab
128256, rope theta 500000), random weights initialised directly in bf16 on
the device (no download), run with attn_implementation "eager" and "sdpa":

  decode   ms per step (one token for every sequence of the batch) with a
           KV cache already holding CONTEXT tokens: a DynamicCache (what
           generate() uses; --cache static: a StaticCache) filled with random
           tensors instead of a long prefill. Warm-up steps, then --steps
           timed ones, each between torch.cuda.synchronize() calls; median,
           p10, p90. The forward alone (no sampling), as resa-bench times it.
  prefill  one forward over CONTEXT tokens (logits of the last one only, as
           generate() asks) for each context up to --prefill-max; median of
           --prefill-reps after a short warm-up.

What would not fit in the free device memory is skipped with the estimate in
its status; an out-of-memory error is recorded as such. --budget-seconds skips
(and says so) what would start later. The JSON is rewritten after every
measurement.

  python3 hf_peer.py --json hf.json [--shapes 1x4096,...,8x65536]
  python3 hf_peer.py --config tiny --device cpu --shapes 1x64,2x32 --json /tmp/t.json
"""
import argparse
import datetime
import gc
import json
import os
import time

CONFIGS = {
    "llama3-8b": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336,
                      num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                      rms_norm_eps=1e-5, rope_theta=500000.0, max_position_embeddings=270336),
    # For checking the script on a CPU.
    "tiny": dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                 rope_theta=500000.0, max_position_embeddings=4096),
}
DEFAULT_SHAPES = "1x4096,1x16384,1x65536,1x131072,1x262144,8x65536"
GiB = float(1 << 30)


def parse_shapes(text):
    shapes = []
    for item in text.split(","):
        b, sep, ctx = item.partition("x")
        if not sep or not b.isdigit() or not ctx.isdigit() or int(b) < 1 or int(ctx) < 1:
            raise SystemExit(f"hf_peer: --shapes takes BATCHxCONTEXT items, got '{item}'")
        shapes.append((int(b), int(ctx)))
    return shapes


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", required=True, help="results, rewritten after each measurement")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="llama3-8b")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--impls", default="eager,sdpa", help="attention implementations")
    ap.add_argument("--shapes", default=DEFAULT_SHAPES, help="BATCHxCONTEXT list")
    ap.add_argument("--steps", type=int, default=16, help="timed decode steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed decode steps first")
    ap.add_argument("--cache", choices=["dynamic", "static"], default="dynamic")
    ap.add_argument("--prefill-max", type=int, default=32768,
                    help="prefill is timed at the contexts up to this (0: none)")
    ap.add_argument("--prefill-reps", type=int, default=1)
    ap.add_argument("--budget-seconds", type=float, default=0,
                    help="start no measurement after this many seconds (0: no limit)")
    a = ap.parse_args()
    a.shapes = parse_shapes(a.shapes)
    a.impls = [i for i in a.impls.split(",") if i]
    if a.steps < 1 or a.warmup < 0 or a.prefill_reps < 1:
        raise SystemExit("hf_peer: --steps and --prefill-reps must be positive, --warmup >= 0")
    return a


def quantile(sorted_values, q):
    """Linear interpolation between order statistics (as resa-bench)."""
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (pos - lo) * (sorted_values[hi] - sorted_values[lo])


def summary(ms):
    s = sorted(ms)
    return {"median_ms": quantile(s, 0.5), "p10_ms": quantile(s, 0.1),
            "p90_ms": quantile(s, 0.9), "min_ms": s[0], "samples": len(s)}


class Peer:
    def __init__(self, args):
        import torch
        import transformers
        from transformers import LlamaConfig, LlamaForCausalLM
        self.torch, self.a = torch, args
        self.cuda = args.device.startswith("cuda")
        self.start = time.monotonic()
        c = dict(CONFIGS[args.config])
        theta = c.pop("rope_theta")
        self.cfg = LlamaConfig(**c, tie_word_embeddings=False,
                               rope_parameters={"rope_type": "default", "rope_theta": theta})
        t0 = time.monotonic()
        with torch.device(args.device):
            self.model = LlamaForCausalLM._from_config(self.cfg, dtype=torch.bfloat16,
                                                       attn_implementation="eager")
        self.model.eval()
        self.sync()
        self.load_s = time.monotonic() - t0
        self.rows = []
        self.head = {
            "peer": "transformers", "transformers": transformers.__version__,
            "torch": torch.__version__,
            "device": torch.cuda.get_device_name() if self.cuda else "cpu",
            "date": datetime.date.today().isoformat(), "config": args.config,
            "shape": CONFIGS[args.config], "dtype": "bf16", "cache": args.cache,
            "steps": args.steps, "warmup": args.warmup, "model_init_s": self.load_s,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "method": "random bf16 weights; decode: model(input_ids [B,1], past_key_values="
                      f"{args.cache} cache pre-filled with random K/V of CONTEXT tokens), "
                      "wall time per step between synchronizations, after warm-up; prefill: one "
                      "forward over CONTEXT tokens with logits_to_keep=1 into an empty "
                      "DynamicCache",
        }

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def timed_ms(self, f):
        self.sync()
        t0 = time.perf_counter()
        f()
        self.sync()
        return (time.perf_counter() - t0) * 1e3

    def free_bytes(self):
        if not self.cuda:
            return None
        free, _ = self.torch.cuda.mem_get_info()
        return free

    def write(self):
        out = dict(self.head, results=self.rows)
        tmp = self.a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
        os.replace(tmp, self.a.json)

    def record(self, row):
        print("hf_peer:", json.dumps(row), flush=True)
        self.rows.append(row)
        self.write()

    def kv_bytes(self, batch, context):
        c = self.cfg
        return (2 * 2 * batch * context * c.num_hidden_layers * c.num_key_value_heads *
                (c.hidden_size // c.num_attention_heads))

    def need_bytes(self, impl, kind, batch, context):
        """What a measurement allocates at least, beyond the weights (a lower
        estimate: activations of one layer at a time)."""
        c = self.cfg
        heads, d = c.num_attention_heads, c.hidden_size // c.num_attention_heads
        if kind == "decode":
            kv = self.kv_bytes(batch, context)
            # DynamicCache.update concatenates: one layer's K and V twice over.
            grow = kv // c.num_hidden_layers if self.a.cache == "dynamic" else 0
            # eager repeats K and V to every query head (repeat_kv).
            rep = 2 * 2 * batch * heads * context * d if impl == "eager" else 0
            return kv + grow + rep
        # Prefill: eager materialises [heads, L, L] scores (bf16), their fp32
        # softmax and its bf16 copy; plus K/V of every layer and the MLP rows.
        scores = batch * heads * context * context * (2 + 4 + 2) if impl == "eager" else 0
        return scores + self.kv_bytes(batch, context) + 4 * batch * context * c.intermediate_size

    def measure(self, impl, kind, batch, context, body):
        row = {"impl": impl, "kind": kind, "batch": batch, "context": context}
        torch = self.torch
        free = self.free_bytes()
        need = self.need_bytes(impl, kind, batch, context)
        if self.a.budget_seconds > 0 and time.monotonic() - self.start > self.a.budget_seconds:
            row["status"] = f"skipped: past --budget-seconds {self.a.budget_seconds:g}"
        elif free is not None and need > 0.95 * free:
            row["status"] = (f"skipped: would not fit (needs >= {need / GiB:.1f} GiB, "
                             f"{free / GiB:.1f} GiB free)")
        else:
            try:
                with torch.inference_mode():
                    row.update(body())
                row["status"] = "ok"
            except torch.OutOfMemoryError as e:
                row["status"] = "error: out of memory: " + str(e).split("\n")[0][:200]
            except RuntimeError as e:
                row["status"] = "error: " + str(e).split("\n")[0][:300]
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()
        self.record(row)

    def filled_cache(self, batch, context, extra):
        """A cache whose every layer holds `context` tokens of random K and V."""
        from transformers import DynamicCache, StaticCache
        torch, c = self.torch, self.cfg
        d = c.hidden_size // c.num_attention_heads
        shape = (batch, c.num_key_value_heads, context, d)

        def rand():
            return torch.randn(shape, dtype=torch.bfloat16, device=self.a.device)

        if self.a.cache == "dynamic":
            # Each layer's tensors are made as the constructor consumes them.
            return DynamicCache(((rand(), rand()) for _ in range(c.num_hidden_layers)))
        cache = StaticCache(config=c, max_cache_len=context + extra)
        empty = torch.empty((batch, c.num_key_value_heads, 0, d), dtype=torch.bfloat16,
                            device=self.a.device)
        for layer in cache.layers:
            layer.lazy_initialization(empty, empty)
            layer.keys[:, :, :context].normal_()
            layer.values[:, :, :context].normal_()
            layer.cumulative_length.fill_(context)
        return cache

    def decode(self, batch, context):
        torch, a = self.torch, self.a
        cache = self.filled_cache(batch, context, a.warmup + a.steps)
        g = torch.Generator(device="cpu").manual_seed(context)
        tokens = torch.randint(0, self.cfg.vocab_size, (a.warmup + a.steps, batch, 1),
                               generator=g).to(a.device)

        def step(i):
            self.model(input_ids=tokens[i], past_key_values=cache, use_cache=True)

        for i in range(a.warmup):
            step(i)
        ms = [self.timed_ms(lambda i=i: step(a.warmup + i)) for i in range(a.steps)]
        out = summary(ms)
        out["tokens_per_s"] = batch * 1e3 / out["median_ms"]
        return out

    def prefill_once(self, context):
        from transformers import DynamicCache
        torch = self.torch
        ids = torch.randint(0, self.cfg.vocab_size, (1, context), device=self.a.device)
        cache = DynamicCache(config=self.cfg)
        return self.timed_ms(lambda: self.model(input_ids=ids, past_key_values=cache,
                                                use_cache=True, logits_to_keep=1))

    def prefill(self, context):
        self.prefill_once(min(context, 128))  # warm-up (kernels, allocator)
        ms = [self.prefill_once(context) for _ in range(self.a.prefill_reps)]
        out = summary(ms)
        out["tokens_per_s"] = context * 1e3 / out["median_ms"]
        return out

    def run(self):
        self.write()
        prefill_contexts = sorted({c for _, c in self.a.shapes if c <= self.a.prefill_max})
        for impl in self.a.impls:
            self.model.set_attn_implementation(impl)
            for batch, context in self.a.shapes:
                self.measure(impl, "decode", batch, context, lambda: self.decode(batch, context))
        for impl in self.a.impls:
            self.model.set_attn_implementation(impl)
            for context in prefill_contexts:
                self.measure(impl, "prefill", 1, context, lambda: self.prefill(context))


def main():
    args = parse_args()
    import torch
    if args.device == "cpu":
        torch.set_num_threads(1)
    Peer(args).run()


if __name__ == "__main__":
    main()
