# @autokernel type=matmul
# Triton starter: C[M, N] = A[M, K] @ B[K, N], all row-major, f32 accumulation.
# Algorithm: one program per BLOCK_M x BLOCK_N tile of C, walking K in BLOCK_K steps with tl.dot
# (tensor cores for f16/bf16). Tiles are visited in groups of GROUP_M tile-rows ("grouped
# ordering") so that programs running together share A and B tiles in L2. f32 inputs use
# input_precision="ieee" (exact f32 products) by default; F32_DOT picks tf32x3 or tf32 instead.
# Edges are masked: any M, N, K. num_warps follows the tile size (8 from 128x128 up, else 4);
# num_stages starts from the shared memory a stage needs (up to 4) and drops if the compiled kernel
# does not fit. Deterministic: no split-K, no atomics.
# Limits: f16/bf16/f32 (A, B, C one dtype); in-tile offsets are 32-bit, so M*K, K*N, M*N < 2^31.
# @knob BLOCK_M=128 {32,64,128} rows of C per program
# @knob BLOCK_N=128 {32,64,128,256} columns of C per program
# @knob BLOCK_K=64 {16,32,64} depth of each tl.dot step
# @knob GROUP_M=8 {1,4,8,16} tile-rows per group in the L2-friendly launch order
# @knob F32_DOT=0 {0,1,2} f32 inputs only: 0 = ieee (exact f32 FMA), 1 = tf32x3 (3 TF32 passes, ~f32 accuracy), 2 = tf32 (~1e-3 relative)
import torch
import triton
import triton.language as tl
from triton.runtime.errors import OutOfResources

BLOCK_M = globals().get("BLOCK_M", 128)
BLOCK_N = globals().get("BLOCK_N", 128)
BLOCK_K = globals().get("BLOCK_K", 64)
GROUP_M = globals().get("GROUP_M", 8)
F32_DOT = globals().get("F32_DOT", 0)
NAME = "matmul"


@triton.jit
def _matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K,
                   stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                   GROUP_M: tl.constexpr, PRECISION: tl.constexpr):
    # Grouped ordering: consecutive program ids cover GROUP_M tile-rows of one tile-column strip.
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_pid_in_group = GROUP_M * num_pid_n
    group_id = pid // num_pid_in_group
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + ((pid % num_pid_in_group) % group_size_m)
    pid_n = (pid % num_pid_in_group) // group_size_m

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn
    mask_m = offs_m[:, None] < M
    mask_n = offs_n[None, :] < N

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        a = tl.load(a_ptrs, mask=mask_m & (offs_k[None, :] < K - k), other=0.0)
        b = tl.load(b_ptrs, mask=(offs_k[:, None] < K - k) & mask_n, other=0.0)
        acc = tl.dot(a, b, acc, input_precision=PRECISION)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk

    c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=mask_m & mask_n)


_F32_PRECISION = {0: "ieee", 1: "tf32x3", 2: "tf32"}
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


def _launch_config(elem_bytes):
    """num_warps and a first num_stages for the chosen tile (shared memory of one stage: A and B tiles)."""
    num_warps = 8 if BLOCK_M * BLOCK_N >= 128 * 128 else 4
    stage_bytes = (BLOCK_M + BLOCK_N) * BLOCK_K * elem_bytes
    num_stages = max(1, min(4, (160 * 1024) // stage_bytes))
    return num_warps, num_stages


def kernel_fn(inputs, outputs, scalars):
    a, b = inputs[0], inputs[1]
    c = outputs[0]
    M, K = a.shape
    N = b.shape[1]
    if M == 0 or N == 0:
        return None
    if K == 0:
        c.zero_()
        return None
    if F32_DOT not in _F32_PRECISION:
        raise ValueError(f"matmul: F32_DOT={F32_DOT} is not one of 0, 1, 2")
    # input_precision only matters for f32 operands; "tf32" is Triton's default for the others.
    precision = _F32_PRECISION[F32_DOT] if a.dtype == torch.float32 else "tf32"
    num_warps, num_stages = _launch_config(a.element_size())
    grid = (triton.cdiv(M, BLOCK_M) * triton.cdiv(N, BLOCK_N),)
    key = (a.dtype, precision, a.device)
    _launch_fitting(_matmul_kernel, grid, key, num_stages, a, b, c, M, N, K,
                    a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1),
                    BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_K=BLOCK_K, GROUP_M=GROUP_M,
                    PRECISION=precision, num_warps=num_warps)
    return None
