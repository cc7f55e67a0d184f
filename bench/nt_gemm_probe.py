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
def _grouped(tile, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """Grouped ordering: consecutive tiles cover GROUP_M tile-rows of one tile-column strip."""
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    group_id = tile // (GROUP_M * num_pid_n)
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    return first_pid_m + ((tile % (GROUP_M * num_pid_n)) % group_size_m), (tile % (GROUP_M * num_pid_n)) // group_size_m


@triton.jit
def _nt_kernel(a_desc, b_desc, c_desc, M, N, K, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
               BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, WS: tl.constexpr):
    pid_m, pid_n = _grouped(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in tl.range(0, K, BLOCK_K, warp_specialize=WS):
        acc = tl.dot(a_desc.load([pid_m * BLOCK_M, k]), b_desc.load([pid_n * BLOCK_N, k]).T, acc)
    c_desc.store([pid_m * BLOCK_M, pid_n * BLOCK_N], acc.to(c_desc.dtype))


@triton.jit
def _nt_persistent_kernel(a_desc, b_desc, c_desc, M, N, K, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                          BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, NUM_SMS: tl.constexpr, FLATTEN: tl.constexpr):
    """One program per SM walking the tiles; FLATTEN lets the pipeliner overlap a tile's epilogue with
    the next tile's loads."""
    num_tiles = tl.cdiv(M, BLOCK_M) * tl.cdiv(N, BLOCK_N)
    for tile in tl.range(tl.program_id(0), num_tiles, NUM_SMS, flatten=FLATTEN):
        pid_m, pid_n = _grouped(tile, M, N, BLOCK_M, BLOCK_N, GROUP_M)
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for k in range(0, K, BLOCK_K):
            acc = tl.dot(a_desc.load([pid_m * BLOCK_M, k]), b_desc.load([pid_n * BLOCK_N, k]).T, acc)
        c_desc.store([pid_m * BLOCK_M, pid_n * BLOCK_N], acc.to(c_desc.dtype))


@triton.jit
def _nt_pointer_kernel(a_ptr, b_ptr, c_ptr, M, N, K, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                       BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr):
    """Pointer loads (cp.async pipelining) instead of the copy engine; shapes divisible by the tile."""
    pid_m, pid_n = _grouped(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_m[:, None] * K + offs_k[None, :]
    b_ptrs = b_ptr + offs_n[None, :] * K + offs_k[:, None]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        acc = tl.dot(tl.load(a_ptrs), tl.load(b_ptrs), acc)
        a_ptrs += BLOCK_K
        b_ptrs += BLOCK_K
    tl.store(c_ptr + offs_m[:, None] * N + offs_n[None, :], acc.to(c_ptr.dtype.element_ty))


def main():
    M, N, K = (int(v) for v in sys.argv[1:4])
    x = torch.randn(M, K, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(N, K, device="cuda", dtype=torch.bfloat16) / K ** 0.5
    y = torch.empty(M, N, device="cuda", dtype=torch.bfloat16)
    flops = 2.0 * M * N * K
    ref = F.linear(x, w)
    t_ref = triton.testing.do_bench_cudagraph(lambda: F.linear(x, w), rep=200)
    print(f"NT {M}x{N}x{K} bf16: cuBLAS {t_ref*1e3:.1f} us {flops/t_ref/1e9:.0f} TF/s (CUDA graph timing)")
    if "--more" in sys.argv:
        return more(M, N, K, x, w, y, ref, t_ref, flops)
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


def more(M, N, K, x, w, y, ref, t_ref, flops):
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    d = TensorDescriptor.from_tensor
    for bm, bn, bk, stages, warps, group, flatten in [
            (128, 256, 64, 3, 8, 8, False), (128, 256, 64, 4, 8, 8, True), (128, 128, 64, 5, 4, 8, False),
            (128, 128, 64, 5, 4, 8, True), (128, 256, 64, 3, 8, 8, True), (128, 128, 64, 4, 8, 8, True)]:
        name = f"persistent {bm}x{bn}x{bk} s{stages} w{warps} g{group}{' flat' if flatten else ''}"
        try:
            args = (d(x, [bm, bk]), d(w, [bn, bk]), d(y, [bm, bn]), M, N, K)
            fn = lambda: _nt_persistent_kernel[(sms,)](*args, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk,  # noqa: E731
                                                       GROUP_M=group, NUM_SMS=sms, FLATTEN=flatten,
                                                       num_stages=stages, num_warps=warps)
            run(name, fn, y, ref, t_ref, flops)
        except Exception as e:  # noqa: BLE001
            print(f"  {name:<40} FAILED {type(e).__name__}: {str(e)[:200]}", flush=True)
    for bm, bn, bk, stages, warps in [(128, 256, 64, 3, 8), (128, 128, 64, 4, 4), (128, 128, 64, 5, 8),
                                      (128, 256, 64, 4, 8), (256, 128, 64, 3, 8)]:
        name = f"pointer {bm}x{bn}x{bk} s{stages} w{warps}"
        try:
            grid = (triton.cdiv(M, bm) * triton.cdiv(N, bn),)
            fn = lambda: _nt_pointer_kernel[grid](x, w, y, M, N, K, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk,  # noqa: E731
                                                  GROUP_M=8, num_stages=stages, num_warps=warps)
            run(name, fn, y, ref, t_ref, flops)
        except Exception as e:  # noqa: BLE001
            print(f"  {name:<40} FAILED {type(e).__name__}: {str(e)[:200]}", flush=True)


def run(name, fn, y, ref, t_ref, flops):
    fn()
    err = (y.float() - ref.float()).abs().max().item()
    t = triton.testing.do_bench_cudagraph(fn, rep=200)
    print(f"  {name:<40} {t*1e3:8.1f} us {flops/t/1e9:5.0f} TF/s {t_ref/t:.3f}x cuBLAS  maxerr {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
