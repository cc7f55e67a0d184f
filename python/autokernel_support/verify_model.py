"""`autokernel verify`, the model side (started as a child process by the C++ command).

Loads the model and its inputs as `autokernel profile` does, then:
  1. the truth: the same model (same weights) in float32, on the same inputs;
  2. the original model in the chosen dtype, eager, and torch.compile of it;
  3. the model patched with the exported kernels (`autokernel_kernels.patch`), counting the calls each took.
Each output is compared with the truth: error = max |out - truth| / rms(truth) over every floating
output. The patched model passes when its error is within twice the original's own error in that dtype
plus a floor per dtype: the kernels may round differently, not worse. Times are medians of --runs
runs after warm-up. --diagnose patches one kernel type at a time and reports each one's error.
Writes --out (JSON); prints progress lines. Exit 0: passed, 1: failed, 2: could not run.
"""
import argparse
import copy
import json
import os
import statistics
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from autokernel_support.profile_model import (ModelError, build_inputs, build_model, describe,  # noqa: E402
                                              settings)

FLOOR = {"fp32": 1e-5, "bf16": 1e-2, "fp16": 2e-3}


def say(line):
    print(line, flush=True)


def floats(out):
    """The floating tensors of a model's output, in a fixed order."""
    import torch

    if isinstance(out, torch.Tensor):
        return [out] if out.is_floating_point() else []
    if isinstance(out, dict) or hasattr(out, "items"):
        return [t for _, v in sorted(out.items(), key=lambda kv: str(kv[0])) for t in floats(v)]
    if isinstance(out, (list, tuple)):
        return [t for v in out for t in floats(v)]
    return []


def error(outs, truth):
    """max |out - truth| / rms(truth), worst over the outputs; inf on a NaN or a shape mismatch."""
    import torch

    if len(outs) != len(truth):
        return float("inf")
    worst = 0.0
    for o, t in zip(outs, truth):
        if o.shape != t.shape:
            return float("inf")
        o, t = o.double(), t.double()
        rms = max(t.pow(2).mean().sqrt().item(), 1e-30)
        diff = (o - t).abs().max().item() if o.numel() else 0.0
        if diff != diff:  # NaN
            return float("inf")
        worst = max(worst, diff / rms)
    return worst


def timed(fn, device, runs, warmup):
    """Median milliseconds of fn() over `runs` runs after `warmup`."""
    import torch

    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        if device.type == "cuda":
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            samples.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def run(args):
    import torch

    dtype, device, init_args = settings(args)
    torch.manual_seed(0)
    base, class_name = build_model(args.model, init_args)
    base = base.eval()
    model = copy.deepcopy(base).to(device=device, dtype=dtype)
    truth_model = base.to(device=device, dtype=torch.float32)
    inputs = build_inputs(model, args, dtype, device)  # (positional, keyword)
    to32 = lambda t: t.float() if isinstance(t, torch.Tensor) and t.is_floating_point() else t  # noqa: E731
    inputs32 = (tuple(to32(t) for t in inputs[0]), {k: to32(v) for k, v in inputs[1].items()})
    report = {"model": args.model, "class": class_name, "dtype": args.dtype, "device": args.device,
              "inputs": describe(inputs), "runs": args.runs}

    with torch.no_grad():
        try:
            truth = [t.float() for t in floats(truth_model(*inputs32[0], **inputs32[1]))]
        except Exception as e:
            raise ModelError(f"the model failed on its inputs: {type(e).__name__}: {str(e).splitlines()[0]}",
                             "check --input-shape / --inputs and --init-args") from e
        del truth_model
        if not truth:
            raise ModelError("the model returned no floating-point tensor to compare")
        say(f"model {class_name}, {args.dtype} on {args.device}, inputs {describe(inputs)}")

        eager_out = floats(model(*inputs[0], **inputs[1]))
        errors = {"eager": error(eager_out, truth)}
        times = {"eager": timed(lambda: model(*inputs[0], **inputs[1]), device, args.runs, args.warmup)}
        say(f"eager:          {times['eager']:9.3f} ms   error {errors['eager']:.3e}")

        if args.compile:
            mode = "max-autotune-no-cudagraphs" if device.type == "cuda" else None
            say(f"torch.compile (mode={mode}): compiling ...")
            compiled = torch.compile(model, mode=mode)
            errors["compiled"] = error(floats(compiled(*inputs[0], **inputs[1])), truth)
            times["compiled"] = timed(lambda: compiled(*inputs[0], **inputs[1]), device, args.runs, args.warmup)
            say(f"torch.compile:  {times['compiled']:9.3f} ms   error {errors['compiled']:.3e}")
            del compiled
            torch._dynamo.reset()

        sys.path.insert(0, args.package_dir)
        import autokernel_kernels as ak

        kinds = sorted(ak.kernels())
        report["kernels"] = [{"name": e["name"], "type": e["type"], "backend": e["backend"]}
                             for e in ak.manifest()["kernels"]]
        ak.patch(model)
        ak.reset_stats()
        patched_out = floats(model(*inputs[0], **inputs[1]))
        report["calls"] = ak.stats()
        errors["autokernel"] = error(patched_out, truth)
        times["autokernel"] = timed(lambda: model(*inputs[0], **inputs[1]), device, args.runs, args.warmup)
        say(f"autokernel:     {times['autokernel']:9.3f} ms   error {errors['autokernel']:.3e}   "
            f"calls {report['calls'] or 'none'}")
        ak.unpatch(model)

        tolerance = 2 * errors["eager"] + FLOOR[args.dtype]
        report.update(errors=errors, times_ms=times, tolerance=tolerance,
                      passed=errors["autokernel"] <= tolerance,
                      speedup_vs_eager=times["eager"] / times["autokernel"],
                      speedup_vs_compiled=times["compiled"] / times["autokernel"] if "compiled" in times else None)
        if not report["calls"]:
            report["warning"] = "no call of the model fit the exported kernels: nothing was swapped"

        if args.diagnose:
            report["diagnose"] = []
            for kind in kinds:
                ak.patch(model, types={kind})
                ak.reset_stats()
                err = error(floats(model(*inputs[0], **inputs[1])), truth)
                calls = sum(ak.stats().values())
                ak.unpatch(model)
                ok = err <= tolerance
                report["diagnose"].append({"type": kind, "error": err, "calls": calls, "passed": ok})
                say(f"  only {kind:<17} error {err:.3e}  calls {calls:4d}  {'ok' if ok else 'BREAKS THE OUTPUT'}")
    return report


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--package-dir", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--input-shape")
    p.add_argument("--inputs")
    p.add_argument("--dtype", default="fp32", choices=["fp16", "bf16", "fp32"])
    p.add_argument("--init-args")
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--no-compile", dest="compile", action="store_false")
    p.add_argument("--diagnose", action="store_true")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    try:
        report = run(args)
    except ModelError as e:
        report = {"error": str(e), "hint": e.hint}
    except Exception as e:  # anything else: one line for the user, the traceback for us
        traceback.print_exc()
        report = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    if "error" in report:
        sys.exit(2)
    sys.exit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
