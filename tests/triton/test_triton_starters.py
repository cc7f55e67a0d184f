"""Checks the Triton starter kernels in kernels/<type>/triton.py against float64 PyTorch references.

Each starter is loaded the way the autokernel harness loads it: a module is created from the file,
every knob's default is set as a module attribute, then the file body runs. Inputs are small (the
Triton interpreter is slow) but include non-powers of two, rows longer than one block, masked edges
and the adversarial inputs the catalog uses. Outputs are pre-filled with NaN, as the harness does.

Run:  python3 -m pytest -q tests/triton
Without a CUDA device the kernels run in Triton's interpreter on CPU tensors (TRITON_INTERPRET=1).
"""
import importlib.util
import math
import os
import pathlib
import re
import sys

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"  # must be set before triton is imported
triton = pytest.importorskip("triton")
F = torch.nn.functional


# The fix the harness applies to Triton's CPU interpreter (bf16 tl.dot); numpy < 2.3 avoids its other bug.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))
from autokernel_support import triton_interpreter  # noqa: E402

triton_interpreter.apply()

ROOT = pathlib.Path(__file__).resolve().parents[2]
KERNELS = ROOT / "kernels"
TYPES = ["matmul", "softmax", "layernorm", "rmsnorm", "cross_entropy", "rotary_embedding", "reduce",
         "flash_attention", "fused_mlp", "add_rmsnorm", "skinny_gemm", "gelu", "decode_attention"]
DTYPES = [torch.float16, torch.bfloat16, torch.float32]
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
KNOB_RE = re.compile(r"^# @knob (\w+)=(\S+) \{([^}]*)\} \S")

# Tolerances: |out - ref| <= atol * rms(ref) + rtol * |ref| (the harness's rule).
TOL_MATMUL = {torch.float16: 1e-2, torch.bfloat16: 1e-2, torch.float32: 1e-4}
TOL_ROWWISE = {torch.float16: 5e-3, torch.bfloat16: 2e-2, torch.float32: 1e-4}


def _parse_value(text):
    text = text.strip().strip('"')
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_knobs(path):
    """{name: (default, [values])} from the file's '# @knob' lines."""
    knobs = {}
    for line in path.read_text().splitlines():
        m = KNOB_RE.match(line)
        if m:
            knobs[m.group(1)] = (_parse_value(m.group(2)), [_parse_value(v) for v in m.group(3).split(",")])
    return knobs


def load_starter(ktype, **overrides):
    """Load kernels/<ktype>/triton.py as the harness does: knobs set as globals before the body runs."""
    path = KERNELS / ktype / "triton.py"
    spec = importlib.util.spec_from_file_location(f"ak_triton_{ktype}", path)
    mod = importlib.util.module_from_spec(spec)
    knobs = parse_knobs(path)
    for name, (default, _) in knobs.items():
        setattr(mod, name, default)
    for name, value in overrides.items():
        assert name in knobs, f"{ktype}: no knob {name}"
        setattr(mod, name, value)
    spec.loader.exec_module(mod)
    return mod


def run(ktype, inputs, out_specs, scalars=(), **knobs):
    """Call kernel_fn with NaN-filled outputs; out_specs = [(shape, dtype), ...]."""
    mod = load_starter(ktype, **knobs)
    outputs = [torch.full(shape, float("nan"), dtype=dt, device=DEVICE) for shape, dt in out_specs]
    assert mod.kernel_fn(list(inputs), outputs, [float(s) for s in scalars]) is None
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    return outputs


def assert_close(out, ref, tol, what=""):
    out64 = out.double().cpu()
    ref = ref.double().cpu()
    assert not torch.isnan(out64).any(), f"{what}: NaN left in output (element not written?)"
    rms = ref.pow(2).mean().sqrt().item() if ref.numel() else 0.0
    err = (out64 - ref).abs()
    bound = tol * rms + tol * ref.abs()
    bad = err > bound
    assert not bad.any(), (f"{what}: {int(bad.sum())} of {ref.numel()} elements off; max err "
                           f"{err.max().item():.3g}, rms(ref) {rms:.3g}, tol {tol}")


def randn(shape, dtype, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype).to(DEVICE)


def dtype_id(dt):
    return str(dt).replace("torch.", "")


# ---------------------------------------------------------------------------------------------
# Conventions


@pytest.mark.parametrize("ktype", TYPES)
def test_starter_declares_type_and_valid_knobs(ktype):
    path = KERNELS / ktype / "triton.py"
    lines = path.read_text().splitlines()
    assert lines[0] == f"# @autokernel type={ktype}"
    knobs = parse_knobs(path)
    most = 13 if ktype == "fused_mlp" else 12  # fused_mlp: its GEMM path's twelve and SMALL_M, the decode path's
    assert 2 <= len(knobs) <= most, f"{ktype}: {len(knobs)} knobs"
    for name, (default, values) in knobs.items():
        assert default in values, f"{ktype}: knob {name} default {default} not in {values}"
    mod = load_starter(ktype)
    assert callable(mod.kernel_fn)


# ---------------------------------------------------------------------------------------------
# Row-wise kernels


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("M,N,knobs", [(7, 127, {}), (3, 1000, {"BLOCK_N": 256})], ids=["one_block", "block_loop"])
def test_softmax_matches_reference(dtype, M, N, knobs):
    x = randn((M, N), dtype, 3.0)
    (y,) = run("softmax", [x], [((M, N), dtype)], **knobs)
    assert_close(y, F.softmax(x.double(), -1), TOL_ROWWISE[dtype], "softmax")


@pytest.mark.parametrize("knobs", [{}, {"BLOCK_N": 256}], ids=["one_block", "block_loop"])
def test_softmax_survives_large_values_and_neg_inf(knobs):
    M, N = 4, 700
    x = randn((M, N), torch.float32)
    x[0] = 1e4                                        # equal and large: exp overflows without the max
    x[1, ::2] = float("-inf")                         # masked entries
    x[2, :600] = float("-inf")                        # whole leading blocks masked
    x[3] = randn((N,), torch.float32, 2.5e3, seed=3)  # large spread
    (y,) = run("softmax", [x], [((M, N), torch.float32)], **knobs)
    assert_close(y, F.softmax(x.double(), -1), TOL_ROWWISE[torch.float32], "softmax adversarial")
    (y16,) = run("softmax", [x.half().clamp(-6e4, 6e4)], [((M, N), torch.float16)], **knobs)
    assert_close(y16, F.softmax(x.half().clamp(-6e4, 6e4).double(), -1), TOL_ROWWISE[torch.float16], "softmax f16")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("M,N,knobs", [(7, 127, {}), (3, 1000, {"BLOCK_N": 256})], ids=["one_block", "block_loop"])
def test_layernorm_matches_reference(dtype, M, N, knobs):
    x = randn((M, N), dtype, 2.0, seed=1)
    w = (1 + randn((N,), torch.float32, 0.1, seed=2)).to(dtype)
    b = randn((N,), dtype, 0.1, seed=3)
    eps = 1e-5
    (y,) = run("layernorm", [x, w, b], [((M, N), dtype)], [eps], **knobs)
    ref = F.layer_norm(x.double(), (N,), w.double(), b.double(), eps)
    assert_close(y, ref, TOL_ROWWISE[dtype], "layernorm")


@pytest.mark.parametrize("knobs", [{}, {"BLOCK_N": 256}], ids=["one_block", "block_loop"])
def test_layernorm_keeps_precision_at_mean_100_std_1e4(knobs):
    M, N = 3, 1000
    x = (100.0 + randn((M, N), torch.float64, 1e-4, seed=4)).float()
    x[2] = x[2, 0]  # constant row: the answer is the bias
    w = torch.ones(N, device=DEVICE)
    b = randn((N,), torch.float32, 0.1, seed=5)
    eps = 1e-12  # tiny, so that the variance itself (1e-8) sets the scale
    (y,) = run("layernorm", [x, w, b], [((M, N), torch.float32)], [eps], **knobs)
    ref = F.layer_norm(x.double(), (N,), w.double(), b.double(), eps)
    assert_close(y, ref, 1e-4, "layernorm mean 100 std 1e-4")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("M,N,knobs", [(7, 127, {}), (3, 1000, {"BLOCK_N": 256})], ids=["one_block", "block_loop"])
def test_rmsnorm_matches_reference(dtype, M, N, knobs):
    x = randn((M, N), dtype, 1.0, seed=6)
    x[0] = 0  # zero row: 0, never NaN
    if dtype == torch.float16:
        x[1] = randn((N,), dtype, 300.0, seed=7)  # squares overflow f16
    w = (1 + randn((N,), torch.float32, 0.1, seed=8)).to(dtype)
    eps = 1e-6
    (y,) = run("rmsnorm", [x, w], [((M, N), dtype)], [eps], **knobs)
    xd = x.double()
    ref = xd * torch.rsqrt(xd.pow(2).mean(-1, keepdim=True) + eps) * w.double()
    assert_close(y, ref, TOL_ROWWISE[dtype], "rmsnorm")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("M,N,knobs", [(7, 127, {}), (3, 1000, {"BLOCK_N": 256})], ids=["one_block", "block_loop"])
def test_add_rmsnorm_matches_reference(dtype, M, N, knobs):
    x = randn((M, N), dtype, 1.0, seed=10)
    r = randn((M, N), dtype, 1.0, seed=11)
    r[0] = -x[0]  # the sum is a zero row: 0, never NaN
    if dtype == torch.float16:
        x[1], r[1] = randn((N,), dtype, 200.0, seed=12), randn((N,), dtype, 200.0, seed=13)  # squares overflow f16
    w = (1 + randn((N,), torch.float32, 0.1, seed=14)).to(dtype)
    eps = 1e-6
    s, y = run("add_rmsnorm", [x, r, w], [((M, N), dtype), ((M, N), dtype)], [eps], **knobs)
    sd = x.double() + r.double()
    stored = sd.to(dtype).double()  # the norm reads the sum as stored
    ref = stored * torch.rsqrt(stored.pow(2).mean(-1, keepdim=True) + eps) * w.double()
    assert_close(s, sd, TOL_ROWWISE[dtype], "add_rmsnorm sum")
    assert_close(y, ref, TOL_ROWWISE[dtype], "add_rmsnorm norm")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("M,N,knobs", [(7, 127, {}), (3, 1000, {"BLOCK_N": 256})], ids=["one_block", "block_loop"])
def test_reduce_matches_reference(dtype, M, N, knobs):
    x = randn((M, N), dtype, 1.0, seed=9)
    (y,) = run("reduce", [x], [((M,), dtype)], **knobs)
    assert_close(y, x.double().sum(-1), TOL_ROWWISE[dtype], "reduce")


def test_reduce_f16_ones_do_not_stick_at_2048():
    x = torch.ones((2, 3000), dtype=torch.float16, device=DEVICE)
    (y,) = run("reduce", [x], [((2,), torch.float16)], BLOCK_N=256)
    assert torch.equal(y.float().cpu(), torch.full((2,), 3000.0))


def _ce_reference(logits, target):
    ld = logits.double()
    picked = ld.gather(1, target.clamp_min(0)[:, None]).squeeze(1)
    return (torch.logsumexp(ld, 1) - picked).masked_fill(target < 0, 0.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("M,V,knobs", [(6, 1000, {}), (9, 1100, {"BLOCK_V": 512})], ids=["one_block", "block_loop"])
def test_cross_entropy_matches_reference(dtype, M, V, knobs):
    logits = randn((M, V), dtype, 2.0, seed=10)
    g = torch.Generator().manual_seed(11)
    target = torch.randint(0, V, (M,), generator=g).to(DEVICE)
    target[1] = -100   # ignored
    target[2] = V - 1  # last column, in the final partial block
    (loss,) = run("cross_entropy", [logits, target], [((M,), torch.float32)], **knobs)
    assert_close(loss, _ce_reference(logits, target), 1e-4, "cross_entropy")
    assert loss[1].item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32], ids=dtype_id)
def test_cross_entropy_survives_large_and_equal_logits(dtype):
    M, V = 3, 1100
    logits = randn((M, V), torch.float32, 2.5e3, seed=12).clamp(-6e4, 6e4).to(dtype)
    logits[1] = 7.0  # loss = log(V) exactly
    target = torch.tensor([5, 1099, 17], device=DEVICE)
    (loss,) = run("cross_entropy", [logits, target], [((M,), torch.float32)], BLOCK_V=512)
    assert_close(loss, _ce_reference(logits, target), 1e-4, "cross_entropy adversarial")
    assert abs(loss[1].item() - math.log(V)) < 1e-5


def _rotary_reference(x, cos, sin, style):
    """Pair i turns by theta[s, i]: pairs (x[2i], x[2i+1]) for style 0, (x[i], x[i + D/2]) for style 1."""
    xd, c, s = x.double(), cos.double(), sin.double()
    if style == 0:
        x0, x1 = xd[..., 0::2], xd[..., 1::2]
        return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], -1).flatten(-2)
    half = x.shape[-1] // 2
    x0, x1 = xd[..., :half], xd[..., half:]
    return torch.cat([x0 * c - x1 * s, x0 * s + x1 * c], -1)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("style", [0, 1], ids=["interleaved", "half"])
@pytest.mark.parametrize("B,H,HKV,S,D,knobs", [(2, 3, 3, 5, 12, {}), (1, 4, 2, 7, 64, {"BLOCK_R": 16}),
                                               (2, 3, 1, 5, 34, {"BLOCK_R": 2})], ids=["d12", "d64_kv2", "d34_kv1"])
def test_rotary_embedding_matches_reference(dtype, style, B, H, HKV, S, D, knobs):
    q = randn((B, H, S, D), dtype, 1.0, seed=13)
    k = randn((B, HKV, S, D), dtype, 1.0, seed=14)
    ang = torch.arange(S, dtype=torch.float64)[:, None] * torch.rand(D // 2, dtype=torch.float64)[None, :] * 3
    cos, sin = ang.cos().to(dtype).to(DEVICE), ang.sin().to(dtype).to(DEVICE)
    q_out, k_out = run("rotary_embedding", [q, k, cos, sin], [((B, H, S, D), dtype), ((B, HKV, S, D), dtype)],
                       [style], **knobs)
    assert_close(q_out, _rotary_reference(q, cos, sin, style), TOL_ROWWISE[dtype], "rotary_embedding q")
    assert_close(k_out, _rotary_reference(k, cos, sin, style), TOL_ROWWISE[dtype], "rotary_embedding k")


@pytest.mark.parametrize("layout", ["bshd", "packed"])
@pytest.mark.parametrize("style", [0, 1], ids=["interleaved", "half"])
def test_rotary_embedding_takes_strided_inputs_and_writes_strided_outputs(layout, style):
    B, H, HKV, S, D, dtype = 2, 4, 2, 9, 16, torch.float16
    q, k = randn((B, H, S, D), dtype, 1.0, seed=60), randn((B, HKV, S, D), dtype, 1.0, seed=61)
    theta = randn((S, D // 2), torch.float32, 3.0, seed=62)
    cos, sin = theta.cos().to(dtype), theta.sin().to(dtype)
    q_out, k_out = _run_bshd("rotary_embedding", _laid_out(layout, q, k) + [cos, sin], [(B, H, S, D), (B, HKV, S, D)],
                             [style])
    assert q_out.stride() == (S * H * D, D, H * D, 1) and k_out.stride() == (S * HKV * D, D, HKV * D, 1)
    assert_close(q_out, _rotary_reference(q, cos, sin, style), TOL_ROWWISE[dtype], f"rotary q {layout}")
    assert_close(k_out, _rotary_reference(k, cos, sin, style), TOL_ROWWISE[dtype], f"rotary k {layout}")


def test_rotary_embedding_refuses_an_unknown_style():
    q = randn((1, 2, 3, 8), torch.float32)
    cs = randn((3, 4), torch.float32)
    with pytest.raises(ValueError, match="style"):
        run("rotary_embedding", [q, q, cs, cs], [((1, 2, 3, 8), torch.float32)] * 2, [2])


# ---------------------------------------------------------------------------------------------
# Matmul-like kernels

MATMUL_TILES = [{}, {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 16, "GROUP_M": 4}]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("knobs", MATMUL_TILES, ids=["default_tile", "small_tiles"])
@pytest.mark.parametrize("b_kmajor", [False, True], ids=["b_rows", "b_kmajor"])
def test_matmul_matches_reference(dtype, knobs, b_kmajor):
    """B row-major, or K-major (kernel_abi.h: W^T with F.linear's weight W [N, K] as it is, read in place)."""
    M, N, K = 33, 65, 47
    a = randn((M, K), dtype, 1.0, seed=14)
    w = randn((N, K), dtype, 1.0 / math.sqrt(K), seed=15)
    b = w.t() if b_kmajor else w.t().contiguous()
    assert (b.stride(0) == 1) == b_kmajor
    (c,) = run("matmul", [a, b], [((M, N), dtype)], **knobs)
    assert_close(c, a.double() @ b.double(), TOL_MATMUL[dtype], "matmul")


@pytest.mark.parametrize("b_kmajor", [False, True], ids=["b_rows", "b_kmajor"])
def test_matmul_adds_the_bias_to_every_row(b_kmajor):
    """kernel_abi.h's optional bias[N]: C = A B + bias, added before the one rounding (F.linear's, addmm's)."""
    M, N, K = 33, 65, 47
    a = randn((M, K), torch.float16, 1.0, seed=17)
    w = randn((N, K), torch.float16, 1.0 / math.sqrt(K), seed=18)
    bias = randn((N,), torch.float16, 1.0, seed=19)
    b = w.t() if b_kmajor else w.t().contiguous()
    (c,) = run("matmul", [a, b, bias], [((M, N), torch.float16)], BLOCK_M=32, BLOCK_N=32, BLOCK_K=16)
    assert_close(c, a.double() @ b.double() + bias.double(), TOL_MATMUL[torch.float16], "matmul + bias")


def test_matmul_zeros_and_ones_are_exact():
    M, N, K = 40, 70, 100
    g = torch.Generator().manual_seed(16)
    a = (torch.rand((M, K), generator=g) > 0.5).half().to(DEVICE)
    b = (torch.rand((K, N), generator=g) > 0.5).half().to(DEVICE)
    (c,) = run("matmul", [a, b], [((M, N), torch.float16)], BLOCK_M=32, BLOCK_N=64, BLOCK_K=16)
    assert torch.equal(c.double().cpu(), (a.double() @ b.double()).cpu())


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("M,N,K,knobs", [(1, 65, 47, {}), (7, 33, 300, {"BLOCK_N": 16, "BLOCK_K": 64}),
                                         (33, 17, 129, {"BLOCK_M": 4})], ids=["one_row", "k_loop", "m_tiles"])
def test_skinny_gemm_matches_reference(dtype, M, N, K, knobs):
    x = randn((M, K), dtype, 1.0, seed=30)
    w = randn((N, K), dtype, 1.0 / math.sqrt(K), seed=31)
    (y,) = run("skinny_gemm", [x, w], [((M, N), dtype)], **knobs)
    assert_close(y, x.double() @ w.double().T, TOL_MATMUL[dtype], "skinny_gemm")


def test_skinny_gemm_sums_past_f16s_largest_exactly():
    # x = 100, W = +1 then -1 along K, a tenth zeros: partial sums pass 65504 (an f16 accumulator overflows,
    # a bf16 one rounds) and cancel to a multiple of 100 that f32 sums exactly and f16 holds exactly.
    M, N, K = 3, 40, 1500
    g = torch.Generator().manual_seed(32)
    sign = torch.ones(K)
    sign[K // 2:] = -1
    x = torch.full((M, K), 100.0).half().to(DEVICE)
    w = ((torch.rand((N, K), generator=g) > 0.1).float() * sign).half().to(DEVICE)
    (y,) = run("skinny_gemm", [x, w], [((M, N), torch.float16)])
    assert torch.equal(y.double().cpu(), (x.double() @ w.double().T).cpu())


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("approximate", [0, 1], ids=["erf", "tanh"])
def test_gelu_matches_reference(dtype, approximate):
    # 7 x 301: no block divides it. Scale 3 reaches the saturated ends; +-300 in f16 cubes past its largest.
    x = randn((7, 301), dtype, 3.0, seed=40)
    x[0, :8] = torch.tensor([300.0, -300.0, 0.0, -0.0, 1e-4, -1e-4, -8.0, 8.0], dtype=dtype)
    (y,) = run("gelu", [x], [((7, 301), dtype)], [approximate], BLOCK=256)
    xd = x.double()
    if approximate:
        ref = 0.5 * xd * (1 + torch.tanh(math.sqrt(2 / math.pi) * (xd + 0.044715 * xd**3)))
    else:
        ref = 0.5 * xd * torch.erfc(-xd / math.sqrt(2))
    assert_close(y, ref, TOL_ROWWISE[dtype], "gelu")


def _attention_reference(q, k, v, causal, scale):
    group = q.shape[1] // k.shape[1]  # grouped-query attention: each kv head serves `group` query heads
    qd, kd, vd = q.double(), k.double().repeat_interleave(group, 1), v.double().repeat_interleave(group, 1)
    s = qd @ kd.transpose(-1, -2) * scale
    if causal:
        S = q.shape[-2]
        s = s.masked_fill(torch.ones(S, S, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    return torch.softmax(s, -1) @ vd


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("causal", [0, 1], ids=["full", "causal"])
@pytest.mark.parametrize("knobs", [{}, {"BLOCK_M": 16, "BLOCK_N": 16}], ids=["default_tile", "small_tiles"])
def test_flash_attention_matches_reference(dtype, causal, knobs):
    B, H, S, D = 1, 2, 33, 32
    q, k, v = (randn((B, H, S, D), dtype, 1.0, seed=17 + i) for i in range(3))
    scale = 1.0 / math.sqrt(D)
    (o,) = run("flash_attention", [q, k, v], [((B, H, S, D), dtype)], [causal, scale], **knobs)
    assert_close(o, _attention_reference(q, k, v, causal, scale), TOL_MATMUL[dtype], "flash_attention")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("causal", [0, 1], ids=["full", "causal"])
@pytest.mark.parametrize("H,HKV", [(6, 2), (4, 1), (14, 2)], ids=["groups_of_3", "mqa", "groups_of_7"])
def test_flash_attention_reads_the_kv_head_of_each_query_heads_group(dtype, causal, H, HKV):
    B, S, D = 2, 19, 16
    q = randn((B, H, S, D), dtype, 1.0, seed=30)
    k, v = (randn((B, HKV, S, D), dtype, 1.0, seed=31 + i) for i in range(2))
    scale = 1.0 / math.sqrt(D)
    (o,) = run("flash_attention", [q, k, v], [((B, H, S, D), dtype)], [causal, scale], BLOCK_M=16, BLOCK_N=16)
    assert_close(o, _attention_reference(q, k, v, causal, scale), TOL_MATMUL[dtype], f"flash_attention {H}/{HKV}")
    # The same as multi-head attention on k and v repeated per group.
    kr, vr = k.repeat_interleave(H // HKV, 1).contiguous(), v.repeat_interleave(H // HKV, 1).contiguous()
    (o_mha,) = run("flash_attention", [q, kr, vr], [((B, H, S, D), dtype)], [causal, scale], BLOCK_M=16, BLOCK_N=16)
    assert torch.equal(o.cpu(), o_mha.cpu())


def _laid_out(layout, *heads):
    """kernel_abi.h's layouts of [B, Hi, S, D] tensors, same values: "bshd" each the transpose of its own
    [B, S, Hi, D]; "packed" slices of one [B, S, sum Hi + 2, D] buffer (2 heads no one reads, NaN)."""
    if layout == "bshd":
        return [h.transpose(1, 2).contiguous().transpose(1, 2) for h in heads]
    spare = torch.full_like(heads[0][:, :1].expand(-1, 2, -1, -1), float("nan"))
    packed = torch.cat([h.transpose(1, 2) for h in heads] + [spare.transpose(1, 2)], dim=2)
    firsts = [sum(h.shape[1] for h in heads[:i]) for i in range(len(heads))]
    return [packed[:, :, f:f + h.shape[1]].transpose(1, 2) for f, h in zip(firsts, heads)]


def _run_bshd(ktype, inputs, shapes, scalars, **knobs):
    """run() with the outputs in [B, S, H, D] memory order, as the harness gives attention and rotary theirs."""
    mod = load_starter(ktype, **knobs)
    outputs = [torch.full((b, s, h, d), float("nan"), dtype=inputs[0].dtype, device=DEVICE).transpose(1, 2)
               for b, h, s, d in shapes]
    assert mod.kernel_fn(list(inputs), outputs, [float(x) for x in scalars]) is None
    return outputs


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32], ids=dtype_id)
@pytest.mark.parametrize("layout", ["bshd", "packed"])
@pytest.mark.parametrize("causal", [0, 1], ids=["full", "causal"])
def test_flash_attention_takes_strided_inputs_and_writes_a_strided_output(dtype, layout, causal):
    B, H, HKV, S, D = 2, 6, 2, 19, 16
    q = randn((B, H, S, D), dtype, 1.0, seed=50)
    k, v = (randn((B, HKV, S, D), dtype, 1.0, seed=51 + i) for i in range(2))
    scale = 1.0 / math.sqrt(D)
    (o,) = _run_bshd("flash_attention", _laid_out(layout, q, k, v), [(B, H, S, D)], [causal, scale],
                     BLOCK_M=16, BLOCK_N=16)
    assert o.stride() == (S * H * D, D, H * D, 1)
    assert_close(o, _attention_reference(q, k, v, causal, scale), TOL_MATMUL[dtype], f"flash_attention {layout}")


def test_flash_attention_refuses_kv_heads_that_do_not_divide_the_query_heads():
    q = randn((1, 6, 16, 16), torch.float32, 1.0, seed=40)
    k = randn((1, 4, 16, 16), torch.float32, 1.0, seed=41)
    with pytest.raises(ValueError, match="must divide"):
        run("flash_attention", [q, k, k.clone()], [((1, 6, 16, 16), torch.float32)], [0, 0.25])


@pytest.mark.parametrize("causal", [0, 1], ids=["full", "causal"])
def test_flash_attention_handles_odd_head_dim_and_large_scale(causal):
    B, H, S, D = 2, 1, 20, 24
    q, k, v = (randn((B, H, S, D), torch.float32, 1.0, seed=20 + i) for i in range(3))
    scale = 2.0  # sharp softmax: the running max must be subtracted
    (o,) = run("flash_attention", [q, k, v], [((B, H, S, D), torch.float32)], [causal, scale],
               BLOCK_M=16, BLOCK_N=16)
    assert_close(o, _attention_reference(q, k, v, causal, scale), 1e-4, "flash_attention D=24")


def _decode_reference(q, k, v, L, scale):
    """f64 attention of each query head's one token over the first L keys of its kv head (head h / G)."""
    B, H, _, D = q.shape
    HKV = k.shape[1]
    qd = q.double().reshape(B, HKV, H // HKV, D)
    kd, vd = k[:, :, :L].double(), v[:, :, :L].double()
    return (torch.softmax(qd @ kd.transpose(-1, -2) * scale, -1) @ vd).reshape(B, H, 1, D)


def _decode_case(B, H, HKV, S, D, L, dtype, seed=50):
    """q, k, v with NaN in the cache past L: a kernel that reads it (even weighting it 0) fails."""
    q = randn((B, H, 1, D), dtype, 1.0, seed=seed)
    k, v = (randn((B, HKV, S, D), dtype, 1.0, seed=seed + 1 + i) for i in range(2))
    k[:, :, L:] = float("nan")
    v[:, :, L:] = float("nan")
    return q, k, v


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("B,H,HKV,S,D,L,knobs", [
    (2, 8, 2, 80, 64, 77, {}),                                  # one split (the planned split covers L)
    (1, 6, 2, 300, 40, 257, {"SPLIT": 128, "BLOCK_N": 32}),     # 3 splits, the last of one key; D = 40, groups of 3
    (3, 8, 2, 16, 64, 1, {}),                                   # L = 1: the new token alone
    (1, 32, 1, 64, 16, 50, {"SPLIT": 16, "BLOCK_N": 16}),       # multi-query, 4 splits, 32 heads in one tile
    (2, 4, 4, 100, 128, 100, {"SPLIT": 0, "BLOCK_N": 16}),      # multi-head, L = S
], ids=["one_split", "three_splits_d40", "l1", "mqa_splits", "mha_full"])
def test_decode_attention_matches_reference(dtype, B, H, HKV, S, D, L, knobs):
    q, k, v = _decode_case(B, H, HKV, S, D, L, dtype)
    scale = 1.0 / math.sqrt(D)
    (o,) = run("decode_attention", [q, k, v], [((B, H, 1, D), dtype)], [L, scale], **knobs)
    assert_close(o, _decode_reference(q, k, v, L, scale), TOL_MATMUL[dtype], "decode_attention")


def test_decode_attention_survives_logits_past_f32s_exp():
    # Scores of std ~100 (e^88 overflows f32) and one key per head far above the rest, in the last split.
    B, H, HKV, S, D, L = 1, 4, 2, 64, 32, 45
    q, k, v = _decode_case(B, H, HKV, S, D, L, torch.float16)
    q, k = q * 10, k * 10
    k[:, :, L - 1] = q[:, ::2, 0] * 4
    (o,) = run("decode_attention", [q, k, v], [((B, H, 1, D), torch.float16)], [L, 1 / math.sqrt(D)],
               SPLIT=16, BLOCK_N=16)
    assert_close(o, _decode_reference(q, k, v, L, 1 / math.sqrt(D)), TOL_MATMUL[torch.float16], "decode large")


def _decode_reference_lengths(q, k, v, lengths, scale):
    """The reference per sequence, each over its own first lengths[b] keys."""
    return torch.cat([_decode_reference(q[b:b + 1], k[b:b + 1], v[b:b + 1], int(n), scale)
                      for b, n in enumerate(lengths.tolist())])


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("B,H,HKV,S,D,lengths,knobs", [
    (4, 8, 2, 80, 64, [77, 1, 80, 39], {}),                           # one split planned over S, L_b differing
    (4, 6, 2, 300, 40, [300, 1, 257, 129], {"SPLIT": 128, "BLOCK_N": 32}),  # splits past L_b left empty
    (3, 32, 1, 64, 16, [1, 64, 17], {"SPLIT": 16, "BLOCK_N": 16}),   # multi-query, 4 splits, 1 and S
], ids=["one_split", "three_splits_d40", "mqa_splits"])
def test_decode_attention_reads_each_sequences_length_from_the_device(dtype, B, H, HKV, S, D, lengths, knobs):
    # The device's form (a StaticCache's under CUDA graphs): lengths [B] int64 as a 4th input, the scalar L their
    # bound (S, as the exported op passes it); NaN past each sequence's length, which no kernel may read.
    q, k, v = _decode_case(B, H, HKV, S, D, S, dtype)
    for b, n in enumerate(lengths):
        k[b, :, n:] = float("nan")
        v[b, :, n:] = float("nan")
    lens = torch.tensor(lengths, dtype=torch.int64, device=DEVICE)
    scale = 1.0 / math.sqrt(D)
    (o,) = run("decode_attention", [q, k, v, lens], [((B, H, 1, D), dtype)], [S, scale], **knobs)
    assert_close(o, _decode_reference_lengths(q, k, v, lens.cpu(), scale), TOL_MATMUL[dtype], "decode lengths")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("B,H,HKV,S,D,lengths,knobs", [
    (2, 8, 2, 80, 64, None, {}),                                      # one split: o written directly, no counter
    (1, 6, 2, 300, 40, None, {"SPLIT": 128, "BLOCK_N": 32}),          # 3 splits, groups of 3 (padded to 4)
    (4, 6, 2, 300, 40, [300, 1, 257, 129], {"SPLIT": 128, "BLOCK_N": 32}),  # the device's lengths: empty splits
    (3, 32, 1, 64, 16, [1, 64, 17], {"SPLIT": 16, "BLOCK_N": 16}),   # multi-query: 32 heads merged by one program
    (2, 4, 4, 100, 128, None, {"SPLIT": 0, "BLOCK_N": 16}),           # multi-head (G = 1), planned splits
], ids=["one_split", "three_splits_d40", "lengths_three_splits", "mqa_lengths", "mha_planned"])
def test_decode_attention_one_launch_merges_in_the_last_program_and_leaves_the_counters_at_zero(
        dtype, B, H, HKV, S, D, lengths, knobs):
    # ONE_LAUNCH=1: the split programs count their arrivals per (batch, kv head); the last one merges. Three new
    # problems through one loaded module, each called twice: every call must be right, the second equal to the
    # first bit for bit, and every call must leave all counters at zero for the next one.
    mod = load_starter("decode_attention", ONE_LAUNCH=1, **knobs)
    scale = 1.0 / math.sqrt(D)
    for call in range(3):
        q, k, v = _decode_case(B, H, HKV, S, D, S, dtype, seed=60 + 10 * call)
        lens = None
        if lengths is not None:
            for b, n in enumerate(lengths):
                k[b, :, n:] = float("nan")
                v[b, :, n:] = float("nan")
            lens = torch.tensor(lengths, dtype=torch.int64, device=DEVICE)
        inputs = [q, k, v] + ([lens] if lens is not None else [])
        o, o2 = (torch.full((B, H, 1, D), float("nan"), dtype=dtype, device=DEVICE) for _ in range(2))
        assert mod.kernel_fn(inputs, [o], [float(S), scale]) is None
        for buf in mod._COUNTERS.values():
            assert int(buf.count_nonzero()) == 0, f"call {call + 1} left arrival counters non-zero"
        assert mod.kernel_fn(inputs, [o2], [float(S), scale]) is None
        ref = (_decode_reference_lengths(q, k, v, lens.cpu(), scale) if lens is not None
               else _decode_reference(q, k, v, S, scale))
        assert_close(o, ref, TOL_MATMUL[dtype], f"decode one launch, call {call + 1}")
        assert torch.equal(o, o2), f"problem {call + 1}: the second call differs from the first"
        for buf in mod._COUNTERS.values():
            assert int(buf.count_nonzero()) == 0, f"call {call + 1} left arrival counters non-zero"
    splits_planned = knobs.get("SPLIT", 0) != 0 or HKV * B < 132  # the one-split case plans one: no counters
    if B * HKV and splits_planned and S > 80:
        assert mod._COUNTERS, "ONE_LAUNCH=1 with several splits made no counters"


def test_decode_attention_one_launch_counters_grow_and_keep_the_old_buffer():
    # A call needing more (batch, kv head) counters than the cached buffer holds gets a larger one, zeroed; the old
    # one stays alive (a captured CUDA graph may point at it).
    mod = load_starter("decode_attention", ONE_LAUNCH=1, SPLIT=16, BLOCK_N=16)
    small = mod._counters(torch.device(DEVICE), 8)
    assert small.numel() >= 8 and int(small.count_nonzero()) == 0
    assert mod._counters(torch.device(DEVICE), 8) is small
    big = mod._counters(torch.device(DEVICE), small.numel() + 1)
    assert big.numel() > small.numel() and int(big.count_nonzero()) == 0
    assert any(r is small for r in mod._RETIRED)


def test_decode_attention_refuses_kv_heads_that_do_not_divide_and_l_past_the_cache():
    q = randn((1, 6, 1, 16), torch.float32, 1.0, seed=40)
    k = randn((1, 4, 16, 16), torch.float32, 1.0, seed=41)
    with pytest.raises(ValueError, match="must divide"):
        run("decode_attention", [q, k, k.clone()], [((1, 6, 1, 16), torch.float32)], [8, 0.25])
    k = randn((1, 2, 16, 16), torch.float32, 1.0, seed=41)
    with pytest.raises(ValueError, match="must be in 1..S=16"):
        run("decode_attention", [q, k, k.clone()], [((1, 6, 1, 16), torch.float32)], [17, 0.25])


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("knobs", [{}, {"SMALL_M": 0}, {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 16, "SMALL_M": 0}],
                         ids=["decode_path", "default_tile", "small_tiles"])
def test_fused_mlp_matches_reference(dtype, knobs):
    M, E, Fd = 9, 40, 72
    x = randn((M, E), dtype, 1.0, seed=23)
    wg = randn((Fd, E), dtype, 1.0 / math.sqrt(E), seed=24)
    wu = randn((Fd, E), dtype, 1.0 / math.sqrt(E), seed=25)
    wd = randn((E, Fd), dtype, 1.0 / math.sqrt(Fd), seed=26)
    (y,) = run("fused_mlp", [x, wg, wu, wd], [((M, E), dtype)], **knobs)
    xd = x.double()
    ref = (F.silu(xd @ wg.double().T) * (xd @ wu.double().T)) @ wd.double().T
    assert_close(y, ref, TOL_MATMUL[dtype], "fused_mlp")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("act", [1, 2], ids=["gelu_tanh", "gelu_erf"])
@pytest.mark.parametrize("scale", [1.0, 30.0], ids=["random", "saturated_gate"])
def test_fused_mlp_geglu_matches_reference_in_both_gelu_forms(dtype, act, scale):
    # ACT 1: Gemma's gelu_pytorch_tanh; 2: the exact GELU. Gate pre-activations of std ~30 (|g| to ~100): the tanh
    # form's exp(-2u) overflows f32 there, and must give g or -0, not NaN.
    M, E, Fd = 9, 40, 72
    x = randn((M, E), dtype, scale, seed=23)
    wg = randn((Fd, E), dtype, 1.0 / math.sqrt(E), seed=24)
    wu = randn((Fd, E), dtype, 1.0 / math.sqrt(E), seed=25)
    wd = randn((E, Fd), dtype, 1.0 / math.sqrt(Fd), seed=26)
    (y,) = run("fused_mlp", [x, wg, wu, wd], [((M, E), dtype)], [act])
    xd = x.double()
    gate = F.gelu(xd @ wg.double().T, approximate="tanh" if act == 1 else "none")
    ref = (gate * (xd @ wu.double().T)) @ wd.double().T
    assert_close(y, ref, TOL_MATMUL[dtype], f"fused_mlp act {act}")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("M,act", [(1, 0), (5, 1), (17, 2), (64, 0)], ids=["m1", "m5_tanh", "m17_erf", "m64"])
def test_fused_mlp_decode_path_matches_reference(dtype, M, act):
    # The decode path (M <= SMALL_M): CUDA-core sums up to SMALL_SUM_M rows, tl.dot above; F 264 = 2 x 128 + 8 is
    # split over three programs' K chunks (E 72 gives three programs of 32 rows), the last chunk a tail.
    E, Fd = 72, 264
    x = randn((M, E), dtype, 1.0, seed=31)
    wg = randn((Fd, E), dtype, 1.0 / math.sqrt(E), seed=32)
    wu = randn((Fd, E), dtype, 1.0 / math.sqrt(E), seed=33)
    wd = randn((E, Fd), dtype, 1.0 / math.sqrt(Fd), seed=34)
    (y,) = run("fused_mlp", [x, wg, wu, wd], [((M, E), dtype)], [act])
    (again,) = run("fused_mlp", [x, wg, wu, wd], [((M, E), dtype)], [act])
    assert torch.equal(y, again), "the split-K sum must give the same bits every run"
    xd = x.double()
    g = xd @ wg.double().T
    gate = F.silu(g) if act == 0 else F.gelu(g, approximate="tanh" if act == 1 else "none")
    ref = (gate * (xd @ wu.double().T)) @ wd.double().T
    assert_close(y, ref, TOL_MATMUL[dtype], f"fused_mlp decode M={M}")


def test_fused_mlp_refuses_an_unknown_activation():
    x = randn((4, 16), torch.float32, 1.0, seed=1)
    w = randn((8, 16), torch.float32, 0.25, seed=2)
    with pytest.raises(ValueError, match="ACT=3"):
        run("fused_mlp", [x, w, w.clone(), w.T.contiguous()], [((4, 16), torch.float32)], [3])


@pytest.mark.parametrize("ktype,f32_dot", [("matmul", 1), ("matmul", 2), ("fused_mlp", 1), ("fused_mlp", 2),
                                           ("flash_attention", 1)])
def test_f32_dot_precision_knob_runs(ktype, f32_dot):
    """tf32x3 / tf32 on f32 inputs. On a GPU the accuracy is that of the mode (tf32: matmul tolerance
    5e-3 of RMS); the interpreter multiplies in full f32, so there it only proves the knob is accepted."""
    dtype = torch.float32
    inputs, outs, scalars = _small_case(ktype, dtype)
    (out,) = run(ktype, inputs, outs, scalars, F32_DOT=f32_dot)
    ref = _small_reference(ktype, inputs, scalars)
    assert_close(out, ref, 5e-3 if f32_dot == 2 else 1e-4, f"{ktype} F32_DOT={f32_dot}")


# ---------------------------------------------------------------------------------------------
# Determinism


def _small_case(ktype, dtype):
    if ktype == "matmul":
        return [randn((33, 47), dtype), randn((47, 65), dtype, 0.15)], [((33, 65), dtype)], []
    if ktype in ("softmax", "reduce", "layernorm", "rmsnorm"):
        x = randn((5, 600), dtype)
        extra = {"layernorm": [torch.ones(600, dtype=dtype, device=DEVICE), torch.zeros(600, dtype=dtype, device=DEVICE)],
                 "rmsnorm": [torch.ones(600, dtype=dtype, device=DEVICE)]}.get(ktype, [])
        out = ((5,), dtype) if ktype == "reduce" else ((5, 600), dtype)
        return [x] + extra, [out], [1e-5] if extra else []
    if ktype == "add_rmsnorm":
        return ([randn((5, 600), dtype), randn((5, 600), dtype, seed=1), torch.ones(600, dtype=dtype, device=DEVICE)],
                [((5, 600), dtype), ((5, 600), dtype)], [1e-5])
    if ktype == "cross_entropy":
        return [randn((4, 1100), dtype), torch.tensor([0, 5, -100, 1099], device=DEVICE)], [((4,), torch.float32)], []
    if ktype == "rotary_embedding":
        return ([randn((1, 2, 5, 16), dtype), randn((1, 1, 5, 16), dtype, seed=1), randn((5, 8), dtype), randn((5, 8), dtype)],
                [((1, 2, 5, 16), dtype), ((1, 1, 5, 16), dtype)], [1])
    if ktype == "flash_attention":
        return [randn((1, 1, 33, 16), dtype, seed=i) for i in range(3)], [((1, 1, 33, 16), dtype)], [1, 0.25]
    if ktype == "skinny_gemm":
        return [randn((5, 47), dtype), randn((33, 47), dtype, 0.15)], [((5, 33), dtype)], []
    if ktype == "gelu":
        return [randn((7, 301), dtype, 3.0)], [((7, 301), dtype)], [1]
    if ktype == "decode_attention":
        return list(_decode_case(2, 4, 2, 40, 16, 37, dtype)), [((2, 4, 1, 16), dtype)], [37, 0.25]
    if ktype == "fused_mlp":
        return ([randn((9, 24), dtype), randn((40, 24), dtype, 0.2), randn((40, 24), dtype, 0.2),
                 randn((24, 40), dtype, 0.15)], [((9, 24), dtype)], [])
    raise AssertionError(ktype)


def _small_reference(ktype, inputs, scalars):
    d = [t.double() if t.is_floating_point() else t for t in inputs]
    if ktype == "matmul":
        return d[0] @ d[1]
    if ktype == "flash_attention":
        return _attention_reference(inputs[0], inputs[1], inputs[2], scalars[0], scalars[1])
    if ktype == "fused_mlp":
        return (F.silu(d[0] @ d[1].T) * (d[0] @ d[2].T)) @ d[3].T
    raise AssertionError(ktype)


@pytest.mark.parametrize("ktype", TYPES)
def test_repeated_runs_are_bitwise_identical(ktype):
    dtype = torch.bfloat16
    inputs, outs, scalars = _small_case(ktype, dtype)
    first = run(ktype, inputs, outs, scalars)
    second = run(ktype, inputs, outs, scalars)
    for a, b in zip(first, second):  # every output (rotary_embedding has two)
        assert not torch.isnan(a.float()).any()
        assert torch.equal(a, b)
