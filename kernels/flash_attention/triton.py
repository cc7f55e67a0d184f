# @autokernel type=flash_attention
# Triton starter: o = softmax(scale * q k^T [+ causal mask]) v per (batch, head), q and o of shape
# [B, H, S, D], k and v of shape [B, HKV, S, D]: grouped-query attention, query head h reads kv head
# h // (H // HKV) (HKV == H is multi-head, 1 multi-query; H % HKV != 0 raises ValueError): program
# (query block, b*H + h) reads batch b's kv head h // (H // HKV).
# Layouts (kernel_abi.h): q, k, v and o are addressed through their strides (batch, head, row; the last
# dim's must be 1, else ValueError), so q, k, v may be transposed [B, S, H, D] or packed qkv views and o is
# written in the order it is given ([B, S, H, D] by the harness). Triton specialises the strides that are
# multiples of 16, so the rows of those layouts load as aligned vectors as contiguous ones do.
# scalars = (causal 0|1, scale). Causal: query i sees keys j <= i.
# Algorithm: FlashAttention-2 forward. One program per (BLOCK_M query rows, batch*head); it walks
# the keys in BLOCK_N blocks, keeps a running row max m, a running sum l and an f32 output
# accumulator rescaled by exp(m_old - m_new) (online softmax, base-2 exponentials, the scale folded
# into the exponent), and divides by l at the end. The key blocks are split in two loops: the blocks
# that need no mask (every key visible to every query of the program, all inside S) run without any
# compare or select; only the diagonal blocks (causal) and the last partial block (S % BLOCK_N) are
# masked. Causal programs are launched longest first (the last query block of each head first), so
# the short ones fill the tail of the grid. D is a compile-time constant: row addresses are known
# to be aligned and the loads vectorise. P is cast to v's dtype for the second tl.dot (f16/bf16);
# f32 inputs use input_precision="ieee" by default, on tiles capped at 64x32 with 4 warps (an FMA
# dot needs far more registers), or tf32x3 (F32_DOT=1: three TF32 passes, as accurate here).
# Limits: f16/bf16/f32; q, k, v share S (no cross-attention lengths); D padded to a power of two
# >= 16 and masked (any D up to 256); any S. num_stages drops if the compiled kernel does not fit
# in shared memory; a tile that does not fit even with one stage raises ValueError.
# @knob BLOCK_M=128 {64,128} query rows per program
# @knob BLOCK_N=64 {32,64,128} keys per inner step
# @knob NUM_WARPS=8 {4,8} warps per program
# @knob NUM_STAGES=3 {2,3,4} key/value blocks in flight (lowered automatically when shared memory is short)
# @knob F32_DOT=0 {0,1} f32 inputs only: 0 = ieee (exact f32 FMA), 1 = tf32x3 (3 TF32 passes, ~f32 accuracy)
import math

import torch
import triton
import triton.language as tl
from triton.runtime.errors import OutOfResources

BLOCK_M = globals().get("BLOCK_M", 128)
BLOCK_N = globals().get("BLOCK_N", 64)
NUM_WARPS = globals().get("NUM_WARPS", 8)
NUM_STAGES = globals().get("NUM_STAGES", 3)
F32_DOT = globals().get("F32_DOT", 0)
NAME = "flash_attention"


@triton.jit
def _load_rows(base, rows, offs_d, S, stride_s, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr,
               MASK_ROWS: tl.constexpr):
    """Rows `rows` of a [S, HEAD_DIM] matrix at `base`, rows stride_s apart, zero outside S and past HEAD_DIM."""
    ptrs = base + rows[:, None] * stride_s + offs_d[None, :]
    if MASK_ROWS:
        if BLOCK_D == HEAD_DIM:
            return tl.load(ptrs, mask=rows[:, None] < S, other=0.0)
        return tl.load(ptrs, mask=(rows[:, None] < S) & (offs_d[None, :] < HEAD_DIM), other=0.0)
    if BLOCK_D == HEAD_DIM:
        return tl.load(ptrs)
    return tl.load(ptrs, mask=offs_d[None, :] < HEAD_DIM, other=0.0)


@triton.jit
def _attend(acc, l_i, m_i, q, k_base, v_base, stride_ks, stride_vs, lo, hi, offs_m, offs_n, offs_d, S, qk_scale,
            HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
            MASKED: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    """Fold key blocks [lo, hi) into the running (acc, l, m). MASKED: blocks that cross S or the diagonal."""
    for start_n in range(lo, hi, BLOCK_N):
        cols = start_n + offs_n
        k = _load_rows(k_base, cols, offs_d, S, stride_ks, HEAD_DIM, BLOCK_D, MASKED)
        qk = tl.dot(q, tl.trans(k), input_precision=PRECISION)
        if MASKED:
            valid = cols[None, :] < S
            if CAUSAL:
                valid = valid & (cols[None, :] <= offs_m[:, None])
            qk = tl.where(valid, qk * qk_scale, float("-inf"))
            # Every row has a visible key in its first block, so m_new stays finite.
            m_new = tl.maximum(m_i, tl.max(qk, axis=1))
            p = tl.exp2(qk - m_new[:, None])
        else:
            m_new = tl.maximum(m_i, tl.max(qk, axis=1) * qk_scale)
            p = tl.exp2(qk * qk_scale - m_new[:, None])
        alpha = tl.exp2(m_i - m_new)
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None]
        v = _load_rows(v_base, cols, offs_d, S, stride_vs, HEAD_DIM, BLOCK_D, MASKED)
        acc = tl.dot(p.to(v.dtype), v, acc, input_precision=PRECISION)
        m_i = m_new
    return acc, l_i, m_i


@triton.jit
def _flash_attention_kernel(q_ptr, k_ptr, v_ptr, o_ptr, S, H, GROUP, qk_scale,
                            stride_qb, stride_qh, stride_qs, stride_kb, stride_kh, stride_ks,
                            stride_vb, stride_vh, stride_vs, stride_ob, stride_oh, stride_os,
                            HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                            BLOCK_D: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    if CAUSAL:
        pid_m = tl.num_programs(0) - 1 - tl.program_id(0)  # longest programs first
    else:
        pid_m = tl.program_id(0)
    b = (tl.program_id(1) // H).to(tl.int64)
    h = (tl.program_id(1) % H).to(tl.int64)
    kvh = h // GROUP  # this query head's kv head
    q_base = q_ptr + b * stride_qb + h * stride_qh
    k_base = k_ptr + b * stride_kb + kvh * stride_kh
    v_base = v_ptr + b * stride_vb + kvh * stride_vh
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    q = _load_rows(q_base, offs_m, offs_d, S, stride_qs, HEAD_DIM, BLOCK_D, True)

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    if CAUSAL:
        # Keys below the program's first query row, in whole blocks: visible to every row, inside S.
        full_end = (pid_m * BLOCK_M) // BLOCK_N * BLOCK_N
        masked_end = tl.minimum((pid_m + 1) * BLOCK_M, S)
    else:
        full_end = S // BLOCK_N * BLOCK_N
        masked_end = S
    acc, l_i, m_i = _attend(acc, l_i, m_i, q, k_base, v_base, stride_ks, stride_vs, 0, full_end, offs_m, offs_n,
                            offs_d, S, qk_scale, HEAD_DIM, BLOCK_D, BLOCK_N, False, CAUSAL, PRECISION)
    acc, l_i, m_i = _attend(acc, l_i, m_i, q, k_base, v_base, stride_ks, stride_vs, full_end, masked_end, offs_m,
                            offs_n, offs_d, S, qk_scale, HEAD_DIM, BLOCK_D, BLOCK_N, True, CAUSAL, PRECISION)

    o = acc / l_i[:, None]
    o_ptrs = o_ptr + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_os + offs_d[None, :]
    mask = offs_m[:, None] < S
    if BLOCK_D != HEAD_DIM:
        mask = mask & (offs_d[None, :] < HEAD_DIM)
    tl.store(o_ptrs, o.to(o_ptr.dtype.element_ty), mask=mask)


_F32_PRECISION = {0: "ieee", 1: "tf32x3"}
_STAGES = {}  # launch key -> num_stages that fitted in shared memory


# @shared begin launch_fitting: copied in other starters, every copy the same (tests/test_starter_regions.py)
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
# @shared end launch_fitting


def kernel_fn(inputs, outputs, scalars):
    q, k, v = inputs[0], inputs[1], inputs[2]
    o = outputs[0]
    if q.dim() != 4 or k.dim() != 4 or v.shape != k.shape or o.shape != q.shape or \
            (k.shape[0], k.shape[2], k.shape[3]) != (q.shape[0], q.shape[2], q.shape[3]):
        raise ValueError(f"flash_attention: q, o must be [B, H, S, D] and k, v [B, HKV, S, D], got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}, {tuple(o.shape)}")
    B, H, S, D = q.shape
    HKV = k.shape[1]
    if (H % HKV != 0) if HKV > 0 else H > 0:  # no heads at all is an empty call
        raise ValueError(f"flash_attention: the kv heads ({HKV}) must divide the query heads ({H})")
    if D > 256:
        raise ValueError(f"flash_attention: head dim D={D} > 256 is not supported by this starter")
    if any(t.stride(3) != 1 for t in (q, k, v, o)):
        raise ValueError("flash_attention: the last dim of q, k, v and o must have stride 1 (kernel_abi.h)")
    causal = bool(scalars[0]) if len(scalars) > 0 else False
    scale = float(scalars[1]) if len(scalars) > 1 else 1.0 / math.sqrt(D)
    if B * H * S * D == 0:
        return None
    block_d = max(16, triton.next_power_of_2(D))
    if F32_DOT not in _F32_PRECISION:
        raise ValueError(f"flash_attention: F32_DOT={F32_DOT} is not one of 0, 1")
    f32_fma = q.dtype == torch.float32 and F32_DOT == 0
    precision = _F32_PRECISION[F32_DOT] if q.dtype == torch.float32 else "tf32"
    bm, bn, warps = (min(BLOCK_M, 64), min(BLOCK_N, 32), 4) if f32_fma else (BLOCK_M, BLOCK_N, NUM_WARPS)
    grid = (triton.cdiv(S, bm), B * H)
    key = (q.dtype, precision, D, bm, bn, causal, q.device)
    _launch_fitting(_flash_attention_kernel, grid, key, NUM_STAGES, q, k, v, o, S, H, H // HKV,
                    scale * 1.4426950408889634, *q.stride()[:3], *k.stride()[:3], *v.stride()[:3], *o.stride()[:3],
                    HEAD_DIM=D, BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=block_d, CAUSAL=causal, PRECISION=precision,
                    num_warps=warps)
    return None
