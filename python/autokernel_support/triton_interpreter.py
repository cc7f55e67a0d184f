"""A fix for Triton 3.6's CPU interpreter (TRITON_INTERPRET=1), applied only when it is in use.

The interpreter stores bf16 values as raw uint16 bits, and its create_dot multiplies those bits as
integers, so every bf16 tl.dot returns garbage. The fix widens bf16 operands to f32 before the dot:
exact, since a product of two bf16 values is exact in f32, as on the tensor cores. GPU runs are
untouched. (Its other known issue, int() of 1-element arrays with numpy >= 2.3, is avoided by
installing numpy < 2.3.)
"""
import os


def apply():
    """Patch the interpreter once; a no-op unless TRITON_INTERPRET=1."""
    if os.environ.get("TRITON_INTERPRET") != "1":
        return
    import numpy as np
    import triton.language as tl
    from triton.runtime import interpreter

    builder = interpreter.InterpreterBuilder
    original_dot = builder.create_dot
    if getattr(original_dot, "_ak_patched", False):
        return

    def widen(h):
        if h.dtype.scalar == tl.bfloat16:
            f32 = (h.data.astype(np.uint32) << np.uint32(16)).view(np.float32)
            return interpreter.TensorHandle(f32, tl.float32)
        return h

    def create_dot(self, a, b, d, *args, **kwargs):
        return original_dot(self, widen(a), widen(b), d, *args, **kwargs)

    create_dot._ak_patched = True
    builder.create_dot = create_dot
