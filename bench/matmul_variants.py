"""Time versions of the matmul CUDA starter side by side, interleaved, against cuBLAS, without building autokernel:
nvcc compiles each variant once (in parallel), ctypes calls its ak_kernel on PyTorch's tensors and stream (as
bench/skinny_gemm_sweep.py does), each output is checked against the float32 truth, and every case is timed in
rounds that go round all variants and cuBLAS in turn (so that clock drift falls on all alike), median of the rounds.

A variant is NAME=FILE or NAME=FILE:KNOB=V,KNOB=V (e.g. an older commit's kernels/matmul/cuda.cu, saved by
`git show REV:kernels/matmul/cuda.cu`). Cases: B row-major ([K, N]) and K-major (F.linear's weight W [N, K] as it
is), then K-major with a bias and with a residual added in the epilogue. cuBLAS does the same work its fastest way:
matmul, F.linear, addmm(bias) and addmm(residual) (beta = 1: cuBLAS's own residual epilogue) beside the model's
eager pair linear + add. A variant that refuses a case (older ABI) shows "-".

    python3 bench/matmul_variants.py head=kernels/matmul/cuda.cu old=/tmp/old.cu bn256=kernels/matmul/cuda.cu:H_BN=256
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_abi import build_variant, caller, time_calls  # noqa: E402

SHAPES = [tuple(int(v) for v in s.split("x")) for s in
          os.environ.get("SHAPES", "2048x4096x4096,2048x12288x4096,2048x4096x11008,512x4096x4096").split(",")]
CASES = os.environ.get("CASES", "row,kmajor,bias,residual").split(",")
ROUNDS, CALLS = 7, 10


def main():
    specs = sys.argv[1:]
    print(torch.cuda.get_device_name(), "bf16; us per call (median of", ROUNDS, "interleaved rounds of", CALLS,
          "calls); ratio = cuBLAS's best / ours", flush=True)
    with ThreadPoolExecutor(16) as pool:
        built = list(pool.map(build_variant, specs))
    for name, _, lib, err in built:
        if lib is None:
            print(f"[{name}] did not build: {err}", flush=True)
    built = [(n, lib) for n, _, lib, _ in built if lib is not None]
    torch.manual_seed(0)
    for (m, n, k) in SHAPES:
        x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * k ** -0.5
        b_row = w.t().contiguous()  # [K, N] row-major
        bias = torch.randn(n, device="cuda", dtype=torch.bfloat16)
        res = torch.randn(m, n, device="cuda", dtype=torch.bfloat16)
        y = torch.empty(m, n, device="cuda", dtype=torch.bfloat16)
        for case in CASES:
            b = b_row if case == "row" else w.t()
            extra = {"bias": [bias], "residual": [res]}.get(case, [])
            truth = x.float() @ w.float().t()
            for e in extra:
                truth = truth + e.float()
            lib_fns = {"row": {"matmul": lambda: torch.matmul(x, b_row, out=y)},
                       "kmajor": {"F.linear": lambda: F.linear(x, w)},
                       "bias": {"F.linear+bias": lambda: F.linear(x, w, bias)},
                       "residual": {"linear,add": lambda: F.linear(x, w).add_(res),
                                    "addmm(res)": lambda: torch.addmm(res, x, w.t(), out=y)}}[case]
            fns = dict(lib_fns)
            for name, lib in built:
                f = caller(lib, [x, b, *extra], y)
                y.fill_(float("nan"))
                rc = f()
                torch.cuda.synchronize()
                err = ((y.float() - truth).norm() / truth.norm()).item() if rc == 0 else float("nan")
                if rc == 0 and err < 1e-2:
                    fns[name] = f
                elif rc == 0:
                    print(f"{m}x{n}x{k} {case} [{name}] WRONG: rel L2 {err:.3g}", flush=True)
            for f in fns.values():
                f(), f()
            ts = {name: [] for name in fns}
            for _ in range(ROUNDS):
                for name, f in fns.items():
                    ts[name].append(time_calls(f, CALLS))
            med = {name: sorted(v)[len(v) // 2] for name, v in ts.items()}
            lib_best = min(med[nm] for nm in lib_fns)
            line = f"{m}x{n}x{k} {case:<8} " + "  ".join(f"{nm} {med[nm]:7.2f}" for nm in lib_fns)
            for name, _ in built:
                line += f" | {name} " + (f"{med[name]:7.2f} {lib_best / med[name]:.3f}x" if name in med else "-")
            print(line, flush=True)


if __name__ == "__main__":
    main()
