"""One module per kernel type, named after the catalogue's type (src/catalog/<type>.cpp), holding everything
the package knows about that type. A new type is one module here and its line in ALL.

What a module defines (an optional name left out means none):

  KIND          the catalogue type, as manifest.json's "type" names it.
  OPS           its operators: `_op.Op` objects (name, KIND, schema, PyTorch formula, the ABI mapping `run`,
                fit test, fake, how many leading tensors the kernel reads), which `_ops.py` registers as
                torch.ops.autokernel.<name>.
  module_route  optional, module_route(m): for a module of the model whose forward computes the type (found
                by a probe, `_probe.py`), (variant, make), else None; patch() rebinds m.forward to
                make(original forward).
  function_route  optional, function_route(fn): the same for a function defined in one of the Python
                modules that define the model's classes; patch() rebinds the module's attribute.
  FUNCTIONS     optional: [(owner, attribute, factory)], PyTorch's functions of this type, swapped for
                factory(original) for every caller while a model is patched and a kernel of the type is
                loaded (torch.compile traces these wrappers like any Python function). Where two kinds wrap
                one function (F.linear: matmul, skinny_gemm; F.scaled_dot_product_attention: flash_attention,
                decode_attention), the later kind in ALL wraps the earlier one's wrapper: `original` is then
                that wrapper, and a call the later kind does not take goes on.
  swap          optional, swap(model, inside_compile): a model-level swap (Hugging Face's attention
                interface, flash_attention's; the decode step's mask, decode_attention's, over whatever
                implementation the model has then: swaps run in ALL's order); returns its undo, or None where
                the model is not one it applies to.
  UNFUSED, graph_pass  a fusion: the type of the op its graph pattern starts from, and graph_pass(graph),
                the rewrite of inductor's post-grad graph into the fusion's op (returns how many);
                `_fusions.py` installs it.

`_routing.py` (routes, FUNCTIONS, swaps), `_ops.py` (OPS) and `_fusions.py` (UNFUSED, graph passes) gather
these from ALL. A module imports only `_op.py`, `_probe.py` and other kinds, never the generic files that
import this package, so there is no import cycle.

ALL's order is the order module and function routes are tried in (a module goes to the first kind that
claims it: an RMSNorm is never probed as an MLP), and that of the ops and PyTorch's functions (a wrapper of a
kind later in ALL sees the call first).
"""
from . import (add_rmsnorm, cross_entropy, decode_attention, flash_attention, fused_mlp, gelu, layernorm, matmul,
               reduce, rmsnorm, rotary_embedding, skinny_gemm, softmax)

ALL = [rmsnorm, add_rmsnorm, layernorm, softmax, matmul, skinny_gemm, flash_attention, fused_mlp, rotary_embedding,
       cross_entropy, reduce, gelu, decode_attention]
