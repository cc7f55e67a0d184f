"""The kernels autokernel kept, as a package a model imports in production.

    import autokernel_kernels
    autokernel_kernels.patch(model)      # model(...) now runs through the kernels below
    autokernel_kernels.unpatch(model)    # and back

`autokernel export` writes this file next to manifest.json (which kernels, their types and knobs), the
compiled CUDA C++ / C++ kernels (lib/*.so), the Triton ones (triton/*.py), every kernel's source
(src/), and libautokernel_ops.so, the PyTorch operator `torch.ops.autokernel.launch` that runs a
compiled kernel on PyTorch's current stream.

What gets swapped, for every call whose tensors are on the kernel's device and whose dtype it handles:
  - functions, through a TorchFunctionMode around the model's forward: F.linear (matmul),
    F.softmax / Tensor.softmax over the last dim (softmax), F.layer_norm (layernorm), F.rms_norm
    (rmsnorm), F.cross_entropy (cross_entropy), F.scaled_dot_product_attention without a mask or
    dropout (flash_attention), torch.sum / Tensor.sum over the last dim (reduce);
  - modules, by what they hold: an *RMSNorm module with `weight` and `eps` (rmsnorm), a SwiGLU MLP with
    gate_proj/up_proj/down_proj or w1/w3/w2 Linear layers without bias (fused_mlp), a *Rotary* module
    with `cos`/`sin` buffers [S, D/2] whose forward(q, k) rotates interleaved pairs of q [B, H, S, D] and
    k [B, HKV, S, D] and returns both (rotary_embedding, style 0).
Anything else runs as before. `stats()` counts the calls each kernel took.
"""
import contextlib
import importlib.util
import json
import math
import os
import sys
import threading

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

_DIR = os.path.dirname(os.path.abspath(__file__))
_lock = threading.Lock()
_state = {"kernels": None}
_stats = {}


# ---- loading -------------------------------------------------------------------------------------

class _Kernel:
    """One kept kernel: type, device kind ("cuda" | "cpu") and a call(inputs, outputs, scalars)."""

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
            self._fn = self._launch

    def _launch(self, inputs, outputs, scalars):
        torch.ops.autokernel.launch(self._library, inputs, outputs, [float(s) for s in scalars])

    def __call__(self, inputs, outputs, scalars=()):
        _stats[self.name] = _stats.get(self.name, 0) + 1
        self._fn(list(inputs), list(outputs), list(scalars))


def _load_triton(path, knobs, name):
    spec = importlib.util.spec_from_file_location(f"autokernel_kernels.triton.{name}", path)
    module = importlib.util.module_from_spec(spec)
    for k, v in knobs.items():  # knobs are module globals before the body runs, as in the harness
        setattr(module, k, v)
    spec.loader.exec_module(module)
    return module.kernel_fn


def manifest():
    with open(os.path.join(_DIR, "manifest.json")) as f:
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
        return _state["kernels"]


def stats():
    """kernel name -> calls it took since the last reset_stats()."""
    return dict(_stats)


def reset_stats():
    _stats.clear()


# ---- one wrapper per kernel type: torch arguments -> the kernel ABI (kernel_abi.h) -----------------

_FLOAT = (torch.float16, torch.bfloat16, torch.float32)


def _pick(kind, *tensors):
    """The kernel of this type for these tensors' device, if every tensor is a float tensor there."""
    table = _state.get("active") or {}
    by_device = table.get(kind)
    if not by_device or not tensors:
        return None
    dev = tensors[0].device
    if any(not isinstance(t, torch.Tensor) or t.device != dev or t.dtype not in _FLOAT for t in tensors):
        return None
    if len({t.dtype for t in tensors}) != 1:
        return None
    return by_device.get(dev.type)


def _matmul(x, weight, bias=None):
    k = _pick("matmul", x, weight)
    if k is None or x.dim() < 1 or weight.dim() != 2 or x.shape[-1] != weight.shape[1] or x.numel() == 0:
        return None
    a = x.reshape(-1, x.shape[-1]).contiguous()
    b = _transposed(weight)
    c = torch.empty(a.shape[0], b.shape[1], dtype=x.dtype, device=x.device)
    k([a, b], [c])
    c = c.reshape(*x.shape[:-1], b.shape[1])
    return c + bias if bias is not None else c


_transposed_cache = {}


def _transposed(weight):
    """weight.T made contiguous ([K, N], what the matmul ABI takes), kept while the weight is unchanged."""
    key = (weight.data_ptr(), weight.shape, weight.dtype, weight._version)
    hit = _transposed_cache.get(id(weight))
    if hit is not None and hit[0] == key:
        return hit[1]
    t = weight.detach().t().contiguous()
    _transposed_cache[id(weight)] = (key, t)
    return t


def _softmax(x, dim):
    k = _pick("softmax", x)
    if k is None or x.dim() < 1 or dim not in (-1, x.dim() - 1) or x.numel() == 0:
        return None
    a = x.contiguous().reshape(-1, x.shape[-1])
    y = torch.empty_like(a)
    k([a], [y])
    return y.reshape(x.shape)


def _layer_norm(x, normalized_shape, weight, bias, eps):
    if weight is None or bias is None or len(normalized_shape) != 1:
        return None
    k = _pick("layernorm", x, weight, bias)
    if k is None or x.numel() == 0 or x.shape[-1] != normalized_shape[0]:
        return None
    a = x.contiguous().reshape(-1, x.shape[-1])
    y = torch.empty_like(a)
    k([a, weight.contiguous(), bias.contiguous()], [y], [eps])
    return y.reshape(x.shape)


def _rms_norm(x, weight, eps):
    if weight is None or weight.dim() != 1:
        return None
    k = _pick("rmsnorm", x, weight)
    if k is None or x.numel() == 0 or x.shape[-1] != weight.shape[0]:
        return None
    a = x.contiguous().reshape(-1, x.shape[-1])
    y = torch.empty_like(a)
    k([a, weight.contiguous()], [y], [eps])
    return y.reshape(x.shape)


def _cross_entropy(logits, target, ignore_index=-100, reduction="mean"):
    if logits.dim() != 2 or target.dim() != 1 or target.dtype != torch.int64 or reduction not in ("mean", "sum", "none"):
        return None
    k = _pick("cross_entropy", logits)
    if k is None or target.device != logits.device or logits.shape[0] == 0:
        return None
    t = torch.where(target == ignore_index, torch.full_like(target, -1), target).contiguous()
    loss = torch.empty(logits.shape[0], dtype=torch.float32, device=logits.device)
    k([logits.contiguous(), t], [loss])
    if reduction == "none":
        return loss.to(logits.dtype)
    total = loss.sum()
    if reduction == "sum":
        return total.to(logits.dtype)
    return (total / (t >= 0).sum()).to(logits.dtype)


def _attention(q, k_, v, causal, scale):
    if q.dim() != 4 or q.shape != k_.shape or q.shape != v.shape:
        return None
    k = _pick("flash_attention", q, k_, v)
    if k is None or q.numel() == 0:
        return None
    o = torch.empty_like(q, memory_format=torch.contiguous_format)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    k([q.contiguous(), k_.contiguous(), v.contiguous()], [o], [1.0 if causal else 0.0, scale])
    return o


def _row_sum(x):
    k = _pick("reduce", x)
    if k is None or x.dim() < 2 or x.numel() == 0:
        return None
    a = x.contiguous().reshape(-1, x.shape[-1])
    y = torch.empty(a.shape[0], dtype=x.dtype, device=x.device)
    k([a], [y])
    return y.reshape(x.shape[:-1])


def _swiglu(x, gate, up, down):
    k = _pick("fused_mlp", x, gate, up, down)
    if k is None or x.numel() == 0:
        return None
    a = x.contiguous().reshape(-1, x.shape[-1])
    y = torch.empty_like(a)
    k([a, gate.contiguous(), up.contiguous(), down.contiguous()], [y])
    return y.reshape(x.shape)


def _rotary(q, k_, cos, sin, style):
    """(q_out, k_out): both rotated in one call; style 0 interleaved pairs, 1 rotate-half (kernel_abi.h)."""
    if (q.dim() != 4 or k_.dim() != 4 or q.shape[3] % 2 or k_.shape[0] != q.shape[0] or k_.shape[2:] != q.shape[2:]
            or cos.dim() != 2 or cos.shape != (q.shape[2], q.shape[3] // 2) or sin.shape != cos.shape):
        return None
    k = _pick("rotary_embedding", q, k_, cos, sin)
    if k is None or q.numel() == 0:
        return None
    q_out = torch.empty_like(q, memory_format=torch.contiguous_format)
    k_out = torch.empty_like(k_, memory_format=torch.contiguous_format)
    k([q.contiguous(), k_.contiguous(), cos.contiguous(), sin.contiguous()], [q_out, k_out], [style])
    return q_out, k_out


# ---- where the wrappers are called from ----------------------------------------------------------

def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


class _Mode(TorchFunctionMode):
    """Routes the functions the kernels cover; anything that does not fit falls through unchanged."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = None
        if func is F.linear:
            out = _matmul(args[0], _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias"))
        elif func in (F.softmax, torch.softmax, torch.Tensor.softmax):
            dim = _arg(args, kwargs, 1, "dim")
            if dim is not None and len(args) <= 2 and kwargs.get("dtype") is None:
                out = _softmax(args[0], dim)
        elif func is F.layer_norm:
            out = _layer_norm(args[0], _arg(args, kwargs, 1, "normalized_shape"), _arg(args, kwargs, 2, "weight"),
                              _arg(args, kwargs, 3, "bias"), _arg(args, kwargs, 4, "eps", 1e-5))
        elif func is getattr(F, "rms_norm", None):
            eps = _arg(args, kwargs, 3, "eps")
            out = _rms_norm(args[0], _arg(args, kwargs, 2, "weight"), torch.finfo(args[0].dtype).eps if eps is None else eps)
        elif func is F.cross_entropy:
            if (len(args) == 2 and kwargs.get("weight") is None and kwargs.get("label_smoothing", 0.0) == 0.0
                    and kwargs.get("size_average") is None and kwargs.get("reduce") is None):
                out = _cross_entropy(args[0], _arg(args, kwargs, 1, "target"), kwargs.get("ignore_index", -100),
                                     kwargs.get("reduction", "mean"))
        elif func is F.scaled_dot_product_attention:
            if (_arg(args, kwargs, 3, "attn_mask") is None and _arg(args, kwargs, 4, "dropout_p", 0.0) == 0.0
                    and not kwargs.get("enable_gqa", False)):
                out = _attention(args[0], args[1], args[2], _arg(args, kwargs, 5, "is_causal", False),
                                 kwargs.get("scale"))
        elif func in (torch.sum, torch.Tensor.sum):
            dim = _arg(args, kwargs, 1, "dim")
            if (isinstance(args[0], torch.Tensor) and dim in (-1, args[0].dim() - 1, [-1], (-1,))
                    and not _arg(args, kwargs, 2, "keepdim", False) and kwargs.get("dtype") is None):
                out = _row_sum(args[0])
        return out if out is not None else func(*args, **kwargs)


def _positional(n, fn):
    """fn as a replacement forward for calls with exactly n positional arguments; None (not covered) otherwise."""
    return lambda *args, **kwargs: fn(*args) if len(args) == n and not kwargs else None


def _module_forward(module):
    """A replacement forward for a module the kernels cover whole, or None. It returns None for a call
    it does not cover, and the module's own forward runs."""
    name = type(module).__name__
    if name.endswith("RMSNorm") and isinstance(getattr(module, "weight", None), torch.Tensor):
        eps = getattr(module, "eps", getattr(module, "variance_epsilon", None))
        if eps is not None:
            return _positional(1, lambda x: _rms_norm(x, module.weight, float(eps)))
    linears = [getattr(module, n, None) for n in ("gate_proj", "up_proj", "down_proj")]
    if not all(isinstance(m, torch.nn.Linear) for m in linears):
        linears = [getattr(module, n, None) for n in ("w1", "w3", "w2")]
    act = getattr(module, "act_fn", None)
    swiglu_like = "mlp" in name.lower() or "swiglu" in name.lower()
    if (swiglu_like and all(isinstance(m, torch.nn.Linear) and m.bias is None for m in linears)
            and (act is None or isinstance(act, torch.nn.SiLU))):
        gate, up, down = linears
        return _positional(1, lambda x: _swiglu(x, gate.weight, up.weight, down.weight))
    if ("Rotary" in name and isinstance(getattr(module, "cos", None), torch.Tensor)
            and isinstance(getattr(module, "sin", None), torch.Tensor)):
        def rotary(q, k):
            if not isinstance(q, torch.Tensor) or q.dim() != 4:
                return None
            seq = q.shape[2]
            return _rotary(q, k, module.cos[:seq].to(q.dtype), module.sin[:seq].to(q.dtype), 0)
        return _positional(2, rotary)
    return None


def patch(model, types=None):
    """Route `model`'s forward through the kept kernels (only those of `types`, if given). Returns model."""
    table = kernels()
    active = {t: v for t, v in table.items() if types is None or t in types}
    if getattr(model, "_autokernel_patched", False):
        unpatch(model)
    originals = []
    for m in model.modules():
        replacement = _module_forward(m)
        if replacement is None:
            continue
        original = m.forward

        def forward(*args, _r=replacement, _o=original, **kwargs):
            out = _r(*args, **kwargs)
            return out if out is not None else _o(*args, **kwargs)
        originals.append((m, "forward" in m.__dict__, original))
        m.forward = forward
    root_forward = model.forward

    def patched_forward(*args, **kwargs):
        with _activate(active), _Mode():
            return root_forward(*args, **kwargs)
    originals.append((model, "forward" in model.__dict__, root_forward))
    model.forward = patched_forward
    model._autokernel_originals = originals
    model._autokernel_patched = True
    return model


def unpatch(model):
    """Undo patch(model)."""
    for m, had_own, original in reversed(getattr(model, "_autokernel_originals", [])):
        if had_own:
            m.forward = original
        else:
            m.__dict__.pop("forward", None)
    model._autokernel_originals = []
    model._autokernel_patched = False
    return model


@contextlib.contextmanager
def _activate(table):
    previous = _state.get("active")
    _state["active"] = table
    try:
        yield
    finally:
        _state["active"] = previous


__all__ = ["patch", "unpatch", "kernels", "manifest", "stats", "reset_stats"]
if __name__ == "__main__":
    print(json.dumps(manifest(), indent=2))
    sys.exit(0)
