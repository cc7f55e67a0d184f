# @autokernel type=skinny_gemm
# Triton starter: y[M, N] = x[M, K] W[N, K]^T, a decode step's linear layer (M = 1..64, W streamed once).
# Algorithm: one program per BLOCK_N rows of W and BLOCK_M rows of x, walking K in BLOCK_K steps; each step
# multiplies the x tile [BLOCK_M, BLOCK_K] by the W tile [BLOCK_N, BLOCK_K] by broadcast and sums over K
# in f32 (no tl.dot: M is far below its 16-row minimum). BLOCK_M is cut to M's next power of two, so for
# M <= BLOCK_M every row of W is read once. Masked edges: any M, N, K.
# Limits: f16/bf16/f32 (x, W, y one dtype); offsets are 64-bit.
# @knob BLOCK_N=32 {16,32,64,128} rows of W (columns of y) per program
# @knob BLOCK_K=128 {64,128,256} depth of each step
# @knob BLOCK_M=8 {1,2,4,8,16} most rows of x per program (more rows: more programs, W read again)
# @knob NUM_WARPS=4 {1,2,4,8} warps per program
import triton
import triton.language as tl

BLOCK_N = globals().get("BLOCK_N", 32)
BLOCK_K = globals().get("BLOCK_K", 128)
BLOCK_M = globals().get("BLOCK_M", 8)
NUM_WARPS = globals().get("NUM_WARPS", 4)


@triton.jit
def _skinny_kernel(x_ptr, w_ptr, y_ptr, M, N, K,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    offs_n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_m = tl.program_id(1) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_k = tl.arange(0, BLOCK_K)
    mask_n = offs_n < N
    mask_m = offs_m < M
    w_rows = w_ptr + offs_n.to(tl.int64)[:, None] * K
    x_rows = x_ptr + offs_m.to(tl.int64)[:, None] * K
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        mask_k = (k + offs_k) < K
        w = tl.load(w_rows + k + offs_k[None, :], mask=mask_n[:, None] & mask_k[None, :], other=0.0)
        x = tl.load(x_rows + k + offs_k[None, :], mask=mask_m[:, None] & mask_k[None, :], other=0.0)
        acc += tl.sum(x.to(tl.float32)[:, None, :] * w.to(tl.float32)[None, :, :], axis=2)
    y_ptrs = y_ptr + offs_m.to(tl.int64)[:, None] * N + offs_n[None, :]
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


def kernel_fn(inputs, outputs, scalars):
    x, w = inputs[0], inputs[1]
    y = outputs[0]
    M, K = x.shape
    N = w.shape[0]
    if w.shape[1] != K or tuple(y.shape) != (M, N) or not (x.dtype == w.dtype == y.dtype):
        raise ValueError(f"skinny_gemm: x {tuple(x.shape)} {x.dtype}, w {tuple(w.shape)} {w.dtype}, "
                         f"y {tuple(y.shape)} {y.dtype} do not agree")
    if M == 0 or N == 0:
        return None
    if K == 0:
        y.zero_()
        return None
    bm = min(BLOCK_M, triton.next_power_of_2(M))
    # The broadcast product holds bm x BLOCK_N x BLOCK_K values: past bm * BLOCK_K = 128 per warp (at BLOCK_N 32)
    # ptxas spills (sm_90: 536 bytes at 8 x 32 x 128 on 4 warps, bench/triton_spills.py), so the step gets shallower.
    bk = max(16, min(BLOCK_K, 128 * NUM_WARPS * 32 // (bm * BLOCK_N)))
    grid = (triton.cdiv(N, BLOCK_N), triton.cdiv(M, bm))
    _skinny_kernel[grid](x, w, y, M, N, K, BLOCK_M=bm, BLOCK_N=BLOCK_N, BLOCK_K=bk, num_warps=NUM_WARPS)
    return None
