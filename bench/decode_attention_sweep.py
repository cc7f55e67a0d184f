"""Knob sweep of the decode_attention starters on a GPU without building autokernel: the Triton starter is loaded
once per knob set (its knobs are module globals, as the harness sets them); a set starting "cuda:" is the CUDA
starter instead, compiled by nvcc with the knobs as -D defines and called through ctypes (bench/kernel_abi.py) on
PyTorch's current stream. Each is checked against float64 attention over the valid keys, and timed against SDPA
(PyTorch's default dispatch, grouped-query heads with enable_gqa) at Llama-3-8B's decode step (32 query heads over
8 kv heads, D 128), bf16, batch 1 and 8, caches 1k, 8k, 32k: per call between two CUDA events (the cache rotated
over copies so that it is not in L2, median of 30) and per call inside a CUDA graph of 16 calls. Each cell: our us
per call (events / graph) and SDPA's time over ours. A Triton set with ONE_LAUNCH=1 also checks that its arrival
counters are all zero after the timed calls and the graph's replays.

    python3 bench/decode_attention_sweep.py "" "ONE_LAUNCH=1" "SM_PROGRAMS=4,ONE_LAUNCH=1" "cuda:" "cuda:ONE_LAUNCH=1"
"""
import ctypes
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from kernel_abi import ROOT, Call, Tensor, abi, compile_starter  # noqa: E402
from skinny_gemm_sweep import copy_bytes_per_us, graph_per_call, median_events  # noqa: E402

LOADED = []  # the modules loaded, kept alive
SHAPES = [(b, l) for b in (1, 8) for l in (1024, 8192, 32768)]


def load_cuda(knobs):
    """The CUDA starter built with the knobs as -D defines, as a kernel_fn(inputs, outputs, scalars)."""
    lib, err = compile_starter(f"{ROOT}/kernels/decode_attention/cuda.cu", knobs.split(","))
    if lib is None:
        sys.exit(f"the CUDA starter did not build with {knobs}:\n{err}")
    LOADED.append(lib)

    def fn(inputs, outputs, scalars):  # the stream of the moment: a graph is captured on a side stream
        ins, outs = (Tensor * len(inputs))(*map(abi, inputs)), (Tensor * len(outputs))(*map(abi, outputs))
        sc = (ctypes.c_double * len(scalars))(*scalars)
        c = Call(ins, len(inputs), outs, len(outputs), sc, len(scalars),
                 ctypes.c_void_p(torch.cuda.current_stream().cuda_stream))
        if lib.ak_kernel(ctypes.byref(c)) != 0:
            raise RuntimeError(f"cuda:{knobs}: ak_kernel failed")
    return fn, {}


def load(knobs):
    """(kernel_fn, ONE_LAUNCH's arrival counters by device: empty for the CUDA starter, whose are on the device).
    The Triton starter as a module of its own per knob set, its knobs set as module globals before it runs (as the
    harness sets them); loaded from its file, since Triton's @jit reads the source of what it compiles."""
    import importlib.util
    if knobs.startswith("cuda:"):
        return load_cuda(knobs[len("cuda:"):])
    path = os.path.join(ROOT, "kernels/decode_attention/triton.py")
    spec = importlib.util.spec_from_file_location(f"decode_attention_{len(LOADED)}", path)
    mod = importlib.util.module_from_spec(spec)
    for kv in filter(None, knobs.split(",")):
        k, v = kv.split("=")
        setattr(mod, k, int(v))
    spec.loader.exec_module(mod)
    LOADED.append(mod)
    return mod.kernel_fn, getattr(mod, "_COUNTERS", {})


def main():
    sets = sys.argv[1:] or [""]
    print(torch.cuda.get_device_name(), flush=True)
    bw = copy_bytes_per_us()
    print(f"copy ceiling {bw / 1e3:.0f} GB/s (D2D copy of 1 GiB); 'ideal' = the cache's bytes at that rate", flush=True)
    fns = {s: load(s) for s in sets}
    scale = 1 / math.sqrt(128)
    gm = {s: [] for s in sets}
    for (B, L) in SHAPES:
        nbytes = 2 * B * 8 * L * 128 * 2
        copies = max(1, (256 << 20) // nbytes)
        qs = [torch.randn(B, 32, 1, 128, device="cuda", dtype=torch.bfloat16) for _ in range(copies)]
        ks = [torch.randn(B, 8, L, 128, device="cuda", dtype=torch.bfloat16) for _ in range(copies)]
        vs = [torch.randn(B, 8, L, 128, device="cuda", dtype=torch.bfloat16) for _ in range(copies)]
        os_ = [torch.empty_like(q) for q in qs]
        truth = (torch.softmax((qs[0].double().reshape(B, 8, 4, 128) @ ks[0].double().transpose(-1, -2)) * scale, -1)
                 @ vs[0].double()).reshape(B, 32, 1, 128)
        sd = [lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v, scale=scale, enable_gqa=True)
              for q, k, v in zip(qs, ks, vs)]
        base = (median_events(sd), graph_per_call(sd))
        line = f"B {B} L {L:5}: SDPA {base[0]:7.2f}/{base[1]:7.2f} us (ideal {nbytes / bw:6.2f}: {nbytes / bw / base[0]:.0%}/{nbytes / bw / base[1]:.0%})"
        for s, (fn, counters) in fns.items():
            calls = [lambda q=q, k=k, v=v, o=o: fn([q, k, v], [o], [float(L), scale])
                     for q, k, v, o in zip(qs, ks, vs, os_)]
            os_[0].fill_(float("nan"))
            calls[0]()
            torch.cuda.synchronize()
            err = (os_[0].double() - truth).abs().max().item()
            if not err < 2e-2:
                line += f" | [{s or 'default'}] WRONG {err:.3g}"
                continue
            r = (median_events(calls), graph_per_call(calls))
            torch.cuda.synchronize()
            left = sum(int(c.count_nonzero()) for c in counters.values())
            gm[s].append((base[0] / r[0], base[1] / r[1]))
            line += (f" | [{s or 'default'}] {r[0]:.2f}/{r[1]:.2f} us {base[0] / r[0]:.2f}x/{base[1] / r[1]:.2f}x"
                     + (f" COUNTERS LEFT {left}" if left else ""))
        print(line, flush=True)
        del qs, ks, vs, os_
        torch.cuda.empty_cache()
    for s, v in gm.items():
        if v:
            e = math.exp(sum(math.log(a) for a, _ in v) / len(v))
            g = math.exp(sum(math.log(b) for _, b in v) / len(v))
            print(f"[{s or 'default'}] vs SDPA: events geomean {e:.2f}x min {min(a for a, _ in v):.2f}x; graph geomean "
                  f"{g:.2f}x min {min(b for _, b in v):.2f}x")


if __name__ == "__main__":
    main()
