# @autokernel type=rotary_embedding
# Triton starter: rotary position embedding on interleaved pairs of x[B, H, S, D]:
#   y[..., 2i]   = x[..., 2i] * cos[s, i] - x[..., 2i+1] * sin[s, i]
#   y[..., 2i+1] = x[..., 2i] * sin[s, i] + x[..., 2i+1] * cos[s, i]
# with cos, sin of shape [S, D/2].
# Algorithm: x is viewed as R = B*H*S rows of D; each program rotates BLOCK_R rows, loading the
# even and odd elements of each pair as two strided vectors, in f32, and writing both back.
# Limits: f16/bf16/f32 (cos/sin in any of these); D must be even (ValueError otherwise);
# any B, H, S, D (D/2 is padded to a power of two and masked; row offsets are 64-bit).
# @knob BLOCK_R=4 {1,2,4,8,16} rows (b, h, s) per program
# @knob NUM_WARPS=4 {1,2,4,8} warps per program
import torch
import triton
import triton.language as tl

BLOCK_R = globals().get("BLOCK_R", 4)
NUM_WARPS = globals().get("NUM_WARPS", 4)


@triton.jit
def _rotary_kernel(x_ptr, cos_ptr, sin_ptr, y_ptr, R, S, HALF, BLOCK_R: tl.constexpr, BLOCK_H: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    rows = pid * BLOCK_R + tl.arange(0, BLOCK_R)           # [BLOCK_R] int64
    pairs = tl.arange(0, BLOCK_H)                           # [BLOCK_H]
    mask = (rows[:, None] < R) & (pairs[None, :] < HALF)
    s = rows % S
    cs_off = s[:, None] * HALF + pairs[None, :]
    x_off = rows[:, None] * (2 * HALF) + 2 * pairs[None, :]
    c = tl.load(cos_ptr + cs_off, mask=mask, other=0.0).to(tl.float32)
    sn = tl.load(sin_ptr + cs_off, mask=mask, other=0.0).to(tl.float32)
    x0 = tl.load(x_ptr + x_off, mask=mask, other=0.0).to(tl.float32)
    x1 = tl.load(x_ptr + x_off + 1, mask=mask, other=0.0).to(tl.float32)
    y0 = x0 * c - x1 * sn
    y1 = x0 * sn + x1 * c
    tl.store(y_ptr + x_off, y0.to(y_ptr.dtype.element_ty), mask=mask)
    tl.store(y_ptr + x_off + 1, y1.to(y_ptr.dtype.element_ty), mask=mask)


def kernel_fn(inputs, outputs, scalars):
    x, cos, sin = inputs[0], inputs[1], inputs[2]
    y = outputs[0]
    D = x.shape[-1]
    if D % 2 != 0:
        raise ValueError(f"rotary_embedding: head dim D={D} must be even (interleaved pairs)")
    S = x.shape[-2]
    R = x.numel() // D if D > 0 else 0
    if R == 0:
        return None
    half = D // 2
    block_h = triton.next_power_of_2(half)
    grid = (triton.cdiv(R, BLOCK_R),)
    _rotary_kernel[grid](x, cos, sin, y, R, S, half, BLOCK_R=BLOCK_R, BLOCK_H=block_h, num_warps=NUM_WARPS)
    return None
