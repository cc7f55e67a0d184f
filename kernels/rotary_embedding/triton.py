# @autokernel type=rotary_embedding
# Triton starter: rotary position embedding of q[B, H, S, D] and k[B, HKV, S, D] in one launch. Pair i of a
# row at position s turns by theta[s, i], with cos, sin of shape [S, D/2]:
#   first' = first * cos[s, i] - second * sin[s, i]
#   second' = first * sin[s, i] + second * cos[s, i]
# The pair is (x[2i], x[2i+1]) for style 0 (interleaved, Meta's LLaMA) and (x[i], x[i + D/2]) for style 1
# (rotate-half, Hugging Face / GPT-NeoX); style is the one scalar.
# Algorithm: q and k are viewed as RQ = B*H*S rows of D followed by B*HKV*S more; each program rotates
# BLOCK_R of these rows (a row below RQ is q's, the rest k's: two masked loads and stores, only one of
# which touches memory per row), loading the two elements of each pair as two vectors, in f32.
# Layouts (kernel_abi.h): row (b, h, s) of q, k, q_out and k_out is found through that tensor's strides
# (the last dim's must be 1, else ValueError), so q and k may be transposed [B, S, H, D] or packed qkv
# views and the outputs are written in the order they are given ([B, S, H, D] by the harness).
# Limits: f16/bf16/f32 (cos/sin in any of these); D must be even and style 0 or 1 (ValueError otherwise);
# any B, H, HKV, S, D (D/2 is padded to a power of two and masked; row offsets are 64-bit).
# @knob BLOCK_R=4 {1,2,4,8,16} rows (b, h, s) per program
# @knob NUM_WARPS=4 {1,2,4,8} warps per program
import torch
import triton
import triton.language as tl

BLOCK_R = globals().get("BLOCK_R", 4)
NUM_WARPS = globals().get("NUM_WARPS", 4)


@triton.jit
def _row_offset(row, S, heads, stride_b, stride_h, stride_s):
    """Where row `row` (b, h, s) of a [B, heads, S, D] tensor starts, by its strides."""
    bh = row // S
    return (bh // heads) * stride_b + (bh % heads) * stride_h + (row % S) * stride_s


@triton.jit
def _rotary_kernel(q_ptr, k_ptr, cos_ptr, sin_ptr, qo_ptr, ko_ptr, RQ, R, S, HALF, HQ, HK,
                   sq_b, sq_h, sq_s, sk_b, sk_h, sk_s, sqo_b, sqo_h, sqo_s, sko_b, sko_h, sko_s,
                   STYLE: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_H: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    rows = pid * BLOCK_R + tl.arange(0, BLOCK_R)           # [BLOCK_R] int64, over q's rows then k's
    pairs = tl.arange(0, BLOCK_H)                           # [BLOCK_H]
    mask = (rows[:, None] < R) & (pairs[None, :] < HALF)
    is_q = rows[:, None] < RQ
    row = tl.where(rows < RQ, rows, rows - RQ)              # the row within its own tensor
    s = row % S
    cs_off = s[:, None] * HALF + pairs[None, :]
    if STYLE == 0:
        a = 2 * pairs[None, :]
        b = a + 1
    else:
        a = pairs[None, :]
        b = a + HALF
    q_row = _row_offset(row, S, HQ, sq_b, sq_h, sq_s)[:, None]
    k_row = _row_offset(row, S, HK, sk_b, sk_h, sk_s)[:, None]
    qo_row = _row_offset(row, S, HQ, sqo_b, sqo_h, sqo_s)[:, None]
    ko_row = _row_offset(row, S, HK, sko_b, sko_h, sko_s)[:, None]
    mq = mask & is_q
    mk = mask & (rows[:, None] >= RQ)
    c = tl.load(cos_ptr + cs_off, mask=mask, other=0.0).to(tl.float32)
    sn = tl.load(sin_ptr + cs_off, mask=mask, other=0.0).to(tl.float32)
    x0 = tl.where(is_q, tl.load(q_ptr + q_row + a, mask=mq, other=0.0).to(tl.float32),
                  tl.load(k_ptr + k_row + a, mask=mk, other=0.0).to(tl.float32))
    x1 = tl.where(is_q, tl.load(q_ptr + q_row + b, mask=mq, other=0.0).to(tl.float32),
                  tl.load(k_ptr + k_row + b, mask=mk, other=0.0).to(tl.float32))
    y0 = x0 * c - x1 * sn
    y1 = x0 * sn + x1 * c
    tl.store(qo_ptr + qo_row + a, y0.to(qo_ptr.dtype.element_ty), mask=mq)
    tl.store(qo_ptr + qo_row + b, y1.to(qo_ptr.dtype.element_ty), mask=mq)
    tl.store(ko_ptr + ko_row + a, y0.to(ko_ptr.dtype.element_ty), mask=mk)
    tl.store(ko_ptr + ko_row + b, y1.to(ko_ptr.dtype.element_ty), mask=mk)


def kernel_fn(inputs, outputs, scalars):
    q, k, cos, sin = inputs[0], inputs[1], inputs[2], inputs[3]
    q_out, k_out = outputs[0], outputs[1]
    style = scalars[0] if scalars else 0.0
    if style not in (0.0, 1.0):
        raise ValueError(f"rotary_embedding: style {style} is neither 0 (interleaved) nor 1 (rotate-half)")
    style = int(style)
    D = q.shape[-1]
    if D % 2 != 0:
        raise ValueError(f"rotary_embedding: head dim D={D} must be even (pairs)")
    if q.dim() != 4 or k.dim() != 4 or k.shape[-1] != D or k.shape[0] != q.shape[0] or k.shape[-2] != q.shape[-2]:
        raise ValueError(f"rotary_embedding: k {tuple(k.shape)} does not match q {tuple(q.shape)}")
    if q_out.shape != q.shape or k_out.shape != k.shape:
        raise ValueError(f"rotary_embedding: outputs {tuple(q_out.shape)}, {tuple(k_out.shape)} are not q's and k's "
                         "shapes")
    if any(t.stride(3) != 1 for t in (q, k, q_out, k_out)):
        raise ValueError("rotary_embedding: the last dim of q, k and the outputs must have stride 1 (kernel_abi.h)")
    S = q.shape[-2]
    RQ = q.numel() // D if D > 0 else 0
    R = RQ + (k.numel() // D if D > 0 else 0)
    if R == 0:
        return None
    half = D // 2
    block_h = triton.next_power_of_2(half)
    grid = (triton.cdiv(R, BLOCK_R),)
    strides = [*q.stride()[:3], *k.stride()[:3], *q_out.stride()[:3], *k_out.stride()[:3]]
    _rotary_kernel[grid](q, k, cos.contiguous(), sin.contiguous(), q_out, k_out, RQ, R, S, half, max(q.shape[1], 1),
                         max(k.shape[1], 1), *strides, STYLE=style, BLOCK_R=BLOCK_R, BLOCK_H=block_h,
                         num_warps=NUM_WARPS)
    return None
