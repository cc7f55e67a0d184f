"""The kernels autokernel kept, as a package a model imports in production.

    import autokernel_kernels
    autokernel_kernels.patch(model)          # model(...) now runs through the kernels below
    torch.compile(model)                     # ... and so does the compiled model: no graph break at them
    autokernel_kernels.unpatch(model)        # and back

`autokernel export` writes this folder next to manifest.json (which kernels, their types and knobs), the
compiled CUDA C++ / C++ kernels (lib/*.so), the Triton ones (triton/*.py), every kernel's source (src/),
and libautokernel_ops.so, the operator `torch.ops.autokernel.launch` that runs a compiled kernel on
PyTorch's current stream.

Everything about one kernel type is in one module, `kinds/<type>.py` (kinds/__init__.py lists them and says
what each defines); the files here are the machinery they share.

Every kernel type is a PyTorch operator of its own (registered by `_ops.py`): torch.ops.autokernel.rms_norm,
add_rms_norm, layer_norm, softmax, linear, matmul, skinny_linear, attention (grouped-query heads natively),
decode_attention and decode_attention_lengths (one query token against the KV cache, every key valid, or
each sequence's first lengths[b], a device tensor: a StaticCache's), rotary (q and k in one call, interleaved or
rotate-half), swiglu and geglu (a SiLU- or GELU-gated MLP, one kernel type), cross_entropy, row_sum and gelu,
each with a schema and a fake implementation, so torch.compile keeps them in its graph and fuses the code around
them. An op runs the kernel when the call fits it and PyTorch's formula otherwise (`_op.py`).

What `patch` routes to them is found by behaviour (`_routing.py`, asking each kind): modules and model-level
functions that compute a kernel type (an RMSNorm, a SiLU- or GELU-gated MLP, a rotary embedding), checked on a probe
(`_probe.py`), and, while a model is patched, PyTorch's functions (F.scaled_dot_product_attention (one query
token: decode_attention, else flash_attention; the two wrappers chain), F.linear (at most 64 rows of x:
skinny_gemm, else matmul; likewise), torch.addmm, F.layer_norm,
F.rms_norm, F.softmax / torch.softmax, F.cross_entropy, torch.sum over the last dim) for every caller, call by
call when the call fits a kernel, and in a Hugging Face model transformers' attention interface (and the
decode step's mask, left out where it is all true, and a StaticCache's, whose length goes to the attention as a
device tensor). Inside
torch.compile, chains that one kernel does in a pass are fused in the captured graph (`_fusions.py` installs
the fusion kinds' graph passes: a residual add and the RMSNorm after it become
torch.ops.autokernel.add_rms_norm). A type that `autokernel verify` timed slower inside the compiled model
than inductor's own code is listed in the manifest's `eager_only`: its routes step aside while torch.compile
traces, and inductor compiles PyTorch's code there. The calls verify timed faster in PyTorch than in our
kernel, by shape, are the manifest's `faster_in_pytorch` (op name -> call signatures): they run PyTorch's
code, eager and compiled (`_op.py`), but for the manifest's `unscreened_inside_compile` types, whose every call
verify timed faster inside the compiled model. `stats()` counts the calls each kernel took.
"""
import importlib.util
import json
import os
import sys
import threading

import torch

from . import _fusions, _ops, _routing
from ._op import (check_log, checking, reset_stats, samples, set_faster_in_pytorch,  # noqa: F401
                  set_unscreened_inside_compile, signature, stats)

_DIR = os.path.dirname(os.path.abspath(__file__))
_lock = threading.Lock()
_state = {"kernels": None, "swapped": {}, "patched": 0, "fusions": None}


# ---- loading -------------------------------------------------------------------------------------

class _Kernel:
    """One kept kernel: name, type, device kind ("cuda" | "cpu") and a call(inputs, outputs, scalars)."""

    def __init__(self, entry):
        self.name = entry["name"]
        self.type = entry["type"]
        self.backend = entry["backend"]
        # Triton kernels run on CUDA tensors, or on CPU tensors under Triton's interpreter (TRITON_INTERPRET=1).
        interpreted = self.backend == "triton" and os.environ.get("TRITON_INTERPRET") == "1"
        self.device = "cpu" if self.backend == "cpu" or interpreted else "cuda"
        if self.backend == "triton":
            self._fn = _load_triton(os.path.join(_DIR, entry["module"]), entry.get("knobs", {}), self.name)
        else:
            self._library = os.path.join(_DIR, entry["library"])
            self._op = None
            self._fn = self._launch

    def _launch(self, inputs, outputs, scalars):
        if self._op is None:  # looked up once: each call's attribute lookups on torch.ops cost microseconds
            self._op = torch.ops.autokernel.launch.default
        self._op(self._library, inputs, outputs, [float(s) for s in scalars])

    def __call__(self, inputs, outputs, scalars=()):
        self._fn(list(inputs), list(outputs), list(scalars))


def _load_triton(path, knobs, name):
    spec = importlib.util.spec_from_file_location(f"autokernel_kernels.triton.{name}", path)
    module = importlib.util.module_from_spec(spec)
    for k, v in knobs.items():  # knobs are module globals before the body runs, as in the harness
        setattr(module, k, v)
    spec.loader.exec_module(module)
    return module.kernel_fn


def manifest():
    path = os.path.join(_DIR, "manifest.json")
    if not os.path.exists(path):  # the source tree's copy (used by `autokernel profile`): no kernels
        return {"kernels": []}
    with open(path) as f:
        return json.load(f)


def kernels():
    """type -> {device kind -> _Kernel}, loaded once."""
    with _lock:
        if _state["kernels"] is None:
            m = manifest()
            needs_ops = any(e["backend"] != "triton" for e in m["kernels"])
            if needs_ops and not hasattr(torch.ops.autokernel, "launch"):
                torch.ops.load_library(os.path.join(_DIR, m["ops_library"]))
            table = {}
            for entry in m["kernels"]:
                k = _Kernel(entry)
                table.setdefault(k.type, {})[k.device] = k
            _state["kernels"] = table
            set_faster_in_pytorch(m.get("faster_in_pytorch", {}))
            set_unscreened_inside_compile(m.get("unscreened_inside_compile", []))
        return _state["kernels"]


# ---- patching ------------------------------------------------------------------------------------

def routes(model):
    """What patch(model) would route, as _routing.Route objects (kind, variant, path)."""
    return _routing.find_routes(model)


def _swap_functions(types, compiled):
    """Point PyTorch's functions of these kernel types at the routing wrappers (counted per patched model);
    those of types not in `compiled` step aside while torch.compile traces. Kinds that wrap the same function
    chain, in _routing.FUNCTIONS' order: each wraps what is there (PyTorch's function or an earlier kind's
    wrapper), so the last one sees a call first and hands on the calls it does not take; a kind stepping
    aside inside torch.compile hands every call on. PyTorch's own function is kept to restore."""
    for owner, attr, kind, wrap in _routing.FUNCTIONS:
        key = (owner.__name__, attr)
        kinds_done, _ = _state["swapped"].get(key, (set(), None))
        if kind not in types or kind in kinds_done:
            continue
        current = getattr(owner, attr)
        wrapper = wrap(current)
        if kind not in compiled:
            wrapper = _routing.eager_only(wrapper, current)
        true_original = getattr(current, "_ak_original", current)
        wrapper._ak_original = true_original
        setattr(owner, attr, wrapper)
        _state["swapped"][key] = (kinds_done | {kind}, (owner, true_original))


def _restore_functions():
    for (_, attr), (_, (owner, original)) in _state["swapped"].items():
        setattr(owner, attr, original)
    _state["swapped"].clear()


def patch(model, types=None, inside_compile=None):
    """Route `model` through the kept kernels (only those of `types`, if given). Returns model.

    inside_compile: the types that stay routed while torch.compile traces the model. By default every type
    but the manifest's `eager_only` ones: those `autokernel verify` timed slower inside the compiled model
    than inductor's own code for the same ops. The others step aside there, so inductor compiles and fuses
    PyTorch's code in their place; an eager model takes every kernel."""
    table = kernels()
    active = {t: v for t, v in table.items() if types is None or t in types}
    if inside_compile is None:
        inside_compile = set(active) - set(manifest().get("eager_only", []))
    # A fusion fires on its unfused op (an add before an rms_norm op), so it brings that type's routes along.
    routed = _fusions.with_unfused(active)
    compiled = _fusions.with_unfused(set(inside_compile) & set(active))
    if getattr(model, "_autokernel_patched", False):
        unpatch(model)
    _ops.set_table(active)
    done = []
    for r in _routing.find_routes(model):
        if r.kind not in routed:
            continue
        original = getattr(r.owner, r.attr)
        had_own = r.attr in vars(r.owner)
        made = r.make(original)
        setattr(r.owner, r.attr, made if r.kind in compiled else _routing.eager_only(made, original))
        done.append((r, had_own, original))
    undo_swaps = _routing.swap_model(model, active, compiled)  # Hugging Face's attention interface
    with _lock:
        _swap_functions(routed, compiled)
        if _fusions.wanted(compiled) and _state["fusions"] is None:
            _state["fusions"] = _fusions.install()  # inside torch.compile: add -> rms_norm as one kernel
        _state["patched"] += 1
    model._autokernel_routes = done
    model._autokernel_undo = undo_swaps
    model._autokernel_patched = True
    return model


def unpatch(model):
    """Undo patch(model); PyTorch's functions go back once no patched model is left."""
    if not getattr(model, "_autokernel_patched", False):
        return model
    for r, had_own, original in reversed(model._autokernel_routes):
        if had_own or not isinstance(r.owner, torch.nn.Module):
            setattr(r.owner, r.attr, original)
        else:
            r.owner.__dict__.pop(r.attr, None)
    if getattr(model, "_autokernel_undo", None):
        model._autokernel_undo()
    model._autokernel_routes, model._autokernel_undo = [], None
    model._autokernel_patched = False
    with _lock:
        _state["patched"] -= 1
        if _state["patched"] == 0:
            _restore_functions()
            if _state["fusions"] is not None:
                _state["fusions"]()
                _state["fusions"] = None
            _ops.set_table({})
    return model


__all__ = ["patch", "unpatch", "routes", "kernels", "manifest", "stats", "reset_stats", "checking", "check_log",
           "samples", "set_faster_in_pytorch", "set_unscreened_inside_compile", "signature"]
if __name__ == "__main__":
    print(json.dumps(manifest(), indent=2))
    sys.exit(0)
