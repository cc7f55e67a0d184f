"""Check and time the decode_attention CUDA starter on a GPU without building autokernel: nvcc compiles
kernels/decode_attention/cuda.cu into a shared library, ctypes calls its ak_kernel (kernels/include/autokernel/
kernel_abi.h) on PyTorch's tensors and stream, and each output is compared with float64 attention over the L
valid keys (the cache past L holds NaN, as the catalogue's does), at the catalogue's shapes and adversarial
inputs; then Llama-3-8B's decode shapes are timed against SDPA on the valid slice (CUDA events, median of 50).

    python3 bench/decode_attention_check.py [--knobs SPLIT=256,NWARPS=4,CHUNKS=2] [--no-timing]
"""
import argparse
import ctypes
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_abi import ROOT, Call, Tensor, abi, compile_starter  # noqa: E402

TOL = {torch.float16: 1e-2, torch.bfloat16: 2e-2, torch.float32: 5e-3}  # catalog/decode_attention.cpp


def build(knobs):
    lib, err = compile_starter(f"{ROOT}/kernels/decode_attention/cuda.cu", knobs)
    if lib is None:
        sys.exit(f"the CUDA starter did not build with {list(knobs)}:\n{err}")
    return lib


def call(lib, q, k, v, length, scale):
    o = torch.full_like(q, float("nan"))
    ins, outs = (Tensor * 3)(abi(q), abi(k), abi(v)), (Tensor * 1)(abi(o))
    sc = (ctypes.c_double * 2)(float(length), scale)
    c = Call(ins, 3, outs, 1, sc, 2, ctypes.c_void_p(torch.cuda.current_stream().cuda_stream))
    rc = lib.ak_kernel(ctypes.byref(c))
    return rc, o


def problem(B, H, S, D, L, HKV, dtype, gen, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    rn = lambda *s, std=1.0: (torch.randn(*s, generator=g, device="cuda") * std).to(dtype)  # noqa: E731
    q, k, v = rn(B, H, 1, D), rn(B, HKV, S, D), rn(B, HKV, S, D)
    if gen == "large_logits":
        q, k = rn(B, H, 1, D, std=10.0), rn(B, HKV, S, D, std=10.0)
    elif gen == "one_key_dominates":
        k = rn(B, HKV, S, D, std=0.1)
        k[:, :, L - 1] = q[:, :: H // HKV, 0] * 4
    elif gen == "identical_keys":
        k = rn(B, HKV, 1, D).expand(B, HKV, S, D).contiguous()
    k[:, :, L:] = float("nan")
    v[:, :, L:] = float("nan")
    return q, k, v


def reference(q, k, v, L, scale):
    B, H, _, D = q.shape
    HKV = k.shape[1]
    qd = q.double().reshape(B, HKV, H // HKV, D)
    s = qd @ k[:, :, :L].double().transpose(-1, -2) * scale
    return (torch.softmax(s, -1) @ v[:, :, :L].double()).reshape(B, H, 1, D)


def check(lib):
    shapes = [(2, 8, 80, 64, 77, 2), (4, 8, 512, 64, 512, 8), (4, 16, 1024, 64, 1000, 4), (8, 8, 2048, 128, 2048, 1),
              (1, 32, 512, 128, 512, 8), (8, 32, 512, 128, 512, 8), (32, 32, 512, 128, 512, 8),
              (1, 32, 4096, 128, 4096, 8), (8, 32, 4096, 128, 4096, 8), (1, 32, 32768, 128, 32768, 8),
              (3, 8, 16, 64, 1, 2), (1, 4, 1, 128, 1, 4), (1, 4, 40, 64, 33, 4), (5, 8, 255, 64, 127, 2),
              (8, 16, 512, 128, 300, 4), (2, 8, 1024, 128, 1023, 1), (1, 32, 4100, 128, 4097, 8),
              (2, 6, 100, 40, 97, 2), (1, 12, 300, 96, 250, 1), (1, 4, 64, 256, 60, 2)]  # D 40/96/256, groups 3, 12
    bad = 0
    for (B, H, S, D, L, HKV) in shapes:
        for dtype in (torch.float16, torch.bfloat16, torch.float32):
            if dtype == torch.float32 and D > 128:
                continue
            gens = ["random"] + (["large_logits", "one_key_dominates", "identical_keys"] if S == 512 else [])
            for gen in gens:
                q, k, v = problem(B, H, S, D, L, HKV, dtype, gen)
                scale = 1 / math.sqrt(D)
                rc, o = call(lib, q, k, v, L, scale)
                torch.cuda.synchronize()
                ref = reference(q, k, v, L, scale)
                vr = v[:, :, :L].double()
                err = (o.double() - ref).abs()
                bound = TOL[dtype] * vr.pow(2).mean().sqrt() + TOL[dtype] * ref.abs()
                ok = rc == 0 and not o.isnan().any() and bool((err <= bound).all())
                bad += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {B}x{H}x{S}x{D}x{L}x{HKV} {str(dtype)[6:]:8} {gen:18} rc {rc} "
                      f"max err {err.max().item():.3g}", flush=True)
    return bad


def timing(lib):
    print("\nLlama-3-8B decode (32 query heads over 8 kv heads, D 128), bf16; us, median of 50:")
    for (B, L) in [(1, 512), (8, 512), (32, 512), (1, 4096), (8, 4096), (32, 4096), (1, 32768), (8, 32768)]:
        q, k, v = problem(B, 32, L, 128, L, 8, torch.bfloat16, "random")
        scale = 1 / math.sqrt(128)
        nbytes = (2 * B * 8 * L * 128 + 2 * B * 32 * 128) * 2

        def t(fn):
            for _ in range(5):
                fn()
            times = []
            for _ in range(50):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                torch.cuda.synchronize()
                times.append(a.elapsed_time(b) * 1e3)
            return sorted(times)[len(times) // 2]
        ours = t(lambda: call(lib, q, k, v, L, scale))
        sdpa = t(lambda: F.scaled_dot_product_attention(q, k, v, scale=scale, enable_gqa=True))
        print(f"B {B:2} L {L:5}: ours {ours:8.2f} us ({nbytes / ours / 1e3:6.0f} GB/s)  SDPA {sdpa:8.2f} us  "
              f"{sdpa / ours:.2f}x", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--knobs", default="", help="NAME=VALUE,... as -D defines")
    ap.add_argument("--no-timing", action="store_true")
    a = ap.parse_args()
    print(torch.cuda.get_device_name(), flush=True)
    lib = build([k for k in a.knobs.split(",") if k])
    bad = check(lib)
    print(f"{bad} failed", flush=True)
    if not a.no_timing:
        timing(lib)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
