#!/usr/bin/env python3
"""Does `autokernel bench` report the speed-up torch's own timing sees?

For every CUDA starter benched in this run (the JSON files bench/gpu_session.sh wrote under
$OUT/bench), time the same kernel at the same shape and dtype with triton.testing.do_bench
(through bench/torch_crosscheck.py) and print both speed-ups against the eager PyTorch op, side by
side, with their ratio.
"""
import json
import os
import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
OUT = pathlib.Path(os.environ.get("OUT", "/tmp/ak_out"))


def main():
    rows = []
    for path in sorted((OUT / "bench").glob("*_cuda.json")):
        report = json.loads(path.read_text())
        if not report.get("timings"):
            print(f"{path.name}: no timing ({report.get('outcome')})")
            continue
        t = report["timings"][0]
        dims = list(t["dims"])
        kind = report["kernel_type"]
        extra = []
        if kind == "flash_attention":
            extra = ["--causal"] if dims[4] else []
            dims = dims[:4]
        cmd = [sys.executable, str(REPO / "bench/torch_crosscheck.py"), "--kernel", report["kernel"], "--type", kind,
               "--dtype", t["dtype"], "--shape", ",".join(map(str, dims)), "--time", *extra]
        text = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO).stdout
        m = re.search(r"speedup_vs_reference: ([0-9.]+)", text)
        torch_speedup = float(m.group(1)) if m else float("nan")
        ours = t["speedup_vs_reference"]
        rows.append((kind, t["shape"], "x".join(map(str, t["dims"])), t["dtype"], ours, torch_speedup))
    print(f"{'type':<17} {'shape':<28} {'dtype':<5} {'autokernel':>10} {'do_bench':>9} {'ratio':>6}")
    for kind, label, dims, dt, ours, theirs in rows:
        print(f"{kind:<17} {label + ' ' + dims:<28} {dt:<5} {ours:>9.3f}x {theirs:>8.3f}x {ours / theirs:>6.3f}")


if __name__ == "__main__":
    main()
