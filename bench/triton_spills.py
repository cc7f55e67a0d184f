"""Every Triton starter's kernels compiled ahead of time for sm_90 (Triton's own ptxas; no GPU needed), at the
shapes models run, with each kernel's registers and stack frame (a spill shows as one). kernel_fn runs on CPU
tensors with JITFunction.run replaced by a recorder, so each launch's specialisation (its argument types,
constexprs, num_warps, num_stages) is what the starter would launch on a GPU, except where a starter picks
another path on a GPU (the TMA paths of fused_mlp's GEMM path and flash_attention need CUDA tensors: their pointer
paths are the ones compiled here; matmul's TMA kernels are compiled from signatures built by hand,
matmul_tma_launches).
    python3 bench/triton_spills.py [TYPE ...]
"""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import tempfile

os.environ.pop("TRITON_INTERPRET", None)
import torch  # noqa: E402
import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402
from triton.runtime.jit import JITFunction  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
KNOB_RE = re.compile(r"^# @knob (\w+)=(\S+) \{")
OBJDUMP = pathlib.Path(triton.__file__).parent / "backends/nvidia/bin/cuobjdump"
TYPES = {torch.bfloat16: "bf16", torch.float16: "fp16", torch.float32: "fp32", torch.int64: "i64", torch.int32: "i32",
         torch.bool: "i1", torch.uint8: "u8"}
bf = torch.bfloat16


def load(ktype, **knobs):
    """The starter as the harness loads it: its knobs' defaults (or `knobs`) set before its body runs."""
    path = ROOT / "kernels" / ktype / "triton.py"
    spec = importlib.util.spec_from_file_location(f"spill_{ktype}", path)
    mod = importlib.util.module_from_spec(spec)
    for line in path.read_text().splitlines():
        if m := KNOB_RE.match(line):
            v = m.group(2)
            setattr(mod, m.group(1), int(v) if re.fullmatch(r"-?\d+", v) else float(v) if re.fullmatch(r"[\d.e+-]+", v) else v)
    for name, value in knobs.items():
        setattr(mod, name, value)
    spec.loader.exec_module(mod)
    return mod


def r(*shape, dtype=bf):
    return torch.empty(shape, dtype=dtype)


def cases():
    """(type, label, inputs, outputs, scalars) at model shapes (Llama-3-8B widths, 2048-token prefill, decode)."""
    for m in (1, 2048):
        x, w = r(m, 4096), r(4096)
        yield "rmsnorm", f"{m}x4096", [x, w], [r(m, 4096)], [1e-5]
        yield "add_rmsnorm", f"{m}x4096", [x, r(m, 4096), w], [r(m, 4096), r(m, 4096)], [1e-5]
    yield "layernorm", "2048x1280", [r(2048, 1280), r(1280), r(1280)], [r(2048, 1280)], [1e-5]
    yield "softmax", "2048x2048", [r(2048, 2048)], [r(2048, 2048)], []
    yield "reduce", "4096x14336", [r(4096, 14336)], [r(4096)], []
    yield "cross_entropy", "2048x32000", [r(2048, 32000), torch.zeros(2048, dtype=torch.int64)], [r(2048, dtype=torch.float32)], []
    yield "gelu", "2048x5120", [r(2048, 5120)], [r(2048, 5120)], [1]
    for s in (1, 2048):
        for style in (0, 1):
            yield ("rotary_embedding", f"1x32x{s}x128 kv8 style{style}",
                   [r(1, 32, s, 128), r(1, 8, s, 128), r(s, 64), r(s, 64)], [r(1, 32, s, 128), r(1, 8, s, 128)], [style])
    for m in (1, 8, 32):
        for n in (4096, 14336):
            yield "skinny_gemm", f"{m}x{n}x4096", [r(m, 4096), r(n, 4096)], [r(m, n)], []
    for b, s in ((1, 8192), (8, 8192), (1, 32768)):
        yield ("decode_attention", f"{b}x32 kv8 {s}x128", [r(b, 32, 1, 128), r(b, 8, s, 128), r(b, 8, s, 128)],
               [r(b, 32, 1, 128)], [s, 128 ** -0.5])
    for m in (1, 8, 32, 64, 2048):
        yield ("fused_mlp", f"{m}x4096x14336", [r(m, 4096), r(14336, 4096), r(14336, 4096), r(4096, 14336)],
               [r(m, 4096)], [0])
    yield "matmul", "2048x4096x4096 (pointer path)", [r(2048, 4096), r(4096, 4096)], [r(2048, 4096)], []
    for causal in (1, 0):
        yield ("flash_attention", f"1x32x2048x128 causal{causal} (pointer path)",
               [r(1, 32, 2048, 128), r(1, 32, 2048, 128), r(1, 32, 2048, 128)], [r(1, 32, 2048, 128)],
               [causal, 128 ** -0.5])


LAUNCHES = []


def record(self, *args, grid, warmup, **kwargs):
    bound = dict(zip(self.arg_names, args))
    bound.update({k: v for k, v in kwargs.items() if k in self.arg_names})
    sig, consts = {}, {}
    for p in self.params:
        v = bound.get(p.name, p.default)
        if p.is_constexpr or v is None:
            sig[p.name], consts[p.name] = "constexpr", v
        elif isinstance(v, torch.Tensor):
            sig[p.name] = "*" + TYPES[v.dtype]
        elif isinstance(v, bool):
            sig[p.name] = "i1"
        elif isinstance(v, int):
            sig[p.name] = "i64" if abs(v) >= 2 ** 31 else "i32"
        elif isinstance(v, float):
            sig[p.name] = "fp32"
        else:
            raise TypeError(f"{self.fn.__name__}: argument {p.name} of type {type(v).__name__}")
    LAUNCHES.append((self, sig, consts, kwargs.get("num_warps", 4), kwargs.get("num_stages", 3)))


def launches(ktype, inputs, outputs, scalars, **knobs):
    """The launches kernel_fn of ktype's starter makes for these CPU tensors, each (fn, signature, constexprs,
    num_warps, num_stages), none run (JITFunction.run must be `record`)."""
    LAUNCHES.clear()
    load(ktype, **knobs).kernel_fn(inputs, outputs, [float(s) for s in scalars])
    return list(LAUNCHES)


def usage(fn, sig, consts, warps, stages):
    """(registers, stack bytes) of fn compiled for sm_90 with this specialisation."""
    k = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=consts), target=GPUTarget("cuda", 90, 32),
                       options=dict(num_warps=warps, num_stages=stages))
    with tempfile.TemporaryDirectory() as d:
        cubin = pathlib.Path(d) / "kernel.cubin"
        cubin.write_bytes(k.asm["cubin"])
        out = subprocess.run([str(OBJDUMP), "-res-usage", str(cubin)], capture_output=True, text=True,
                             check=True).stdout
    return int(re.search(r"REG:(\d+)", out).group(1)), int(re.search(r"STACK:(\d+)", out).group(1))


def matmul_tma_launches(bm=None, bn=None, bk=None, dtype="bf16"):
    """The matmul starter's TMA kernels (one per tile, persistent and not) as kernel_fn launches them on a Hopper GPU,
    for B row-major and K-major (B_T), with no epilogue input, a bias, and a bias and a residual: (fn, signature,
    constexprs, num_warps, num_stages).
    Built here from the starter's knobs, since the TMA path takes CUDA tensors (tensor descriptors)."""
    mod = load("matmul")
    bm, bn, bk = bm or mod.BLOCK_M, bn or mod.BLOCK_N, bk or mod.BLOCK_K
    out = []
    for b_t in (False, True):
        for bias, res in ((False, False), (True, False), (True, True)):
            for fn, extra in ((mod._matmul_tma_kernel, {}), (mod._matmul_persistent_kernel, {"NUM_SMS": 132})):
                sig = {"a_desc": f"tensordesc<{dtype}[{bm}, {bk}]>",
                       "b_desc": f"tensordesc<{dtype}[{bn}, {bk}]>" if b_t else f"tensordesc<{dtype}[{bk}, {bn}]>",
                       "c_desc": f"tensordesc<{dtype}[{bm}, {bn}]>", "bias_ptr": f"*{dtype}",
                       "res_desc": f"tensordesc<{dtype}[{bm}, {bn}]>", "M": "i32", "N": "i32", "K": "i32"}
                consts = dict(BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=mod.GROUP_M, PRECISION="tf32", B_T=b_t,
                              HAS_BIAS=bias, HAS_RES=res, **extra)
                sig.update({name: "constexpr" for name in consts})
                out.append((fn, sig, consts, mod.NUM_WARPS, mod.NUM_STAGES))
    return out


def main(only):
    JITFunction.run = record
    print(f"{'type':<17} {'shape':<34} {'kernel':<26} {'warps':>5} {'stages':>6} {'regs':>4} {'stack':>5}")
    spilled = 0
    for ktype, label, inputs, outputs, scalars in cases():
        if only and ktype not in only:
            continue
        try:
            recorded = launches(ktype, inputs, outputs, scalars)
        except Exception as e:  # a starter whose host code needs a GPU: say so, go on
            print(f"{ktype:<17} {label:<34} host code failed on the CPU: {type(e).__name__}: {str(e)[:80]}")
            continue
        for fn, sig, consts, warps, stages in recorded:
            try:
                regs, stack = usage(fn, sig, consts, warps, stages)
            except Exception as e:
                print(f"{ktype:<17} {label:<34} {fn.fn.__name__:<26} compile failed: {str(e)[:100]}")
                continue
            spilled += stack > 0
            print(f"{ktype:<17} {label:<34} {fn.fn.__name__:<26} {warps:>5} {stages:>6} {regs:>4} {stack:>5}"
                  f"{'  SPILLS' if stack else ''}", flush=True)
    if not only or "matmul" in only:
        for fn, sig, consts, warps, stages in matmul_tma_launches():
            label = f"TMA B_T={int(consts['B_T'])} bias={int(consts['HAS_BIAS'])} res={int(consts['HAS_RES'])}"
            regs, stack = usage(fn, sig, consts, warps, stages)
            spilled += stack > 0
            print(f"{'matmul':<17} {label:<34} {fn.fn.__name__:<26} {warps:>5} {stages:>6} {regs:>4} {stack:>5}"
                  f"{'  SPILLS' if stack else ''}", flush=True)
    print(f"{spilled} launches with a stack frame")


if __name__ == "__main__":
    main(set(sys.argv[1:]))
