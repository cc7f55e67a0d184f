"""Why a kernel type is slower inside torch.compile than inductor's code: the compiled model with one type
inside (or none), profiled. Two more variants run without torch.compile: `eager` (the model as built) and
`autokernel` (patched), to see where a patched eager model loses time. Prints, per variant: GPU time per step, the host's time to launch one step
(no sync), whether a step synchronises, and the hottest GPU kernels.
  python3 bench/inside_compile_trace.py --package-dir D --model hf:llama --init-args '{...}' --types none,rmsnorm
"""
import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from autokernel_support.profile_model import build_inputs, build_model  # noqa: E402


def main():
    import torch

    p = argparse.ArgumentParser()
    p.add_argument("--package-dir", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--init-args", default="{}")
    p.add_argument("--input-shape", default="1,2048")
    p.add_argument("--inputs")
    p.add_argument("--types", default="none")
    p.add_argument("--mode", default="max-autotune-no-cudagraphs")
    args = p.parse_args()
    import json
    sys.path.insert(0, args.package_dir)
    import autokernel_kernels as ak

    torch.manual_seed(0)
    model, _ = build_model(args.model, json.loads(args.init_args), torch.device("cuda"))
    model = model.eval().to(torch.bfloat16)
    pos, kw = build_inputs(model, args, torch.bfloat16, torch.device("cuda"))
    step = lambda m: m(*pos, **kw)  # noqa: E731
    ak.patch(model)
    with torch.no_grad():
        for variant in args.types.split(","):
            t0 = time.perf_counter()
            if variant in ("eager", "autokernel"):  # uncompiled
                ak.unpatch(model)
                if variant == "autokernel":
                    ak.patch(model)
                m = model
            else:
                inside = set() if variant == "none" else {variant}
                ak.patch(model, inside_compile=inside)
                torch._dynamo.reset()
                m = torch.compile(model, mode=args.mode)
            for _ in range(3):
                step(m)
            torch.cuda.synchronize()
            print(f"== {variant}: compiled in {time.perf_counter() - t0:.0f} s", flush=True)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            step(m)
            launch = time.perf_counter() - t0
            torch.cuda.synchronize()
            whole = time.perf_counter() - t0
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn")
                step(m)
                torch.cuda.set_sync_debug_mode("default")
            syncs = sorted({str(w.message).splitlines()[0][:100] for w in caught if "synchron" in str(w.message)})
            print(f"   host launch {1e3 * launch:.2f} ms, launch+finish {1e3 * whole:.2f} ms, syncs: {syncs or 'none'}")
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                                    torch.profiler.ProfilerActivity.CUDA]) as prof:
                for _ in range(3):
                    step(m)
                torch.cuda.synchronize()
            for key in ("cuda_time_total", "cpu_time_total"):
                print(prof.key_averages().table(sort_by=key, row_limit=22, max_name_column_width=70), flush=True)
            del m


if __name__ == "__main__":
    main()
