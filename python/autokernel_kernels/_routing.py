"""Which parts of a model our kernel types can run, found by what they compute, not by their names.

`find_routes(model)` returns one Route per module or function a kernel type covers, asking every kind
module (kinds/, in kinds.ALL's order) about each module of the model and each function of the Python
modules that define the model's classes:
  - a module with a 1-D `weight` and an `eps` / `variance_epsilon` whose forward gives
    x * rsqrt(mean(x^2) + eps) * weight, or * (1 + weight) as Gemma's (kinds/rmsnorm.py);
  - a module holding three bias-free Linear layers E->F, E->F, F->E (or two, E->2F and F->E) whose
    forward gives down(act(gate(x)) * up(x)), act silu or either GELU, whatever its class (kinds/fused_mlp.py);
  - a module with `cos` / `sin` tables [S, D/2] whose forward(q, k) rotates both, or forward(x) one, and
    a function taking (q, k, cos, sin, ...) that gives Hugging Face's rotary embedding, rotate-half or
    interleaved (kinds/rotary_embedding.py, `half` / `interleaved`);
  - a module with no parameters, buffers or children whose forward(x) gives GELU, erf or tanh form, whatever
    its class (nn.GELU, transformers' NewGELUActivation, GELUTanh, ...) (kinds/gelu.py, `none` / `tanh`).
Each candidate is checked by running it once on small random inputs (a probe, `_probe.py`) against the
type's formula, with its parameters temporarily randomised so that a module that ignores one is not taken.
A new model family needs no code when its blocks compute these things.

While a model is patched, PyTorch's own functions that the kinds list in their FUNCTIONS
(F.scaled_dot_product_attention (decode_attention's wrapper first, then flash_attention's), F.linear
(skinny_gemm's wrapper first, then matmul's), torch.addmm,
F.layer_norm, F.rms_norm, F.softmax / torch.softmax, F.cross_entropy, torch.sum over the last dim, F.gelu) are
routed call by call when the call fits a kernel (`FUNCTIONS` here gathers them), and the kinds' model-level
swaps apply (`swap_model`: Hugging Face's attention interface, kinds/flash_attention.py, and the decode step's
mask and attention over it, kinds/decode_attention.py). `eager_only` wraps
a route of a type that steps aside while torch.compile traces.

Both the exported package (`patch`) and `autokernel profile` (scopes named `ak.kind:<type>:<variant>:<path>`
around each route, so the trace attributes its ops to the type) use this file.
"""
import inspect
import sys

import torch

from . import kinds


class Route:
    """One place a kernel type covers. kind: the kernel type; variant: e.g. the rotary style;
    path: the module's qualified name or the function's module.name; owner/attr: what patch() rebinds."""

    def __init__(self, kind, variant, path, owner, attr, make):
        self.kind, self.variant, self.path = kind, variant, path
        self.owner, self.attr = owner, attr
        self.make = make  # make(original) -> replacement callable

    def __repr__(self):
        return f"Route({self.kind}:{self.variant}:{self.path})"


def _first(kind_modules, hook, candidate):
    """(kind, variant, make) of the first kind whose `hook` claims the candidate, else None."""
    for k in kind_modules:
        found = getattr(k, hook)(candidate)
        if found is not None:
            return (k.KIND, *found)
    return None


def _module_routes(model):
    claimants = [k for k in kinds.ALL if hasattr(k, "module_route")]
    routes = []
    for path, m in model.named_modules():
        if m is model and any(True for _ in m.children()):
            continue
        found = _first(claimants, "module_route", m)
        if found is not None:
            kind, variant, make = found
            routes.append(Route(kind, variant, path, m, "forward", make))
    return routes


def _function_routes(model):
    claimants = [k for k in kinds.ALL if hasattr(k, "function_route")]
    routes, seen = [], set()
    for m in model.modules():
        py = sys.modules.get(type(m).__module__)
        if py is None or py.__name__ in seen or py.__name__.startswith("torch."):
            continue
        seen.add(py.__name__)
        for attr, fn in list(vars(py).items()):
            if not inspect.isfunction(fn) or fn.__module__ != py.__name__:
                continue
            found = _first(claimants, "function_route", fn)
            if found is not None:
                kind, variant, make = found
                routes.append(Route(kind, variant, f"{py.__name__}.{attr}", py, attr, make))
    return routes


def find_routes(model):
    """Every module and model-level function a kernel type covers, found by probing (see the docstring)."""
    return _module_routes(model) + _function_routes(model)


# ---- PyTorch's functions, routed call by call ------------------------------------------------------------

def eager_only(routed, original):
    """`routed` in an eager model; while torch.compile traces, `original` (PyTorch's code, which inductor
    compiles and fuses with its neighbours), for types verify measured slower inside the compiled graph."""
    def call(*args, **kwargs):
        if torch.compiler.is_compiling():
            return original(*args, **kwargs)
        return routed(*args, **kwargs)
    return call


# (owner, attribute, kernel type, wrapper factory): swapped while a model is patched and a kernel of the
# type is loaded, for every caller (torch.compile traces these wrappers like any Python function). In
# kinds.ALL's order: where two kinds wrap one function (F.linear: matmul, then skinny_gemm; SDPA: flash_attention,
# then decode_attention), the later wraps
# the earlier's wrapper, sees each call first and hands on those it does not take.
FUNCTIONS = [(owner, attr, k.KIND, wrap) for k in kinds.ALL for owner, attr, wrap in getattr(k, "FUNCTIONS", ())]


# ---- model-level swaps -----------------------------------------------------------------------------------

def swap_model(model, types, compiled):
    """Apply the model-level swap of every kind among `types` (inside torch.compile too where the kind is in
    `compiled`); returns one undo for those that applied, or None if none did."""
    undos = []
    for k in kinds.ALL:
        if hasattr(k, "swap") and k.KIND in types:
            undo = k.swap(model, inside_compile=k.KIND in compiled)
            if undo is not None:
                undos.append(undo)
    if not undos:
        return None

    def undo_all():
        for undo in reversed(undos):
            undo()
    return undo_all
