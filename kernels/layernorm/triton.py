# @autokernel type=layernorm
# Triton starter: y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim of x[M, N]
# (biased variance, as torch.nn.functional.layer_norm).
# Algorithm: one program per row; statistics in f32. The row is shifted by its first element
# before summing (exact for clustered data), the mean is kept as shift + small part, and the
# variance is the mean of ((x - shift) - small)^2: never E[x^2] - E[x]^2, so rows with mean 100
# and std 1e-4 keep their digits. Rows that fit one block (N <= BLOCK_N) are read once and kept in
# registers; longer rows loop over column blocks twice: statistics (each block's mean and squared
# deviations, merged with Chan's parallel formula), then the normalised write.
# Limits: f16/bf16/f32; weight and bias have x's dtype; any M, N (row offsets are 64-bit).
# @knob BLOCK_N=1024 {256,512,1024,2048,4096,8192} columns per block (rows longer than this loop)
# @knob NUM_WARPS=4 {1,2,4,8,16} warps per program
import torch
import triton
import triton.language as tl

BLOCK_N = globals().get("BLOCK_N", 1024)
NUM_WARPS = globals().get("NUM_WARPS", 4)


@triton.jit
def _layernorm_kernel(x_ptr, w_ptr, b_ptr, y_ptr, N, eps, BLOCK_N: tl.constexpr, SINGLE_BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * N
    y_row = y_ptr + row * N
    cols = tl.arange(0, BLOCK_N)
    shift = tl.load(x_row).to(tl.float32)
    if SINGLE_BLOCK:
        mask = cols < N
        xs = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32) - shift
        xs = tl.where(mask, xs, 0.0)
        mean_s = tl.sum(xs, axis=0) / N
        d = tl.where(mask, xs - mean_s, 0.0)
        var = tl.sum(d * d, axis=0) / N
        rstd = 1.0 / tl.sqrt(var + eps)
        w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
        b = tl.load(b_ptr + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_row + cols, (d * rstd * w + b).to(y_ptr.dtype.element_ty), mask=mask)
    else:
        # Pass 1: per-block mean and sum of squared deviations (from the block's own mean),
        # merged into the running (count, mean, m2) with Chan's formula: one read, no E[x^2].
        mean_s = 0.0
        m2 = 0.0
        for start in range(0, N, BLOCK_N):
            mask = start + cols < N
            x = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
            xs = tl.where(mask, x - shift, 0.0)
            n_a = start * 1.0
            n_b = tl.minimum(N - start, BLOCK_N) * 1.0
            mean_b = tl.sum(xs, axis=0) / n_b
            d = tl.where(mask, xs - mean_b, 0.0)
            m2_b = tl.sum(d * d, axis=0)
            n = n_a + n_b
            delta = mean_b - mean_s
            mean_s = mean_s + delta * (n_b / n)
            m2 = m2 + m2_b + delta * delta * (n_a * n_b / n)
        var = m2 / N
        rstd = 1.0 / tl.sqrt(var + eps)
        # Pass 2: normalise, scale, shift.
        for start in range(0, N, BLOCK_N):
            mask = start + cols < N
            x = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
            w = tl.load(w_ptr + start + cols, mask=mask, other=0.0).to(tl.float32)
            b = tl.load(b_ptr + start + cols, mask=mask, other=0.0).to(tl.float32)
            y = ((x - shift) - mean_s) * rstd * w + b
            tl.store(y_row + start + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


def kernel_fn(inputs, outputs, scalars):
    x, w, b = inputs[0], inputs[1], inputs[2]
    y = outputs[0]
    eps = float(scalars[0]) if scalars else 1e-5
    N = x.shape[-1]
    M = x.numel() // N if N > 0 else 0
    if M == 0 or N == 0:
        return None
    _layernorm_kernel[(M,)](x, w, b, y, N, eps, BLOCK_N=BLOCK_N, SINGLE_BLOCK=N <= BLOCK_N, num_warps=NUM_WARPS)
    return None
