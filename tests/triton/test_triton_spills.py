"""fused_mlp's decode path picks its step depth so that no program spills registers (`_small_block_k`). Spills
are a property of the compiled code, so this compiles the kernels ahead of time for sm_90 (Triton's own ptxas;
no GPU needed) at every M class, in bf16 and f32, with the activation that takes the most registers (the exact
GELU), and reads each kernel's stack size with Triton's cuobjdump: a spill shows as a stack frame.

A child process does the compiling: the other Triton tests run kernels in the interpreter (TRITON_INTERPRET=1),
under which @triton.jit gives functions that cannot be compiled.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

CHILD = r"""
import importlib.util, json, pathlib, re, subprocess, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
spec = importlib.util.spec_from_file_location("fused_mlp_triton", sys.argv[1])
fm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fm)
objdump = pathlib.Path(triton.__file__).parent / "backends/nvidia/bin/cuobjdump"
out = []
def stack(fn, sig, consts, warps, stages, cubin):
    k = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=consts), target=GPUTarget("cuda", 90, 32),
                       options=dict(num_warps=warps, num_stages=stages))
    cubin.write_bytes(k.asm["cubin"])
    usage = subprocess.run([str(objdump), "-res-usage", str(cubin)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"STACK:(\d+)", usage).group(1))
cubin = pathlib.Path(sys.argv[2])
for dt, prec in (("bf16", "tf32"), ("fp32", "ieee"), ("fp32", "tf32"), ("fp32", "tf32x3")):
    f32_fma = prec == "ieee"  # as kernel_fn: F32_DOT 0 on f32; bf16 passes "tf32", which its dot ignores
    for M in (1, 2, 4, 8, 16, 32, 64):
        if dt == "fp32" and M not in (1, 8, 16, 64):
            continue
        dot = M > fm.SMALL_SUM_M
        bm = max(16, triton.next_power_of_2(M)) if dot else triton.next_power_of_2(M)
        bk = fm._small_block_k(M, dot, 4 if dt == "fp32" else 2, f32_fma)
        c = dict(BLOCK_M=bm, BLOCK_N=fm.SMALL_BLOCK_N, BLOCK_K=bk, USE_DOT=dot, PRECISION=prec)
        ptrs = {"x_ptr": f"*{dt}", "wg_ptr": f"*{dt}", "wu_ptr": f"*{dt}", "h_ptr": f"*{dt}"}
        sig = dict(ptrs, M="i32", F="i32", E="i32", **{k: "constexpr" for k in c}, ACT="constexpr")
        g = stack(fm._gate_up_small_kernel, sig, dict(c, ACT=2), fm.SMALL_NUM_WARPS, fm.NUM_STAGES, cubin)
        sig = {"h_ptr": f"*{dt}", "wd_ptr": f"*{dt}", "out_ptr": "*fp32", "M": "i32", "E": "i32", "F": "i32",
               "K_CHUNK": "i32", **{k: "constexpr" for k in c}}
        d = stack(fm._down_small_kernel, sig, c, fm.SMALL_NUM_WARPS, fm.DOWN_STAGES, cubin)
        out.append(dict(dtype=dt, precision=prec, M=M, block_k=bk, gate_up_stack=g, down_stack=d))
print(json.dumps(out))
"""


def test_fused_mlp_decode_kernels_do_not_spill_on_hopper(tmp_path):
    triton = pytest.importorskip("triton")
    if not (pathlib.Path(triton.__file__).parent / "backends/nvidia/bin/cuobjdump").exists():
        pytest.skip("this Triton has no bundled cuobjdump")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path / "cache")
    r = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "kernels/fused_mlp/triton.py"),
                        str(tmp_path / "k.cubin")], capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(rows) == 7 + 4 + 4 + 4
    spilled = [row for row in rows if row["gate_up_stack"] or row["down_stack"]]
    assert not spilled, spilled


def test_skinny_gemm_kernels_do_not_spill_at_decode_shapes():
    """bench/triton_spills.py records the launches skinny_gemm's kernel_fn makes at M 1, 8, 32 of Llama-3-8B's
    projections and compiles each for sm_90: none may have a stack frame (the step depth follows M)."""
    triton = pytest.importorskip("triton")
    if not (pathlib.Path(triton.__file__).parent / "backends/nvidia/bin/cuobjdump").exists():
        pytest.skip("this Triton has no bundled cuobjdump")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    r = subprocess.run([sys.executable, str(ROOT / "bench/triton_spills.py"), "skinny_gemm"], capture_output=True,
                       text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [line for line in r.stdout.splitlines() if line.startswith("skinny_gemm ")]
    assert len(rows) == 6, r.stdout
    assert "0 launches with a stack frame" in r.stdout, r.stdout
