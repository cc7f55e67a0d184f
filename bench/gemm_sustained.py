"""Our GEMM-bound kernels against PyTorch's, timed in short and in long runs of back-to-back calls: does the gap
change when the card runs hot? verify's per-shape screen (10 calls back to back) put hf:llama's MLP at 1224 us
ours, 1217 us PyTorch's, where the harness had ours at 948 us, 1.061x PyTorch (H100, 2026-12-07): a GEMM's clock
under a long run is its power limit's, and a kernel that spends more energy per FLOP (more L2 and shared-memory
traffic) is slowed more. nvcc builds each variant (NAME=FILE[:KNOB=V,...], FILE kernels/matmul/cuda.cu or
kernels/fused_mlp/cuda.cu, e.g. an older commit's copy); every case is timed in rounds that go round all variants
and PyTorch in turn, CALLS back to back per round for each CALLS in RUNS (default 10,100), median of ROUNDS rounds.
The SM clock and the board's power are read by nvidia-smi every 100 ms into CLOCKS (default /tmp/clocks.csv),
each phase's start printed with its time so the two can be put side by side.

    python3 bench/gemm_sustained.py now=kernels/matmul/cuda.cu cl2=kernels/matmul/cuda.cu:H_CLUSTER=2,H_SPLIT_K=1 \\
        mlp=kernels/fused_mlp/cuda.cu mlp_cl2=kernels/fused_mlp/cuda.cu:H_CLUSTER=2
"""
import datetime
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_abi import build_variant, caller, time_calls  # noqa: E402

RUNS = [int(v) for v in os.environ.get("RUNS", "10,100").split(",")]
ROUNDS = int(os.environ.get("ROUNDS", "5"))
# (type, M, N, K): matmul is y[M,N] = x[M,K] W[N,K]^T; fused_mlp is (silu(x Wg^T) * x Wu^T) Wd^T with x [M,E],
# Wg, Wu [F,E], Wd [E,F], written (fused_mlp, M, F, E).
CASES = [(c.split(":")[0], *(int(v) for v in c.split(":")[1].split("x"))) for c in os.environ.get(
    "CASES", "fused_mlp:2048x14336x4096,matmul:2048x14336x4096,matmul:2048x4096x14336,matmul:2048x128256x4096"
).split(",")]


def case_inputs(kind, m, n, k):
    """(inputs in the ABI's order, PyTorch's formula, the output, scalars, float32 truth)."""
    x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    if kind == "matmul":
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * k ** -0.5
        return [x, w.t()], lambda: F.linear(x, w), torch.empty(m, n, device="cuda", dtype=torch.bfloat16), (), \
            x.float() @ w.float().t()
    wg, wu = (torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * k ** -0.5 for _ in range(2))
    wd = torch.randn(k, n, device="cuda", dtype=torch.bfloat16) * n ** -0.5
    truth = (F.silu(x.float() @ wg.float().t()) * (x.float() @ wu.float().t())) @ wd.float().t()
    return [x, wg, wu, wd], lambda: F.linear(F.silu(F.linear(x, wg)) * F.linear(x, wu), wd), \
        torch.empty(m, k, device="cuda", dtype=torch.bfloat16), (0.0,), truth


def main():
    clocks = subprocess.Popen(["nvidia-smi", "--query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu",
                               "--format=csv,noheader", "-lms", "100"],
                              stdout=open(os.environ.get("CLOCKS", "/tmp/clocks.csv"), "w"))
    try:
        print(torch.cuda.get_device_name(), "bf16; us per call, median of", ROUNDS, "interleaved rounds;",
              "ratio = PyTorch / ours", flush=True)
        with ThreadPoolExecutor(16) as pool:
            built = list(pool.map(build_variant, sys.argv[1:]))
        for name, _, lib, err in built:
            if lib is None:
                print(f"[{name}] did not build: {err}", flush=True)
        torch.manual_seed(0)
        for kind, m, n, k in CASES:
            inputs, formula, y, scalars, truth = case_inputs(kind, m, n, k)
            fns = {"PyTorch": formula}
            for name, _, lib, _ in (b for b in built if b[1] == kind and b[2] is not None):
                f = caller(lib, inputs, y, scalars)
                y.fill_(float("nan"))
                rc = f()
                torch.cuda.synchronize()
                err = ((y.float() - truth).norm() / truth.norm()).item() if rc == 0 else float("nan")
                if rc == 0 and err < 2e-2:
                    fns[name] = f
                else:
                    print(f"{kind} {m}x{n}x{k} [{name}] rc {rc}, rel L2 {err:.3g}: left out", flush=True)
            del truth
            for calls in RUNS:
                print(f"  {datetime.datetime.now().strftime('%H:%M:%S.%f')[:-3]} {kind} {m}x{n}x{k}, {calls} calls",
                      flush=True)
                for f in fns.values():
                    f()
                ts = {name: [] for name in fns}
                for _ in range(ROUNDS):
                    for name, f in fns.items():
                        ts[name].append(time_calls(f, calls))
                med = {name: sorted(v)[len(v) // 2] for name, v in ts.items()}
                line = f"{kind:<9} {m}x{n}x{k} {calls:4d} calls  PyTorch {med['PyTorch']:8.1f}"
                for name in fns:
                    if name != "PyTorch":
                        line += f" | {name} {med[name]:8.1f} {med['PyTorch'] / med[name]:.3f}x"
                print(line, flush=True)
    finally:
        clocks.terminate()


if __name__ == "__main__":
    main()
