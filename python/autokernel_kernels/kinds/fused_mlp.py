"""fused_mlp: the SiLU-gated MLP y = down(silu(gate(x)) * up(x)). Op `swiglu`; route: a module that
computes it from bias-free Linear children, whatever its attributes or its activation's class are called."""
import torch
import torch.nn as nn

from .._op import Op, _orig, _rows, op
from .._probe import _close, _probe, _randn

KIND = "fused_mlp"


def _swiglu_eager(x, w_gate, w_up, w_down):
    lin = _orig["linear"]
    return lin(_orig["silu"](lin(x, w_gate)) * lin(x, w_up), w_down)


def _swiglu_run(k, x, w_gate, w_up, w_down):
    a = _rows(x)
    y = torch.empty(a.shape[0], w_down.shape[0], dtype=x.dtype, device=x.device)
    k([a, w_gate.contiguous(), w_up.contiguous(), w_down.contiguous()], [y])
    return y.reshape(*x.shape[:-1], w_down.shape[0])


def _swiglu_fits(x, w_gate, w_up, w_down):
    E = x.shape[-1]
    return (x.numel() > 0 and w_gate.dim() == 2 and w_gate.shape[1] == E and w_up.shape == w_gate.shape
            and w_down.shape == (E, w_gate.shape[0]))


OPS = [
    Op("swiglu", KIND, "swiglu(Tensor x, Tensor w_gate, Tensor w_up, Tensor w_down) -> Tensor",
       _swiglu_eager, _swiglu_run, _swiglu_fits,
       lambda x, wg, wu, wd: x.new_empty(*x.shape[:-1], wd.shape[0]), 4),
]


# ---- the module route ---------------------------------------------------------------------------------

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
        want = _probe(_swiglu_eager, x, *weights())
        if want is not None and _close(got, want, x.dtype):
            return weights
    return None


def module_route(m):
    weights = _gated_mlp_weights(m)
    if weights is None:
        return None

    def make(original, weights=weights):
        return lambda x: op("swiglu")(x, *weights())
    return "-", make
