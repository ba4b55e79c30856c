#!/usr/bin/env python3
"""PyTorch SDPA as the peer of resa's dense decode kernel, same shapes, same method.

q [B, 32, 1, 128], K/V [B, 8, L, 128] contiguous bf16, enable_gqa=True. Each figure
is the median over replays of a CUDA graph of 20 calls (divided by 20), rotating
among several input sets when one call's K/V would fit in L2, as resa-bench-kernels
does; triton.testing.do_bench's median (L2 flushed before every call) is recorded
beside it. Bytes: K and V read once, q read and the output written.

  python3 sdpa_peer.py [--batches 1,8] [--contexts 4096,...] [--out sdpa.json]
"""
import argparse
import json
import math
import statistics

import torch
import torch.nn.functional as F

CALLS = 20


def sdpa_kernel_names(fn):
    try:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn(0)
            torch.cuda.synchronize()
        names = sorted({e.name for e in prof.events() if e.device_type.name == "CUDA"})
        return [n[:120] for n in names]
    except Exception as e:  # the profiler is a nicety
        return [f"unknown ({type(e).__name__})"]


def run(batch, context, l2):
    kv_bytes = 2 * batch * 8 * context * 128 * 2
    nbuf = min(32, max(1, math.ceil(4 * l2 / kv_bytes)))
    g = torch.Generator(device="cuda").manual_seed(1234 + batch + context)
    qs = [torch.randn(batch, 32, 1, 128, device="cuda", dtype=torch.bfloat16, generator=g)
          for _ in range(nbuf)]
    ks = [torch.randn(batch, 8, context, 128, device="cuda", dtype=torch.bfloat16, generator=g)
          for _ in range(nbuf)]
    vs = [torch.randn(batch, 8, context, 128, device="cuda", dtype=torch.bfloat16, generator=g)
          for _ in range(nbuf)]

    def fn(i):
        return F.scaled_dot_product_attention(qs[i], ks[i], vs[i], enable_gqa=True)

    for i in range(3):
        fn(i % nbuf)
    torch.cuda.synchronize()
    names = sdpa_kernel_names(fn)

    method = "cuda-graph"
    times = []
    try:
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for i in range(3):
                fn(i % nbuf)
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        outs = []
        with torch.cuda.graph(graph):
            for i in range(CALLS):
                outs.append(fn(i % nbuf))
        graph.replay()
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        graph.replay()
        e1.record()
        e1.synchronize()
        est = e0.elapsed_time(e1) * 1e-3
        reps = max(10, min(400, int(0.25 / max(est, 1e-6))))
        for _ in range(reps):
            e0.record()
            graph.replay()
            e1.record()
            e1.synchronize()
            times.append(e0.elapsed_time(e1) * 1e-3 / CALLS)
        del graph, outs
    except Exception as e:
        method = f"events ({type(e).__name__}: graph capture failed)"
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        for r in range(200):
            e0.record()
            fn(r % nbuf)
            e1.record()
            e1.synchronize()
            times.append(e0.elapsed_time(e1) * 1e-3)
    med = statistics.median(times)
    try:
        import triton.testing
        db = triton.testing.do_bench(lambda: fn(0), warmup=25, rep=100, return_mode="median") * 1e-3
    except Exception:
        db = float("nan")
    nbytes = kv_bytes + 2 * batch * 32 * 128 * 2
    del qs, ks, vs
    torch.cuda.empty_cache()
    return {
        "batch": batch, "context": context, "buffers": nbuf, "method": method,
        "median_us": med * 1e6, "min_us": min(times) * 1e6,
        "do_bench_median_us": db * 1e6, "bytes": nbytes, "tbps": nbytes / med / 1e12,
        "kernels": names,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--contexts", default="4096,16384,65536,131072,262144")
    ap.add_argument("--out", default="sdpa.json")
    a = ap.parse_args()
    props = torch.cuda.get_device_properties(0)
    l2 = getattr(props, "L2_cache_size", 60 * 2**20)
    results = []
    for b in [int(x) for x in a.batches.split(",")]:
        for c in [int(x) for x in a.contexts.split(",")]:
            r = run(b, c, l2)
            results.append(r)
            print(f"sdpa batch {b} context {c}: {r['median_us']:.2f} us ({r['method']}), "
                  f"do_bench {r['do_bench_median_us']:.2f} us, {r['tbps']:.3f} TB/s; "
                  f"{'; '.join(r['kernels'])}", flush=True)
    with open(a.out, "w") as f:
        json.dump({"peer": "torch.nn.functional.scaled_dot_product_attention",
                   "torch": torch.__version__, "device": props.name, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
