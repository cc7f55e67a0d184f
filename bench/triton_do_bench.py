#!/usr/bin/env python3
"""Time a Triton starter with triton.testing.do_bench against the eager op, at one shape (bf16), to
check what `autokernel bench` reports for Triton candidates. Types: softmax, rmsnorm.
  python3 bench/triton_do_bench.py softmax 4096 4096"""
import importlib.util
import pathlib
import sys

import torch
import torch.nn.functional as F
import triton

kind, M, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
path = pathlib.Path(__file__).resolve().parents[1] / "kernels" / kind / "triton.py"
spec = importlib.util.spec_from_file_location("cand", path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)  # knob defaults from the file
x = torch.randn(M, N, device="cuda", dtype=torch.bfloat16)
y = torch.empty_like(x)
if kind == "softmax":
    ours = lambda: mod.kernel_fn([x], [y], [])  # noqa: E731
    eager = lambda: F.softmax(x, dim=-1)  # noqa: E731
else:
    w = torch.randn(N, device="cuda", dtype=torch.bfloat16)
    ours = lambda: mod.kernel_fn([x, w], [y], [1e-6])  # noqa: E731
    eager = lambda: F.rms_norm(x, (N,), w, 1e-6)  # noqa: E731
ours()
t_ours = triton.testing.do_bench(ours, warmup=50, rep=300)
t_eager = triton.testing.do_bench(eager, warmup=50, rep=300)
# do_bench's time includes the host's launch cost when the GPU waits for it; CUDA graphs remove it.
t_ours_graph = triton.testing.do_bench_cudagraph(ours, rep=300)
t_eager_graph = triton.testing.do_bench_cudagraph(eager, rep=300)
print(f"{kind} {M}x{N} bf16: do_bench ours {t_ours*1e3:.1f} us, eager {t_eager*1e3:.1f} us, speed-up {t_eager/t_ours:.3f}x")
print(f"{kind} {M}x{N} bf16: cuda graph ours {t_ours_graph*1e3:.1f} us, eager {t_eager_graph*1e3:.1f} us, "
      f"speed-up {t_eager_graph/t_ours_graph:.3f}x")
