"""add_rmsnorm, a fusion: s = x + residual, y = rms_norm(s) in one pass. Op `add_rms_norm`; no module or
function computes it, so it has no route: inside torch.compile, its graph pass rewrites the captured graph.

A chain like a pre-norm block's `h = residual + out; y = rms_norm(h)` crosses module boundaries (the add is
in the decoder layer's forward, the norm is a module of its own, and across layers the add of one layer
feeds the next layer's first norm), so routing modules by behaviour cannot see it. The compiled graph can:
after patch(), a norm is a `torch.ops.autokernel.rms_norm` node, and the add before it an `aten.add` node.

The pass runs on inductor's post-grad graph (aten ops, shapes known), before inductor's own passes
(`_fusions.py` installs it):
  add(a, b) -> rms_norm(add, w, eps)    becomes    (s, y) = add_rms_norm(a, b, w, eps)
with every other user of the add reading s (it is the next residual). Eager (uncompiled) models keep the
add and the norm apart.
"""
import operator

import torch

from .._op import Op, _last_dim, _rows, _same_fake
from .rmsnorm import _rms_norm_eager

KIND = "add_rmsnorm"
# The unfused form: the op the graph pattern starts from (an rms_norm op after an add).
UNFUSED = "rmsnorm"


def _add_rms_norm_eager(x, residual, weight, eps):
    s = x + residual
    return s, _rms_norm_eager(s, weight, eps)


def _add_rms_norm_run(k, x, residual, weight, eps):
    a, r = _rows(x), _rows(residual)
    s, y = torch.empty_like(a), torch.empty_like(a)
    k([a, r, weight.contiguous()], [s, y], [eps])
    return s.reshape(x.shape), y.reshape(x.shape)


OPS = [
    Op("add_rms_norm", KIND,
       "add_rms_norm(Tensor x, Tensor residual, Tensor weight, float eps) -> (Tensor, Tensor)",
       _add_rms_norm_eager, _add_rms_norm_run,
       lambda x, r, w, eps: r.shape == x.shape and _last_dim(x, w),
       lambda x, r, w, eps: (_same_fake(x), _same_fake(x)), 3),
]


# ---- the graph pass -----------------------------------------------------------------------------------

def _val(node):
    return node.meta.get("val") if isinstance(node, torch.fx.Node) else None


def graph_pass(graph):
    """Rewrite every add -> rms_norm pair of same-shape, same-dtype tensors; returns how many."""
    rms = torch.ops.autokernel.rms_norm.default
    fused = torch.ops.autokernel.add_rms_norm.default
    order = {n: i for i, n in enumerate(graph.nodes)}
    count = 0
    for norm in list(graph.nodes):
        if norm.op != "call_function" or norm.target is not rms or len(norm.args) != 3:
            continue
        add, w, eps = norm.args
        if not isinstance(add, torch.fx.Node) or add.target is not torch.ops.aten.add.Tensor or add.kwargs:
            continue
        if len(add.args) != 2:
            continue
        a, b = add.args
        va, vb, vs = _val(a), _val(b), _val(add)
        if not all(isinstance(v, torch.Tensor) for v in (va, vb, vs)):
            continue  # an add of a scalar, or shapes not known
        if va.shape != vs.shape or vb.shape != vs.shape or va.dtype != vs.dtype or vb.dtype != vs.dtype:
            continue  # broadcasting or type promotion: not the kernel's problem
        # The fused node takes the add's place, so the weight must already exist there (a parameter does;
        # Gemma's weight + 1 computed later would not).
        if isinstance(w, torch.fx.Node) and order[w] > order[add]:
            continue
        with graph.inserting_after(add):
            both = graph.call_function(fused, (a, b, w, eps))
        with graph.inserting_after(both):
            s = graph.call_function(operator.getitem, (both, 0))
        with graph.inserting_after(s):
            y = graph.call_function(operator.getitem, (both, 1))
        both.meta["val"] = (vs, _val(norm))
        s.meta["val"], y.meta["val"] = vs, _val(norm)
        norm.replace_all_uses_with(y)
        graph.erase_node(norm)
        add.replace_all_uses_with(s)
        graph.erase_node(add)
        count += 1
    return count
