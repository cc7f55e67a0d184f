"""Runs one model under torch.profiler for `autokernel profile` (started as a child process).

It loads the model (FILE.py:Class, or hf:NAME from the transformers package with random weights), builds
its inputs, runs a few warm-up steps, then profiles a few more with shapes recorded (with --decode N, a step
is one decode step against a KV cache: see Decode). Every nn.Module's
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


def max_positions(model):
    """The most positions the model takes, when it says: its config's max_position_embeddings, else max_seq_len."""
    config = getattr(model, "config", None)
    n = getattr(config, "max_position_embeddings", None) if config is not None else None
    return n or getattr(model, "max_seq_len", None)


def build_inputs(model, args, dtype, device):
    """(positional inputs, keyword inputs), on `device`, floating tensors in `dtype`. make_inputs may
    return a tensor, a tuple or list (positional) or a dict (keyword arguments of forward). Anything that
    is not a tensor (a KV cache, a flag) is passed to every step as it is: a cache the model appends to
    (transformers' DynamicCache) grows by the step's tokens at every step, warm-up ones included."""
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
    """Each input: a tensor's shape and dtype; a plain value as written; any other object (a cache) by its class."""
    import torch

    def one(t):
        if isinstance(t, torch.Tensor):
            return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
        if t is None or isinstance(t, (bool, int, float, str)):
            return {"value": repr(t)[:80]}
        return {"value": type(t).__name__}

    args, kwargs = inputs
    return [one(t) for t in list(args) + list(kwargs.values())]


def logits_of(output):
    """The logits in a model's output: the tensor itself, a transformers output's .logits, or a tuple's first."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    if getattr(output, "logits", None) is not None:
        return output.logits
    return output[0]


class Decode:
    """--decode N: each profiled step is one decode step (one new token per sequence) against a KV cache that
    a prefill of L tokens filled once, before the warm-up and not profiled. The warm-up steps (and the
    profiler's discarded first step) decode position L and are taken back out of the cache; the N profiled
    steps advance it, so profiled step i feeds the token at position L + i against a cache holding L + i
    tokens. Each step's token is the greedy choice of the step before (chosen outside the profiled scope).

    Two kinds of model take a cache: a transformers causal LM (past_key_values: a transformers.DynamicCache,
    its positions taken from the cache's length), and a model whose forward takes `cache=` and `start_pos=`
    and which has new_cache(batch_size, max_len) (examples/models/llama.py)."""

    def __init__(self, model, args, device, static=False):
        import torch

        self.model, self.steps = model, args.decode
        self.step_model = model  # what runs the decode steps: verify sets a torch.compile'd model here
        self.static = static  # transformers' StaticCache (fixed shapes: one CUDA graph for every step)
        shape = [int(x) for x in args.input_shape.split(",")] if args.input_shape else []
        if args.inputs or not 1 <= len(shape) <= 2 or (len(shape) == 1 and not args.prefill):
            raise ModelError("--decode makes its own inputs: token ids [batch, prefill length]",
                             "give --input-shape BATCH,PREFILL (or BATCH with --prefill L), and no --inputs")
        self.batch, self.prefill = shape[0], args.prefill or shape[1]
        params = inspect.signature(model.forward).parameters
        self.hf = getattr(model, "config", None) is not None and "past_key_values" in params
        self.keep_one = "logits_to_keep" in params  # transformers: the prefill's logits for its last token only
        if not self.hf and not ("cache" in params and "start_pos" in params
                                and callable(getattr(model, "new_cache", None))):
            raise ModelError(f"--decode: {type(model).__name__} takes no KV cache",
                             "a model takes one through forward(tokens, cache=, start_pos=) and a method "
                             "new_cache(batch_size, max_len), as examples/models/llama.py does, or is a "
                             "transformers causal LM (hf:NAME)")
        if static and not self.hf:
            raise ModelError(f"a static cache: {type(model).__name__} is no transformers causal LM",
                             "transformers' StaticCache is the static cache taken here (hf:NAME)")
        if self.hf and getattr(model.config, "is_encoder_decoder", False):
            raise ModelError(f"--decode: {type(model).__name__} is an encoder-decoder model",
                             "--decode runs decoder-only causal LMs (hf:llama, hf:gpt2, ...)")
        vocab = vocab_size(model)
        if not vocab:
            raise ModelError(f"--decode: {type(model).__name__} takes no token ids (no vocabulary found)",
                             "--decode needs a language model with an nn.Embedding or a config.vocab_size")
        limit = max_positions(model)
        if limit and self.prefill + self.steps > limit:
            raise ModelError(f"--decode {self.steps} after a {self.prefill}-token prefill needs "
                             f"{self.prefill + self.steps} positions, but {type(model).__name__} has {limit}",
                             "a shorter --prefill, or more positions through --init-args "
                             "(max_position_embeddings, max_seq_len)")
        g = torch.Generator().manual_seed(0)
        self.prompt = torch.randint(0, vocab, (self.batch, self.prefill), generator=g).to(device)
        self.token, self.cache, self.pos = self.prompt[:, -1:], None, 0
        self.lengths = []  # the cache's length before each profiled step

    def cache_length(self):
        return self.cache.get_seq_length() if self.hf and not self.static else self.pos

    def run_prefill(self):
        """Fill a new cache with the prompt's L tokens; the first decode token is the greedy one after them.
        Returns the logits at the prompt's last position [B, V]."""
        import torch

        with torch.no_grad():
            if self.hf:
                import transformers

                kw = {"logits_to_keep": 1} if self.keep_one else {}
                if self.static:
                    self.cache = transformers.StaticCache(config=self.model.config,
                                                          max_cache_len=self.prefill + self.steps)
                    kw["cache_position"] = torch.arange(self.prefill, device=self.prompt.device)
                else:
                    try:
                        self.cache = transformers.DynamicCache(config=self.model.config)
                    except TypeError:  # transformers before the config argument
                        self.cache = transformers.DynamicCache()
                out = self.model(input_ids=self.prompt, past_key_values=self.cache, use_cache=True, **kw)
            else:
                self.cache = self.model.new_cache(self.batch, self.prefill + self.steps)
                out = self.model(self.prompt, cache=self.cache, start_pos=0)
            last = logits_of(out)[:, -1]
            self.token = last.argmax(-1, keepdim=True)
        self.pos = self.prefill
        return last

    def step(self):
        """One decode step: the current token at the current position; returns the model's output."""
        import torch

        if self.static:
            position = torch.full((1,), self.pos, dtype=torch.long, device=self.token.device)
            return self.step_model(input_ids=self.token, past_key_values=self.cache, use_cache=True,
                                   cache_position=position)
        if self.hf:
            return self.step_model(input_ids=self.token, past_key_values=self.cache, use_cache=True)
        return self.step_model(self.token, cache=self.cache, start_pos=self.pos)

    def take_back(self):
        """After an unprofiled step: the cache as it was before it."""
        if self.static:
            return  # the next step writes the same position again
        if self.hf:
            try:
                self.cache.crop(-1)  # negative: remove that many tokens (transformers 4.x and 5.x alike)
            except Exception:  # a cache that cannot crop (sliding window past its size): it keeps the token
                pass
        # a cache= / start_pos= model: the next step writes the same position again

    def advance(self, output):
        """After a profiled step: the next token is its greedy choice, at the next position."""
        import torch

        with torch.no_grad():
            self.token = logits_of(output)[:, -1:].argmax(-1)
        self.pos += 1

    def inputs(self):
        """The step's inputs, as build_inputs gives them (for describe)."""
        return (self.token,), {"cache": self.cache}

    def meta(self):
        return {"steps": self.steps, "prefill": self.prefill, "batch": self.batch,
                "cache": type(self.cache).__name__,
                "cache_length": [self.lengths[0], self.lengths[-1]] if self.lengths else []}


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
    decode = Decode(model, args, device) if args.decode else None
    inputs = decode.inputs() if decode else build_inputs(model, args, dtype, device)
    iters = args.decode or args.iters

    def step():
        with torch.no_grad():
            out = decode.step() if decode else model(*inputs[0], **inputs[1])
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out

    def after(out, profiled):
        """Outside the step's scope: a decode step's cache advances (profiled) or is taken back (not)."""
        if decode and profiled:
            decode.advance(out)
        elif decode:
            decode.take_back()

    try:
        if decode:
            decode.run_prefill()
            inputs = decode.inputs()
        for _ in range(args.warmup):
            after(step(), profiled=False)
    except Exception as e:
        shapes = ", ".join(f"{d.get('shape')} {d.get('dtype', '')}" if "shape" in d else d["value"]
                           for d in describe(inputs))
        what = (f"its {decode.prefill}-token prefill or a decode step ({shapes})" if decode
                else f"its inputs ({shapes})")
        raise ModelError(f"the model failed on {what}: {type(e).__name__}: {str(e).splitlines()[0]}",
                         "check --input-shape / --inputs and --init-args") from e

    add_module_scopes(model)
    routes = add_kind_scopes(model)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    wall = []
    # One more step inside the profiler, not recorded: the profiler's own start-up lands in it.
    schedule = torch.profiler.schedule(wait=0, warmup=1, active=iters)
    traces = []
    with torch.profiler.profile(activities=activities, record_shapes=True, schedule=schedule,
                                on_trace_ready=lambda p: traces.append(p.export_chrome_trace(args.trace))) as prof:
        for i in range(1 + iters):
            if decode and i > 0:
                decode.lengths.append(decode.cache_length())
            t0 = time.perf_counter()
            with torch.profiler.record_function(STEP_SCOPE):
                out = step()
            wall.append((time.perf_counter() - t0) * 1e3)
            after(out, profiled=i > 0)
            prof.step()
    if not traces:
        raise RuntimeError("torch.profiler wrote no trace")
    wall = wall[1:]
    meta = {
        "model": args.model,
        "class": class_name,
        "device": args.device,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": args.dtype,
        "inputs": describe(decode.inputs() if decode else inputs),
        "input_shape": args.input_shape,  # how to make the inputs again (verify)
        "inputs_spec": args.inputs,
        "init_args": init_args,
        "iterations": iters,
        "warmup": args.warmup,
        "step_wall_ms": sorted(wall)[len(wall) // 2],
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch_version": torch.__version__,
        "routes": [f"{r.kind}:{r.variant}:{r.path}" for r in routes],
    }
    if decode:
        meta["decode"] = decode.meta()  # each step is one decode step: see Decode
    return meta


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
    p.add_argument("--decode", type=int, default=0, help="profile this many decode steps (see Decode), not --iters")
    p.add_argument("--prefill", type=int, default=0, help="the prefill's length for --decode (default: --input-shape's)")
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
