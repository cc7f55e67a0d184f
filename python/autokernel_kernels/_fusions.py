"""Fusions found in the graph torch.compile captures: chains of ops that one of our kernels does in one pass.

A fusion type (kinds/add_rmsnorm.py: a residual add and the RMSNorm after it) names its unfused form
(UNFUSED) and a graph pass, a rewrite of inductor's post-grad graph (aten ops, shapes known) that turns the
chain into its op. One inductor pass here runs every fusion kind's graph pass, before inductor's own passes.
It is installed by patch() while a fusion kernel is loaded, and removed by the last unpatch(). Eager
(uncompiled) models keep the chain's ops apart.
"""
import functools

from . import kinds

# Each fusion type's unfused form: the op its graph pattern starts from. A fusion can only fire where the
# unfused op is in the graph, so patch() routes the unfused type whenever the fusion is loaded (with no
# kernel of its own, that op runs PyTorch's formula: eager models lose nothing).
UNFUSED = {k.KIND: k.UNFUSED for k in kinds.ALL if hasattr(k, "UNFUSED")}
_GRAPH_PASSES = [k for k in kinds.ALL if hasattr(k, "graph_pass")]
# The types whose graph pass makes calls of theirs inside torch.compile that the eager model never makes (the
# fusions; matmul with a residual add folded into its epilogue).
REWRITING = frozenset(k.KIND for k in _GRAPH_PASSES)


def with_unfused(types):
    """types, with the unfused form of every fusion among them."""
    return set(types) | {UNFUSED[t] for t in types if t in UNFUSED}


def wanted(types):
    """Whether a fusion type is among types (then patch() installs the pass)."""
    return any(k.KIND in types for k in _GRAPH_PASSES)


@functools.cache
def _pass_class():
    """The pass as inductor takes it, defined on first use: importing inductor costs seconds, and a package
    with no fusion kernel never needs it. uuid() keys inductor's caches, so a change to this file or to a
    fusion kind's file recompiles."""
    from torch._inductor.custom_graph_pass import CustomGraphPass, get_hash_for_files

    class FusionPass(CustomGraphPass):
        def __init__(self, previous=None):
            self.previous = previous  # a pass installed before ours runs first

        def __call__(self, graph):
            if self.previous is not None:
                self.previous(graph)
            # Every fusion kind's rewrite, not only the patched ones': with one fusion type (add_rmsnorm)
            # that is the same; with more, a fusion without a loaded kernel would run its op's formula.
            for k in _GRAPH_PASSES:
                k.graph_pass(graph)

        def uuid(self):
            prev = self.previous.uuid() if isinstance(self.previous, CustomGraphPass) else repr(self.previous)
            files = (__file__, *(k.__file__ for k in _GRAPH_PASSES))
            return get_hash_for_files(files).hex() + str(prev)

    return FusionPass


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
