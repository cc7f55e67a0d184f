"""gelu: y = gelu(x) elementwise, the exact form 0.5 x (1 + erf(x / sqrt(2))) (approximate 0) or the tanh
approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (approximate 1). Op `gelu`; routes: a module
with no parameters, buffers or children whose forward(x) computes either form (nn.GELU, and transformers'
GELUActivation, NewGELUActivation, GELUTanh / PytorchGELUTanh, FastGELUActivation: GPT-2's computes the
tanh form as eight elementwise ops), and F.gelu. A module taken by its route runs the op instead of its
forward, so the F.gelu inside that forward is never reached: no call is counted twice."""
import torch
import torch.nn.functional as F

from .._op import Op, _orig, _rows, _same_fake, op
from .._probe import _close, _probe, _randn

KIND = "gelu"
_FORMS = ("none", "tanh")  # F.gelu's `approximate` by the op's integer (the catalogue's dim)


def _gelu_eager(x, approximate):
    return _orig["gelu"](x, approximate=_FORMS[approximate])


def _gelu_run(k, x, approximate):
    a = _rows(x)
    y = torch.empty_like(a)
    k([a], [y], [float(approximate)])
    return y.reshape(x.shape)


def _gelu_fits(x, approximate):
    return x.dim() >= 1 and x.numel() > 0 and approximate in (0, 1)


OPS = [
    Op("gelu", KIND, "gelu(Tensor x, int approximate) -> Tensor", _gelu_eager, _gelu_run, _gelu_fits, _same_fake, 1),
]


# ---- the module route ---------------------------------------------------------------------------------

def _gelu_form(m):
    """0 or 1, the form m's forward(x) computes, else None. Only a module with nothing of its own (no
    parameters, buffers or children) is probed: an activation, never a layer that merely ends in one."""
    if any(True for _ in m.parameters()) or any(True for _ in m.buffers()) or any(True for _ in m.children()):
        return None
    x = _randn((4, 256), torch.empty(0), 11, 2.0)
    x[0, :4] = torch.tensor([20.0, -20.0, 0.0, -6.0])  # past a clipped GELU's bounds, and the saturated ends
    got = _probe(m.forward, x)
    if not isinstance(got, torch.Tensor):
        return None
    # The forms differ by up to 2e-4 at |x| near 2 (1e-4 of the norm here); the closer one must also be close
    # (QuickGELU's x sigmoid(1.702 x) and SiLU are off by far more).
    errs = [(got.double() - _gelu_eager(x, a).double()).norm().item() for a in (0, 1)]
    form = 0 if errs[0] <= errs[1] else 1
    return form if _close(got, _gelu_eager(x, form), x.dtype) else None


def module_route(m):
    form = _gelu_form(m)
    if form is None:
        return None

    def make(original, form=form):
        return lambda x: op("gelu")(x, form)
    return _FORMS[form], make


# ---- PyTorch's function -------------------------------------------------------------------------------

def _gelu(original):
    def gelu(input, approximate="none"):
        if approximate not in _FORMS:
            return original(input, approximate=approximate)
        return op("gelu")(input, _FORMS.index(approximate))
    return gelu


FUNCTIONS = [(F, "gelu", _gelu)]
