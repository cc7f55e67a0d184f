# @autokernel type=matmul
# Triton starter: C[M, N] = A[M, K] @ B[K, N], f32 accumulation; A and C row-major, B row-major or K-major
# (kernel_abi.h: B = W^T with F.linear's weight W [N, K] as it is), and an optional bias[N] added to each row
# (HAS_BIAS) and residual[M, N] added elementwise (HAS_RES; told apart by ndim) to the f32 tile before its one
# rounding.
# Algorithm: one program per BLOCK_M x BLOCK_N tile of C, walking K in BLOCK_K steps with tl.dot
# (tensor cores for f16/bf16: wgmma on Hopper). Tiles are visited in groups of GROUP_M tile-rows
# ("grouped ordering") so that programs running together share A and B tiles in L2.
# On sm_90+ with 16-byte aligned rows (TMA=1) the tiles move through tensor descriptors: the copy
# engine loads them into shared memory (zero-filled past the edges) and stores C, and NUM_STAGES of
# them are kept in flight; a K-major B is described as the [N, K] matrix it is and its tiles transposed
# in registers (tl.dot takes either). Elsewhere (older GPUs, unaligned rows, the CPU interpreter, TMA=0) a
# pointer kernel with masked edges runs. f32 inputs use input_precision="ieee" (exact f32 products)
# by default, on a tile capped at 128x128x32 (an FMA dot needs far more registers); F32_DOT picks
# tf32x3 or tf32 instead. Deterministic: no split-K, no atomics.
# Limits: f16/bf16/f32 (A, B, C one dtype); pointer-path offsets are 32-bit (M*K, K*N, M*N < 2^31).
# @knob BLOCK_M=128 {64,128,256} rows of C per program
# @knob BLOCK_N=256 {64,128,256} columns of C per program
# @knob BLOCK_K=64 {32,64,128} depth of each tl.dot step
# @knob GROUP_M=16 {1,4,8,16} tile-rows per group in the L2-friendly launch order
# @knob NUM_STAGES=3 {2,3,4,5} tiles in flight (lowered automatically when shared memory is short)
# @knob NUM_WARPS=8 {4,8} warps per program
# @knob TMA=1 {0,1} sm_90+: move tiles with tensor descriptors (the copy engine) instead of pointer loads
# @knob PERSISTENT=0 {0,1} TMA path: one program per SM walking the tiles instead of one program per tile
# @knob F32_DOT=0 {0,1,2} f32 inputs only: 0 = ieee (exact f32 FMA), 1 = tf32x3 (3 TF32 passes, ~f32 accuracy), 2 = tf32 (~1e-3 relative)
import torch
import triton
import triton.language as tl
from triton.runtime.errors import OutOfResources

BLOCK_M = globals().get("BLOCK_M", 128)
BLOCK_N = globals().get("BLOCK_N", 256)
BLOCK_K = globals().get("BLOCK_K", 64)
GROUP_M = globals().get("GROUP_M", 16)
NUM_STAGES = globals().get("NUM_STAGES", 3)
NUM_WARPS = globals().get("NUM_WARPS", 8)
TMA = globals().get("TMA", 1)
PERSISTENT = globals().get("PERSISTENT", 0)
F32_DOT = globals().get("F32_DOT", 0)
NAME = "matmul"


@triton.jit
def _tile(pid, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """Grouped ordering: consecutive program ids cover GROUP_M tile-rows of one tile-column strip."""
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_pid_in_group = GROUP_M * num_pid_n
    group_id = pid // num_pid_in_group
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + ((pid % num_pid_in_group) % group_size_m)
    pid_n = (pid % num_pid_in_group) // group_size_m
    return pid_m, pid_n


@triton.jit
def _b_tile(b_desc, k, off_n, B_T: tl.constexpr):
    """B's BLOCK_K x BLOCK_N tile at (k, off_n): b_desc describes B [K, N], or with B_T its [N, K] storage."""
    if B_T:  # constexpr: one branch is compiled (two returns would be typed against each other)
        b = b_desc.load([off_n, k]).T
    else:
        b = b_desc.load([k, off_n])
    return b


@triton.jit
def _add_bias(acc, bias_ptr, off_n, N, BLOCK_N: tl.constexpr, HAS_BIAS: tl.constexpr):
    """acc + bias[off_n:off_n + BLOCK_N] on every row (f32), or acc as it is."""
    if HAS_BIAS:
        offs_n = off_n + tl.arange(0, BLOCK_N)
        acc += tl.load(bias_ptr + offs_n, mask=offs_n < N, other=0.0).to(tl.float32)[None, :]
    return acc


@triton.jit
def _add_residual(acc, res_desc, off_m, off_n, HAS_RES: tl.constexpr):
    """acc + the residual's tile at (off_m, off_n), or acc as it is. Through a tensor descriptor: the tile lands in
    shared memory by the copy engine, where a pointer load's per-element 64-bit addresses beside the 128x256 f32
    accumulator spilled (ptxas, sm_90)."""
    if HAS_RES:
        acc += res_desc.load([off_m, off_n]).to(tl.float32)
    return acc


@triton.jit
def _matmul_tma_kernel(a_desc, b_desc, c_desc, bias_ptr, res_desc, M, N, K,
                       BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                       GROUP_M: tl.constexpr, PRECISION: tl.constexpr, B_T: tl.constexpr, HAS_BIAS: tl.constexpr,
                       HAS_RES: tl.constexpr):
    pid_m, pid_n = _tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    off_m = pid_m * BLOCK_M
    off_n = pid_n * BLOCK_N
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        a = a_desc.load([off_m, k])  # zero-filled past M and K
        acc = tl.dot(a, _b_tile(b_desc, k, off_n, B_T), acc, input_precision=PRECISION)
    acc = _add_residual(_add_bias(acc, bias_ptr, off_n, N, BLOCK_N, HAS_BIAS), res_desc, off_m, off_n, HAS_RES)
    c_desc.store([off_m, off_n], acc.to(c_desc.dtype))  # clipped at M and N


@triton.jit
def _matmul_persistent_kernel(a_desc, b_desc, c_desc, bias_ptr, res_desc, M, N, K,
                              BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                              GROUP_M: tl.constexpr, PRECISION: tl.constexpr, B_T: tl.constexpr,
                              HAS_BIAS: tl.constexpr, HAS_RES: tl.constexpr, NUM_SMS: tl.constexpr):
    num_tiles = tl.cdiv(M, BLOCK_M) * tl.cdiv(N, BLOCK_N)
    for tile in range(tl.program_id(0), num_tiles, NUM_SMS):
        pid_m, pid_n = _tile(tile, M, N, BLOCK_M, BLOCK_N, GROUP_M)
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for k in range(0, K, BLOCK_K):
            acc = tl.dot(a_desc.load([pid_m * BLOCK_M, k]), _b_tile(b_desc, k, pid_n * BLOCK_N, B_T), acc,
                         input_precision=PRECISION)
        acc = _add_bias(acc, bias_ptr, pid_n * BLOCK_N, N, BLOCK_N, HAS_BIAS)
        acc = _add_residual(acc, res_desc, pid_m * BLOCK_M, pid_n * BLOCK_N, HAS_RES)
        c_desc.store([pid_m * BLOCK_M, pid_n * BLOCK_N], acc.to(c_desc.dtype))


@triton.jit
def _matmul_kernel(a_ptr, b_ptr, c_ptr, bias_ptr, res_ptr, M, N, K,
                   stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                   GROUP_M: tl.constexpr, PRECISION: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_RES: tl.constexpr):
    pid_m, pid_n = _tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
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

    acc = _add_bias(acc, bias_ptr, pid_n * BLOCK_N, N, BLOCK_N, HAS_BIAS)
    if HAS_RES:
        acc += tl.load(res_ptr + offs_m[:, None] * N + offs_n[None, :], mask=mask_m & mask_n, other=0.0).to(tl.float32)
    c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=mask_m & mask_n)


_F32_PRECISION = {0: "ieee", 1: "tf32x3", 2: "tf32"}
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


# @shared begin tma_ok: copied in other starters, every copy the same (tests/test_starter_regions.py)
def _tma_ok(*tensors):
    """Tensor descriptors need sm_90+, 16-byte aligned base addresses and row strides, unit inner strides."""
    t0 = tensors[0]
    if TMA != 1 or not t0.is_cuda or torch.cuda.get_device_capability(t0.device)[0] < 9:
        return False
    return all(t.stride(1) == 1 and (t.stride(0) * t.element_size()) % 16 == 0 and t.data_ptr() % 16 == 0
               for t in tensors)
# @shared end tma_ok


def kernel_fn(inputs, outputs, scalars):
    a, b = inputs[0], inputs[1]
    bias = next((t for t in inputs[2:] if t.dim() == 1), None)
    res = next((t for t in inputs[2:] if t.dim() == 2), None)
    c = outputs[0]
    M, K = a.shape
    N = b.shape[1]
    if M == 0 or N == 0:
        return None
    if K == 0:
        c.zero_()
        if bias is not None:
            c += bias
        if res is not None:
            c += res
        return None
    if F32_DOT not in _F32_PRECISION:
        raise ValueError(f"matmul: F32_DOT={F32_DOT} is not one of 0, 1, 2")
    f32_fma = a.dtype == torch.float32 and F32_DOT == 0
    # input_precision only matters for f32 operands; "tf32" is Triton's default for the others.
    precision = _F32_PRECISION[F32_DOT] if a.dtype == torch.float32 else "tf32"
    bm, bn, bk = (min(BLOCK_M, 128), min(BLOCK_N, 128), min(BLOCK_K, 32)) if f32_fma else (BLOCK_M, BLOCK_N, BLOCK_K)
    grid = (triton.cdiv(M, bm) * triton.cdiv(N, bn),)
    consts = dict(BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=GROUP_M, PRECISION=precision, HAS_BIAS=bias is not None,
                  HAS_RES=res is not None, num_warps=NUM_WARPS)
    if res is not None and M > 1 and res.stride(0) != N:
        raise ValueError(f"{NAME}: the residual must be row-major [M, N] (kernel_abi.h); got strides {res.stride()}")
    bias_arg = c if bias is None else bias  # never read without HAS_BIAS
    res_arg = c if res is None else res  # never read without HAS_RES
    b_t = b.stride(0) == 1 and b.stride(1) != 1  # K-major: b.t() is the [N, K] matrix in memory
    if _tma_ok(a, b.t() if b_t else b, c, *([res] if res is not None else [])):
        from triton.tools.tensor_descriptor import TensorDescriptor
        a_desc = TensorDescriptor.from_tensor(a, [bm, bk])
        b_desc = TensorDescriptor.from_tensor(b.t(), [bn, bk]) if b_t else TensorDescriptor.from_tensor(b, [bk, bn])
        c_desc = TensorDescriptor.from_tensor(c, [bm, bn])
        res_desc = c_desc if res is None else TensorDescriptor.from_tensor(res, [bm, bn])  # never read without HAS_RES
        consts["B_T"] = b_t
        key = ("tma", PERSISTENT, a.dtype, bm, bn, bk, precision, b_t, bias is not None, res is not None, a.device)
        if PERSISTENT == 1:
            sms = torch.cuda.get_device_properties(a.device).multi_processor_count
            _launch_fitting(_matmul_persistent_kernel, (min(sms, grid[0]),), key, NUM_STAGES, a_desc, b_desc, c_desc,
                            bias_arg, res_desc, M, N, K, NUM_SMS=sms, **consts)
        else:
            _launch_fitting(_matmul_tma_kernel, grid, key, NUM_STAGES, a_desc, b_desc, c_desc, bias_arg, res_desc, M,
                            N, K, **consts)
    else:
        key = ("ptr", a.dtype, bm, bn, bk, precision, bias is not None, res is not None, a.device)
        _launch_fitting(_matmul_kernel, grid, key, NUM_STAGES, a, b, c, bias_arg, res_arg, M, N, K,
                        a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1), **consts)
    return None
