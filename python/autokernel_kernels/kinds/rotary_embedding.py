"""rotary_embedding: q and k [B, H, S, D] rotated by angle tables cos, sin [S, D/2], in one call, pairs
interleaved (x[2i], x[2i+1]) or rotate-half (x[i], x[i+D/2]). Op `rotary`; routes: a module with `cos` /
`sin` tables that rotates q and k (or one tensor; with a start position where its forward takes one), and a
function of the model's own Python modules that computes Hugging Face's rotary embedding
(`apply_rotary_pos_emb`)."""
import functools
import inspect

import torch

from .._op import Op, _bshd_empty, _heads, op
from .._probe import _close, _probe, _randn

KIND = "rotary_embedding"


def _rotate(x, cos, sin, style):
    """x [B, H, S, D]; cos, sin [S, D/2]; style 0: pairs (x[2i], x[2i+1]); 1: pairs (x[i], x[i+D/2])."""
    if style == 0:
        pairs = x.unflatten(-1, (-1, 2))
        x1, x2 = pairs[..., 0], pairs[..., 1]
        return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


def _rotary_eager(q, k, cos, sin, style):
    return _rotate(q, cos, sin, style), _rotate(k, cos, sin, style)


def _rotary_run(k, q, k_, cos, sin, style):
    # q [B, H, S, D] and k [B, HKV, S, D] in one launch. A module that rotates one tensor per call passes
    # an empty k: the kernel gets q's first head as k (1/H more work) and that result is dropped.
    # q and k as the model made them where the ABI's strides allow (no copies); the outputs in [B, S, H, D]
    # memory, so the attention after them takes them as they are.
    one = k_.shape[1] == 0
    kk = q[:, :1] if one else k_
    qo, ko = _bshd_empty(q.shape, q), _bshd_empty(kk.shape, kk)
    k([_heads(q), _heads(kk), cos.contiguous(), sin.contiguous()], [qo, ko], [float(style)])
    return qo, (_bshd_empty(k_.shape, k_) if one else ko)


def _rotary_fake(q, k, cos, sin, style):
    return _bshd_empty(q.shape, q), _bshd_empty(k.shape, k)


def _rotary_fits(q, k, cos, sin, style):
    # k's heads divide q's (grouped-query), or k is empty (a module rotating q alone).
    return (q.dim() == 4 and k.dim() == 4 and q.shape[0] == k.shape[0] and q.shape[2:] == k.shape[2:]
            and (k.shape[1] == 0 or q.shape[1] % k.shape[1] == 0) and style in (0, 1)
            and q.shape[3] % 2 == 0 and cos.shape == (q.shape[2], q.shape[3] // 2) and sin.shape == cos.shape
            and q.numel() > 0)


OPS = [
    Op("rotary", KIND, "rotary(Tensor q, Tensor k, Tensor cos, Tensor sin, int style) -> (Tensor, Tensor)",
       _rotary_eager, _rotary_run, _rotary_fits, _rotary_fake, 4),
]


def _variant(style):
    return "interleaved" if style == 0 else "half"


# ---- the module route ---------------------------------------------------------------------------------

def _rotary_module_style(m):
    """(style, tensors, offset) of a module whose forward rotates q and k (tensors 2) or one tensor (1) by its
    tables' first rows, else None; offset: forward(q, k, start) rotates by rows start.. (a decode step's
    position in the KV cache, examples/models/llama.py), probed at start 2."""
    cos, sin = getattr(m, "cos", None), getattr(m, "sin", None)
    if not (isinstance(cos, torch.Tensor) and isinstance(sin, torch.Tensor) and cos.dim() == 2
            and cos.shape == sin.shape):
        return None
    s, d = min(cos.shape[0], 5), cos.shape[1] * 2
    q, k = _randn((1, 2, s, d), cos, 3), _randn((1, 1, s, d), cos, 4)
    pair = _probe(m.forward, q, k)
    one = None if pair is not None else _probe(m.forward, q)  # a module that rotates one tensor per call
    for style in (0, 1):
        want = _rotary_eager(q, k, cos[:s], sin[:s], style)
        if (isinstance(pair, (tuple, list)) and len(pair) == 2
                and all(_close(g, w, q.dtype) for g, w in zip(pair, want))):
            s2 = min(cos.shape[0] - 2, 3)
            moved = _probe(m.forward, q[:, :, :s2], k[:, :, :s2], 2) if s2 > 0 else None
            want = _rotary_eager(q[:, :, :s2], k[:, :, :s2], cos[2:2 + s2], sin[2:2 + s2], style)
            offset = (isinstance(moved, (tuple, list)) and len(moved) == 2
                      and all(_close(g, w, q.dtype) for g, w in zip(moved, want)))
            return style, 2, offset
        if one is not None and _close(one, want[0], q.dtype):
            return style, 1, False
    return None


def module_route(m):
    found = _rotary_module_style(m)
    if found is None:
        return None
    style, tensors, offset = found

    def make(original, m=m, style=style, tensors=tensors, offset=offset):
        def rotary(q, k=None, *rest, **kwargs):
            start = rest[0] if offset and len(rest) == 1 and not kwargs else 0
            if (rest or kwargs) and not (offset and isinstance(start, int) and start >= 0):
                return original(q, k, *rest, **kwargs)  # arguments the probe did not see: the module's own code
            s = q.shape[2]
            cos, sin = m.cos[start:start + s].to(q.dtype), m.sin[start:start + s].to(q.dtype)
            if tensors == 1:  # forward(x): k is an empty stand-in
                return op("rotary")(q, q[:, :0], cos, sin, style)[0]
            return op("rotary")(q, k, cos, sin, style)
        return rotary
    return _variant(style), make


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
    """(index in _HF_ROTARY_FORMS, partial) of the rotary embedding fn(q, k, cos, sin) computes, else None.
    partial: given tables narrower than the head (gpt_neox's, glm's, nemotron's partial rotary), fn rotates
    that many leading dims of each head and passes the rest through, which the probe checks too."""
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
        want = _rotary_eager(q, k, cos, sin, style)
        if all(_close(a, b, torch.float32) for a, b in zip(got, want)):
            r = d // 2  # tables for the first half of each head only
            got = _probe(fn, q, k, table(cos[:, : r // 2])[None], table(sin[:, : r // 2])[None])
            rotated = _rotary_eager(q[..., :r], k[..., :r], cos[:, : r // 2], sin[:, : r // 2], style)
            want = (torch.cat((rotated[0], q[..., r:]), -1), torch.cat((rotated[1], k[..., r:]), -1))
            partial = (isinstance(got, (tuple, list)) and len(got) == 2
                       and all(_close(a, b, torch.float32) for a, b in zip(got, want)))
            return i, partial
    return None


def _hf_rotary(form, partial):
    _, angles, style = _HF_ROTARY_FORMS[form]

    def make(original):
        @functools.wraps(original)
        def rotary(q, k, cos, sin, *args, **kwargs):
            # cos, sin [1, S, R] unsqueezed on dim 1 for q, k [B, H, S, D]: R = D, or a partial rotary's R < D
            # where the function passes dims R.. through (probed); anything else (another layout) runs the
            # original.
            unsqueeze = args[0] if args else kwargs.get("unsqueeze_dim", 1)
            width = cos.shape[2] if cos.dim() == 3 else -1
            if (len(args) + len(kwargs) > 1 or unsqueeze != 1 or q.dim() != 4 or cos.dim() != 3 or cos.shape[0] != 1
                    or cos.shape[1] != q.shape[2] or sin.shape != cos.shape or width % 2
                    or not (width == q.shape[3] or (partial and 0 < width < q.shape[3]))):
                return original(q, k, cos, sin, *args, **kwargs)
            c, s = angles(cos, width // 2), angles(sin, width // 2)
            if width == q.shape[3]:
                return op("rotary")(q, k, c, s, style)
            # Partial: the leading dims in one call, the rest as they are (what the function's cat does).
            qr, kr = op("rotary")(q[..., :width], k[..., :width], c, s, style)
            return torch.cat((qr, q[..., width:]), -1), torch.cat((kr, k[..., width:]), -1)
        return rotary
    return make


def function_route(fn):
    found = _rotary_function_form(fn)
    if found is None:
        return None
    form, partial = found
    return _variant(_HF_ROTARY_FORMS[form][2]), _hf_rotary(form, partial)
