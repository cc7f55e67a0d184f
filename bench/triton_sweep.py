#!/usr/bin/env python3
"""Explore a Triton kernel's knobs on the GPU quickly: time kernels/<type>/triton.py under several knob
settings with triton.testing.do_bench (L2 cleared between calls) against the library baseline at the
same shapes, and check each result against that baseline. Exploration only: the numbers we quote come
from `autokernel bench` / `autokernel suite`.
  python3 bench/triton_sweep.py matmul --shapes 4096x4096x4096 --knobs 'BLOCK_N=128' 'BLOCK_N=256,NUM_STAGES=4'
Types: matmul (cuBLAS), flash_attention (SDPA flash), fused_mlp (eager and torch.compile)."""
import argparse
import importlib.util
import math
import pathlib
import sys
import time

import torch
import torch.nn.functional as F
import triton

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load(kind, knobs, path=None):
    path = path or ROOT / "kernels" / kind / "triton.py"
    spec = importlib.util.spec_from_file_location(f"cand_{abs(hash(str(knobs)))}", path)
    mod = importlib.util.module_from_spec(spec)
    mod.__dict__.update(knobs)  # knobs become module globals before the body runs, as in the harness
    spec.loader.exec_module(mod)
    return mod


def parse_knobs(s):
    out = {}
    for item in filter(None, s.split(",")):
        k, v = item.split("=")
        out[k] = int(v) if v.lstrip("-").isdigit() else float(v)
    return out


def problem(kind, dims, dtype):
    """inputs, outputs, scalars, baselines {name: fn}, flops."""
    dev = "cuda"
    if kind == "matmul":
        M, N, K = dims
        a = torch.randn(M, K, device=dev, dtype=dtype)
        b = torch.randn(K, N, device=dev, dtype=dtype) / math.sqrt(K)
        c = torch.empty(M, N, device=dev, dtype=dtype)
        return [a, b], [c], [], {"cuBLAS": lambda: torch.matmul(a, b)}, 2.0 * M * N * K
    if kind == "flash_attention":
        B, H, S, D, causal = dims
        q, k, v = (torch.randn(B, H, S, D, device=dev, dtype=dtype) for _ in range(3))
        o = torch.empty_like(q)
        scale = 1.0 / math.sqrt(D)

        def sdpa():
            with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.FLASH_ATTENTION):
                return F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal), scale=scale)
        flops = 4.0 * B * H * S * S * D * (0.5 if causal else 1.0)
        return [q, k, v], [o], [float(causal), scale], {"SDPA-flash": sdpa}, flops
    if kind == "fused_mlp":
        M, E, Fd = dims
        x = torch.randn(M, E, device=dev, dtype=dtype)
        wg = torch.randn(Fd, E, device=dev, dtype=dtype) / math.sqrt(E)
        wu = torch.randn(Fd, E, device=dev, dtype=dtype) / math.sqrt(E)
        wd = torch.randn(E, Fd, device=dev, dtype=dtype) / math.sqrt(Fd)
        out = torch.empty(M, E, device=dev, dtype=dtype)

        def eager(x=x):
            return F.linear(F.silu(F.linear(x, wg)) * F.linear(x, wu), wd)
        compiled = torch.compile(eager, mode="max-autotune-no-cudagraphs", dynamic=False)
        return [x, wg, wu, wd], [out], [], {"eager": eager, "compile": compiled}, 6.0 * M * E * Fd
    raise SystemExit(f"unknown type {kind}")


def fused_mlp_parts(mod, ins, outs):
    """The gate/up kernel and the down kernel of a fused_mlp module, each timed alone, beside cuBLAS."""
    from triton.tools.tensor_descriptor import TensorDescriptor
    x, wg, wu, wd = ins
    y = outs[0]
    M, E = x.shape
    Fd = wg.shape[0]
    h = torch.empty(M, Fd, device=x.device, dtype=x.dtype)
    bm, bn, bn2, bk = mod.BLOCK_M, mod.BLOCK_N, mod.DOWN_BLOCK_N, mod.BLOCK_K
    d = TensorDescriptor.from_tensor
    c = dict(BLOCK_K=bk, GROUP_M=mod.GROUP_M, PRECISION="tf32")
    c1 = dict(num_warps=mod.NUM_WARPS, num_stages=mod.NUM_STAGES)
    c2 = dict(num_warps=mod.DOWN_NUM_WARPS, num_stages=mod.DOWN_STAGES)
    sms = torch.cuda.get_device_properties(x.device).multi_processor_count
    c["NUM_SMS"] = sms
    g1 = (min(sms, triton.cdiv(M, bm) * triton.cdiv(Fd, bn)),)
    g2 = (min(sms, triton.cdiv(M, bm) * triton.cdiv(E, bn2)),)
    a1 = (d(x, [bm, bk]), d(wg, [bn, bk]), d(wu, [bn, bk]), d(h, [bm, bn]), M, Fd, E)
    a2 = (d(h, [bm, bk]), d(wd, [bn2, bk]), d(y, [bm, bn2]), M, E, Fd)
    t1 = triton.testing.do_bench(lambda: mod._gate_up_tma_kernel[g1](*a1, BLOCK_M=bm, BLOCK_N=bn,
                                                                     TWO_LOOPS=mod.GATE_UP_LOOPS == 2, **c, **c1))
    t2 = triton.testing.do_bench(lambda: mod._down_tma_kernel[g2](*a2, BLOCK_M=bm, BLOCK_N=bn2, **c, **c2))
    tg = triton.testing.do_bench(lambda: F.linear(x, wg))
    td = triton.testing.do_bench(lambda: F.linear(h, wd))
    return (f"gate+up kernel {t1*1e3:.1f} us (cuBLAS one of them {tg*1e3:.1f} us, x2 = {2*tg*1e3:.1f}); "
            f"down kernel {t2*1e3:.1f} us (cuBLAS {td*1e3:.1f} us)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("type")
    ap.add_argument("--shapes", nargs="+", required=True, help="dims joined by x, e.g. 4096x4096x4096")
    ap.add_argument("--knobs", nargs="+", default=[""], help="knob sets, e.g. BLOCK_N=128,NUM_STAGES=4")
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--graph", action="store_true", help="also time inside a CUDA graph (no host launch cost)")
    ap.add_argument("--parts", action="store_true", help="fused_mlp: time its two kernels and cuBLAS's GEMMs")
    ap.add_argument("--path", default=None, help="kernel file (default kernels/<type>/triton.py)")
    args = ap.parse_args()
    dtype = {"bf16": torch.bfloat16, "f16": torch.float16}[args.dtype]
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, triton {triton.__version__}, {args.dtype}")
    for shape in args.shapes:
        dims = [int(d) for d in shape.split("x")]
        ins, outs, scalars, baselines, flops = problem(args.type, dims, dtype)
        base_t = {}
        ref = None
        for name, fn in baselines.items():
            ref = fn() if ref is None else ref
            fn()
            base_t[name] = triton.testing.do_bench(fn, warmup=25, rep=200)
        base_g = {n: triton.testing.do_bench_cudagraph(fn, rep=200) for n, fn in baselines.items()} if args.graph else {}
        line = ", ".join(f"{n} {t*1e3:.1f} us {flops/t/1e9:.0f} TF/s" for n, t in base_t.items())
        line += "".join(f", graph {n} {t*1e3:.1f} us" for n, t in base_g.items())
        print(f"{args.type} {shape}: {line}")
        for ks in args.knobs:
            knobs = parse_knobs(ks)
            try:
                mod = load(args.type, knobs, args.path)
                t0 = time.time()
                mod.kernel_fn(ins, outs, scalars)
                torch.cuda.synchronize()
                first = time.time() - t0
                err = ((outs[0].float() - ref.float()).abs().max() / ref.float().abs().max().clamp_min(1e-6)).item()
                t = triton.testing.do_bench(lambda: mod.kernel_fn(ins, outs, scalars), warmup=25, rep=200)
                ratios = " ".join(f"{bt/t:.3f}x {n}" for n, bt in base_t.items())
                graph = ""
                if args.graph:  # without the host's launch cost
                    tg = triton.testing.do_bench_cudagraph(lambda: mod.kernel_fn(ins, outs, scalars), rep=200)
                    graph = f"  graph {tg*1e3:.1f} us " + " ".join(f"{bt/tg:.3f}x {n}" for n, bt in base_g.items())
                print(f"  [{ks or 'defaults'}] {t*1e3:.1f} us {flops/t/1e9:.0f} TF/s  {ratios}  "
                      f"maxerr/max {err:.1e}  first call {first:.1f} s{graph}", flush=True)
                if args.type == "fused_mlp" and args.parts:
                    print("    " + fused_mlp_parts(mod, ins, outs), flush=True)
            except Exception as e:  # noqa: BLE001 - an exploration: report and go on
                print(f"  [{ks}] FAILED: {type(e).__name__}: {str(e)[:300]}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
