"""One PyTorch operator per kernel type: `torch.ops.autokernel.<op>`, with a schema, a fake (meta)
implementation for torch.compile, and a CPU and a CUDA implementation.

Each kind module (kinds/<type>.py) defines its ops as `_op.Op` entries of its OPS: schema, fake, eager (the
PyTorch formula in the inputs' dtype), run (the inputs mapped onto the kernel ABI of
kernels/include/autokernel/kernel_abi.h) and the fit test; `_op.py` holds the Op class (kernel when the call
fits, formula otherwise), the kernel table, `op()`, verify's per-call check and the call counts. This file
registers every kind's ops with torch.library, once per process: OPS (every kind's, in kinds.ALL's order),
BY_NAME, and, for the package and its tests, op() and set_table().
"""
import torch

from . import kinds
from ._op import LIB_NAME, op, set_table  # noqa: F401

OPS = [o for kind in kinds.ALL for o in kind.OPS]
BY_NAME = {o.name: o for o in OPS}


def _register():
    """Define torch.ops.autokernel.* once per process (a re-imported package reuses them)."""
    if hasattr(torch.ops, LIB_NAME) and all(hasattr(getattr(torch.ops, LIB_NAME), o.name) for o in OPS):
        return
    lib = torch.library.Library(LIB_NAME, "FRAGMENT")
    _register.lib = lib  # kept alive: a Library object unregisters what it defined when collected
    for o in OPS:
        lib.define(o.schema)
        for key in ("CPU", "CUDA"):
            lib.impl(o.name, o, key)
        torch.library.register_fake(f"{LIB_NAME}::{o.name}", o.fake, lib=lib)


def _tag_compile_caches():
    """Key torch.compile's caches on this package's code as well. Inductor's FX graph and AOT autograd caches
    know a graph's custom ops by name only, not by their fake implementations: a graph cached before a fake
    changed (the attention and rotary outputs' strides did) would come back as code asserting the old strides
    ("incorrect fake kernel"). A hash of the package's files joins torch.compiler.config.cache_key_tag (once;
    a tag of the user's own stays in front), so each version of the package compiles its own entries."""
    import hashlib
    import pathlib

    config = getattr(getattr(torch, "compiler", None), "config", None)
    if config is None or not hasattr(config, "cache_key_tag"):
        return
    root = pathlib.Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        digest.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    mine = f"autokernel-{digest.hexdigest()[:16]}"
    tag = config.cache_key_tag
    if mine not in tag:
        config.cache_key_tag = f"{tag}|{mine}" if tag else mine


_register()
_tag_compile_caches()
