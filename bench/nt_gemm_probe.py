#!/usr/bin/env python3
"""Probe: which tile, pipeline depth and launch order make a Triton TMA GEMM with a K-major B
(y = x @ w^T, w of shape [N, K], the nn.Linear layout that fused_mlp's kernels use) fastest on this
GPU, against cuBLAS (F.linear) at the same shape. Exploration only.
  python3 bench/nt_gemm_probe.py 2048 4096 11008"""
import sys

import torch
import torch.nn.functional as F
import triton
import triton.language as tl
from triton.tools.tensor_descriptor import TensorDescriptor


@triton.jit
def _nt_kernel(a_desc, b_desc, c_desc, M, N, K, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
               BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, WS: tl.constexpr):
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    group_id = pid // (GROUP_M * num_pid_n)
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + ((pid % (GROUP_M * num_pid_n)) % group_size_m)
    pid_n = (pid % (GROUP_M * num_pid_n)) // group_size_m
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in tl.range(0, K, BLOCK_K, warp_specialize=WS):
        acc = tl.dot(a_desc.load([pid_m * BLOCK_M, k]), b_desc.load([pid_n * BLOCK_N, k]).T, acc)
    c_desc.store([pid_m * BLOCK_M, pid_n * BLOCK_N], acc.to(c_desc.dtype))


def main():
    M, N, K = (int(v) for v in sys.argv[1:4])
    x = torch.randn(M, K, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(N, K, device="cuda", dtype=torch.bfloat16) / K ** 0.5
    y = torch.empty(M, N, device="cuda", dtype=torch.bfloat16)
    flops = 2.0 * M * N * K
    ref = F.linear(x, w)
    t_ref = triton.testing.do_bench_cudagraph(lambda: F.linear(x, w), rep=200)
    print(f"NT {M}x{N}x{K} bf16: cuBLAS {t_ref*1e3:.1f} us {flops/t_ref/1e9:.0f} TF/s (CUDA graph timing)")
    for bm, bn, bk, stages, warps, group, ws in [
            (128, 256, 64, 3, 8, 8, False), (128, 256, 64, 4, 8, 8, False), (128, 256, 64, 4, 8, 16, False),
            (256, 128, 64, 3, 8, 8, False), (256, 128, 64, 4, 8, 16, False), (128, 128, 64, 4, 8, 8, False),
            (128, 128, 64, 5, 4, 8, False), (128, 256, 128, 2, 8, 8, False), (128, 256, 64, 3, 8, 8, True),
            (128, 128, 64, 4, 4, 8, True), (128, 256, 64, 4, 8, 16, True)]:
        name = f"{bm}x{bn}x{bk} s{stages} w{warps} g{group}{' ws' if ws else ''}"
        try:
            d = TensorDescriptor.from_tensor
            args = (d(x, [bm, bk]), d(w, [bn, bk]), d(y, [bm, bn]), M, N, K)
            grid = (triton.cdiv(M, bm) * triton.cdiv(N, bn),)
            fn = lambda: _nt_kernel[grid](*args, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=group, WS=ws,  # noqa: E731
                                          num_stages=stages, num_warps=warps)
            fn()
            err = (y.float() - ref.float()).abs().max().item()
            t = triton.testing.do_bench_cudagraph(fn, rep=200)
            print(f"  {name:<28} {t*1e3:8.1f} us {flops/t/1e9:5.0f} TF/s {t_ref/t:.3f}x cuBLAS  maxerr {err:.1e}", flush=True)
        except Exception as e:  # noqa: BLE001 - a probe: report and go on
            print(f"  {name:<28} FAILED {type(e).__name__}: {str(e)[:200]}", flush=True)


if __name__ == "__main__":
    main()
