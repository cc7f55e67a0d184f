"""One PyTorch operator per kernel type: `torch.ops.autokernel.<op>`, with a schema, a fake (meta)
implementation for torch.compile, and a CPU and a CUDA implementation.

An implementation runs the exported kernel of its type for the tensors' device when the call fits it
(dtypes, shapes), and otherwise the op's PyTorch formula (`eager`), so every op is a total function
that `torch.library.opcheck` can check on any device. The same formula on float64 copies of the inputs
is the op's truth, which `checking()` compares every routed call against (verify's per-call check).

Each op is one entry of OPS: schema, fake, eager (the PyTorch formula in the inputs' dtype), and run
(the inputs mapped onto the kernel ABI of kernels/include/autokernel/kernel_abi.h).
"""
import contextlib
import math
import threading

import torch
import torch.nn.functional as F

LIB_NAME = "autokernel"
_FLOAT = (torch.float16, torch.bfloat16, torch.float32)

# PyTorch's functions as they were at import: patch() may swap the module attributes for routing wrappers,
# and the formulas below must never call back into those.
def _unwrapped(fn):
    return getattr(fn, "_ak_original", fn)


_orig = {"linear": F.linear, "layer_norm": F.layer_norm, "rms_norm": F.rms_norm, "softmax": torch.softmax,
         "sdpa": F.scaled_dot_product_attention, "cross_entropy": F.cross_entropy, "addmm": torch.addmm,
         "silu": F.silu}
_orig = {k: _unwrapped(v) for k, v in _orig.items()}

_state = {"table": {}}        # kernel type -> {device kind -> kernel}; set by the package on load
_stats = {}                   # kernel name -> calls it took
_check = {"on": False, "log": {}}
_lock = threading.Lock()


def set_table(table):
    _state["table"] = table


def _kernel(kind, *tensors):
    """The loaded kernel of this type for these tensors, if all are float tensors of one dtype on one device."""
    by_device = _state["table"].get(kind)
    if not by_device:
        return None
    dev, dtype = tensors[0].device, tensors[0].dtype
    if dtype not in _FLOAT or any(t.device != dev or t.dtype != dtype for t in tensors):
        return None
    return by_device.get(dev.type)


# ---- the PyTorch formulas (the fallback, the eager baseline of the check, and on float64 the truth) ----

def _rms_norm_eager(x, weight, eps):
    return _orig["rms_norm"](x, (x.shape[-1],), weight, eps)


def _add_rms_norm_eager(x, residual, weight, eps):
    s = x + residual
    return s, _rms_norm_eager(s, weight, eps)


def _layer_norm_eager(x, weight, bias, eps):
    return _orig["layer_norm"](x, (x.shape[-1],), weight, bias, eps)


def _softmax_eager(x):
    return _orig["softmax"](x, -1)


def _linear_eager(x, weight, bias):
    return _orig["linear"](x, weight, bias)


def _matmul_eager(a, b, bias):
    return a @ b if bias is None else _orig["addmm"](bias, a, b)


def _attention_eager(q, k, v, causal, scale):
    gqa = k.shape[1] != q.shape[1]
    return _orig["sdpa"](q, k, v, is_causal=causal, scale=scale, enable_gqa=gqa)


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


def _swiglu_eager(x, w_gate, w_up, w_down):
    lin = _orig["linear"]
    return lin(_orig["silu"](lin(x, w_gate)) * lin(x, w_up), w_down)


def _cross_entropy_eager(logits, target):
    """Per-row loss in float32; a negative target is ignored (loss 0)."""
    loss = _orig["cross_entropy"](logits.float(), target.clamp(min=0), reduction="none")
    return torch.where(target < 0, torch.zeros_like(loss), loss)


def _row_sum_eager(x):
    return x.sum(-1)


# ---- the kernel ABI: inputs, outputs, scalars ---------------------------------------------------------

def _rows(x):
    return x.contiguous().reshape(-1, x.shape[-1])


def _rms_norm_run(k, x, weight, eps):
    a = _rows(x)
    y = torch.empty_like(a)
    k([a, weight.contiguous()], [y], [eps])
    return y.reshape(x.shape)


def _add_rms_norm_run(k, x, residual, weight, eps):
    a, r = _rows(x), _rows(residual)
    s, y = torch.empty_like(a), torch.empty_like(a)
    k([a, r, weight.contiguous()], [s, y], [eps])
    return s.reshape(x.shape), y.reshape(x.shape)


def _layer_norm_run(k, x, weight, bias, eps):
    a = _rows(x)
    y = torch.empty_like(a)
    k([a, weight.contiguous(), bias.contiguous()], [y], [eps])
    return y.reshape(x.shape)


def _softmax_run(k, x):
    a = _rows(x)
    y = torch.empty_like(a)
    k([a], [y])
    return y.reshape(x.shape)


def _linear_run(k, x, weight, bias):
    # y = x W^T with W [N, K] taken as it is (no transposed copy of the weight): y^T = W x^T is the
    # matmul ABI's A[M', K] B[K, N'] with A = W and B = x^T, a copy of the activation only.
    xt = _rows(x).t().contiguous()
    yt = torch.empty(weight.shape[0], xt.shape[1], dtype=x.dtype, device=x.device)
    k([weight.contiguous(), xt], [yt])
    if bias is not None:
        yt += bias[:, None]
    return yt.t().reshape(*x.shape[:-1], weight.shape[0])


def _linear_fake(x, weight, bias):
    # The same layout as the kernel's result: y^T contiguous, returned transposed.
    m = x.numel() // x.shape[-1] if x.shape[-1] else 0
    return x.new_empty(weight.shape[0], m).t().reshape(*x.shape[:-1], weight.shape[0])


def _matmul_run(k, a, b, bias):
    c = torch.empty(a.shape[0], b.shape[1], dtype=a.dtype, device=a.device)
    k([a.contiguous(), b.contiguous()], [c])
    return c if bias is None else c + bias


def _attention_run(k, q, k_, v, causal, scale):
    o = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    k([q.contiguous(), k_.contiguous(), v.contiguous()], [o], [1.0 if causal else 0.0, scale])
    return o


def _rotary_run(k, q, k_, cos, sin, style):
    # q [B, H, S, D] and k [B, HKV, S, D] in one launch. A module that rotates one tensor per call passes
    # an empty k: the kernel gets q's first head as k (1/H more work) and that result is dropped.
    one = k_.shape[1] == 0
    kk = q[:, :1] if one else k_
    qo = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    ko = torch.empty(kk.shape, dtype=kk.dtype, device=kk.device)
    k([q.contiguous(), kk.contiguous(), cos.contiguous(), sin.contiguous()], [qo, ko], [float(style)])
    return qo, (torch.empty(k_.shape, dtype=k_.dtype, device=k_.device) if one else ko)


def _swiglu_run(k, x, w_gate, w_up, w_down):
    a = _rows(x)
    y = torch.empty(a.shape[0], w_down.shape[0], dtype=x.dtype, device=x.device)
    k([a, w_gate.contiguous(), w_up.contiguous(), w_down.contiguous()], [y])
    return y.reshape(*x.shape[:-1], w_down.shape[0])


def _cross_entropy_run(k, logits, target):
    loss = torch.empty(logits.shape[0], dtype=torch.float32, device=logits.device)
    k([logits.contiguous(), target.contiguous()], [loss])
    return loss


def _row_sum_run(k, x):
    a = _rows(x)
    y = torch.empty(a.shape[0], dtype=x.dtype, device=x.device)
    k([a], [y])
    return y.reshape(x.shape[:-1])


# ---- when a kernel takes a call (beyond one device and one float dtype) -------------------------------

def _last_dim(x, *vectors):
    return x.dim() >= 1 and x.numel() > 0 and all(v.dim() == 1 and v.shape[0] == x.shape[-1] for v in vectors)


def _attention_fits(q, k, v, causal, scale):
    return (q.dim() == 4 and k.shape == v.shape and k.dim() == 4 and q.shape[0] == k.shape[0]
            and q.shape[2] == k.shape[2] and q.shape[3] == k.shape[3] and q.shape[1] % k.shape[1] == 0
            and k.shape[1] > 0 and q.numel() > 0)


def _rotary_fits(q, k, cos, sin, style):
    # k's heads divide q's (grouped-query), or k is empty (a module rotating q alone).
    return (q.dim() == 4 and k.dim() == 4 and q.shape[0] == k.shape[0] and q.shape[2:] == k.shape[2:]
            and (k.shape[1] == 0 or q.shape[1] % k.shape[1] == 0) and style in (0, 1)
            and q.shape[3] % 2 == 0 and cos.shape == (q.shape[2], q.shape[3] // 2) and sin.shape == cos.shape
            and q.numel() > 0)


def _swiglu_fits(x, w_gate, w_up, w_down):
    E = x.shape[-1]
    return (x.numel() > 0 and w_gate.dim() == 2 and w_gate.shape[1] == E and w_up.shape == w_gate.shape
            and w_down.shape == (E, w_gate.shape[0]))


class Op:
    """One operator: its type's kernel, schema, formula, ABI mapping, fit test and fake."""

    def __init__(self, name, kind, schema, eager, run, fits, fake, n_tensors):
        self.name, self.kind, self.schema = name, kind, schema
        self.eager, self.run, self.fits, self.fake = eager, run, fits, fake
        self.n_tensors = n_tensors  # how many leading arguments are the tensors the kernel reads

    def __call__(self, *args):
        tensors = [a for a in args[: self.n_tensors] if a is not None]
        k = _kernel(self.kind, *tensors) if tensors else None
        if k is None or not self.fits(*args):
            return self._like_fake(self.eager(*args), args)
        with _lock:
            _stats[k.name] = _stats.get(k.name, 0) + 1
        out = self.run(k, *args)
        if _check["on"]:
            _record(self, args, out)
        return out

    def _like_fake(self, out, args):
        """PyTorch's result in the layout the fake implementation promises (torch.compile plans with it):
        SDPA, say, returns q's transposed layout, where the op promises a contiguous tensor."""
        fake = self.fake(*args)
        if isinstance(out, tuple):
            return tuple(f.copy_(o) if f.stride() != o.stride() else o for f, o in zip(fake, out))
        return fake.copy_(out) if fake.stride() != out.stride() else out


def _same_fake(x, *rest):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


OPS = [
    Op("rms_norm", "rmsnorm", "rms_norm(Tensor x, Tensor weight, float eps) -> Tensor",
       _rms_norm_eager, _rms_norm_run, lambda x, w, eps: _last_dim(x, w), _same_fake, 2),
    Op("add_rms_norm", "add_rmsnorm",
       "add_rms_norm(Tensor x, Tensor residual, Tensor weight, float eps) -> (Tensor, Tensor)",
       _add_rms_norm_eager, _add_rms_norm_run,
       lambda x, r, w, eps: r.shape == x.shape and _last_dim(x, w),
       lambda x, r, w, eps: (_same_fake(x), _same_fake(x)), 3),
    Op("layer_norm", "layernorm", "layer_norm(Tensor x, Tensor weight, Tensor bias, float eps) -> Tensor",
       _layer_norm_eager, _layer_norm_run, lambda x, w, b, eps: _last_dim(x, w, b), _same_fake, 3),
    Op("softmax", "softmax", "softmax(Tensor x) -> Tensor",
       _softmax_eager, _softmax_run, lambda x: x.dim() >= 1 and x.numel() > 0, _same_fake, 1),
    Op("linear", "matmul", "linear(Tensor x, Tensor weight, Tensor? bias) -> Tensor",
       _linear_eager, _linear_run,
       lambda x, w, b: x.numel() > 0 and w.dim() == 2 and x.shape[-1] == w.shape[1] and (b is None or b.shape == (w.shape[0],)),
       _linear_fake, 3),
    Op("matmul", "matmul", "matmul(Tensor a, Tensor b, Tensor? bias) -> Tensor",
       _matmul_eager, _matmul_run,
       lambda a, b, bias: a.dim() == 2 and b.dim() == 2 and a.shape[1] == b.shape[0] and a.numel() > 0,
       lambda a, b, bias: a.new_empty(a.shape[0], b.shape[1]), 3),
    Op("attention", "flash_attention", "attention(Tensor q, Tensor k, Tensor v, bool causal, float scale) -> Tensor",
       _attention_eager, _attention_run, _attention_fits, _same_fake, 3),
    Op("rotary", "rotary_embedding", "rotary(Tensor q, Tensor k, Tensor cos, Tensor sin, int style) -> (Tensor, Tensor)",
       _rotary_eager, _rotary_run, _rotary_fits,
       lambda q, k, cos, sin, style: (torch.empty_like(q, memory_format=torch.contiguous_format),
                                      torch.empty_like(k, memory_format=torch.contiguous_format)), 4),
    Op("swiglu", "fused_mlp", "swiglu(Tensor x, Tensor w_gate, Tensor w_up, Tensor w_down) -> Tensor",
       _swiglu_eager, _swiglu_run, _swiglu_fits,
       lambda x, wg, wu, wd: x.new_empty(*x.shape[:-1], wd.shape[0]), 4),
    Op("cross_entropy", "cross_entropy", "cross_entropy(Tensor logits, Tensor target) -> Tensor",
       _cross_entropy_eager, _cross_entropy_run,
       lambda logits, target: logits.dim() == 2 and target.shape == (logits.shape[0],) and target.dtype == torch.int64
       and target.device == logits.device and logits.shape[0] > 0,
       lambda logits, target: logits.new_empty(logits.shape[0], dtype=torch.float32), 1),
    Op("row_sum", "reduce", "row_sum(Tensor x) -> Tensor",
       _row_sum_eager, _row_sum_run, lambda x: x.dim() >= 1 and x.numel() > 0,
       lambda x: x.new_empty(x.shape[:-1]), 1),
]
BY_NAME = {op.name: op for op in OPS}


def _register():
    """Define torch.ops.autokernel.* once per process (a re-imported package reuses them)."""
    if hasattr(torch.ops, LIB_NAME) and all(hasattr(getattr(torch.ops, LIB_NAME), op.name) for op in OPS):
        return
    lib = torch.library.Library(LIB_NAME, "FRAGMENT")
    _register.lib = lib  # kept alive: a Library object unregisters what it defined when collected
    for op in OPS:
        lib.define(op.schema)
        for key in ("CPU", "CUDA"):
            lib.impl(op.name, op, key)
        torch.library.register_fake(f"{LIB_NAME}::{op.name}", op.fake, lib=lib)


_register()


def op(name):
    """torch.ops.autokernel.<name>.default."""
    return getattr(getattr(torch.ops, LIB_NAME), name).default


# ---- verify's per-call check ---------------------------------------------------------------------------

def _rel_l2(out, truth):
    out, truth = out.double(), truth.double()
    den = truth.norm().item()
    if not math.isfinite(out.norm().item()):
        return float("inf")
    return (out - truth).norm().item() / max(den, 1e-30)


def _upcast(a):
    return a.double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a


def _record(op_, args, out):
    """Our output, and PyTorch's formula in the same dtype, each against the formula on float64 inputs."""
    with torch.no_grad():
        eager = op_.eager(*args)
        truth = op_.eager(*[_upcast(a) for a in args])
    outs, eagers, truths = ((out, eager, truth) if isinstance(out, tuple) else ((out,), (eager,), (truth,)))
    ours_err = max(_rel_l2(o, t) for o, t in zip(outs, truths))
    eager_err = max(_rel_l2(e, t) for e, t in zip(eagers, truths))
    dtype = str(args[0].dtype).replace("torch.", "")
    with _lock:
        entry = _check["log"].setdefault(op_.kind, {"calls": 0, "dtype": dtype, "error": 0.0, "eager_error": 0.0,
                                                      "worst_excess": -math.inf})
        entry["calls"] += 1
        # The call whose error most exceeds what PyTorch's own rounding gives decides the verdict.
        excess = ours_err - 2 * eager_err
        if excess > entry["worst_excess"]:
            entry.update(worst_excess=excess, error=ours_err, eager_error=eager_err)


@contextlib.contextmanager
def checking():
    """While inside, every call a kernel takes is also computed by PyTorch (in its dtype and in float64);
    check_log() then holds, per kernel type, the call whose error exceeds PyTorch's own the most."""
    _check["on"], _check["log"] = True, {}
    try:
        yield _check["log"]
    finally:
        _check["on"] = False


def check_log():
    return {k: dict(v) for k, v in _check["log"].items()}


def stats():
    with _lock:
        return dict(_stats)


def reset_stats():
    with _lock:
        _stats.clear()
