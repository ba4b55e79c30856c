#!/usr/bin/env python3
"""PyTorch SDPA as the peer of resa's prefill kernel: q [1,32,S,128], K/V [1,8,L,128]
bf16, enable_gqa=True; full prefill with is_causal=True; rectification (32 queries over
L keys) with is_causal=False (torch's causal mask is top-left aligned; the last 32 keys'
mask is a negligible difference). Median of CUDA-event timed calls after warm-up.
  python3 prefill_peer.py [--out sdpa_prefill.json]"""
import argparse, json, statistics
import torch
import torch.nn.functional as F

def bench(name, s, l, causal, reps, flops):
    g = torch.Generator(device="cuda").manual_seed(7)
    q = torch.randn(1, 32, s, 128, device="cuda", dtype=torch.bfloat16, generator=g)
    k = torch.randn(1, 8, l, 128, device="cuda", dtype=torch.bfloat16, generator=g)
    v = torch.randn(1, 8, l, 128, device="cuda", dtype=torch.bfloat16, generator=g)
    fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); b.synchronize()
        ts.append(a.elapsed_time(b))
    ms = statistics.median(ts)
    r = {"name": name, "s": s, "l": l, "ms": ms, "tflops": flops / (ms * 1e-3) / 1e12}
    print(f"sdpa prefill {name:14s} {ms:9.3f} ms {r['tflops']:7.1f} TFLOP/s", flush=True)
    return r

ap = argparse.ArgumentParser(); ap.add_argument("--out")
args = ap.parse_args()
rs = []
for s, reps in ((4096, 20), (16384, 10), (32768, 10)):
    rs.append(bench(f"causal_{s // 1024}k", s, s, True, reps, 2.0 * s * s * 128 * 32))
for l in (4096, 131072):
    rs.append(bench(f"rect_32_{l // 1024}k", 32, l, False, 30, 4.0 * 32 * 128 * 32 * (l - 16)))
if args.out:
    json.dump(rs, open(args.out, "w"), indent=1)
