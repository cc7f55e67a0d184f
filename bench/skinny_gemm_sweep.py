"""Knob sweep of the skinny_gemm CUDA starter on a GPU without building autokernel: nvcc compiles
kernels/skinny_gemm/cuda.cu once per knob set (in parallel), ctypes calls its ak_kernel on PyTorch's tensors and
stream, each output is checked against float32 x @ W^T, and each set is timed against cuBLAS (F.linear) at
Llama-3-8B's decode projections (M = 1, 8, 32), bf16, two ways:
  - events: one call between two CUDA events, the weight rotated over copies so that it is never in L2
    (a model's next layer has other weights), median of 30;
  - graph: 16 calls over the rotated weights captured in one CUDA graph, replayed, per call (the decode step
    under CUDA graphs, where launch gaps vanish).

    python3 bench/skinny_gemm_sweep.py "" "MMA_MIN_M=2" "MMA_MIN_M=1,MMA_SM_WARPS=8" ...
"""
import ctypes
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_abi import ROOT, Call, Tensor, abi, compile_starter  # noqa: E402

SHAPES = [(m, n, k) for m in (1, 8, 32) for (n, k) in
          [(4096, 4096), (1024, 4096), (6144, 4096), (14336, 4096), (28672, 4096), (4096, 14336), (128256, 4096)]]

def build(knobs):
    lib, err = compile_starter(f"{ROOT}/kernels/skinny_gemm/cuda.cu", knobs.split(","))
    return knobs, lib, err


def caller(lib, x, w, y):
    c = Call((Tensor * 2)(abi(x), abi(w)), 2, (Tensor * 1)(abi(y)), 1, None, 0, None)

    def run():  # the stream of the moment: a graph is captured on a side stream
        c.stream = torch.cuda.current_stream().cuda_stream
        return lib.ak_kernel(ctypes.byref(c))
    return run


def median_events(fns):
    for f in fns[:3]:
        f()
    ts = []
    for i in range(30):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        f = fns[i % len(fns)]
        a.record()
        f()
        b.record()
        torch.cuda.synchronize()
        ts.append(a.elapsed_time(b) * 1e3)
    return sorted(ts)[len(ts) // 2]


def copy_bytes_per_us():
    """The copy ceiling: a device-to-device copy of 1 GiB (read + write), median of 10, in bytes per us."""
    a = torch.empty(1 << 29, device="cuda", dtype=torch.bfloat16)
    b = torch.empty_like(a)
    t = median_events([lambda: b.copy_(a)] * 1)
    return 2 * a.numel() * 2 / t


def graph_per_call(fns, calls=16):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for f in fns:
            f()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for i in range(calls):
            fns[i % len(fns)]()
    g.replay()
    torch.cuda.synchronize()
    ts = []
    for _ in range(10):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        torch.cuda.synchronize()
        ts.append(a.elapsed_time(b) * 1e3 / calls)
    return sorted(ts)[len(ts) // 2]


def main():
    sets = sys.argv[1:] or [""]
    print(torch.cuda.get_device_name(), flush=True)
    bw = copy_bytes_per_us()
    print(f"copy ceiling {bw / 1e3:.0f} GB/s (D2D copy of 1 GiB); 'ideal' = the weight's bytes at that rate, "
          f"cuBLAS's share of it per call / in a graph", flush=True)
    with ThreadPoolExecutor(16) as pool:
        built = list(pool.map(build, sets))
    torch.manual_seed(0)
    results = {}
    for (m, n, k) in SHAPES:
        copies = max(1, (256 << 20) // (n * k * 2))  # >= 256 MiB of weights: none left in L2 between calls
        ws = [torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02 for _ in range(copies)]
        x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        truth = x.float() @ ws[0].float().T
        ys = [torch.empty(m, n, device="cuda", dtype=torch.bfloat16) for _ in ws]
        cub = [lambda w=w, y=y: torch.matmul(x, w.T, out=y) for w, y in zip(ws, ys)]
        row = {"cublas": (median_events(cub), graph_per_call(cub))}
        for knobs, lib, err in built:
            if lib is None:
                continue
            fns = [caller(lib, x, w, y) for w, y in zip(ws, ys)]
            ys[0].fill_(float("nan"))
            rc = fns[0]()
            torch.cuda.synchronize()
            bad = (ys[0].float() - truth).abs().max().item() / truth.pow(2).mean().sqrt().item()
            if rc != 0 or not bad < 2e-2:
                row[knobs] = None
                print(f"{m}x{n}x{k} [{knobs}] WRONG rc {rc} err {bad:.3g}", flush=True)
                continue
            row[knobs] = (median_events(fns), graph_per_call(fns))
        results[(m, n, k)] = row
        ceil_us = (n * k + m * k + m * n) * 2 / bw
        cb = row["cublas"]
        line = (f"{m:2}x{n:6}x{k:5} cuBLAS {cb[0]:7.2f}/{cb[1]:7.2f} us (ideal {ceil_us:6.2f}: "
                f"{ceil_us / cb[0]:.0%}/{ceil_us / cb[1]:.0%})")
        for knobs, _, _ in built:
            r = row.get(knobs)
            if r:
                line += f" | [{knobs or 'default'}] {row['cublas'][0] / r[0]:.2f}x/{row['cublas'][1] / r[1]:.2f}x"
        print(line, flush=True)
        del ws, ys
        torch.cuda.empty_cache()
    for knobs, lib, err in built:
        if lib is None:
            print(f"[{knobs}] did not build: {err}")
            continue
        import math
        ev = [results[s]["cublas"][0] / results[s][knobs][0] for s in SHAPES if results[s].get(knobs)]
        gr = [results[s]["cublas"][1] / results[s][knobs][1] for s in SHAPES if results[s].get(knobs)]
        for mm in (1, 8, 32):
            e = [results[s]["cublas"][0] / results[s][knobs][0] for s in SHAPES if s[0] == mm and results[s].get(knobs)]
            g = [results[s]["cublas"][1] / results[s][knobs][1] for s in SHAPES if s[0] == mm and results[s].get(knobs)]
            if e:
                print(f"[{knobs or 'default'}] M={mm}: events min {min(e):.2f}x geomean "
                      f"{math.exp(sum(map(math.log, e)) / len(e)):.2f}x; graph min {min(g):.2f}x geomean "
                      f"{math.exp(sum(map(math.log, g)) / len(g)):.2f}x")
        if ev:
            print(f"[{knobs or 'default'}] all: events geomean {math.exp(sum(map(math.log, ev)) / len(ev)):.2f}x, "
                  f"graph geomean {math.exp(sum(map(math.log, gr)) / len(gr)):.2f}x")


if __name__ == "__main__":
    main()
