# @autokernel type=softmax
# Triton starter: y[m, :] = softmax(x[m, :]) over the last dim of a contiguous [M, N] tensor.
# Algorithm: one program per row. When the row fits one block (N <= BLOCK_N) it is loaded once,
# kept in registers, and normalised with the row max subtracted. Longer rows take two passes over
# column blocks: pass 1 keeps an online (running) max and rescaled sum of exp, pass 2 writes
# exp(x - max) / sum. All arithmetic in f32; -inf entries are fine (a row of only -inf is not).
# Limits: f16/bf16/f32 in, same dtype out; any M, N (row offsets are 64-bit).
# @knob BLOCK_N=1024 {256,512,1024,2048,4096,8192} columns per block (rows longer than this loop)
# @knob NUM_WARPS=4 {1,2,4,8,16} warps per program
import torch
import triton
import triton.language as tl

BLOCK_N = globals().get("BLOCK_N", 1024)
NUM_WARPS = globals().get("NUM_WARPS", 4)


@triton.jit
def _softmax_kernel(x_ptr, y_ptr, N, BLOCK_N: tl.constexpr, SINGLE_BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * N
    y_row = y_ptr + row * N
    cols = tl.arange(0, BLOCK_N)
    if SINGLE_BLOCK:
        mask = cols < N
        x = tl.load(x_row + cols, mask=mask, other=float("-inf")).to(tl.float32)
        m = tl.max(x, axis=0)
        e = tl.exp(x - m)
        e = tl.where(mask, e, 0.0)
        s = tl.sum(e, axis=0)
        tl.store(y_row + cols, (e / s).to(y_ptr.dtype.element_ty), mask=mask)
    else:
        # Pass 1: online max and sum of exp(x - max).
        m = float("-inf")
        s = 0.0
        for start in range(0, N, BLOCK_N):
            mask = start + cols < N
            x = tl.load(x_row + start + cols, mask=mask, other=float("-inf")).to(tl.float32)
            m_new = tl.maximum(m, tl.max(x, axis=0))
            # While every value seen is -inf, use 0 as the reference so that no -inf - -inf occurs.
            m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)
            s = s * tl.exp(m - m_ref) + tl.sum(tl.exp(x - m_ref), axis=0)
            m = m_new
        inv = 1.0 / s
        # Pass 2: write the normalised values.
        for start in range(0, N, BLOCK_N):
            mask = start + cols < N
            x = tl.load(x_row + start + cols, mask=mask, other=float("-inf")).to(tl.float32)
            y = tl.exp(x - m) * inv
            tl.store(y_row + start + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


def kernel_fn(inputs, outputs, scalars):
    x, y = inputs[0], outputs[0]
    N = x.shape[-1]
    M = x.numel() // N if N > 0 else 0
    if M == 0 or N == 0:
        return None
    _softmax_kernel[(M,)](x, y, N, BLOCK_N=BLOCK_N, SINGLE_BLOCK=N <= BLOCK_N, num_warps=NUM_WARPS)
    return None
