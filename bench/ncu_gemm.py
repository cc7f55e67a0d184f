"""Our GEMM kernels and PyTorch's (cuBLAS) under Nsight Compute: where the bytes go and what the warps wait on.
The script starts ncu on itself (--clock-control none: the clocks are left alone, METHOD.md). Every case runs each
variant (NAME=FILE[:KNOB=V,...], built by nvcc as in bench/gemm_sustained.py) and PyTorch's formula once after a
warm-up, inside an NVTX range that names the kernels it launches; ncu profiles only those calls, each from a cold
L2 (its cache control). Prints one row per kernel: time, SM clock, DRAM and L2 bytes, grid, SM throughput and the
warps' top stalls; NCU_CSV=FILE keeps ncu's raw table.

    CASES=matmul:2048x14336x4096,fused_mlp:2048x14336x4096 python3 bench/ncu_gemm.py now=kernels/matmul/cuda.cu
"""
import csv
import io
import os
import subprocess
import sys

METRICS = ["gpu__time_duration.sum", "sm__cycles_elapsed.avg.per_second", "dram__bytes_read.sum",
           "dram__bytes_write.sum", "lts__t_bytes.sum", "launch__grid_size", "launch__registers_per_thread",
           "sm__throughput.avg.pct_of_peak_sustained_elapsed"]
SECTIONS = ["WarpStateStats"]


def child():
    import torch

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gemm_sustained import CASES, case_inputs
    from kernel_abi import build_variant, caller

    built = [build_variant(spec) for spec in sys.argv[1:]]
    torch.manual_seed(0)
    for kind, m, n, k in CASES:
        inputs, formula, y, scalars, _ = case_inputs(kind, m, n, k)
        fns = {"PyTorch": formula}
        fns.update({name: caller(lib, inputs, y, scalars) for name, t, lib, _ in built if t == kind and lib})
        for name, f in fns.items():
            f(), f()  # warm-up: cuBLAS's heuristics, our plan's device queries, the pool's first allocation
            torch.cuda.synchronize()
            torch.cuda.profiler.start()  # ncu profiles from here (--profile-from-start off)
            torch.cuda.nvtx.range_push(f"{kind} {m}x{n}x{k} {name}")
            f()
            torch.cuda.synchronize()
            torch.cuda.nvtx.range_pop()
            torch.cuda.profiler.stop()


def main():
    if os.environ.get("NCU_CHILD"):
        return child()
    cmd = ["ncu", "--clock-control", "none", "--profile-from-start", "off", "--nvtx", "--csv", "--page", "raw",
           "--print-units", "base",
           "--print-nvtx-rename", "kernel", "--metrics", ",".join(METRICS),
           *[a for s in SECTIONS for a in ("--section", s)], sys.executable, os.path.abspath(__file__), *sys.argv[1:]]
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, NCU_CHILD="1"))
    raw = r.stdout[r.stdout.find('"ID"'):] if '"ID"' in r.stdout else ""
    if r.returncode or not raw:
        print(r.stdout[-3000:], r.stderr[-3000:])
        sys.exit(1)
    if os.environ.get("NCU_CSV"):
        open(os.environ["NCU_CSV"], "w").write(raw)
    rows = list(csv.DictReader(io.StringIO(raw)))[1:]  # the first row after the header holds the units
    stall_cols = [c for c in rows[0] if c.startswith("smsp__average_warps_issue_stalled_") and
                  c.endswith("_per_issue_active.ratio")] if rows else []
    print(f"{'range / kernel':<58} {'us':>8} {'MHz':>6} {'DRAM rd MB':>10} {'wr MB':>7} {'L2 MB':>8} {'grid':>6} "
          f"{'SM%':>5}  top stalls (warps per issue)")
    for row in rows:
        def num(c):
            try:
                return float(row.get(c, "nan").replace(",", ""))
            except ValueError:
                return float("nan")
        stalls = sorted(((num(c), c[len("smsp__average_warps_issue_stalled_"):-len("_per_issue_active.ratio")])
                         for c in stall_cols), reverse=True)[:4]
        name = f"{row.get('Kernel Name', '')[:40]} | {row.get('Function Name', row.get('Demangled Name', ''))[:16]}"
        print(f"{name:<58} {num('gpu__time_duration.sum') / 1e3:8.1f} "
              f"{num('sm__cycles_elapsed.avg.per_second') / 1e6:6.0f} {num('dram__bytes_read.sum') / 1e6:10.1f} "
              f"{num('dram__bytes_write.sum') / 1e6:7.1f} {num('lts__t_bytes.sum') / 1e6:8.1f} "
              f"{num('launch__grid_size'):6.0f} {num('sm__throughput.avg.pct_of_peak_sustained_elapsed'):5.1f}  "
              + ", ".join(f"{s} {v:.2f}" for v, s in stalls), flush=True)


if __name__ == "__main__":
    main()
