"""What every kernel type's operators are built from (the kinds/ modules import it; it imports none of ours).

An Op is one `torch.ops.autokernel.<op>`: schema, fake (meta) implementation, the PyTorch formula
(`eager`), the fit test and `run` (the inputs mapped onto the kernel ABI of
kernels/include/autokernel/kernel_abi.h). Called, it runs the exported kernel of its type for the tensors'
device when the call fits it (dtypes, shapes), and otherwise the formula, so every op is a total function
that `torch.library.opcheck` can check on any device. The same formula on float64 copies of the inputs is
the op's truth, which `checking()` compares every routed call against (verify's per-call check).

Here too: the kernel table the package sets on load, PyTorch's functions as they were at import (`_orig`),
the ABI helpers several types share, `op(name)`, the check and the call counts. `_ops.py` registers every
kind's ops with torch.library.

A kernel faster at one shape may be slower at another (GPT-2's LM head, 50257 wide, takes cuBLAS's slow
unaligned path, where our linear is 7.8x faster; its 1280-wide GEMMs are cuBLAS's strength). `verify` times
each call shape the model makes, ours against the formula, and the calls where PyTorch was faster are listed
by signature (`set_faster_in_pytorch`, the manifest's `faster_in_pytorch`): `op(name)` runs PyTorch's formula
there, before the operator, so inside torch.compile inductor sees PyTorch's ops at those calls and fuses them,
except for the types verify timed faster inside the compiled model with every call taking the kernel
(`set_unscreened_inside_compile`, the manifest's `unscreened_inside_compile`).
"""
import contextlib
import math
import threading

import torch
import torch.nn.functional as F

LIB_NAME = "autokernel"
_FLOAT = (torch.float16, torch.bfloat16, torch.float32)

# PyTorch's functions as they were at import: patch() may swap the module attributes for routing wrappers,
# and the kinds' formulas must never call back into those.
def _unwrapped(fn):
    return getattr(fn, "_ak_original", fn)


_orig = {"linear": F.linear, "layer_norm": F.layer_norm, "rms_norm": F.rms_norm, "softmax": torch.softmax,
         "sdpa": F.scaled_dot_product_attention, "cross_entropy": F.cross_entropy, "addmm": torch.addmm,
         "silu": F.silu, "gelu": F.gelu}
_orig = {k: _unwrapped(v) for k, v in _orig.items()}

_state = {"table": {},       # kernel type -> {device kind -> kernel}; set by the package on load
          "pytorch": {},     # op name -> signatures of the calls verify timed faster in PyTorch
          "unscreened": frozenset()}  # kernel types whose every call takes the kernel inside torch.compile
_stats = {}                   # kernel name -> calls it took
_check = {"on": False, "log": {}, "samples": {}}
_BY_NAME = {}                 # op name -> Op
# (a dict, not str(dtype): torch.compile traces signature() with no graph break)
_DTYPE_NAME = {torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float32: "float32",
               torch.float64: "float64", torch.int64: "int64", torch.int32: "int32", torch.bool: "bool"}
_lock = threading.Lock()


def set_table(table):
    _state["table"] = table


def set_faster_in_pytorch(by_op):
    """{op name: [call signature]}: the calls that run PyTorch's formula instead of the kernel."""
    _state["pytorch"] = {name: set(sigs) for name, sigs in by_op.items() if sigs}


def set_unscreened_inside_compile(kinds):
    """The kernel types whose calls all take the kernel while torch.compile traces, faster_in_pytorch or not:
    verify timed the compiled model faster so. The per-shape screen times a call alone, ten back to back, which
    is not how it runs among the compiled model's fused code (a GEMM's clock under ten back-to-back calls is
    not its clock between a model's memory-bound kernels), so inside torch.compile the whole model decides."""
    _state["unscreened"] = frozenset(kinds)


def signature(args):
    """A call's shapes as one string, e.g. "bfloat16[2048,1280] bfloat16[50257,1280] None": its tensors' dtypes
    and shapes, and its flags (attention's causal, rotary's style); floats (eps, scale) do not change a speed."""
    parts = []
    for a in args:
        if isinstance(a, torch.Tensor):
            parts.append(f"{_DTYPE_NAME.get(a.dtype, 'other')}[{','.join(str(d) for d in a.shape)}]")
        elif a is None or isinstance(a, (bool, int)):
            parts.append(repr(a))
    return " ".join(parts)


def _kernel(kind, *tensors):
    """The loaded kernel of this type for these tensors, if all are float tensors of one dtype on one device."""
    by_device = _state["table"].get(kind)
    if not by_device:
        return None
    dev, dtype = tensors[0].device, tensors[0].dtype
    if dtype not in _FLOAT or any(t.device != dev or t.dtype != dtype for t in tensors):
        return None
    return by_device.get(dev.type)


# ---- the kernel ABI and fit tests several types share -------------------------------------------------

def _rows(x):
    return x.contiguous().reshape(-1, x.shape[-1])


def _last_dim(x, *vectors):
    return x.dim() >= 1 and x.numel() > 0 and all(v.dim() == 1 and v.shape[0] == x.shape[-1] for v in vectors)


def _same_fake(x, *rest):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _heads(x):
    """A 4-D head tensor [B, H, S, D] (attention's q, k, v; rotary's q, k) as the kernel ABI's layouts take it:
    itself where its last dim's stride is 1, its other strides multiples of 8 elements and its data 16-byte
    aligned (a model's proj(x).view(B, S, H, D).transpose(1, 2), a slice of a packed qkv projection: no copy),
    else a contiguous copy (as every tensor was before)."""
    st = x.stride()
    if st[-1] == 1 and all(s >= 0 and s % 8 == 0 for s in st[:-1]) and x.data_ptr() % 16 == 0:
        return x
    return x.contiguous()


def _bshd_empty(shape, like):
    """An uninitialised [B, H, S, D] tensor in [B, S, H, D] memory order, as the kernel ABI gives the attention
    and rotary kernels their outputs (and their fakes promise): out.transpose(1, 2) is a contiguous [B, S, H, D],
    so a model's o.transpose(1, 2).reshape(B, S, H * D) costs no copy."""
    b, h, s, d = shape
    return torch.empty((b, s, h, d), dtype=like.dtype, device=like.device).transpose(1, 2)


class Op:
    """One operator: its type's kernel, schema, formula, ABI mapping, fit test and fake."""

    def __init__(self, name, kind, schema, eager, run, fits, fake, n_tensors):
        self.name, self.kind, self.schema = name, kind, schema
        self.eager, self.run, self.fits, self.fake = eager, run, fits, fake
        self._target = None
        self.n_tensors = n_tensors  # how many leading arguments are the tensors the kernel reads
        _BY_NAME[name] = self

    @property
    def target(self):
        """torch.ops.autokernel.<name>.default (registered by `_ops.py`), looked up once."""
        if self._target is None:
            self._target = getattr(getattr(torch.ops, LIB_NAME), self.name).default
        return self._target

    def __call__(self, *args):
        tensors = [a for a in args[: self.n_tensors] if a is not None]
        k = _kernel(self.kind, *tensors) if tensors else None
        if k is None or not self.fits(*args):
            return self._like_fake(self.eager(*args), args)
        with _lock:
            _stats[k.name] = _stats.get(k.name, 0) + 1
        out = self.run(k, *args)
        if _check["on"]:
            _record(self, k, args, out)
        return out

    def _like_fake(self, out, args):
        """PyTorch's result in the layout the fake implementation promises (torch.compile plans with it):
        SDPA, say, returns q's transposed layout, where the op promises a contiguous tensor."""
        fake = self.fake(*args)
        if isinstance(out, tuple):
            return tuple(f.copy_(o) if f.stride() != o.stride() else o for f, o in zip(fake, out))
        return fake.copy_(out) if fake.stride() != out.stride() else out


def op(name):
    """What a route calls for op `name`: torch.ops.autokernel.<name>.default while torch.compile traces or
    autograd records (the operator is what both see), else the Op itself, which the operator would call: in
    eager inference the dispatcher's round trip is host time a launch-bound model (a decode step) pays per
    call. Where verify timed some of its calls faster in PyTorch, the formula runs at those signatures (plain
    PyTorch code, which torch.compile traces and fuses)."""
    o = _BY_NAME[name]
    pytorch = _state["pytorch"].get(name)
    unscreened = o.kind in _state["unscreened"]

    def call(*args):
        if pytorch and signature(args) in pytorch and not (unscreened and torch.compiler.is_compiling()):
            return o.eager(*args)
        if torch.compiler.is_compiling() or torch.is_grad_enabled():
            return o.target(*args)
        return o(*args)
    return call


# ---- verify's per-call check ---------------------------------------------------------------------------

def _rel_l2(out, truth):
    out, truth = out.double(), truth.double()
    den = truth.norm().item()
    if not math.isfinite(out.norm().item()):
        return float("inf")
    return (out - truth).norm().item() / max(den, 1e-30)


def _upcast(a):
    return a.double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a


def _record(op_, k, args, out):
    """Our output, and PyTorch's formula in the same dtype, each against the formula on float64 inputs; and
    the first call of each signature, which verify then times (`samples()`)."""
    _check["samples"].setdefault((op_.name, signature(args)), (op_, k, args))
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
    check_log() then holds, per kernel type, the call whose error exceeds PyTorch's own the most, and
    samples() the first call of each (op name, signature): (Op, kernel, arguments)."""
    _check["on"], _check["log"], _check["samples"] = True, {}, {}
    try:
        yield _check["log"]
    finally:
        _check["on"] = False


def check_log():
    return {k: dict(v) for k, v in _check["log"].items()}


def samples():
    return dict(_check["samples"])


def stats():
    with _lock:
        return dict(_stats)


def reset_stats():
    with _lock:
        _stats.clear()
