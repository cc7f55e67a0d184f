"""How a kind tells whether a module or function computes its type: run it once on small random inputs (a
probe) and compare with the type's formula. The kinds/ modules import these helpers; `_routing.py` turns
what they find into routes.
"""
import torch

# How close a probe must be to the type's formula: the candidate may round at other points than the
# formula (an RMSNorm in f32 rounded to bf16 before the weight, say), never differ by more.
_PROBE_TOL = {torch.float32: 1e-4, torch.float64: 1e-8, torch.float16: 1e-2, torch.bfloat16: 4e-2}


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
