"""fused_mlp's and skinny_gemm's decode paths pick their step depth so that no program spills registers. Spills
are a property of the compiled code, so bench/triton_spills.py records the launches each kernel_fn makes (CPU
tensors, nothing run) and compiles them ahead of time for sm_90 (Triton's own ptxas; no GPU needed): fused_mlp at
every M class, in bf16 and f32 at each F32_DOT, with the activation that takes the most registers (the exact
GELU); a spill shows as a stack frame in Triton's cuobjdump.

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
import json, sys
import torch
from triton.runtime.jit import JITFunction
sys.path.insert(0, sys.argv[1])
import triton_spills as ts
JITFunction.run = ts.record
out = []
E, F = 4096, 14336
for dt, f32_dot in ((torch.bfloat16, 0), (torch.float32, 0), (torch.float32, 2), (torch.float32, 1)):
    for M in (1, 2, 4, 8, 16, 32, 64):
        if dt == torch.float32 and M not in (1, 8, 16, 64):
            continue
        inputs = [ts.r(M, E, dtype=dt), ts.r(F, E, dtype=dt), ts.r(F, E, dtype=dt), ts.r(E, F, dtype=dt)]
        for fn, sig, consts, warps, stages in ts.launches("fused_mlp", inputs, [ts.r(M, E, dtype=dt)], [2],
                                                          F32_DOT=f32_dot):
            regs, stack = ts.usage(fn, sig, consts, warps, stages)
            out.append(dict(dtype=str(dt), f32_dot=f32_dot, M=M, kernel=fn.fn.__name__, block_k=consts["BLOCK_K"]
                            if "BLOCK_K" in consts else None, regs=regs, stack=stack))
print(json.dumps(out))
"""


def test_fused_mlp_decode_kernels_do_not_spill_on_hopper(tmp_path):
    triton = pytest.importorskip("triton")
    if not (pathlib.Path(triton.__file__).parent / "backends/nvidia/bin/cuobjdump").exists():
        pytest.skip("this Triton has no bundled cuobjdump")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path / "cache")
    r = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "bench")], capture_output=True, text=True, env=env,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    # Every case (7 M classes in bf16, 4 in f32 at each of three precisions) took the decode path's two kernels.
    cases = {}
    for row in rows:
        cases.setdefault((row["dtype"], row["f32_dot"], row["M"]), set()).add(row["kernel"])
    assert len(cases) == 7 + 4 + 4 + 4, cases
    for case, kernels in cases.items():
        assert {"_gate_up_small_kernel", "_down_small_kernel"} <= kernels, (case, kernels)
    spilled = [row for row in rows if row["stack"]]
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


TMA_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import triton_spills as ts
out = []
for fn, sig, consts, warps, stages in ts.matmul_tma_launches():
    regs, stack = ts.usage(fn, sig, consts, warps, stages)
    out.append(dict(kernel=fn.fn.__name__, b_t=consts["B_T"], bias=consts["HAS_BIAS"], res=consts["HAS_RES"],
                    regs=regs, stack=stack))
print(json.dumps(out))
"""


def test_matmul_tma_kernels_compile_for_hopper_with_b_k_major_a_bias_and_a_residual(tmp_path):
    """The TMA path (CUDA tensors only, so never run by the interpreter tests) compiled for sm_90 in each form
    kernel_fn launches: B row-major or K-major (kernel_abi.h; a K-major tile is loaded as [N, K] and transposed),
    with no epilogue input, a bias, and a bias and a residual, persistent and not. A K-major B whose two branches
    returned tiles of two
    shapes did not compile; this is where that shows without a GPU."""
    triton = pytest.importorskip("triton")
    if not (pathlib.Path(triton.__file__).parent / "backends/nvidia/bin/cuobjdump").exists():
        pytest.skip("this Triton has no bundled cuobjdump")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path / "cache")
    r = subprocess.run([sys.executable, "-c", TMA_CHILD, str(ROOT / "bench")], capture_output=True, text=True,
                       env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    assert {(row["kernel"], row["b_t"], row["bias"], row["res"]) for row in rows} == {
        (k, b_t, bias, res) for k in ("_matmul_tma_kernel", "_matmul_persistent_kernel")
        for b_t in (False, True) for bias, res in ((False, False), (True, False), (True, True))}
    assert not [row for row in rows if row["stack"]], rows
