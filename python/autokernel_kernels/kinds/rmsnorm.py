"""rmsnorm: y = x * rsqrt(mean(x^2) + eps) * weight over the last dim. Op `rms_norm`; routes: a module that
computes it (Gemma's (1 + weight) form too), and F.rms_norm."""
import torch
import torch.nn.functional as F

from .._op import Op, _last_dim, _orig, _rows, _same_fake, op
from .._probe import _close, _probe, _Randomised, _randn

KIND = "rmsnorm"


def _rms_norm_eager(x, weight, eps):
    return _orig["rms_norm"](x, (x.shape[-1],), weight, eps)


def _rms_norm_run(k, x, weight, eps):
    a = _rows(x)
    y = torch.empty_like(a)
    k([a, weight.contiguous()], [y], [eps])
    return y.reshape(x.shape)


OPS = [
    Op("rms_norm", KIND, "rms_norm(Tensor x, Tensor weight, float eps) -> Tensor",
       _rms_norm_eager, _rms_norm_run, lambda x, w, eps: _last_dim(x, w), _same_fake, 2),
]


# ---- the module route ---------------------------------------------------------------------------------

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
            if _close(got, _rms_norm_eager(x, m.weight + offset, eps), x.dtype):
                return eps, offset
    return None


def module_route(m):
    norm = _is_rmsnorm(m)
    if norm is None:
        return None

    def make(original, m=m, eps=norm[0], offset=norm[1]):
        if offset:  # (1 + weight): D elements, against the B*S*D the norm reads
            return lambda x: op("rms_norm")(x, m.weight + offset, eps)
        return lambda x: op("rms_norm")(x, m.weight, eps)
    return "-", make


# ---- PyTorch's function -------------------------------------------------------------------------------

def _rms_norm(original):
    def rms_norm(input, normalized_shape, weight=None, eps=None):
        if weight is None or weight.dim() != 1 or len(normalized_shape) != 1:
            return original(input, normalized_shape, weight, eps)
        e = torch.finfo(input.dtype).eps if eps is None else float(eps)
        return op("rms_norm")(input, weight, e)
    return rms_norm


FUNCTIONS = [(F, "rms_norm", _rms_norm)]
