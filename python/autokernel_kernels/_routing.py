"""Which parts of a model our kernel types can run, found by what they compute, not by their names.

`find_routes(model)` returns one Route per module or function a kernel type covers:
  - a module with a 1-D `weight` and an `eps` / `variance_epsilon` whose forward gives
    x * rsqrt(mean(x^2) + eps) * weight, or * (1 + weight) as Gemma's (rmsnorm);
  - a module holding three bias-free Linear layers E->F, E->F, F->E (or two, E->2F and F->E) whose
    forward gives down(silu(gate(x)) * up(x)), whatever its activation's class (fused_mlp);
  - a module with `cos` / `sin` tables [S, D/2] whose forward(q, k) rotates both, or forward(x) one
    (rotary_embedding);
  - a function of the modules that define the model's classes, taking (q, k, cos, sin, ...), that gives
    Hugging Face's rotary embedding, rotate-half or interleaved (rotary_embedding, `half` / `interleaved`);
  - PyTorch's own functions (F.scaled_dot_product_attention, F.linear, torch.addmm, F.layer_norm,
    F.rms_norm, F.softmax / torch.softmax, F.cross_entropy, torch.sum over the last dim), routed
    call by call when the call fits a kernel.
Each candidate is checked by running it once on small random inputs (a probe) against the type's
formula, with its parameters temporarily randomised so that a module that ignores one is not taken.
A new model family needs no code here when its blocks compute these things.

Both the exported package (`patch`) and `autokernel profile` (scopes named `ak.kind:<type>:<variant>:<path>`
around each route, so the trace attributes its ops to the type) use this file.
"""
import functools
import inspect
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import _ops

# How close a probe must be to the type's formula: the candidate may round at other points than the
# formula (an RMSNorm in f32 rounded to bf16 before the weight, say), never differ by more.
_PROBE_TOL = {torch.float32: 1e-4, torch.float64: 1e-8, torch.float16: 1e-2, torch.bfloat16: 4e-2}


class Route:
    """One place a kernel type covers. kind: the kernel type; variant: e.g. the rotary style;
    path: the module's qualified name or the function's module.name; owner/attr: what patch() rebinds."""

    def __init__(self, kind, variant, path, owner, attr, make):
        self.kind, self.variant, self.path = kind, variant, path
        self.owner, self.attr = owner, attr
        self.make = make  # make(original) -> replacement callable

    def __repr__(self):
        return f"Route({self.kind}:{self.variant}:{self.path})"


def _close(got, want, dtype):
    if not isinstance(got, torch.Tensor) or got.shape != want.shape or got.dtype != want.dtype:
        return False
    g, w = got.double(), want.double()
    if not torch.isfinite(g).all():
        return False
    return (g - w).norm().item() <= _PROBE_TOL.get(dtype, 1e-2) * max(w.norm().item(), 1e-30)


def _probe(fn, *args):
    try:
        with torch.no_grad():
            return fn(*args)
    except Exception:  # a probe that does not fit the candidate's signature: not this type
        return None


class _Randomised:
    """Temporarily fills tensors with random values (restored on exit), so a probe sees every one used."""

    def __init__(self, *tensors):
        self.tensors = [t for t in tensors if isinstance(t, torch.Tensor)]

    def __enter__(self):
        self.saved = [t.detach().clone() for t in self.tensors]
        g = torch.Generator().manual_seed(1234)
        with torch.no_grad():
            for t in self.tensors:
                t.copy_((torch.randn(t.shape, generator=g) * 0.5 + 1.0).to(t.dtype))
        return self

    def __exit__(self, *exc):
        with torch.no_grad():
            for t, s in zip(self.tensors, self.saved):
                t.copy_(s)


def _randn(shape, like, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g) * scale).to(device=like.device, dtype=like.dtype)


# ---- modules ----------------------------------------------------------------------------------------

def _rmsnorm_eps(m):
    w = getattr(m, "weight", None)
    if not isinstance(w, torch.Tensor) or w.dim() != 1 or not w.is_floating_point():
        return None
    for name in ("eps", "variance_epsilon"):
        eps = getattr(m, name, None)
        if isinstance(eps, (int, float)) and not isinstance(eps, bool):
            return float(eps)
    return None


def _is_rmsnorm(m):
    """(eps, offset) if m's forward is x * rsqrt(mean(x^2) + eps) * (offset + weight), offset 0, or 1 as in
    Gemma (whose weights are stored as their difference from 1), else None."""
    eps = _rmsnorm_eps(m)
    if eps is None or any(True for _ in m.children()):
        return None
    n = m.weight.shape[0]
    x = _randn((4, n), m.weight, 7)
    x[1] *= 1e-3  # a row whose mean square is near eps: a module with another eps gives another answer
    x[2] += 1.0  # a row whose mean is not 0: a LayerNorm subtracts it (on zero-mean rows it passes in bf16)
    with _Randomised(*m.parameters()):  # a bias too: a module that adds one is not an RMSNorm
        got = _probe(m.forward, x)
        for offset in (0, 1):
            if _close(got, _ops._rms_norm_eager(x, m.weight + offset, eps), x.dtype):
                return eps, offset
    return None


def _gated_mlp_weights(m):
    """A function giving (w_gate, w_up, w_down) if m's forward is down(silu(gate(x)) * up(x)), else None.
    The gate and up projections are two bias-free Linear children E->F, or one E->2F whose output halves
    are gate and up (Phi-3's gate_up_proj): then each is a row block of its weight, a view, not a copy."""
    linears = [c for c in m.children() if isinstance(c, nn.Linear)]
    others = [c for c in m.children() if not isinstance(c, nn.Linear) and any(True for _ in c.parameters())]
    if len(linears) not in (2, 3) or others or any(l.bias is not None for l in linears):
        return None
    if len(linears) == 3:
        downs = [l for l in linears if l.in_features != l.out_features and
                 sum(o.in_features == l.out_features and o.out_features == l.in_features for o in linears) == 2]
        if len(downs) != 1:
            return None
        down = downs[0]
        a, b = [l for l in linears if l is not down]
        pairs = [lambda a=a, b=b: (a.weight, b.weight, down.weight), lambda a=a, b=b: (b.weight, a.weight, down.weight)]
    else:
        downs = [l for l in linears if any(o.out_features == 2 * l.in_features and o.in_features == l.out_features
                                           for o in linears if o is not l)]
        if len(downs) != 1:
            return None
        down = downs[0]
        fused = next(l for l in linears if l is not down)
        f = down.in_features
        pairs = [lambda: (fused.weight[:f], fused.weight[f:], down.weight),
                 lambda: (fused.weight[f:], fused.weight[:f], down.weight)]
    x = _randn((3, down.out_features), down.weight, 11)
    got = _probe(m.forward, x)
    if got is None:
        return None
    for weights in pairs:
        want = _probe(_ops._swiglu_eager, x, *weights())
        if want is not None and _close(got, want, x.dtype):
            return weights
    return None


def _rotary_module_style(m):
    cos, sin = getattr(m, "cos", None), getattr(m, "sin", None)
    if not (isinstance(cos, torch.Tensor) and isinstance(sin, torch.Tensor) and cos.dim() == 2 and cos.shape == sin.shape):
        return None
    s, d = min(cos.shape[0], 5), cos.shape[1] * 2
    q, k = _randn((1, 2, s, d), cos, 3), _randn((1, 1, s, d), cos, 4)
    pair = _probe(m.forward, q, k)
    one = None if pair is not None else _probe(m.forward, q)  # a module that rotates one tensor per call
    for style in (0, 1):
        want = _ops._rotary_eager(q, k, cos[:s], sin[:s], style)
        if isinstance(pair, (tuple, list)) and len(pair) == 2 and all(_close(g, w, q.dtype) for g, w in zip(pair, want)):
            return style, 2
        if one is not None and _close(one, want[0], q.dtype):
            return style, 1
    return None


def _module_routes(model):
    routes = []
    for path, m in model.named_modules():
        if m is model and any(True for _ in m.children()):
            continue
        norm = _is_rmsnorm(m)
        if norm is not None:
            def make(original, m=m, eps=norm[0], offset=norm[1]):
                if offset:  # (1 + weight): D elements, against the B*S*D the norm reads
                    return lambda x: _ops.op("rms_norm")(x, m.weight + offset, eps)
                return lambda x: _ops.op("rms_norm")(x, m.weight, eps)
            routes.append(Route("rmsnorm", "-", path, m, "forward", make))
            continue
        weights = _gated_mlp_weights(m)
        if weights is not None:
            def make(original, weights=weights):
                return lambda x: _ops.op("swiglu")(x, *weights())
            routes.append(Route("fused_mlp", "-", path, m, "forward", make))
            continue
        found = _rotary_module_style(m)
        if found is not None:
            style, tensors = found

            def make(original, m=m, style=style, tensors=tensors):
                def rotary(q, k=None):
                    s = q.shape[2]
                    cos, sin = m.cos[:s].to(q.dtype), m.sin[:s].to(q.dtype)
                    if tensors == 1:  # forward(x): k is an empty stand-in
                        return _ops.op("rotary")(q, q[:, :0], cos, sin, style)[0]
                    return _ops.op("rotary")(q, k, cos, sin, style)
                return rotary
            routes.append(Route("rotary_embedding", "interleaved" if style == 0 else "half", path, m, "forward", make))
    return routes


# ---- functions of the model's own Python modules (Hugging Face's apply_rotary_pos_emb) -------------------

# Hugging Face passes cos, sin as [1, S, D] tables that hold each angle twice: in two halves side by side
# (llama, helium, ...) or as neighbours (cohere, ...). The pairing is separate: rotate-half (llama) or
# interleaved (cohere; helium and ernie interleave half-layout tables inside the function). Each form:
# (how the probe builds a table from angles [S, D/2], how the wrapper takes them back, the kernel's style).
_HF_ROTARY_FORMS = (
    (lambda t: torch.cat((t, t), -1), lambda t, half: t[0, :, :half], 1),
    (lambda t: torch.cat((t, t), -1), lambda t, half: t[0, :, :half], 0),
    (lambda t: t.repeat_interleave(2, -1), lambda t, half: t[0, :, 0::2], 0),
)


def _rotary_function_form(fn):
    """The index in _HF_ROTARY_FORMS of the rotary embedding fn(q, k, cos, sin) computes, else None."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    names = [p.name for p in params]
    if len(params) < 4 or not any("cos" in n for n in names) or not any("sin" in n for n in names):
        return None
    s, d = 5, 8
    g = torch.Generator().manual_seed(5)
    q, k = torch.randn(1, 2, s, d, generator=g), torch.randn(1, 1, s, d, generator=g)
    theta = torch.randn(s, d // 2, generator=g) * 3
    cos, sin = theta.cos(), theta.sin()
    for i, (table, _, style) in enumerate(_HF_ROTARY_FORMS):
        got = _probe(fn, q, k, table(cos)[None], table(sin)[None])
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return None
        want = _ops._rotary_eager(q, k, cos, sin, style)
        if all(_close(a, b, torch.float32) for a, b in zip(got, want)):
            return i
    return None


def _hf_rotary(form):
    _, angles, style = _HF_ROTARY_FORMS[form]

    def make(original):
        @functools.wraps(original)
        def rotary(q, k, cos, sin, *args, **kwargs):
            # cos, sin [1, S, D] unsqueezed on dim 1 for q, k [B, H, S, D]; anything else (a partial rotary's
            # narrower tables, another layout) runs the original.
            unsqueeze = args[0] if args else kwargs.get("unsqueeze_dim", 1)
            if (len(args) + len(kwargs) > 1 or unsqueeze != 1 or q.dim() != 4 or cos.dim() != 3 or cos.shape[0] != 1
                    or cos.shape[1:] != (q.shape[2], q.shape[3]) or sin.shape != cos.shape):
                return original(q, k, cos, sin, *args, **kwargs)
            half = q.shape[3] // 2
            return _ops.op("rotary")(q, k, angles(cos, half), angles(sin, half), style)
        return rotary
    return make


def _function_routes(model):
    routes, seen = [], set()
    for m in model.modules():
        py = sys.modules.get(type(m).__module__)
        if py is None or py.__name__ in seen or py.__name__.startswith("torch."):
            continue
        seen.add(py.__name__)
        for attr, fn in list(vars(py).items()):
            if not inspect.isfunction(fn) or fn.__module__ != py.__name__:
                continue
            form = _rotary_function_form(fn)
            if form is not None:
                routes.append(Route("rotary_embedding", "interleaved" if _HF_ROTARY_FORMS[form][2] == 0 else "half",
                                    f"{py.__name__}.{attr}", py, attr, _hf_rotary(form)))
    return routes


def find_routes(model):
    """Every module and model-level function a kernel type covers, found by probing (see the docstring)."""
    return _module_routes(model) + _function_routes(model)


# ---- PyTorch's functions, routed call by call ------------------------------------------------------------

def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _sdpa(original):
    def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        gqa_ok = key.dim() == 4 and query.dim() == 4 and (key.shape[1] == query.shape[1] or enable_gqa)
        if attn_mask is not None or dropout_p != 0.0 or not gqa_ok:
            return original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                            scale=scale, enable_gqa=enable_gqa)
        s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
        return _ops.op("attention")(query, key, value, bool(is_causal), s)
    return attention


def _linear(original):
    def linear(input, weight, bias=None):
        if input.dim() < 1 or weight.dim() != 2:
            return original(input, weight, bias)
        return _ops.op("linear")(input, weight, bias)
    return linear


def _addmm(original):
    def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
        if out is not None or beta != 1 or alpha != 1 or mat1.dim() != 2 or mat2.dim() != 2 or input.dim() != 1:
            kw = {"beta": beta, "alpha": alpha} if out is None else {"beta": beta, "alpha": alpha, "out": out}
            return original(input, mat1, mat2, **kw)
        return _ops.op("matmul")(mat1, mat2, input)
    return addmm


def _layer_norm(original):
    def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
        if weight is None or bias is None or len(normalized_shape) != 1:
            return original(input, normalized_shape, weight, bias, eps)
        return _ops.op("layer_norm")(input, weight, bias, float(eps))
    return layer_norm


def _rms_norm(original):
    def rms_norm(input, normalized_shape, weight=None, eps=None):
        if weight is None or weight.dim() != 1 or len(normalized_shape) != 1:
            return original(input, normalized_shape, weight, eps)
        e = torch.finfo(input.dtype).eps if eps is None else float(eps)
        return _ops.op("rms_norm")(input, weight, e)
    return rms_norm


def _softmax(original):
    def softmax(input, dim=None, *args, **kwargs):
        if args or kwargs.get("dtype") is not None or dim not in (-1, input.dim() - 1):
            return original(input, dim, *args, **kwargs)
        return _ops.op("softmax")(input)
    return softmax


def _cross_entropy(original):
    def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                      reduction="mean", label_smoothing=0.0):
        simple = (weight is None and size_average is None and reduce is None and label_smoothing == 0.0
                  and input.dim() == 2 and target.dim() == 1 and target.dtype == torch.int64
                  and reduction in ("mean", "sum", "none"))
        if not simple:
            return original(input, target, weight, size_average, ignore_index, reduce, reduction, label_smoothing)
        t = torch.where(target == ignore_index, torch.full_like(target, -1), target)
        loss = _ops.op("cross_entropy")(input, t)
        if reduction == "none":
            return loss.to(input.dtype)
        total = loss.sum()
        return (total if reduction == "sum" else total / (t >= 0).sum()).to(input.dtype)
    return cross_entropy


def _sum(original):
    def sum_(input, *args, **kwargs):
        dim = _arg(args, kwargs, 0, "dim")
        keepdim = _arg(args, kwargs, 1, "keepdim", False)
        if (not isinstance(input, torch.Tensor) or dim not in (-1, input.dim() - 1, [-1], (-1,)) or keepdim
                or kwargs.get("dtype") is not None or len(args) > 2):
            return original(input, *args, **kwargs)
        return _ops.op("row_sum")(input)
    return sum_


def eager_only(routed, original):
    """`routed` in an eager model; while torch.compile traces, `original` (PyTorch's code, which inductor
    compiles and fuses with its neighbours), for types verify measured slower inside the compiled graph."""
    def call(*args, **kwargs):
        if torch.compiler.is_compiling():
            return original(*args, **kwargs)
        return routed(*args, **kwargs)
    return call


# (owner, attribute, kernel type, wrapper factory): swapped while a model is patched and a kernel of the
# type is loaded, for every caller (torch.compile traces these wrappers like any Python function).
FUNCTIONS = [
    (F, "scaled_dot_product_attention", "flash_attention", _sdpa),
    (F, "linear", "matmul", _linear),
    (torch, "addmm", "matmul", _addmm),
    (F, "layer_norm", "layernorm", _layer_norm),
    (F, "rms_norm", "rmsnorm", _rms_norm),
    (F, "softmax", "softmax", _softmax),
    (torch, "softmax", "softmax", _softmax),
    (F, "cross_entropy", "cross_entropy", _cross_entropy),
    (torch, "sum", "reduce", _sum),
]


# ---- Hugging Face models: attention through transformers' own attention interface -----------------------
# Under torch.compile, transformers materialises the causal mask and repeats the k/v heads before calling
# SDPA, so the F.scaled_dot_product_attention route never sees a call it can take. Registered as an
# attention implementation of its own, with a mask function that leaves the mask out where it is the plain
# causal one, our attention gets q [B, H, S, D] and k, v with their own (fewer) heads, in eager and compiled
# models alike. Any other call (padding, decoding, soft-capping, sinks...) goes to transformers' SDPA path.
HF_ATTENTION = "autokernel"
_HF_UNSUPPORTED = ("s_aux", "sinks", "position_bias", "softcap", "attn_logit_softcapping")


_hf = {}  # transformers' own SDPA mask and attention, imported once by hf_attention_swap (no import while traced)


def _hf_mask(**kw):
    q_len, kv_len, local = kw.get("q_length"), kw.get("kv_length"), kw.get("local_size")
    if (kw.get("attention_mask") is None and kw.get("allow_is_causal_skip", True) and kw.get("q_offset", 0) == 0
            and q_len == kv_len and q_len > 1 and (local is None or kv_len <= local)):
        return None  # plain causal: the attention says so with is_causal
    return _hf["sdpa_mask"](**kw)


def _hf_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs):
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    plain = (not (_hf["eager_only"] and torch.compiler.is_compiling())
             and attention_mask is None and dropout == 0.0 and query.shape[2] == key.shape[2] and query.shape[2] > 1
             and all(kwargs.get(k) is None for k in _HF_UNSUPPORTED))
    if not plain:
        return _hf["sdpa_attention"](module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scaling is None else float(scaling)
    out = _ops.op("attention")(query, key, value, bool(causal), scale)
    return out.transpose(1, 2).contiguous(), None


def hf_attention_swap(model, inside_compile=True):
    """Switch a transformers model using SDPA to our attention (inside torch.compile too, unless
    inside_compile is False); returns the undo, or None if not such a model."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa" or "transformers" not in sys.modules:
        return None
    try:
        from transformers import AttentionInterface
        from transformers.integrations.sdpa_attention import sdpa_attention_forward
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
        _hf.update(sdpa_mask=sdpa_mask, sdpa_attention=sdpa_attention_forward, eager_only=not inside_compile)
        AttentionInterface.register(HF_ATTENTION, _hf_attention)
        AttentionMaskInterface.register(HF_ATTENTION, _hf_mask)
        model.set_attn_implementation(HF_ATTENTION)
    except (ImportError, AttributeError, ValueError):
        return None
    return lambda: model.set_attn_implementation("sdpa")
