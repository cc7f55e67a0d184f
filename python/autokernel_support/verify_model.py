"""`autokernel verify`, the model side (started as a child process by the C++ command).

Loads the model and its inputs as `autokernel profile` does, then runs, on the same inputs and weights:
  1. the truth: the model in float32;
  2. the original model in the chosen dtype, eager, and torch.compile of it;
  3. the model patched with the exported kernels (`autokernel_kernels.patch`), eager and inside torch.compile.
     Inside torch.compile, with --inside-compile auto (the default on a GPU), the kernel types are added one
     at a time (by share of the model's time) to the compiled model, and a type stays routed there only when it
     makes the model faster than the best so far (the others are written to verify.json's `eager_only`, which
     `autokernel export` puts in the package's manifest); the last kept setting is the variant reported.
     Before either is timed, on a GPU, each call shape the patched model makes is timed alone, our kernel
     against PyTorch's formula on the call's own inputs; where PyTorch is faster, those calls run PyTorch's
     code (verify.json's `faster_in_pytorch`, also put in the manifest): a type kept for its speed at the
     profile's hottest shape is not forced onto the model's other shapes.
Each output is compared with the truth by its relative L2 error ||out - truth|| / ||truth|| over every floating
output (the max error, max |out - truth| / rms(truth), is reported beside it), and, where an output has
classes on its last dim (logits), by the share of positions whose top-1 agrees with the truth's.

The patched model passes when
  - every call a kernel took inside the model is as close to PyTorch's formula on float64 inputs as PyTorch's
    own op in that dtype is (relative L2 within twice its error plus a floor per dtype): the per-call check,
    which catches a kernel wrong by 1% everywhere on any model, because one op's rounding is far below 1%;
  - its outputs' relative L2 error is within twice the eager model's plus a floor per dtype;
  - its top-1 agreement with the truth is within 2 points of the eager model's.
The model-level checks alone could not: a random-weight bf16 model's own error is a few percent.
Times are medians of --runs runs after warm-up; both eager variants are timed before the first torch.compile,
and each compiled one after its compile, with the compile workers shut down (`settle`).
--diagnose patches one kernel type at a time.
--generate N adds the generation check (verify_generation.py): N greedy tokens after a prefill, eager and
patched, the tokens compared and each kernel call checked at the decode step's shapes.
With --profile (the workspace's profile.json), every op of the model's time that no kernel took is named
with its share. Writes --out (JSON); prints progress lines. Exit 0: passed, 1: failed, 2: could not run.
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
from autokernel_support import verify_generation  # noqa: E402
from autokernel_support.profile_model import (ModelError, build_inputs, build_model, describe,  # noqa: E402
                                              settings)

# Floors on the relative L2 error: the model's outputs, and one op's output (the per-call check).
FLOOR = {"fp32": 1e-4, "bf16": 1e-2, "fp16": 2e-3}
OP_FLOOR = {"fp32": 1e-5, "bf16": 2e-3, "fp16": 5e-4}
TOP1_MARGIN = 0.02
HOT_SHARE = 0.005  # uncovered ops below this share of the model's time are not named
KEEP_MARGIN = 0.002  # a type runs inside torch.compile when the model is this much faster with it (timing noise)


def say(line):
    print(line, flush=True)


def save(path, report):
    """Write the report whole or not at all (a reader never sees half a file)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, path)


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


def compare(outs, truth):
    """{rel_l2, max_error, top1}: worst over the outputs; inf on a NaN or a shape mismatch; top1 None
    where no output has classes on its last dim."""
    bad = {"rel_l2": float("inf"), "max_error": float("inf"), "top1": 0.0}
    if len(outs) != len(truth):
        return bad
    rel, worst, top1 = 0.0, 0.0, None
    for o, t in zip(outs, truth):
        if o.shape != t.shape:
            return bad
        o, t = o.double(), t.double()
        if o.numel() == 0:
            continue
        diff = o - t
        if not diff.isfinite().all():
            return bad
        rel = max(rel, diff.norm().item() / max(t.norm().item(), 1e-30))
        worst = max(worst, diff.abs().max().item() / max(t.pow(2).mean().sqrt().item(), 1e-30))
        if o.dim() >= 2 and o.shape[-1] >= 2:
            agree = (o.argmax(-1) == t.argmax(-1)).double().mean().item()
            top1 = agree if top1 is None else min(top1, agree)
    return {"rel_l2": rel, "max_error": worst, "top1": top1}


def timed(fn, device, runs, warmup, reps=1):
    """Median milliseconds per call of fn() over `runs` samples after `warmup` calls; each sample times `reps`
    calls queued back to back: the GPU's time where it is the bound, the host's (Python, the launch) where
    that is, as inside a model (one short kernel timed alone would add the launch latency to it)."""
    import torch

    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        if device.type == "cuda":
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(reps):
                fn()
            end.record()
            torch.cuda.synchronize()
            samples.append(start.elapsed_time(end) / reps)
        else:
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            samples.append((time.perf_counter() - t0) * 1e3 / reps)
    return statistics.median(samples)


def settle():
    """Before timing: no compile worker left to take the CPU from a host-bound model, no garbage of the
    last compile left for the collector to walk during the timed runs."""
    import gc

    import torch

    if "torch._inductor.async_compile" in sys.modules:
        sys.modules["torch._inductor.async_compile"].shutdown_compile_workers()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_mb(fn, device):
    """Peak device memory of one call, in MiB (None off the GPU)."""
    import torch

    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def faster_in_pytorch(samples, time_call):
    """{op name: [signature]} of the calls PyTorch's formula runs faster than our kernel, and one line per
    signature saying which won. samples: {(op name, signature): (Op, kernel, args)} (the checked forward's
    first call of each); time_call(fn): fn's time in ms."""
    slower, lines = {}, []
    for (name, sig), (o, k, args) in sorted(samples.items(), key=lambda kv: kv[0]):
        ours = time_call(lambda: o.run(k, *args))
        theirs = time_call(lambda: o.eager(*args))
        if ours >= theirs:
            slower.setdefault(name, []).append(sig)
        lines.append(f"  {name:<13} {sig[:64]:<64} ours {1e3 * ours:9.1f} us   PyTorch {1e3 * theirs:9.1f} us   "
                     f"{'ours' if ours < theirs else 'PyTorch'}")
    return slower, lines


def profile_rows(profile_path):
    """profile.json's ranked rows (its "kernels"), None without the file."""
    if not profile_path or not os.path.exists(profile_path):
        return None
    with open(profile_path) as f:
        return json.load(f).get("kernels", [])


def uncovered_ops(profile_path, calls_by_type, exported_types, fusions, compiled, eager_only, to_pytorch=()):
    """The rows of profile.json no kernel took, with their share of the model's time, hottest first.
    fusions: the fusion types (their chains exist only in torch.compile's graph); compiled: whether the
    patched model was compiled; eager_only: the types left to inductor inside torch.compile; to_pytorch: the
    types some of whose call shapes verify timed faster in PyTorch."""
    rows = profile_rows(profile_path)
    if rows is None:
        return None
    out = []
    for r in rows:
        name, share = r.get("name", "?"), float(r.get("share", 0))
        if share < HOT_SHARE:
            continue
        if not r.get("supported"):
            why = "no kernel type covers it"
        elif name not in exported_types:
            why = "no kernel of this type was exported (none kept faster than PyTorch)"
        elif calls_by_type.get(name):
            continue
        elif name in to_pytorch:
            why = "PyTorch was faster at each of its call shapes (timed alone): left to it"
        elif name in eager_only:
            why = ("a fusion, slower inside torch.compile than inductor's own: left to it" if name in fusions
                   else "no call fit it in eager, and inductor's code was faster inside torch.compile")
        elif name in fusions and not compiled:
            why = "a fusion: its chain exists only inside torch.compile (verify without --no-compile)"
        else:
            why = "a kernel was exported, but no call of the model fit it"
        out.append({"name": name, "share": share, "why": why})
    return out


def profile_shares(profile_path):
    """{kernel type: share of the model's time} from profile.json ({} without one)."""
    shares = {}
    for r in profile_rows(profile_path) or []:
        shares[r.get("name", "?")] = shares.get(r.get("name", "?"), 0.0) + float(r.get("share", 0))
    return shares


def screened_types(ak, report):
    """The kernel types some of whose call shapes the per-shape screen gave to PyTorch (verify.json's
    faster_in_pytorch, op name -> signatures)."""
    return {ak._op._BY_NAME[n].kind for n in report.get("faster_in_pytorch", {})}


def inside_compile_trials(kinds, took, screened, rewriting, shares):
    """The trials inside torch.compile, as (kernel type, every_call), by share of the model's time (then name).
    every_call False: the type's calls as the per-shape screen left them (its faster_in_pytorch shapes run
    PyTorch's code, which inductor fuses); tried for the types that took a call of the eager model after the
    screen, and for those whose graph pass rewrites the compiled graph (`rewriting`), whatever the eager model
    did: their calls in the compiled graph are not the eager model's (matmul with the residual add folded in reads
    one more input and saves a pass over C), so the screen, which timed the eager model's calls, cannot speak for
    them (on an H100, hf:llama's matmul lost every screened shape by 1-3%, yet kept inside torch.compile it made
    the compiled model 1.027x faster). every_call True: each of the type's calls takes the kernel inside
    torch.compile, screened or not; tried for the types the screen took calls from (`screened`: those calls took
    the kernel in the checked forward, whose samples the screen timed), because the screen times a call alone, ten
    back to back, and the compiled model runs it among other kernels (on an H100, hf:llama's MLP: 1224 us ours,
    1217 PyTorch's in the screen, where the harness timed ours at 948 us, 1.061x PyTorch). A type with nothing in
    the graph is not tried."""
    trials = []
    for k in sorted(kinds, key=lambda k: (-shares.get(k, 0.0), k)):
        if k in took or k in rewriting:
            trials.append((k, False))
        if k in screened:
            trials.append((k, True))
    return trials


def choose_inside_compile(ak, model, kinds, report, measure, time_it, adopt, mode, checkpoint, shares):
    """The kernel types that make torch.compile of the model faster (inductor fuses its own code for an op
    with the ops around it, which a kernel type's op in the graph prevents; only the whole compiled model can
    say which wins), chosen greedily: the types in order of their share of the model's time, each added to
    the ones kept so far and kept when the compiled model is faster by more than KEEP_MARGIN than the best
    so far. So a type is judged beside the others it will run with, and the last kept setting is the
    variant itself: timed in its trial (`time_it(compiled)`), then checked and counted (`adopt(compiled)`),
    with no compile of its own. The start is the routed model with every type left to inductor, compiled and
    timed here, not torch.compile of the bare model: the routes change the graph a little themselves
    (transformers' attention without a materialised causal mask, so SDPA takes its causal flash path), and
    that gain is no kernel type's. Which types are tried, how and in which order: inside_compile_trials. Returns
    the types kept and those of them whose every call takes the kernel there (the screen set aside)."""
    import torch

    took = {e["type"] for e in ak.manifest()["kernels"] if report["calls"].get(e["name"])}
    screened = screened_types(ak, report)
    tried, inside, unscreened = {}, [], []
    report["inside_compile"] = {"tried_ms": tried, "kept": inside, "every_call": unscreened}  # filled in as timed
    ak.patch(model, inside_compile=set())
    torch._dynamo.reset()
    say("  torch.compile of the routed model, every kernel type left to inductor (the yardstick):")
    base = best = report["inside_compile"]["none_ms"] = measure("routed_compiled", torch.compile(model, mode=mode),
                                                                "  routes only")
    for kind, every_call in inside_compile_trials(kinds, took, screened, ak._fusions.REWRITING, shares):
        ak.set_unscreened_inside_compile(set(unscreened) | ({kind} if every_call else set()))
        ak.patch(model, inside_compile=set(inside) | {kind})
        torch._dynamo.reset()
        start = time.perf_counter()
        compiled = torch.compile(model, mode=mode)
        label = f"{kind}, every call" if every_call else kind
        tried[label] = time_it(compiled)
        keep = tried[label] < best * (1 - KEEP_MARGIN)
        with_ = f" (with {', '.join(inside)})" if inside else ""
        say(f"  inside torch.compile, + {label}{with_}: {tried[label]:.3f} ms ({best / tried[label]:.3f}x the best so "
            f"far, {base / tried[label]:.3f}x every type left to inductor): {'kept' if keep else 'left to inductor'}"
            f"  ({time.perf_counter() - start:.0f} s)")
        if keep:
            inside.extend([kind] if kind not in inside else [])
            unscreened.extend([kind] if every_call else [])
            best = tried[label]
            adopt(compiled)
        del compiled
        ak.set_unscreened_inside_compile(unscreened)
        torch._dynamo.reset()
        checkpoint()
    return inside, unscreened


def run(args):
    import torch

    dtype, device, init_args = settings(args)
    if args.inside_compile is None:
        args.inside_compile = "auto" if device.type == "cuda" else "all"
    torch.manual_seed(0)
    base, class_name = build_model(args.model, init_args, device)
    base = base.eval()
    model = copy.deepcopy(base).to(device=device, dtype=dtype)
    truth_model = base.to(device=device, dtype=torch.float32)
    inputs = build_inputs(model, args, dtype, device)  # (positional, keyword)
    to32 = lambda t: t.float() if isinstance(t, torch.Tensor) and t.is_floating_point() else t  # noqa: E731
    inputs32 = (tuple(to32(t) for t in inputs[0]), {k: to32(v) for k, v in inputs[1].items()})
    report = {"model": args.model, "class": class_name, "dtype": args.dtype, "device": args.device,
              "inputs": describe(inputs), "runs": args.runs}
    call = lambda m: (lambda: m(*inputs[0], **inputs[1]))  # noqa: E731
    mode = "max-autotune-no-cudagraphs" if device.type == "cuda" else None
    results, times, peaks = {}, {}, {}

    def checkpoint():
        """What is measured so far, on disk: a verify stopped by a time limit or a kill keeps it."""
        save(args.out, dict(report, results=results, times_ms=times,
                            partial="verify stopped before it finished: these are what it had measured"))

    def time_settled(m):
        """m timed after its first call (which compiles a compiled model) and settle()."""
        settle()
        return timed(call(m), device, args.runs, args.warmup)

    def run_variant(m):
        """m's output against the truth (its first call, which compiles a compiled model), and its time."""
        result = compare(floats(m(*inputs[0], **inputs[1])), truth)
        return result, time_settled(m)

    def measure(label, m, text):
        start = time.perf_counter()
        results[label], times[label] = run_variant(m)
        r = results[label]
        top1 = "" if r["top1"] is None else f"   top-1 {100 * r['top1']:.1f}%"
        # The seconds it took (a compile's, mostly): where a verify's time goes on a slow host.
        say(f"{text:<26} {times[label]:9.3f} ms   rel L2 {r['rel_l2']:.3e}   max {r['max_error']:.3e}{top1}"
            f"   ({time.perf_counter() - start:.0f} s)")
        checkpoint()
        return times[label]

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

        # Both eager variants are timed before any torch.compile, the compiled ones after: a host-bound eager
        # model timed after a compile ran up to 2.3x slower on the H100 (bench/results/2026-12-05_*_hf_gpt2_*),
        # and eager alone must not be the one variant spared that.
        measure("eager", model, "eager")
        peaks["eager"] = peak_mb(call(model), device)

        sys.path.insert(0, args.package_dir)
        import autokernel_kernels as ak

        kinds = sorted(ak.kernels())
        manifest = ak.manifest()["kernels"]
        report["kernels"] = [{"name": e["name"], "type": e["type"], "backend": e["backend"]} for e in manifest]
        ak.patch(model)
        report["routes"] = [f"{r.kind}:{r.variant}:{r.path}" for r in ak.routes(model)]
        ak.reset_stats()
        with ak.checking():  # one forward with every kernel call checked against PyTorch (not timed)
            model(*inputs[0], **inputs[1])
        report["calls"] = ak.stats()
        time_shapes = None
        if device.type == "cuda":  # on the CPU the kernels are references: every call takes them
            shapes_timed = set()

            def time_shapes(samples):
                """Times the call shapes of `samples` not timed yet (the forward's, later the decode step's)
                and adds those PyTorch wins to faster_in_pytorch, in the report and in the package."""
                new = {key: s for key, s in samples.items() if key not in shapes_timed}
                shapes_timed.update(new)
                pytorch, lines = faster_in_pytorch(new, lambda fn: timed(fn, device, 10, 10, reps=10))
                merged = report.setdefault("faster_in_pytorch", {})
                for name, sigs in pytorch.items():
                    merged[name] = sorted(set(merged.get(name, [])) | set(sigs))
                ak.set_faster_in_pytorch(merged)
                for line in lines:
                    say(line)

            say("each call shape alone, our kernel against PyTorch's formula (10 calls back to back, median of 10):")
            time_shapes(ak.samples())
            ak.reset_stats()
            model(*inputs[0], **inputs[1])
            report["calls"] = ak.stats()
        measure("autokernel", model, "autokernel")
        peaks["autokernel"] = peak_mb(call(model), device)
        say(f"  calls {report['calls'] or 'none'}")
        if args.compile:
            ak.unpatch(model)  # torch.compile of the model as the user has it
            say(f"torch.compile (mode={mode}): compiling ...")
            compiled = torch.compile(model, mode=mode)
            measure("compiled", compiled, "torch.compile")
            del compiled
            torch._dynamo.reset()
            ak.patch(model)
        checks = {}

        def check_calls(log):
            """Each type's worst call against its limit; a type checked in both variants keeps the worse."""
            for kind, c in sorted(log.items()):
                tol = 2 * c["eager_error"] + OP_FLOOR[args.dtype]
                if kind in checks and checks[kind]["error"] - checks[kind]["tolerance"] >= c["error"] - tol:
                    continue
                checks[kind] = dict(c, tolerance=tol, passed=c["error"] <= tol)
                checks[kind].pop("worst_excess", None)
                say(f"  check {kind:<17} {c['calls']:4d} calls   worst rel L2 {c['error']:.3e}   PyTorch's "
                    f"{c['eager_error']:.3e}   limit {tol:.3e}   {'ok' if c['error'] <= tol else 'WRONG'}")

        check_calls(ak.check_log())
        report["op_checks"] = checks
        if args.compile:
            ak.patch(model, inside_compile=set(kinds))  # every op of ours in the graph: none may break it
            explain = torch._dynamo.explain(model)(*inputs[0], **inputs[1])
            report["graph_breaks"] = explain.graph_break_count
            torch._dynamo.reset()
            inside = kinds

            def checked_compiled(compiled):
                """Inside the compiled graph some calls are fused (_fusions.py): counted and checked here."""
                ak.reset_stats()
                with ak.checking():
                    compiled(*inputs[0], **inputs[1])
                report["calls_compiled"] = ak.stats()
                say(f"  calls {report['calls_compiled'] or 'none'}")
                check_calls(ak.check_log())

            if args.inside_compile == "auto":
                last = {}

                def time_it(compiled):
                    last["result"], last["ms"] = run_variant(compiled)
                    return last["ms"]

                def adopt(compiled):
                    """The trial just kept is the variant so far: its output, time, calls and checks."""
                    results["autokernel_compiled"], times["autokernel_compiled"] = last["result"], last["ms"]
                    checked_compiled(compiled)

                inside, unscreened = choose_inside_compile(ak, model, kinds, report, measure, time_it, adopt, mode,
                                                           checkpoint, profile_shares(args.profile))
                report["unscreened_inside_compile"] = sorted(unscreened)
            report["eager_only"] = sorted(set(kinds) - set(inside))
            if not inside:  # the compiled patched model is the one just timed with every type left out
                say("autokernel + torch.compile  = every type left to inductor (none made the compiled model faster)")
                results["autokernel_compiled"] = results["routed_compiled"]
                times["autokernel_compiled"] = times["routed_compiled"]
                report["calls_compiled"] = {}
            elif args.inside_compile == "auto":  # the last kept trial is the variant, timed and checked there
                r = results["autokernel_compiled"]
                say(f"autokernel + torch.compile  {times['autokernel_compiled']:9.3f} ms   rel L2 {r['rel_l2']:.3e}   "
                    f"max {r['max_error']:.3e}   (with {', '.join(inside)}: the last kept trial)")
            else:
                ak.patch(model, inside_compile=set(inside))
                say(f"autokernel inside torch.compile (mode={mode}, with {', '.join(inside)}): compiling ...")
                compiled = torch.compile(model, mode=mode)
                measure("autokernel_compiled", compiled, "autokernel + torch.compile")
                checked_compiled(compiled)
                del compiled
                torch._dynamo.reset()
            say(f"  graph breaks: {report['graph_breaks']}")
        ak.unpatch(model)
        if args.generate:
            report["generation"] = verify_generation.check(model, ak, args, device, dtype, say, check_calls,
                                                                time_shapes)

        tolerance = 2 * results["eager"]["rel_l2"] + FLOOR[args.dtype]
        failures = [f"{k}: a call's rel L2 {c['error']:.3e} > {c['tolerance']:.3e}" for k, c in checks.items() if not c["passed"]]
        for label in ("autokernel", "routed_compiled", "autokernel_compiled"):
            r = results.get(label)
            if r is None:
                continue
            if r["rel_l2"] > tolerance:
                failures.append(f"{label}: output rel L2 {r['rel_l2']:.3e} > {tolerance:.3e}")
            e1 = results["eager"]["top1"]
            if e1 is not None and r["top1"] is not None and r["top1"] < e1 - TOP1_MARGIN:
                failures.append(f"{label}: top-1 agreement {100 * r['top1']:.1f}% < eager's {100 * e1:.1f}% - 2")
        gen = report.get("generation")
        if gen and not gen["passed"]:
            failures.append(f"generation: a sequence's tokens left eager's within the first "
                            f"{verify_generation.MUST_AGREE}, where rounding does not explain it")
        report.update(results=results, times_ms=times, tolerance=tolerance, failures=failures,
                      errors={k: v["rel_l2"] for k, v in results.items()}, passed=not failures,
                      peak_memory_mb=peaks if device.type == "cuda" else None,
                      speedup_vs_eager=times["eager"] / times["autokernel"])
        if "compiled" in times:
            best = min(times["autokernel"], times.get("autokernel_compiled", float("inf")))
            report["speedup_vs_compiled"] = times["compiled"] / best
            report["best"] = "autokernel_compiled" if times.get("autokernel_compiled", float("inf")) < times["autokernel"] else "autokernel"
        if not report["calls"]:
            report["warning"] = "no call of the model fit the exported kernels: nothing was swapped"
        by_type = {}
        for e in manifest:
            took = sum(calls.get(e["name"], 0) for calls in (report["calls"], report.get("calls_compiled", {}),
                                                             report.get("generation", {}).get("calls", {})))
            by_type[e["type"]] = by_type.get(e["type"], 0) + took
        report["uncovered"] = uncovered_ops(args.profile, by_type, {e["type"] for e in manifest},
                                            set(ak._fusions.UNFUSED), args.compile, set(report.get("eager_only", [])),
                                            screened_types(ak, report))
        if report["uncovered"]:
            say("time no kernel took (from profile.json):")
            for u in report["uncovered"]:
                say(f"  {u['name']:<32} {100 * u['share']:5.1f}%   {u['why']}")

        if args.diagnose:
            report["diagnose"] = []
            for kind in kinds:
                ak.patch(model, types={kind})
                ak.reset_stats()
                err = compare(floats(model(*inputs[0], **inputs[1])), truth)["rel_l2"]
                calls = sum(ak.stats().values())
                ak.unpatch(model)
                ok = err <= tolerance
                report["diagnose"].append({"type": kind, "error": err, "calls": calls, "passed": ok})
                say(f"  only {kind:<17} rel L2 {err:.3e}  calls {calls:4d}  {'ok' if ok else 'BREAKS THE OUTPUT'}")
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
    p.add_argument("--inside-compile", choices=["auto", "all"],
                   help="auto: time each kernel type inside torch.compile and keep those that help (default on "
                        "cuda); all: every type (default on cpu, where tiny models' timings decide nothing)")
    p.add_argument("--profile", help="the workspace's profile.json: name the time no kernel took")
    p.add_argument("--generate", type=int, default=0, help="the generation check: N greedy tokens")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    try:
        report = run(args)
    except ModelError as e:
        report = {"error": str(e), "hint": e.hint}
    except Exception as e:  # anything else: one line for the user, the traceback for us
        traceback.print_exc()
        report = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    if "error" in report and os.path.exists(args.out):  # keep what was measured before it failed
        try:
            with open(args.out) as f:
                report = {**json.load(f), **report}
        except (OSError, ValueError):
            pass
    save(args.out, report)
    if "error" in report:
        sys.exit(2)
    sys.exit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
