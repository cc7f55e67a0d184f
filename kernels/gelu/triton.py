# @autokernel type=gelu
# Triton starter: y = gelu(x) elementwise over the contiguous x, f32 math. approximate 0: the exact
# 0.5 x (1 + erf(x / sqrt(2))); 1: the tanh form, computed as x / (1 + exp(-2u)), u = sqrt(2/pi) (x +
# 0.044715 x^3), which equals 0.5 x (1 + tanh(u)) without its cancellation for negative x (Triton has
# no tanh or erfc; the erf form keeps that cancellation, a few f32 ulps of 1 times x).
# Algorithm: one program per BLOCK elements of the flat tensor. Limits: f16/bf16/f32, any size.
# @knob BLOCK=1024 {256,512,1024,2048,4096} elements per program
# @knob NUM_WARPS=4 {1,2,4,8} warps per program
import triton
import triton.language as tl

BLOCK = globals().get("BLOCK", 1024)
NUM_WARPS = globals().get("NUM_WARPS", 4)


@triton.jit
def _gelu_kernel(x_ptr, y_ptr, n, TANH: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    if TANH:
        u = 0.7978845608028654 * (x + 0.044715 * x * x * x)
        y = x / (1.0 + tl.exp(-2.0 * u))
    else:
        y = 0.5 * x * (1.0 + tl.math.erf(x * 0.7071067811865476))
    tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=mask)


def kernel_fn(inputs, outputs, scalars):
    x, y = inputs[0], outputs[0]
    n = x.numel()
    if n == 0:
        return None
    _gelu_kernel[(triton.cdiv(n, BLOCK),)](x, y, n, TANH=float(scalars[0]) == 1, BLOCK=BLOCK, num_warps=NUM_WARPS)
    return None
