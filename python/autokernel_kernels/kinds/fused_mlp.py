"""fused_mlp: the gated MLP y = down(act(gate(x)) * up(x)), act the catalogue's ACT: silu (op `swiglu`, ACT 0)
or GELU (op `geglu`, Gemma's MLP: `approximate` 1 the tanh form, ACT 1; 0 the exact one, ACT 2). Route: a module
that computes either from bias-free Linear children, whatever its attributes or its activation's class are called
(nn.SiLU, nn.GELU, transformers' GELUTanh / PytorchGELUTanh / GELUActivation ...); one whose activation is
neither (ReLU^2, xIELU, a clipped GELU) is left alone."""
import torch
import torch.nn as nn

from .._op import Op, _orig, _rows, op
from .._probe import _close, _probe, _randn

KIND = "fused_mlp"


def _act(g, act):
    """act(g) by the catalogue's ACT: 0 silu, 1 GELU tanh form, 2 exact GELU."""
    return _orig["silu"](g) if act == 0 else _orig["gelu"](g, approximate="tanh" if act == 1 else "none")


def _gated_eager(x, w_gate, w_up, w_down, act):
    lin = _orig["linear"]
    return lin(_act(lin(x, w_gate), act) * lin(x, w_up), w_down)


def _swiglu_eager(x, w_gate, w_up, w_down):
    return _gated_eager(x, w_gate, w_up, w_down, 0)


def _geglu_eager(x, w_gate, w_up, w_down, approximate):
    return _gated_eager(x, w_gate, w_up, w_down, 2 - approximate)


def _gated_run(k, x, w_gate, w_up, w_down, act):
    a = _rows(x)
    y = torch.empty(a.shape[0], w_down.shape[0], dtype=x.dtype, device=x.device)
    k([a, w_gate.contiguous(), w_up.contiguous(), w_down.contiguous()], [y], [float(act)])
    return y.reshape(*x.shape[:-1], w_down.shape[0])


def _swiglu_fits(x, w_gate, w_up, w_down):
    E = x.shape[-1]
    return (x.numel() > 0 and w_gate.dim() == 2 and w_gate.shape[1] == E and w_up.shape == w_gate.shape
            and w_down.shape == (E, w_gate.shape[0]))


def _mlp_fake(x, w_gate, w_up, w_down, *flags):
    return x.new_empty(*x.shape[:-1], w_down.shape[0])


OPS = [
    Op("swiglu", KIND, "swiglu(Tensor x, Tensor w_gate, Tensor w_up, Tensor w_down) -> Tensor",
       _swiglu_eager, lambda k, x, wg, wu, wd: _gated_run(k, x, wg, wu, wd, 0), _swiglu_fits, _mlp_fake, 4),
    # approximate as F.gelu's (0 "none", 1 "tanh"); the kernel's ACT is 2 - approximate.
    Op("geglu", KIND, "geglu(Tensor x, Tensor w_gate, Tensor w_up, Tensor w_down, int approximate) -> Tensor",
       _geglu_eager, lambda k, x, wg, wu, wd, a: _gated_run(k, x, wg, wu, wd, 2 - a),
       lambda x, wg, wu, wd, a: a in (0, 1) and _swiglu_fits(x, wg, wu, wd), _mlp_fake, 4),
]


# ---- the module route ---------------------------------------------------------------------------------

def _probe_input(x, w_gate):
    """x's three rows scaled so that the gate's pre-activations have RMS 2, 20 and 0.5. At 2 the GELU's two
    forms differ by ~1e-4 of the row and silu by far more; at 20 a clipped activation departs from its
    unclipped form; at 0.5 the curvature near 0 shows."""
    g = _orig["linear"](x, w_gate).double()
    rms = g.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-30)
    target = torch.tensor([[2.0], [20.0], [0.5]], dtype=torch.float64, device=x.device)
    return (x.double() * (target / rms)).to(x.dtype)


def _gated_mlp_weights(m):
    """(act, a function giving (w_gate, w_up, w_down)) if m's forward is down(act(gate(x)) * up(x)), act the
    catalogue's ACT (0 silu, 1 GELU tanh form, 2 exact GELU), else None. The gate and up projections are two
    bias-free Linear children E->F, or one E->2F whose output halves are gate and up (Phi-3's gate_up_proj):
    then each is a row block of its weight, a view, not a copy."""
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
    x0 = _randn((3, down.out_features), down.weight, 11)
    for weights in pairs:
        with torch.no_grad():
            x = _probe_input(x0, weights()[0])
        got = _probe(m.forward, x)
        wants = [_probe(_gated_eager, x, *weights(), act) for act in (0, 1, 2)]
        if not isinstance(got, torch.Tensor) or any(w is None or w.shape != got.shape for w in wants):
            continue
        # The closest activation, which must then be close row by row (the GELU's forms differ by ~1e-4 of
        # the first row, within f32's tolerance of each other: the closer one is the module's).
        errs = [(got.double() - w.double()).norm().item() for w in wants]
        act = min(range(3), key=lambda a: errs[a])
        if all(_close(got[r], wants[act][r], x.dtype) for r in range(got.shape[0])):
            return act, weights
    return None


_VARIANTS = ("-", "gelu_tanh", "gelu_erf")  # the route's variant by ACT (profile's scope reads it back)


def module_route(m):
    found = _gated_mlp_weights(m)
    if found is None:
        return None
    act, weights = found

    def make(original, weights=weights, act=act):
        if act == 0:
            return lambda x: op("swiglu")(x, *weights())
        return lambda x: op("geglu")(x, *weights(), 2 - act)
    return _VARIANTS[act], make
