# @autokernel type=flash_attention
# Triton starter: o = softmax(scale * q k^T [+ causal mask]) v per (batch, head), q, k, v, o of
# shape [B, H, S, D]; scalars = (causal 0|1, scale). Causal: query i sees keys j <= i.
# Algorithm: FlashAttention-2 forward. One program per (BLOCK_M query rows, batch*head); it walks
# the keys in BLOCK_N blocks (a causal program stops at its last query row), keeps a running row max
# m, a running sum l and an f32 output accumulator rescaled by exp(m_old - m_new) (online softmax,
# base-2 exponentials), and divides by l at the end. P is cast to v's dtype for the second tl.dot
# (f16/bf16); f32 inputs use input_precision="ieee" by default, or tf32x3 (F32_DOT=1: three TF32
# passes, as accurate here and much faster). Plain tf32 is not offered: it misses f32 tolerances.
# Limits: f16/bf16/f32; q, k, v share S (no cross-attention lengths); D padded to a power of two
# >= 16 and masked (any D up to 256); any S (edges masked). num_stages starts at 3 (f16/bf16,
# D <= 128) or 2 and drops if the compiled kernel does not fit in shared memory; a tile that does not
# fit even with one stage (large f32 tiles with D = 256) raises ValueError. f32 with ieee wants small
# tiles (FMA dot: e.g. 32x32 with 4 warps or 64x32 with 8 on H100) or F32_DOT=1.
# @knob BLOCK_M=64 {16,32,64,128} query rows per program
# @knob BLOCK_N=64 {16,32,64,128} keys per inner step
# @knob NUM_WARPS=4 {2,4,8} warps per program
# @knob F32_DOT=0 {0,1} f32 inputs only: 0 = ieee (exact f32 FMA), 1 = tf32x3 (3 TF32 passes, ~f32 accuracy)
import math

import torch
import triton
import triton.language as tl
from triton.runtime.errors import OutOfResources

BLOCK_M = globals().get("BLOCK_M", 64)
BLOCK_N = globals().get("BLOCK_N", 64)
NUM_WARPS = globals().get("NUM_WARPS", 4)
F32_DOT = globals().get("F32_DOT", 0)
NAME = "flash_attention"


@triton.jit
def _flash_attention_kernel(q_ptr, k_ptr, v_ptr, o_ptr, S, D, qk_scale,
                            BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
                            CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1).to(tl.int64)
    base = bh * S * D
    q_ptr += base
    k_ptr += base
    v_ptr += base
    o_ptr += base

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    mask_d = offs_d[None, :] < D
    q = tl.load(q_ptr + offs_m[:, None] * D + offs_d[None, :], mask=(offs_m[:, None] < S) & mask_d, other=0.0)

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)

    if CAUSAL:
        end_n = tl.minimum(S, (pid_m + 1) * BLOCK_M)
    else:
        end_n = S
    for start_n in range(0, end_n, BLOCK_N):
        cols = start_n + offs_n
        kv_mask = (cols[:, None] < S) & mask_d
        k = tl.load(k_ptr + cols[:, None] * D + offs_d[None, :], mask=kv_mask, other=0.0)
        # qk in log2 units: scale * log2(e) folded into qk_scale.
        qk = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale
        valid = cols[None, :] < S
        if CAUSAL:
            valid = valid & (cols[None, :] <= offs_m[:, None])
        qk = tl.where(valid, qk, float("-inf"))
        # Every row has key 0 in its first block, so m_new is finite from the first step on.
        m_new = tl.maximum(m_i, tl.max(qk, axis=1))
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(qk - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None]
        v = tl.load(v_ptr + cols[:, None] * D + offs_d[None, :], mask=kv_mask, other=0.0)
        acc = tl.dot(p.to(v.dtype), v, acc, input_precision=PRECISION)
        m_i = m_new

    o = acc / l_i[:, None]
    tl.store(o_ptr + offs_m[:, None] * D + offs_d[None, :], o.to(o_ptr.dtype.element_ty),
             mask=(offs_m[:, None] < S) & mask_d)


_F32_PRECISION = {0: "ieee", 1: "tf32x3"}
_STAGES = {}  # launch key -> num_stages that fitted in shared memory


def _launch_fitting(kernel, grid, key, num_stages, *args, **kwargs):
    """Launch `kernel`, retrying with fewer pipeline stages while the compiled kernel needs more shared
    memory than the GPU has. OutOfResources is raised by the first launch of a compiled variant,
    before any work is queued, so a retry is safe; the stage count that fits is remembered."""
    ns = _STAGES.get(key, num_stages)
    while True:
        try:
            kernel[grid](*args, num_stages=ns, **kwargs)
            _STAGES[key] = ns
            return
        except OutOfResources as err:
            if ns <= 1:
                raise ValueError(f"{NAME}: this tile does not fit in shared memory even with one stage "
                                 f"({err}); choose smaller BLOCK_* knobs") from err
            ns -= 1


def kernel_fn(inputs, outputs, scalars):
    q, k, v = inputs[0], inputs[1], inputs[2]
    o = outputs[0]
    B, H, S, D = q.shape
    if k.shape != q.shape or v.shape != q.shape:
        raise ValueError(f"flash_attention: q, k, v must share one shape, got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}")
    if D > 256:
        raise ValueError(f"flash_attention: head dim D={D} > 256 is not supported by this starter")
    causal = bool(scalars[0]) if len(scalars) > 0 else False
    scale = float(scalars[1]) if len(scalars) > 1 else 1.0 / math.sqrt(D)
    if B * H * S * D == 0:
        return None
    block_d = max(16, triton.next_power_of_2(D))
    if F32_DOT not in _F32_PRECISION:
        raise ValueError(f"flash_attention: F32_DOT={F32_DOT} is not one of 0, 1")
    f32 = q.dtype == torch.float32
    precision = _F32_PRECISION[F32_DOT] if f32 else "tf32"
    num_stages = 3 if (not f32 and block_d <= 128) else 2
    grid = (triton.cdiv(S, BLOCK_M), B * H)
    key = (q.dtype, precision, block_d, causal, q.device)
    _launch_fitting(_flash_attention_kernel, grid, key, num_stages, q, k, v, o, S, D, scale * 1.4426950408889634,
                    BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_D=block_d, CAUSAL=causal,
                    PRECISION=precision, num_warps=NUM_WARPS)
    return None
