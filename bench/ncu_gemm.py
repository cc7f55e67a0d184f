"""Our GEMM kernels and PyTorch's (cuBLAS) under Nsight Compute: where the bytes go and what the warps wait on.
The variants (NAME=FILE[:KNOB=V,...]) are built first, by nvcc in parallel as in bench/gemm_sustained.py; then the
script starts ncu on itself once per case (--clock-control none: the clocks are left alone, METHOD.md), so that a
case that runs past NCU_CASE_TIMEOUT seconds (default 120) costs only itself. Each case runs every variant and
PyTorch's formula once after a warm-up, inside an NVTX range that names the kernels it launches; ncu profiles only
those calls, each from a cold L2 (its cache control). Prints one row per kernel as its case finishes: time, SM
clock, DRAM and L2 bytes, grid, SM throughput and the warps' top stalls; NCU_CSV=FILE keeps ncu's raw tables.

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
    from kernel_abi import caller, load_library

    built = []
    for entry in os.environ["NCU_LIBS"].split(";"):
        name, kind, path = entry.split("|")
        built.append((name, kind, load_library(path)))
    torch.manual_seed(0)
    for kind, m, n, k in CASES:
        inputs, formula, y, scalars, _ = case_inputs(kind, m, n, k)
        fns = {"PyTorch": formula}
        fns.update({name: caller(lib, inputs, y, scalars) for name, t, lib in built if t == kind})
        for name, f in fns.items():
            f(), f()  # warm-up: cuBLAS's heuristics, our plan's device queries, the pool's first allocation
            torch.cuda.synchronize()
            torch.cuda.profiler.start()  # ncu profiles from here (--profile-from-start off)
            torch.cuda.nvtx.range_push(f"{kind} {m}x{n}x{k} {name}")
            f()
            torch.cuda.synchronize()
            torch.cuda.nvtx.range_pop()
            torch.cuda.profiler.stop()


def print_rows(raw, header):
    rows = list(csv.DictReader(io.StringIO(raw)))[1:]  # the first row after the header holds the units
    stall_cols = [c for c in rows[0] if c.startswith("smsp__average_warps_issue_stalled_") and
                  c.endswith("_per_issue_active.ratio")] if rows else []
    if header:
        print(f"{'range / kernel':<58} {'us':>8} {'MHz':>6} {'DRAM rd MB':>10} {'wr MB':>7} {'L2 MB':>8} "
              f"{'grid':>6} {'SM%':>5}  top stalls (warps per issue)")
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


def main():
    if os.environ.get("NCU_CHILD"):
        return child()
    from concurrent.futures import ThreadPoolExecutor

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gemm_sustained import CASES
    from kernel_abi import build_variant

    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        built = list(pool.map(build_variant, sys.argv[1:]))
    for name, _, lib, err in built:
        if not lib:
            print(f"{name}: did not build: {err}")
    libs = ";".join(f"{name}|{kind}|{lib._name}" for name, kind, lib, _ in built if lib)
    cmd = ["ncu", "--clock-control", "none", "--profile-from-start", "off", "--target-processes", "application-only",
           "--nvtx", "--csv", "--page", "raw", "--print-units", "base", "--print-nvtx-rename", "kernel",
           "--metrics", ",".join(METRICS), *[a for s in SECTIONS for a in ("--section", s)],
           sys.executable, os.path.abspath(__file__)]
    raws = []
    for kind, m, n, k in CASES:
        case = f"{kind}:{m}x{n}x{k}"
        env = dict(os.environ, NCU_CHILD="1", NCU_LIBS=libs, CASES=case)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=env,
                               timeout=float(os.environ.get("NCU_CASE_TIMEOUT", "120")))
        except subprocess.TimeoutExpired:
            print(f"{case}: ncu ran past NCU_CASE_TIMEOUT, skipped", flush=True)
            continue
        raw = r.stdout[r.stdout.find('"ID"'):] if '"ID"' in r.stdout else ""
        if r.returncode or not raw:
            print(f"{case}: ncu failed:", r.stdout[-2000:], r.stderr[-2000:], flush=True)
            continue
        print_rows(raw, header=not raws)
        raws.append(raw)
    if os.environ.get("NCU_CSV"):
        open(os.environ["NCU_CSV"], "w").write("\n".join(raws))
    sys.exit(0 if raws else 1)


if __name__ == "__main__":
    main()
