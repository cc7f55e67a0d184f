"""Fusions found in the graph torch.compile captures: chains of ops that one of our kernels does in one pass.

A chain like a pre-norm block's `h = residual + out; y = rms_norm(h)` crosses module boundaries (the add is
in the decoder layer's forward, the norm is a module of its own, and across layers the add of one layer
feeds the next layer's first norm), so routing modules by behaviour cannot see it. The compiled graph can:
after patch(), a norm is a `torch.ops.autokernel.rms_norm` node, and the add before it an `aten.add` node.

The pass runs on inductor's post-grad graph (aten ops, shapes known), before inductor's own passes:
  add(a, b) -> rms_norm(add, w, eps)    becomes    (s, y) = add_rms_norm(a, b, w, eps)
with every other user of the add reading s (it is the next residual). It is installed by patch() while
an add_rmsnorm kernel is loaded, and removed by the last unpatch(). Eager (uncompiled) models keep the
add and the norm apart.
"""
import functools
import operator

import torch

# Each fusion type's unfused form: the op its graph pattern starts from. A fusion can only fire where the
# unfused op is in the graph, so patch() routes the unfused type whenever the fusion is loaded (with no
# kernel of its own, that op runs PyTorch's formula: eager models lose nothing).
UNFUSED = {"add_rmsnorm": "rmsnorm"}


def with_unfused(types):
    """types, with the unfused form of every fusion among them."""
    return set(types) | {UNFUSED[t] for t in types if t in UNFUSED}


def _val(node):
    return node.meta.get("val") if isinstance(node, torch.fx.Node) else None


def fuse_add_rms_norm(graph):
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


@functools.cache
def _pass_class():
    """The pass as inductor takes it, defined on first use: importing inductor costs seconds, and a package
    with no fusion kernel never needs it. uuid() keys inductor's caches, so a change to this file recompiles."""
    from torch._inductor.custom_graph_pass import CustomGraphPass, get_hash_for_files

    class AddRmsNormPass(CustomGraphPass):
        def __init__(self, previous=None):
            self.previous = previous  # a pass installed before ours runs first

        def __call__(self, graph):
            if self.previous is not None:
                self.previous(graph)
            fuse_add_rms_norm(graph)

        def uuid(self):
            prev = self.previous.uuid() if isinstance(self.previous, CustomGraphPass) else repr(self.previous)
            return get_hash_for_files((__file__,)).hex() + str(prev)

    return AddRmsNormPass


def install():
    """Add the pass to inductor's post-grad passes (once); returns the undo."""
    from torch._inductor import config as inductor_config

    current = inductor_config.post_grad_custom_pre_pass
    if isinstance(current, _pass_class()):
        return lambda: None
    inductor_config.post_grad_custom_pre_pass = _pass_class()(current)

    def undo():
        inductor_config.post_grad_custom_pre_pass = current
    return undo
