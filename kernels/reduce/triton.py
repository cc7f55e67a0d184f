# @autokernel type=reduce
# Triton starter: y[m] = sum(x[m, :]) over the last dim of x[M, N]; y has x's dtype.
# Algorithm: one program per row; a [BLOCK_N] f32 accumulator walks the row block by block
# (each lane sums its column slice, so an f16 input never sticks at 2048), then a tree sum.
# The order of additions is fixed, so results are bitwise reproducible.
# Limits: f16/bf16/f32; any M, N (row offsets are 64-bit); N == 0 writes 0.
# @knob BLOCK_N=1024 {256,512,1024,2048,4096,8192} columns per block
# @knob NUM_WARPS=4 {1,2,4,8,16} warps per program
import torch
import triton
import triton.language as tl

BLOCK_N = globals().get("BLOCK_N", 1024)
NUM_WARPS = globals().get("NUM_WARPS", 4)


@triton.jit
def _reduce_kernel(x_ptr, y_ptr, N, BLOCK_N: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * N
    cols = tl.arange(0, BLOCK_N)
    acc = tl.zeros([BLOCK_N], dtype=tl.float32)
    for start in range(0, N, BLOCK_N):
        mask = start + cols < N
        acc += tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(y_ptr + row, tl.sum(acc, axis=0).to(y_ptr.dtype.element_ty))


def kernel_fn(inputs, outputs, scalars):
    x, y = inputs[0], outputs[0]
    M = y.numel()
    if M == 0:
        return None
    N = x.numel() // M
    _reduce_kernel[(M,)](x, y, N, BLOCK_N=BLOCK_N, num_warps=NUM_WARPS)
    return None
