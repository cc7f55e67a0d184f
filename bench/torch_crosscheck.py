#!/usr/bin/env python3
"""Cross-check one autokernel candidate (.cpp or .cu) against a float64 torch reference.

Builds the file the way the harness does (every @knob passed as -DNAME=value), calls ak_kernel
through ctypes with the kernel_abi.h structs, compares with torch in float64 and, with --time on
a CUDA device, times the kernel against the eager torch op in its native dtype.

  python3 bench/torch_crosscheck.py --kernel kernels/rmsnorm/cuda.cu --type rmsnorm \
      --dtype bf16 --shape 4096,4096 --knob THREADS_PER_ROW=512 --time
"""
import argparse
import ctypes
import hashlib
import math
import os
import pathlib
import re
import subprocess
import sys

import torch
import torch.nn.functional as F

REPO = pathlib.Path(__file__).resolve().parents[1]
INCLUDE = REPO / "kernels" / "include"
CACHE = pathlib.Path.home() / ".cache" / "autokernel" / "crosscheck"
DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}
AK_DTYPE = {torch.float16: 0, torch.bfloat16: 1, torch.float32: 2, torch.int64: 3}
AK_MAX_DIMS = 6
TYPES = ("matmul", "softmax", "layernorm", "rmsnorm", "cross_entropy", "rotary_embedding",
         "reduce", "flash_attention", "fused_mlp", "skinny_gemm")
SHAPE_ARITY = {"matmul": (3,), "fused_mlp": (3,), "skinny_gemm": (3,), "rotary_embedding": (4, 6), "flash_attention": (4,)}


class AkTensor(ctypes.Structure):  # mirrors struct ak_tensor
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int32), ("ndim", ctypes.c_int32),
                ("shape", ctypes.c_int64 * AK_MAX_DIMS), ("stride", ctypes.c_int64 * AK_MAX_DIMS)]


class AkCall(ctypes.Structure):  # mirrors struct ak_call
    _fields_ = [("inputs", ctypes.POINTER(AkTensor)), ("n_inputs", ctypes.c_int32),
                ("outputs", ctypes.POINTER(AkTensor)), ("n_outputs", ctypes.c_int32),
                ("scalars", ctypes.POINTER(ctypes.c_double)), ("n_scalars", ctypes.c_int32),
                ("stream", ctypes.c_void_p)]


def ak_tensor(t):
    assert t.is_contiguous() and t.dim() <= AK_MAX_DIMS
    a = AkTensor(t.data_ptr(), AK_DTYPE[t.dtype], t.dim())
    for i, (s, st) in enumerate(zip(t.shape, t.stride())):
        a.shape[i], a.stride[i] = s, st
    return a


def bits(t):
    return t.view(torch.int32 if t.element_size() == 4 else torch.int16)


def parse_knobs(src):
    """{NAME: default} from the '// @knob NAME=default {v1,...} description' lines."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^\s*//\s*@knob\s+(\w+)=(\S+)", src, re.M)}


def build(path, knob_overrides, device):
    src = path.read_text()
    knobs = parse_knobs(src)
    for k, v in knob_overrides.items():
        if k not in knobs:
            sys.exit(f"error: {path} declares no knob {k} (has: {', '.join(knobs) or 'none'})")
        knobs[k] = v
    defs = [f"-D{k}={v}" for k, v in sorted(knobs.items())]
    if path.suffix == ".cpp":
        cmd = ["g++", "-std=c++20", "-O3", "-fPIC", "-shared", f"-I{INCLUDE}", *defs]
    elif path.suffix == ".cu":
        major, minor = torch.cuda.get_device_capability(device)
        cc = f"{major}{minor}" + ("a" if major >= 9 else "")  # sm_90a etc. are arch-specific
        cmd = ["nvcc", "-std=c++17", "-O3", "-shared", "-Xcompiler", "-fPIC",
               f"-gencode=arch=compute_{cc},code=sm_{cc}", f"-I{INCLUDE}", *defs]
    else:
        sys.exit(f"error: {path}: expected a .cpp or .cu file")
    key = hashlib.sha256("\0".join([src, *cmd] + [h.read_text() for h in
                         sorted(INCLUDE.rglob("*.h"))]).encode()).hexdigest()[:24]
    CACHE.mkdir(parents=True, exist_ok=True)
    so = CACHE / f"{path.stem}-{key}.so"
    if not so.exists():
        tmp = so.with_suffix(f".{os.getpid()}.tmp.so")  # parallel runs may race
        res = subprocess.run(cmd + [str(path), "-o", str(tmp)], capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"error: build failed: {' '.join(cmd)} {path}\n{res.stdout}{res.stderr}")
        tmp.rename(so)
    print(f"built: {' '.join(defs) or '(no knobs)'}")
    lib = ctypes.CDLL(str(so))
    lib.ak_kernel.argtypes = [ctypes.POINTER(AkCall)]
    lib.ak_kernel.restype = ctypes.c_int
    return lib


def make_case(kind, shape, dt, dev, args, gen):
    """Returns (inputs, output specs [(shape, dtype)], scalars, reference fn, native torch fn)."""
    def rnd(*s, scale=1.0, mean=0.0):
        return (torch.randn(*s, generator=gen, dtype=torch.float64) * scale + mean).to(dev, dt)
    x_mean, x_std = args.input_mean, args.input_std
    if kind == "matmul":
        M, N, K = shape
        ins = [rnd(M, K), rnd(K, N)]
        return ins, [((M, N), dt)], [], lambda a, b: a @ b, lambda a, b: a @ b
    if kind in ("softmax", "reduce", "rmsnorm", "layernorm"):
        M, N = shape
        x = rnd(M, N, scale=x_std, mean=x_mean)
        if kind == "softmax":
            return [x], [((M, N), dt)], [], lambda x: torch.softmax(x, -1), lambda x: torch.softmax(x, -1)
        if kind == "reduce":
            return [x], [((M,), dt)], [], lambda x: x.sum(-1), lambda x: x.sum(-1)
        eps = args.eps if args.eps is not None else (1e-5 if kind == "layernorm" else 1e-6)
        if kind == "rmsnorm":
            fn = lambda x, w: F.rms_norm(x, (N,), w, eps)
            return [x, rnd(N)], [((M, N), dt)], [eps], fn, fn
        fn = lambda x, w, b: F.layer_norm(x, (N,), w, b, eps)
        return [x, rnd(N), rnd(N)], [((M, N), dt)], [eps], fn, fn
    if kind == "cross_entropy":
        M, V = shape
        logits = rnd(M, V, scale=2.0 * x_std, mean=x_mean)
        target = torch.randint(0, V, (M,), generator=gen).to(dev)
        target[3::16] = -100  # 1 row in 16 ignored (loss 0), as in the harness: a kernel may skip those rows

        def ref(lg, t):
            keep = t >= 0
            picked = lg.gather(1, t.clamp_min(0)[:, None])[:, 0]
            return torch.where(keep, torch.logsumexp(lg, -1) - picked, torch.zeros_like(picked))
        return ([logits, target], [((M,), torch.float32)], [], ref,
                lambda lg, t: F.cross_entropy(lg, t, reduction="none"))
    if kind == "rotary_embedding":
        B, H, S, D = shape[:4]
        HKV, style = shape[4:] if len(shape) == 6 else (H, 0)
        if D % 2 or style not in (0, 1):
            sys.exit("error: rotary_embedding needs an even head dim and style 0 or 1")
        inv = 10000.0 ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
        ang = torch.arange(S, dtype=torch.float64)[:, None] * inv[None, :]
        ins = [rnd(B, H, S, D), rnd(B, HKV, S, D), ang.cos().to(dev, dt), ang.sin().to(dev, dt)]

        def turn(x, c, s):  # style 0: pairs (x[2i], x[2i+1]); 1: pairs (x[i], x[i + D/2])
            if style == 0:
                x0, x1 = x[..., 0::2], x[..., 1::2]
                return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], -1).flatten(-2)
            x0, x1 = x[..., : D // 2], x[..., D // 2:]
            return torch.cat([x0 * c - x1 * s, x0 * s + x1 * c], -1)

        def rope(q, k, c, s):
            return turn(q, c, s), turn(k, c, s)
        return ins, [((B, H, S, D), dt), ((B, HKV, S, D), dt)], [float(style)], rope, rope
    if kind == "flash_attention":
        B, H, S, D = shape
        scale = args.scale if args.scale is not None else 1.0 / math.sqrt(D)
        fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=args.causal, scale=scale)
        return ([rnd(B, H, S, D) for _ in range(3)], [((B, H, S, D), dt)],
                [1.0 if args.causal else 0.0, scale], fn, fn)
    if kind == "fused_mlp":
        M, E, Fd = shape
        ins = [rnd(M, E), rnd(Fd, E, scale=E ** -0.5), rnd(Fd, E, scale=E ** -0.5), rnd(E, Fd, scale=Fd ** -0.5)]
        fn = lambda x, wg, wu, wd: (F.silu(x @ wg.T) * (x @ wu.T)) @ wd.T
        return ins, [((M, E), dt)], [], fn, fn
    if kind == "skinny_gemm":
        M, N, K = shape
        fn = lambda x, w: F.linear(x, w)
        return [rnd(M, K), rnd(N, K, scale=K ** -0.5)], [((M, N), dt)], [], fn, fn
    raise AssertionError(kind)


def tolerance(kind, dt):
    if dt == torch.float32:
        return 1e-4
    if dt == torch.bfloat16 and kind in ("layernorm", "rmsnorm"):
        return 2e-2
    return 1e-2


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kernel", required=True, type=pathlib.Path, help="candidate .cpp or .cu file")
    p.add_argument("--type", required=True, choices=TYPES)
    p.add_argument("--dtype", default="f32", choices=DTYPES)
    p.add_argument("--shape", required=True, help="matmul M,N,K; fused_mlp M,E,F; rotary B,H,S,D[,HKV,style]; "
                   "attention B,H,S,D; others M,N")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=V", help="override a knob")
    p.add_argument("--causal", action="store_true", help="flash_attention: causal mask")
    p.add_argument("--scale", type=float, help="flash_attention scale (default 1/sqrt(D))")
    p.add_argument("--eps", type=float, help="norm epsilon (default 1e-5 layernorm, 1e-6 rmsnorm)")
    p.add_argument("--input-mean", type=float, default=0.0, help="mean of the main input x")
    p.add_argument("--input-std", type=float, default=1.0, help="std of the main input x")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time", action="store_true", help="time kernel and torch (CUDA only)")
    args = p.parse_args()

    shape = [int(s) for s in args.shape.split(",")]
    if len(shape) not in SHAPE_ARITY.get(args.type, (2,)):
        sys.exit(f"error: --shape for {args.type} needs {' or '.join(map(str, SHAPE_ARITY.get(args.type, (2,))))} ints")
    if not args.kernel.is_file():
        sys.exit(f"error: no such file {args.kernel}")
    declared = re.search(r"@autokernel\s+type=(\w+)", args.kernel.read_text())
    if declared and declared.group(1) != args.type:
        sys.exit(f"error: {args.kernel} declares type={declared.group(1)}, not {args.type}")
    knobs = dict(kv.split("=", 1) for kv in args.knob)
    cuda = args.kernel.suffix == ".cu"
    if cuda and not torch.cuda.is_available():
        sys.exit("error: a .cu candidate needs a CUDA device")
    dev = torch.device("cuda" if cuda else "cpu")
    lib = build(args.kernel, knobs, dev)

    dt = DTYPES[args.dtype]
    gen = torch.Generator().manual_seed(args.seed)
    ins, out_specs, scalars, ref_fn, native_fn = make_case(args.type, shape, dt, dev, args, gen)
    outs = [torch.full(s, float("nan"), dtype=d, device=dev) for s, d in out_specs]
    in_arr = (AkTensor * len(ins))(*[ak_tensor(t) for t in ins])
    out_arr = (AkTensor * len(outs))(*[ak_tensor(t) for t in outs])
    sc_arr = (ctypes.c_double * max(1, len(scalars)))(*scalars)
    stream = torch.cuda.current_stream(dev).cuda_stream if cuda else None
    call = AkCall(in_arr, len(ins), out_arr, len(outs), sc_arr, len(scalars), stream)

    rc = lib.ak_kernel(ctypes.byref(call))
    if cuda:
        torch.cuda.synchronize()
    if rc != 0:
        print(f"FAIL: ak_kernel returned {rc}")
        return 2
    first = [o.clone() for o in outs]
    lib.ak_kernel(ctypes.byref(call))  # a second run must give bitwise the same result
    if cuda:
        torch.cuda.synchronize()
    deterministic = all(torch.equal(bits(a), bits(b)) for a, b in zip(first, outs))

    ref = ref_fn(*[t.double() if t.is_floating_point() else t for t in ins])
    refs = ref if isinstance(ref, tuple) else (ref,)  # one reference per output (rotary_embedding: q and k)
    out = torch.cat([o.double().flatten() for o in outs])
    ref = torch.cat([r.flatten() for r in refs])
    tol = tolerance(args.type, dt)
    err = (out - ref).abs()
    ok = err <= tol + tol * ref.abs()  # NaN compares False
    max_abs = float(err.max()) if err.numel() else 0.0
    max_rel = float((err / ref.abs().clamp_min(tol)).max()) if err.numel() else 0.0
    print(f"{args.type} {args.dtype} shape={shape}{' causal' if args.causal else ''}: "
          f"max_abs_err={max_abs:.3e} max_rel_err={max_rel:.3e} tol={tol:g}")
    if not bool(ok.all()):
        i = int((~ok).flatten().nonzero()[0])
        print(f"  first mismatch at flat index {i}: got {out.flatten()[i].item()!r}, "
              f"want {ref.flatten()[i].item()!r} ({int((~ok).sum())} of {ok.numel()} bad)")
    if not deterministic:
        print("  not deterministic: a second run gave different bits")
    passed = bool(ok.all()) and deterministic
    print("PASS" if passed else "FAIL")

    if args.time:
        if not cuda:
            print("note: --time needs a .cu candidate on a CUDA device; skipped")
        else:
            from triton.testing import do_bench
            k_ms = do_bench(lambda: lib.ak_kernel(ctypes.byref(call)), warmup=25, rep=200,
                            return_mode="median")
            r_ms = do_bench(lambda: native_fn(*ins), warmup=25, rep=200, return_mode="median")
            print(f"kernel_ms: {k_ms:.4f}\nreference_ms: {r_ms:.4f}")
            print(f"speedup_vs_reference: {r_ms / k_ms:.3f}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
