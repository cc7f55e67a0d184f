"""Runs one model under torch.profiler for `autokernel profile` (started as a child process).

It loads the model (FILE.py:Class, or hf:NAME from the transformers package with random weights), builds
its inputs, runs a few warm-up steps, then profiles a few more with shapes recorded. Every nn.Module's
forward is wrapped in a record_function scope named `ak.module:<Class>:<qualified name>`, so the trace
says which module launched each op. It writes the Chrome trace and a small meta JSON; a failure writes
the meta JSON with {"error", "hint"} instead and exits 1, so the caller can print one clear line.
All the analysis is done by the caller (C++), from these two files.
"""
import argparse
import importlib.util
import inspect
import json
import os
import sys
import time
import traceback

MODULE_SCOPE_PREFIX = "ak.module:"
KIND_SCOPE_PREFIX = "ak.kind:"
STEP_SCOPE = "ak.step"


class ModelError(Exception):
    def __init__(self, message, hint=""):
        super().__init__(message)
        self.hint = hint


def load_python_attr(spec, what):
    """FILE.py:NAME -> the object NAME defined in FILE.py."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise ModelError(f"{what} must be FILE.py:NAME, got '{spec}'")
    if not os.path.isfile(path):
        raise ModelError(f"no such file: {path}", f"give {what} as FILE.py:NAME with an existing file")
    module_name = "ak_user_" + os.path.splitext(os.path.basename(path))[0]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    except Exception as e:  # the user's file: any exception is a load failure
        raise ModelError(f"cannot load {path}: {type(e).__name__}: {e}") from e
    if not hasattr(module, name):
        import torch.nn as nn

        classes = sorted(k for k, v in vars(module).items()
                         if inspect.isclass(v) and issubclass(v, nn.Module) and v.__module__ == module_name)
        raise ModelError(f"no '{name}' in {path}", f"nn.Module classes there: {', '.join(classes) or 'none'}")
    return getattr(module, name)


def build_model(spec, init_args, device=None):
    """The model and its class name, its parameters created (and randomly initialised) on `device`: on a
    GPU that is seconds where a CPU takes minutes for a 7B model."""
    import torch

    with torch.device(device if device is not None else "cpu"):
        return _build_model(spec, init_args)


def _build_model(spec, init_args):
    import torch.nn as nn

    if spec.startswith("hf:"):
        try:
            import transformers
        except ImportError as e:
            raise ModelError("--model hf:... needs the transformers package", "pip install transformers") from e
        family = spec[3:]
        if family not in transformers.CONFIG_MAPPING:
            raise ModelError(f"transformers has no model type '{family}'", "e.g. hf:gpt2, hf:llama, hf:bert")
        config = transformers.CONFIG_MAPPING[family](**init_args)  # its defaults, no download
        try:
            model = transformers.AutoModelForCausalLM.from_config(config)
        except ValueError:
            model = transformers.AutoModel.from_config(config)
        return model, type(model).__name__
    cls = load_python_attr(spec, "--model")
    if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
        raise ModelError(f"{spec} is not an nn.Module class")
    try:
        return cls(**init_args), cls.__name__
    except Exception as e:
        raise ModelError(f"cannot build {cls.__name__}(**{json.dumps(init_args)}): {type(e).__name__}: {e}",
                         "check --init-args against the class's constructor") from e


def vocab_size(model):
    """The token-id bound for --input-shape: the config's vocabulary, else the first nn.Embedding's size."""
    import torch.nn as nn

    config = getattr(model, "config", None)
    if config is not None and getattr(config, "vocab_size", None):
        return int(config.vocab_size)
    for m in model.modules():
        if isinstance(m, nn.Embedding):
            return m.num_embeddings
    return None


def build_inputs(model, args, dtype, device):
    """(positional inputs, keyword inputs), on `device`, floating tensors in `dtype`. make_inputs may
    return a tensor, a tuple or list (positional) or a dict (keyword arguments of forward)."""
    import torch

    shape = [int(x) for x in args.input_shape.split(",")] if args.input_shape else None
    if args.inputs:
        fn = load_python_attr(args.inputs, "--inputs")
        offered = {"model": model, "device": device, "dtype": dtype}
        if shape is not None:
            offered["shape"] = tuple(shape)
        params = inspect.signature(fn).parameters
        try:
            inputs = fn(**{k: v for k, v in offered.items() if k in params})
        except Exception as e:
            raise ModelError(f"{args.inputs} failed: {type(e).__name__}: {e}") from e
    elif shape is not None:
        vocab = vocab_size(model)
        g = torch.Generator().manual_seed(0)
        inputs = torch.randint(0, vocab, shape, generator=g) if vocab else torch.randn(shape, generator=g)
    else:
        raise ModelError("no inputs", "give --input-shape (e.g. 1,2048) or --inputs FILE.py:make_inputs")
    def place(t):
        if isinstance(t, torch.Tensor):
            t = t.to(device)
            if t.is_floating_point():
                t = t.to(dtype)
        return t

    if isinstance(inputs, dict):
        return (), {k: place(v) for k, v in inputs.items()}
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    return tuple(place(t) for t in inputs), {}


def describe(inputs):
    import torch

    args, kwargs = inputs
    inputs = list(args) + list(kwargs.values())
    return [{"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")} if isinstance(t, torch.Tensor)
            else {"value": repr(t)[:80]} for t in inputs]


def add_module_scopes(model):
    """Wrap every module's forward in a record_function scope naming its class and qualified name."""
    import torch

    def pre(name, cls):
        label = f"{MODULE_SCOPE_PREFIX}{cls}:{name or '<root>'}"

        def hook(module, inputs):
            scope = torch.profiler.record_function(label)
            scope.__enter__()
            module.__dict__.setdefault("_ak_scopes", []).append(scope)
        return hook

    def post(module, inputs, output):
        scopes = module.__dict__.get("_ak_scopes")
        if scopes:
            scopes.pop().__exit__(None, None, None)

    for name, m in model.named_modules():
        m.register_forward_pre_hook(pre(name, type(m).__name__))
        m.register_forward_hook(post)


def add_kind_scopes(model):
    """Wrap every module and function whose behaviour a kernel type covers (autokernel_kernels._routing, the
    same finder `patch` uses) in a scope ak.kind:<type>:<variant>:<path>, so the trace attributes their ops
    to that type whatever the class is called. Returns the routes found."""
    import functools

    import torch

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from autokernel_kernels import _routing

    routes = _routing.find_routes(model)
    for r in routes:
        label = f"{KIND_SCOPE_PREFIX}{r.kind}:{r.variant}:{r.path}"
        original = getattr(r.owner, r.attr)

        def scoped(*args, _label=label, _original=original, **kwargs):
            with torch.profiler.record_function(_label):
                return _original(*args, **kwargs)
        if isinstance(r.owner, torch.nn.Module):
            setattr(r.owner, r.attr, scoped)
        else:
            setattr(r.owner, r.attr, functools.wraps(original)(scoped))
    return routes


def settings(args):
    """(dtype, device, constructor arguments) from --dtype, --device and --init-args; bad ones are a ModelError."""
    import torch

    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda, but torch sees no GPU", "use --device cpu")
    try:
        init_args = json.loads(args.init_args) if args.init_args else {}
    except json.JSONDecodeError as e:
        raise ModelError(f"--init-args is not valid JSON: {e}") from e
    if not isinstance(init_args, dict):
        raise ModelError("--init-args must be a JSON object, e.g. '{\"n_layer\": 2}'")
    return dtype, torch.device(args.device), init_args


def run(args):
    import torch

    dtype, device, init_args = settings(args)
    torch.manual_seed(0)
    model, class_name = build_model(args.model, init_args, device)
    model = model.to(device=device, dtype=dtype).eval()
    inputs = build_inputs(model, args, dtype, device)

    def step():
        with torch.no_grad():
            model(*inputs[0], **inputs[1])
        if device.type == "cuda":
            torch.cuda.synchronize()

    try:
        for _ in range(args.warmup):
            step()
    except Exception as e:
        shapes = ", ".join(f"{d.get('shape')} {d.get('dtype', '')}" for d in describe(inputs))
        raise ModelError(f"the model failed on its inputs ({shapes}): {type(e).__name__}: {str(e).splitlines()[0]}",
                         "check --input-shape / --inputs and --init-args") from e

    add_module_scopes(model)
    routes = add_kind_scopes(model)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    wall = []
    # One more step inside the profiler, not recorded: the profiler's own start-up lands in it.
    schedule = torch.profiler.schedule(wait=0, warmup=1, active=args.iters)
    traces = []
    with torch.profiler.profile(activities=activities, record_shapes=True, schedule=schedule,
                                on_trace_ready=lambda p: traces.append(p.export_chrome_trace(args.trace))) as prof:
        for _ in range(1 + args.iters):
            t0 = time.perf_counter()
            with torch.profiler.record_function(STEP_SCOPE):
                step()
            wall.append((time.perf_counter() - t0) * 1e3)
            prof.step()
    if not traces:
        raise RuntimeError("torch.profiler wrote no trace")
    wall = wall[1:]
    return {
        "model": args.model,
        "class": class_name,
        "device": args.device,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": args.dtype,
        "inputs": describe(inputs),
        "input_shape": args.input_shape,  # how to make the inputs again (verify)
        "inputs_spec": args.inputs,
        "init_args": init_args,
        "iterations": args.iters,
        "warmup": args.warmup,
        "step_wall_ms": sorted(wall)[len(wall) // 2],
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch_version": torch.__version__,
        "routes": [f"{r.kind}:{r.variant}:{r.path}" for r in routes],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--input-shape", default="")
    p.add_argument("--inputs", default="")
    p.add_argument("--dtype", default="fp32", choices=["fp16", "bf16", "fp32"])
    p.add_argument("--init-args", default="")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--trace", required=True)
    p.add_argument("--meta", required=True)
    args = p.parse_args()
    try:
        meta = run(args)
        code = 0
    except ModelError as e:
        meta, code = {"error": str(e), "hint": e.hint}, 1
    except Exception as e:  # anything else is still reported as one line; the traceback goes to stderr
        traceback.print_exc()
        meta, code = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", "hint": ""}, 1
    with open(args.meta, "w") as f:
        json.dump(meta, f, indent=1)
    sys.exit(code)


if __name__ == "__main__":
    main()
