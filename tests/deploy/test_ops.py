"""The exported package's operators and routing, in Python (CPU; the CUDA cases run where there is a GPU).

Kernels here are stand-ins that follow the kernel ABI (inputs, preallocated outputs, scalars) and compute
the type's formula, so what is tested is the package: schemas, fake implementations (torch.library.opcheck),
the ABI mapping, routing by behaviour in Hugging Face families, and torch.compile with no graph break.
"""
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import autokernel_kernels as ak  # noqa: E402
from autokernel_kernels import _op, _ops  # noqa: E402
from autokernel_kernels.kinds import (add_rmsnorm, cross_entropy, decode_attention, flash_attention,  # noqa: E402
                                      fused_mlp, gelu, layernorm, reduce, rmsnorm, rotary_embedding, softmax)

transformers = pytest.importorskip("transformers")


class StandIn:
    """A kernel of the ABI: writes the formula's result into the outputs it is given."""

    def __init__(self, name, op):
        self.name, self.op = name, _ops.BY_NAME[op]

    def __call__(self, inputs, outputs, scalars=()):
        self.calls = getattr(self, "calls", 0) + 1
        got = FORMULA[self.name](inputs, scalars)
        for o, g in zip(outputs, got if isinstance(got, tuple) else (got,)):
            o.copy_(g.reshape(o.shape))


FORMULA = {
    "rmsnorm": lambda i, s: rmsnorm._rms_norm_eager(i[0], i[1], s[0]),
    "add_rmsnorm": lambda i, s: add_rmsnorm._add_rms_norm_eager(i[0], i[1], i[2], s[0]),
    "layernorm": lambda i, s: layernorm._layer_norm_eager(i[0], i[1], i[2], s[0]),
    "softmax": lambda i, s: softmax._softmax_eager(i[0]),
    "matmul": lambda i, s: i[0] @ i[1] + sum(i[2:], 0),  # the ABI's optional bias[N] and residual[M, N]
    "skinny_gemm": lambda i, s: i[0] @ i[1].T,
    "flash_attention": lambda i, s: flash_attention._attention_eager(i[0], i[1], i[2], bool(s[0]), s[1]),
    "rotary_embedding": lambda i, s: rotary_embedding._rotary_eager(i[0], i[1], i[2], i[3], int(s[0])),
    "fused_mlp": lambda i, s: fused_mlp._gated_eager(*i, int(s[0]) if len(s) else 0),  # the ABI's ACT, 0 if absent
    "cross_entropy": lambda i, s: cross_entropy._cross_entropy_eager(i[0], i[1]),
    "reduce": lambda i, s: reduce._row_sum_eager(i[0]),
    "gelu": lambda i, s: gelu._gelu_eager(i[0], int(s[0])),
    # the ABI's L: the first L positions of the cache are valid; or its 4th input, lengths [B] (int64) per sequence
    "decode_attention": lambda i, s: (decode_attention._decode_eager(i[0], i[1][:, :, :int(s[0])],
                                                                     i[2][:, :, :int(s[0])], s[1]) if len(i) == 3
                                      else decode_attention._decode_lengths_eager(i[0], i[1], i[2], i[3], s[1])),
}


STAND_INS = [("rmsnorm", "rms_norm"), ("add_rmsnorm", "add_rms_norm"), ("layernorm", "layer_norm"),
             ("softmax", "softmax"), ("matmul", "linear"), ("skinny_gemm", "skinny_linear"),
             ("flash_attention", "attention"), ("rotary_embedding", "rotary"), ("fused_mlp", "swiglu"),
             ("cross_entropy", "cross_entropy"), ("reduce", "row_sum"), ("gelu", "gelu"),
             ("decode_attention", "decode_attention")]


def _loaded(kinds):
    table = {kind: {"cpu": StandIn(kind, op), "cuda": StandIn(kind, op)} for kind, op in STAND_INS if kind in kinds}
    saved = ak._state["kernels"]
    ak._state["kernels"] = table
    _ops.set_table(table)
    yield table
    ak._state["kernels"] = saved
    _ops.set_table({})


@pytest.fixture
def stand_ins():
    """Every type but skinny_gemm: the models here run 16 tokens, a prefill's linears at a size that fits
    skinny_gemm, and the routing tables count them as matmul's, as a prefill of real length routes them."""
    yield from _loaded({kind for kind, _ in STAND_INS} - {"skinny_gemm"})


@pytest.fixture
def all_stand_ins():
    yield from _loaded({kind for kind, _ in STAND_INS})


def test_each_kind_module_is_named_after_its_type_and_holds_its_ops():
    types = [k.KIND for k in ak.kinds.ALL]
    assert sorted(types) == sorted(FORMULA) and len(set(types)) == len(types)
    for k in ak.kinds.ALL:
        assert k.__name__ == f"autokernel_kernels.kinds.{k.KIND}"
        assert k.OPS and all(o.kind == k.KIND for o in k.OPS)
    assert [o.name for o in _ops.OPS] == [o.name for k in ak.kinds.ALL for o in k.OPS]


def op_samples(device):
    g = torch.Generator().manual_seed(0)

    def r(*shape, dtype=torch.float32):
        return torch.randn(*shape, generator=g).to(device=device, dtype=dtype)
    theta = r(16, 4)
    return {
        "rms_norm": (r(3, 5, 32), r(32), 1e-6),
        "add_rms_norm": (r(3, 5, 32), r(3, 5, 32), r(32), 1e-6),
        "layer_norm": (r(6, 32), r(32), r(32), 1e-5),
        "softmax": (r(4, 7, 33),),
        "linear": (r(2, 5, 24), r(40, 24), r(40)),
        "matmul": (r(10, 24), r(24, 12), None),
        "skinny_linear": (r(2, 5, 24), r(40, 24), r(40)),
        "attention": (r(1, 4, 16, 8), r(1, 2, 16, 8), r(1, 2, 16, 8), True, 0.35),  # grouped-query
        "rotary": (r(1, 4, 16, 8), r(1, 2, 16, 8), theta.cos(), theta.sin(), 1),  # rotate-half
        "swiglu": (r(2, 3, 16), r(40, 16), r(40, 16), r(16, 40)),
        "geglu": (r(2, 3, 16) * 3, r(40, 16), r(40, 16), r(16, 40), 1),  # Gemma's tanh form
        "cross_entropy": (r(6, 50), torch.tensor([1, -1, 3, 49, 0, 7], device=device)),
        "row_sum": (r(5, 3, 20),),
        "gelu": (r(2, 5, 33) * 3, 1),  # the tanh form
        "decode_attention": (r(2, 4, 1, 8), r(2, 2, 13, 8), r(2, 2, 13, 8), 0.35),  # one token, 13 cached keys
        # a static cache of 13 positions, 5 and 13 of them the sequences' (int32: the op takes either)
        "decode_attention_lengths": (r(2, 4, 1, 8), r(2, 2, 13, 8), r(2, 2, 13, 8),
                                     torch.tensor([5, 13], dtype=torch.int32, device=device), 0.35),
    }


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", [op.name for op in _ops.OPS])
def test_every_op_passes_opcheck_and_runs_its_kernel(all_stand_ins, device, name):
    args = op_samples(device)[name]
    kernel = all_stand_ins[_ops.BY_NAME[name].kind][device]
    kernel.calls = 0
    torch.library.opcheck(_ops.BY_NAME[name].target, args)
    assert kernel.calls > 0, "opcheck never reached the kernel: the call did not fit it"
    got = _ops.op(name)(*args)
    want = _ops.BY_NAME[name].eager(*args)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert g.shape == w.shape and g.dtype == w.dtype
        torch.testing.assert_close(g, w)


def test_in_eager_inference_a_route_calls_the_op_without_the_dispatchers_round_trip(all_stand_ins):
    # The operator is what torch.compile and autograd see; in eager inference op(name) calls the Op itself,
    # which the operator would call (a launch-bound decode step pays the round trip per call).
    o, x = _ops.BY_NAME["gelu"], torch.randn(4, 8)

    def through_the_dispatcher(*args):
        raise AssertionError("went through torch.ops")

    saved, o._target = o._target, through_the_dispatcher
    try:
        with torch.no_grad():
            torch.testing.assert_close(_ops.op("gelu")(x, 1), gelu._gelu_eager(x, 1))
        with pytest.raises(AssertionError, match="torch.ops"):  # autograd records: the operator
            _ops.op("gelu")(x.requires_grad_(), 1)
    finally:
        o._target = saved


def test_a_partial_rotary_function_rotates_its_leading_dims_in_one_call(stand_ins):
    # gpt_neox's apply_rotary_pos_emb: tables narrower than the head rotate that many leading dims, the rest
    # passes through (probed). Routed, the kernel gets the leading dims of q and k; the output is the function's.
    from transformers.models.gpt_neox import modeling_gpt_neox

    fn = modeling_gpt_neox.apply_rotary_pos_emb
    variant, make = rotary_embedding.function_route(fn)
    routed = make(fn)
    seen = []
    kernel = stand_ins["rotary_embedding"]["cpu"]
    kernel.__class__ = type("Seeing", (StandIn,), {"__call__": lambda self, i, o, s=(): (
        seen.append(i[0].shape[-1]), StandIn.__call__(self, i, o, s))})
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(1, 4, 6, 16, generator=g), torch.randn(1, 2, 6, 16, generator=g)
    theta = torch.randn(6, 2, generator=g)
    cos, sin = torch.cat((theta.cos(),) * 2, -1)[None], torch.cat((theta.sin(),) * 2, -1)[None]  # 4 of 16 dims
    for got, want in zip(routed(q, k, cos, sin), fn(q, k, cos, sin)):
        torch.testing.assert_close(got, want)
    assert variant == "half" and seen == [4]
    # A function that does something else past the tables' width (zeroes it) is taken at full width only.
    def zeroing(q, k, cos, sin, unsqueeze_dim=1):
        r = cos.shape[-1]
        qr, kr = fn(q[..., :r], k[..., :r], cos, sin)
        return torch.cat((qr, 0 * q[..., r:]), -1), torch.cat((kr, 0 * k[..., r:]), -1)
    seen.clear()
    routed = rotary_embedding.function_route(zeroing)[1](zeroing)
    for got, want in zip(routed(q, k, cos, sin), zeroing(q, k, cos, sin)):
        torch.testing.assert_close(got, want)
    assert seen == [], "not probed as passing dims through: the function's own code"


def test_grouped_query_and_both_rotary_styles_take_the_kernels_without_copies(stand_ins):
    args = op_samples("cpu")
    seen = []
    kernel = stand_ins["flash_attention"]["cpu"]
    kernel.__class__ = type("Seeing", (StandIn,), {"__call__": lambda self, i, o, s=(): (
        seen.append([t.shape[1] for t in i]), StandIn.__call__(self, i, o, s))})
    q, kv = args["attention"][0], torch.randn(1, 2, 16, 8)
    out = _ops.op("attention")(q, kv, kv, True, 0.35)
    torch.testing.assert_close(out, flash_attention._attention_eager(q, kv, kv, True, 0.35))
    assert seen == [[4, 2, 2]], "k and v must reach the kernel with their own 2 heads, not repeated to 4"
    # kv heads that do not divide the query heads: PyTorch's formula (which refuses them too).
    with pytest.raises(RuntimeError):
        _ops.op("attention")(q, torch.randn(1, 3, 16, 8), torch.randn(1, 3, 16, 8), True, 0.35)
    assert seen == [[4, 2, 2]]
    q, k, cos, sin, _ = args["rotary"]
    for style in (0, 1):
        ak.reset_stats()
        wants = rotary_embedding._rotary_eager(q, k, cos, sin, style)
        for got, want in zip(_ops.op("rotary")(q, k, cos, sin, style), wants):
            torch.testing.assert_close(got, want)
        assert ak.stats() == {"rotary_embedding": 1}
    # A module that rotates q alone passes an empty k; the kernel still takes the call.
    empty = q[:, :0]
    qo, ko = _ops.op("rotary")(q, empty, cos, sin, 1)
    torch.testing.assert_close(qo, rotary_embedding._rotate(q, cos, sin, 1))
    assert ko.shape == empty.shape and ak.stats() == {"rotary_embedding": 2}


def _laid_out(layout, *heads):
    """The same values as `heads` (each [B, Hi, S, D]) in a model's layouts: "bshd" each the transpose of its own
    [B, S, Hi, D] (proj(x).view(B, S, H, D).transpose(1, 2)), "packed" slices of one [B, S, sum Hi, D] (a fused
    qkv projection), "contiguous" as they are."""
    if layout == "contiguous":
        return heads
    if layout == "bshd":
        return tuple(h.transpose(1, 2).contiguous().transpose(1, 2) for h in heads)
    packed = torch.cat([h.transpose(1, 2) for h in heads], dim=2)
    firsts = [sum(h.shape[1] for h in heads[:i]) for i in range(len(heads))]
    return tuple(packed[:, :, f:f + h.shape[1]].transpose(1, 2) for f, h in zip(firsts, heads))


def _bshd_strides(t):
    b, h, s, d = t.shape
    return (s * h * d, d, h * d, 1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("layout", ["bshd", "packed", "contiguous"])
def test_attention_and_rotary_take_a_models_views_as_they_are_and_return_bshd_memory(all_stand_ins, device, layout):
    # kernel_abi.h's layouts: q, k, v reach the kernel as the model made them (no copy: the same memory and
    # strides), the outputs are [B, H, S, D] in [B, S, H, D] memory, real and fake alike (opcheck compares their
    # strides), so o.transpose(1, 2).reshape(B, S, H * D) is free; the values are PyTorch's.
    args = op_samples(device)
    seen = {}
    for kind in ("flash_attention", "rotary_embedding"):
        kernel = all_stand_ins[kind][device]
        kernel.__class__ = type("Seeing", (StandIn,), {"__call__": lambda self, i, o, s=(), kind=kind: (
            seen.__setitem__(kind, [(t.data_ptr(), t.stride()) for t in i]), StandIn.__call__(self, i, o, s))})
    q, k, v, causal, scale = args["attention"]
    q, k, v = _laid_out(layout, q, k, v)
    torch.library.opcheck(_ops.BY_NAME["attention"].target, (q, k, v, causal, scale))
    out = _ops.op("attention")(q, k, v, causal, scale)
    assert seen["flash_attention"] == [(t.data_ptr(), t.stride()) for t in (q, k, v)]
    assert out.stride() == _bshd_strides(out)
    assert out.transpose(1, 2).contiguous().data_ptr() == out.data_ptr()  # _hf_attention's: no copy
    torch.testing.assert_close(out, flash_attention._attention_eager(q, k, v, causal, scale))
    q, k, cos, sin, style = args["rotary"]
    q, k = _laid_out(layout, q, k)
    torch.library.opcheck(_ops.BY_NAME["rotary"].target, (q, k, cos, sin, style))
    qo, ko = _ops.op("rotary")(q, k, cos, sin, style)
    assert seen["rotary_embedding"][:2] == [(t.data_ptr(), t.stride()) for t in (q, k)]
    assert qo.stride() == _bshd_strides(qo) and ko.stride() == _bshd_strides(ko)
    for got, want in zip((qo, ko), rotary_embedding._rotary_eager(q, k, cos, sin, style)):
        torch.testing.assert_close(got, want)
    # The attention after the rotary takes its outputs as they are.
    out = _ops.op("attention")(qo, ko, v, causal, scale)
    assert seen["flash_attention"][:2] == [(t.data_ptr(), t.stride()) for t in (qo, ko)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n_out", [40, 41], ids=["x_wt", "vocab_41_wx_t"])
def test_linear_hands_the_kernel_x_and_the_weight_as_they_are(all_stand_ins, device, n_out):
    # kernel_abi.h's K-major B: F.linear's x and W [N, K] reach the kernel without a copy (the same memory), B = W^T
    # (x W^T, a row-major output, the bias the kernel's third input) or, where N is not a multiple of 8, B = x^T
    # (y^T = W x^T, handed back transposed, the bias added after); the fake's strides are the real output's
    # (opcheck), the values PyTorch's.
    seen = []
    kernel = all_stand_ins["matmul"][device]
    kernel.__class__ = type("Seeing", (StandIn,), {"__call__": lambda self, i, o, s=(): (
        seen.append([(t.data_ptr(), t.stride()) for t in i] + [o[0].stride()]), StandIn.__call__(self, i, o, s))})
    g = torch.Generator().manual_seed(3)
    x, w, b = (torch.randn(*shape, generator=g).to(device) for shape in ((2, 5, 24), (n_out, 24), (n_out,)))
    torch.library.opcheck(_ops.BY_NAME["linear"].target, (x, w, b))
    seen.clear()
    y = _ops.op("linear")(x, w, b)
    if n_out % 8 == 0:
        assert seen == [[(x.data_ptr(), (24, 1)), (w.data_ptr(), (1, 24)), (b.data_ptr(), (1,)), (n_out, 1)]]
        assert y.is_contiguous()
    else:
        assert seen == [[(w.data_ptr(), (24, 1)), (x.data_ptr(), (1, 24)), (10, 1)]]
        assert y.stride() == (5, 1, 10)  # y^T [41, 10] as it was written, seen as [2, 5, 41]: no copy
    torch.testing.assert_close(y, torch.nn.functional.linear(x, w, b))


def _seeing(kernel, seen):
    """kernel, recording each call's inputs as (shape, stride) pairs."""
    kernel.__class__ = type("Seeing", (StandIn,), {"__call__": lambda self, i, o, s=(): (
        seen.append([(tuple(t.shape), t.stride()) for t in i]), StandIn.__call__(self, i, o, s))})


@pytest.mark.parametrize("device", DEVICES)
def test_linear_and_matmul_hand_a_residual_to_the_kernel(all_stand_ins, device):
    # kernel_abi.h: matmul's optional residual[M, N], after the bias, row-major; in linear's form 2 (N not a
    # multiple of 8, C = y^T) it is added after the kernel.
    seen = []
    _seeing(all_stand_ins["matmul"][device], seen)
    g = torch.Generator().manual_seed(5)
    x, w, b, r = (torch.randn(*shape, generator=g).to(device) for shape in ((2, 5, 24), (40, 24), (40,), (2, 5, 40)))
    for target, args in ((_ops.BY_NAME["linear"].target, (x, w, b, r)),
                         (_ops.BY_NAME["matmul"].target, (x.reshape(10, 24), w.t(), None, r))):
        torch.library.opcheck(target, args)
    seen.clear()
    torch.testing.assert_close(_ops.op("linear")(x, w, b, r), torch.nn.functional.linear(x, w, b) + r)
    torch.testing.assert_close(_ops.op("linear")(x, w, None, r), torch.nn.functional.linear(x, w) + r)
    torch.testing.assert_close(_ops.op("matmul")(x.reshape(10, 24), w.t(), b, r),
                               (x.reshape(10, 24) @ w.t() + b + r.reshape(10, 40)))
    assert seen == [[((10, 24), (24, 1)), ((24, 40), (1, 24)), ((40,), (1,)), ((10, 40), (40, 1))],
                    [((10, 24), (24, 1)), ((24, 40), (1, 24)), ((10, 40), (40, 1))],
                    [((10, 24), (24, 1)), ((24, 40), (1, 24)), ((40,), (1,)), ((10, 40), (40, 1))]]
    seen.clear()
    w41, r41 = w[:41 - 40 + 39].repeat(2, 1)[:41], torch.randn(2, 5, 41, generator=g).to(device)
    torch.testing.assert_close(_ops.op("linear")(x, w41, None, r41), torch.nn.functional.linear(x, w41) + r41)
    assert len(seen) == 1 and len(seen[0]) == 2, "form 2: the residual is added after the kernel"


def test_the_compiled_graph_folds_a_residual_add_into_the_gemm_before_it(all_stand_ins):
    # add(linear(...), r) and GPT-2's add(view(matmul(...)), r) become the GEMM with a residual; an add whose sum
    # feeds an rms_norm is add_rmsnorm's (its pass runs first); a GEMM result read twice, a broadcasting add, and
    # linear's form 2 (41 outputs) keep their add.
    from autokernel_kernels import _fusions
    seen = []
    _seeing(all_stand_ins["matmul"]["cpu"], seen)
    g = torch.Generator().manual_seed(4)
    x, r, w, b, nw = (torch.randn(*s, generator=g) for s in ((2, 8, 32), (2, 8, 32), (32, 32), (32,), (32,)))
    w41, r41 = torch.randn(41, 32, generator=g), torch.randn(2, 8, 41, generator=g)
    lin, mm = _ops.op("linear"), _ops.op("matmul")

    def f(x, r):
        h = r + lin(x, w, b)                                   # fused
        h2 = mm(h.reshape(16, 32), w.t(), b).view(2, 8, 32) + h  # fused (GPT-2's Conv1D)
        y = lin(h2, w, None)
        both = y + h2                                          # add_rmsnorm's: its sum feeds a norm
        n = _ops.op("rms_norm")(both, nw, 1e-6)
        twice = lin(n, w, None)
        z = (twice + n) * twice                                # read twice: not fused
        bcast = lin(z, w, None) + b                            # a broadcasting add: not fused
        t = lin(z, w41, None) + r41                            # form 2: not fused
        return h, h2, n, bcast, t

    want = f(x, r)  # eager: every add apart
    assert len(seen) == 6 and not [c for c in seen if len(c) > 3]
    undo = _fusions.install()
    try:
        torch._dynamo.reset()
        ak.reset_stats()
        seen.clear()
        got = torch.compile(f)(x, r)
        for a, e in zip(got, want):
            torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4)
        with_residual = [c for c in seen if any(len(shape) == 2 for shape, _ in c[2:])]
        assert [c[-1][0] for c in with_residual] == [(16, 32), (16, 32)], seen
        assert ak.stats().get("add_rmsnorm") == 1
        assert len(seen) == 6  # six GEMMs, two with their residual add
    finally:
        undo()
        torch._dynamo.reset()


def test_gpt2s_residual_adds_go_into_its_projections_inside_torch_compile(stand_ins):
    # Hugging Face GPT-2: in each block, attention's c_proj and the MLP's (Conv1D: addmm, then a view and an inference
    # dropout) are followed by the residual add, which the compiled graph folds into the matmul call; the qkv and
    # c_fc projections keep no add, and eager keeps every add apart.
    seen = []
    _seeing(stand_ins["matmul"]["cpu"], seen)
    model = tiny("gpt2")
    x = torch.randint(0, 512, (1, 16))
    residual = lambda: [c for c in seen if any(len(shape) == 2 for shape, _ in c[2:])]  # noqa: E731
    with torch.no_grad():
        want = model(x).logits
        ak.patch(model)
        try:
            model(x)
            assert len(seen) == 9 and not residual(), seen  # 2 layers x 4 projections, and the LM head
            seen.clear()
            calls, got = compiled_calls(model, x)
            assert len(residual()) == 4, seen
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        finally:
            ak.unpatch(model)
            torch._dynamo.reset()


def test_attention_and_rotary_copy_views_whose_strides_the_abi_does_not_allow(all_stand_ins):
    # A head dim of 6: a transposed view's strides are not multiples of 8 (no 16-byte rows), so the kernel gets
    # contiguous copies, as before; the outputs keep the [B, S, H, D] order.
    seen = []
    kernel = all_stand_ins["flash_attention"]["cpu"]
    kernel.__class__ = type("Seeing", (StandIn,), {"__call__": lambda self, i, o, s=(): (
        seen.append([t.is_contiguous() for t in i]), StandIn.__call__(self, i, o, s))})
    g = torch.Generator().manual_seed(1)
    q, k, v = _laid_out("bshd", *(torch.randn(2, h, 5, 6, generator=g) for h in (4, 2, 2)))
    out = _ops.op("attention")(q, k, v, False, 0.4)
    assert seen == [[True, True, True]] and out.stride() == _bshd_strides(out)
    torch.testing.assert_close(out, flash_attention._attention_eager(q, k, v, False, 0.4))
    # Neither a last dim with a stride other than 1.
    seen.clear()
    qt = torch.randn(2, 4, 6, 5, generator=g).transpose(2, 3)
    _ops.op("attention")(qt, k, v, False, 0.4)
    assert seen == [[True, True, True]]


def test_a_models_attention_block_compiles_with_the_strided_ops(all_stand_ins):
    # proj(x).view(B, S, 3, H, D).permute(2, 0, 3, 1, 4) (examples/models/llama.py), rotary, attention, then
    # o.transpose(1, 2).reshape(B, S, H * D): torch.compile plans with the fakes' strides; its result is eager's.
    g = torch.Generator().manual_seed(2)
    B, S, H, D = 2, 16, 4, 8
    w = torch.randn(3 * H * D, 32, generator=g) / 6
    theta = torch.randn(S, D // 2, generator=g)
    cos, sin = theta.cos(), theta.sin()

    def block(x):
        q, k, v = torch.nn.functional.linear(x, w).view(B, S, 3, H, D).permute(2, 0, 3, 1, 4)
        q, k = _ops.op("rotary")(q, k, cos, sin, 0)
        o = _ops.op("attention")(q, k, v, True, 0.3)
        return o.transpose(1, 2).reshape(B, S, H * D)

    x = torch.randn(B, S, 32, generator=g)
    want = block(x)
    torch._dynamo.reset()
    got = torch.compile(block, fullgraph=True)(x)
    torch.testing.assert_close(got, want)


def test_compile_caches_are_keyed_on_the_packages_code():
    # Inductor's caches know custom ops by name only: a graph cached before a fake changed would come back
    # asserting the old strides. The package's files are part of the key.
    tag = torch.compiler.config.cache_key_tag
    assert "autokernel-" in tag
    _ops._tag_compile_caches()
    assert torch.compiler.config.cache_key_tag == tag, "tagged once"


def test_a_call_no_kernel_fits_runs_pytorch(stand_ins):
    x = torch.randn(4, 8, dtype=torch.float64)  # no kernel takes float64
    ak.reset_stats()
    torch.testing.assert_close(_ops.op("softmax")(x), torch.softmax(x, -1))
    assert ak.stats() == {}


def test_the_per_call_check_catches_a_kernel_wrong_by_one_percent(stand_ins):
    x, w = torch.randn(64, 256), torch.randn(256)
    with ak.checking():
        _ops.op("rms_norm")(x, w, 1e-6)
    good = ak.check_log()["rmsnorm"]
    assert good["error"] < 1e-5
    stand_ins["rmsnorm"]["cpu"] = type("Wrong", (StandIn,), {"__call__": lambda self, i, o, s=(): o[0].copy_(
        rmsnorm._rms_norm_eager(i[0], i[1], s[0]) * 1.01)})("rmsnorm", "rms_norm")
    with ak.checking():
        _ops.op("rms_norm")(x, w, 1e-6)
    assert abs(ak.check_log()["rmsnorm"]["error"] - 0.01) < 1e-4


def tiny(family):
    if family == "gpt2":
        cfg = dict(n_embd=64, n_layer=2, n_head=4, vocab_size=512)
    else:
        cfg = dict(hidden_size=64, intermediate_size=172, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, vocab_size=512)
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(transformers.CONFIG_MAPPING[family](**cfg)).eval()


# Two layers: per layer 2 norms, q/k/v/o projections, one rotary (q and k together), one grouped-query
# attention (4 query heads over 2 kv heads, no repeated copies) and one MLP; then the final norm and lm_head.
DECODER = {"rmsnorm": 5, "fused_mlp": 2, "matmul": 9, "rotary_embedding": 2, "flash_attention": 2}
ROUTED = {
    "llama": DECODER,
    "mistral": DECODER,
    "qwen2": DECODER,
    "gpt2": {"layernorm": 5, "matmul": 9, "flash_attention": 2, "gelu": 2},  # NewGELUActivation, one per MLP
}
# Inside torch.compile, each norm that reads a residual add (every one but the first layer's first) is fused
# with it into one add_rmsnorm call (_fusions.py, kinds/add_rmsnorm.py).
COMPILED = {family: ({**calls, "rmsnorm": 1, "add_rmsnorm": 4} if "rmsnorm" in calls else calls)
            for family, calls in ROUTED.items()}


def run_patched(model, x, then=lambda model: None):
    """The logits and the calls each kernel type took with `model` patched; then(model) runs while patched."""
    ak.patch(model)
    try:
        ak.reset_stats()
        got = model(x).logits
        calls = {k: v for k, v in ak.stats().items() if v}
        then(model)
        return got, calls
    finally:
        ak.unpatch(model)
        torch._dynamo.reset()


@pytest.mark.parametrize("family", sorted(ROUTED))
def test_hugging_face_families_route_by_behaviour_eager_and_compiled(stand_ins, family):
    model = tiny(family)
    x = torch.randint(0, 512, (1, 16))

    def compiled_too(model):
        explain = torch._dynamo.explain(model)(x)
        assert explain.graph_break_count == 0, [b.reason for b in explain.break_reasons]
        torch._dynamo.reset()
        ak.reset_stats()
        compiled = torch.compile(model)(x).logits
        assert {k: v for k, v in ak.stats().items() if v} == COMPILED[family]
        torch.testing.assert_close(compiled, want, rtol=1e-4, atol=1e-4)

    with torch.no_grad():
        want = model(x).logits
        got, calls = run_patched(model, x, compiled_too)
    assert calls == ROUTED[family], calls
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert torch.nn.functional.scaled_dot_product_attention is _op._orig["sdpa"], "unpatch left a function swapped"
    assert model.config._attn_implementation == "sdpa"


def prefilled(model, x):
    """A DynamicCache holding the prompt x's keys and values (the model's own prefill)."""
    return model(x, use_cache=True).past_key_values


@pytest.mark.parametrize("types", [None, {"decode_attention"}], ids=["with_flash_attention", "alone"])
def test_a_llama_decode_step_takes_decode_attention_eager_and_compiled(stand_ins, types):
    # Two layers, 4 query heads over 2 kv heads: the prefill's attention is flash_attention's, the decode step's
    # (one token against the 8 cached keys and its own, enable_gqa, no mask) decode_attention's, twice. Inside
    # torch.compile transformers materialises the decode step's mask; the swap leaves it out (all true).
    model = tiny("llama")
    x, nxt = torch.randint(0, 512, (2, 8)), torch.randint(0, 512, (2, 1))

    def step(ids, cache):
        return model(ids, past_key_values=cache).logits

    def calls():
        return {k: v for k, v in ak.stats().items() if v}

    with torch.no_grad():
        want = step(nxt, prefilled(model, x))
        ak.patch(model, types=types)
        try:
            cache = prefilled(model, x)
            ak.reset_stats()
            torch.testing.assert_close(step(nxt, cache), want, rtol=1e-4, atol=1e-4)
            assert calls().get("decode_attention") == 2 and "flash_attention" not in calls(), calls()
            explain = torch._dynamo.explain(step)(nxt, prefilled(model, x))
            assert explain.graph_break_count == 0, [b.reason for b in explain.break_reasons]
            torch._dynamo.reset()
            cache = prefilled(model, x)
            ak.reset_stats()
            torch.testing.assert_close(torch.compile(step)(nxt, cache), want, rtol=1e-4, atol=1e-4)
            assert calls().get("decode_attention") == 2 and "flash_attention" not in calls(), calls()
        finally:
            ak.unpatch(model)
            torch._dynamo.reset()
    assert model.config._attn_implementation == "sdpa"
    assert torch.nn.functional.scaled_dot_product_attention is _op._orig["sdpa"], "unpatch left a function swapped"


def test_sdpa_of_one_query_token_goes_to_decode_attention_and_every_other_call_on(all_stand_ins):
    sdpa = torch.nn.functional.scaled_dot_product_attention
    q1, q5 = torch.randn(2, 4, 1, 8), torch.randn(2, 4, 5, 8)
    k, v = torch.randn(2, 2, 5, 8), torch.randn(2, 2, 5, 8)
    cases = [  # (arguments, the type that takes the call)
        (dict(query=q1, key=k, value=v, enable_gqa=True), "decode_attention"),
        (dict(query=q1, key=k[:, :, :1], value=v[:, :, :1], is_causal=True, enable_gqa=True), "decode_attention"),
        (dict(query=q1, key=k.repeat_interleave(2, 1), value=v.repeat_interleave(2, 1), scale=0.2), "decode_attention"),
        (dict(query=q1, key=k, value=v, is_causal=True, enable_gqa=True), None),  # upper-left: key 0 alone
        (dict(query=q1, key=k, value=v, attn_mask=torch.ones(1, 1, 1, 5, dtype=torch.bool), enable_gqa=True), None),
        (dict(query=q5, key=k, value=v, is_causal=True, enable_gqa=True), "flash_attention"),
    ]
    model = torch.nn.Linear(2, 2)
    ak.patch(model)
    try:
        for kwargs, taker in cases:
            want = _op._orig["sdpa"](**kwargs)
            for fn in (torch.nn.functional.scaled_dot_product_attention,
                       torch.compile(lambda **kw: torch.nn.functional.scaled_dot_product_attention(**kw),
                                     fullgraph=True)):
                ak.reset_stats()
                torch.testing.assert_close(fn(**kwargs), want)
                assert {k: v for k, v in ak.stats().items() if v} == ({taker: 1} if taker else {}), kwargs.keys()
            torch._dynamo.reset()
    finally:
        ak.unpatch(model)
        torch._dynamo.reset()
    assert torch.nn.functional.scaled_dot_product_attention is sdpa


@pytest.mark.parametrize("inside", [None, {"matmul"}, {"skinny_gemm"}], ids=["both", "matmul", "skinny_gemm"])
def test_f_linear_goes_to_skinny_gemm_up_to_64_rows_and_to_matmul_above(all_stand_ins, inside):
    # inside: the types left routed inside torch.compile (None: both).
    linear = torch.nn.functional.linear
    model = torch.nn.Sequential(torch.nn.Linear(24, 40), torch.nn.ReLU(), torch.nn.Linear(40, 8, bias=False))
    cases = [(torch.randn(2, 32, 24), "skinny_gemm"), (torch.randn(5, 13, 24), "matmul")]  # 64 and 65 rows
    with torch.no_grad():
        wants = [model(x) for x, _ in cases]
        ak.patch(model, inside_compile=inside)
        try:
            for (x, kind), want in zip(cases, wants):
                ak.reset_stats()
                torch.testing.assert_close(model(x), want)
                assert {k: v for k, v in ak.stats().items() if v} == {kind: 2}
                assert torch._dynamo.explain(model)(x).graph_break_count == 0
                torch._dynamo.reset()
                ak.reset_stats()
                torch.testing.assert_close(torch.compile(model)(x), want)
                # A type stepping aside hands the call on: skinny_gemm's calls to matmul where that stays routed.
                taker = kind if inside is None or kind in inside else "matmul" if "matmul" in inside else None
                assert {k: v for k, v in ak.stats().items() if v} == ({taker: 2} if taker else {})
                torch._dynamo.reset()
        finally:
            ak.unpatch(model)
            torch._dynamo.reset()
    assert torch.nn.functional.linear is linear and linear is _op._orig["linear"]


def test_a_look_alike_that_computes_something_else_is_not_routed(stand_ins):
    class NotRMSNorm(torch.nn.Module):  # has weight and eps, ignores the weight
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(32))
            self.eps = 1e-6

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

    class ClippedGelu3(torch.nn.Module):  # three linears, a GELU gate clipped to [-10, 10]
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = (torch.nn.Linear(16, 40, bias=False), torch.nn.Linear(16, 40, bias=False),
                                      torch.nn.Linear(40, 16, bias=False))

        def forward(self, x):
            return self.c(torch.nn.functional.gelu(self.a(x)).clamp(-10, 10) * self.b(x))

    kinds = {r.kind for r in ak.routes(torch.nn.Sequential(NotRMSNorm(), torch.nn.Linear(32, 16), ClippedGelu3()))}
    assert kinds == set()


class GatedMlp(torch.nn.Module):
    """down(act(gate(x)) * up(x)) from three bias-free linears, whatever `act` is."""

    def __init__(self, act):
        super().__init__()
        self.gate, self.up = torch.nn.Linear(16, 40, bias=False), torch.nn.Linear(16, 40, bias=False)
        self.down, self.act = torch.nn.Linear(40, 16, bias=False), act

    def forward(self, x):
        return self.down(self.act(self.gate(x)) * self.up(x))


class _Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def test_a_gated_mlp_routes_by_its_activation_and_look_alikes_do_not(stand_ins):
    act = transformers.activations
    gelu_tanh = getattr(act, "GELUTanh", None) or getattr(act, "PytorchGELUTanh")
    cases = [(torch.nn.SiLU(), "-"), (act.ACT2FN["silu"], "-"), (torch.nn.GELU(), "gelu_erf"),
             (act.GELUActivation(), "gelu_erf"), (torch.nn.GELU(approximate="tanh"), "gelu_tanh"),
             (gelu_tanh(), "gelu_tanh"), (act.ACT2FN["gelu_pytorch_tanh"], "gelu_tanh"),
             (act.NewGELUActivation(), "gelu_tanh"), (_Fn(lambda g: torch.relu(g) ** 2), None),  # ReLU^2
             (_Fn(lambda g: torch.nn.functional.gelu(g).clamp(-10, 10)), None),  # a clipped GELU
             (_Fn(lambda g: g * torch.sigmoid(1.702 * g)), None), (torch.nn.ReLU(), None)]  # QuickGELU
    if hasattr(act, "XIELUActivation"):
        cases.append((act.XIELUActivation(), None))  # parameters of its own
    x = torch.randn(2, 5, 16)
    for a, variant in cases:
        torch.manual_seed(0)
        m = torch.nn.Sequential(GatedMlp(a))  # routes() skips the model itself
        routes = [(r.kind, r.variant) for r in ak.routes(m) if r.kind == "fused_mlp"]
        assert routes == ([("fused_mlp", variant)] if variant else []), type(a).__name__
        if variant:
            with torch.no_grad():
                want = m(x)
                ak.patch(m)
                try:
                    ak.reset_stats()
                    got = m(x)
                    assert ak.stats().get("fused_mlp") == 1, type(a).__name__
                finally:
                    ak.unpatch(m)
            torch.testing.assert_close(got, want)


def test_gemmas_gelu_gated_mlp_takes_geglu_eager_and_compiled(stand_ins):
    # Gemma's MLP is down(gelu_tanh(gate(x)) * up(x)): one fused_mlp call per layer at ACT 1, its GELU module never
    # reached (no gelu call), with no graph break inside torch.compile.
    model = tiny("gemma")
    x = torch.randint(0, 512, (1, 16))
    assert {(r.kind, r.variant) for r in ak.routes(model) if r.path.endswith(".mlp")} == {("fused_mlp", "gelu_tanh")}
    acts, formula = [], FORMULA["fused_mlp"]
    FORMULA["fused_mlp"] = lambda i, s: (acts.append(int(s[0])), formula(i, s))[1]

    def compiled_too(model):
        explain = torch._dynamo.explain(model)(x)
        assert explain.graph_break_count == 0, [b.reason for b in explain.break_reasons]
        torch._dynamo.reset()
        ak.reset_stats()
        compiled = torch.compile(model)(x).logits
        calls = {k: v for k, v in ak.stats().items() if v}
        assert calls.get("fused_mlp") == 2 and "gelu" not in calls, calls
        torch.testing.assert_close(compiled, want, rtol=1e-4, atol=1e-4)

    try:
        with torch.no_grad():
            want = model(x).logits
            got, calls = run_patched(model, x, compiled_too)
    finally:
        FORMULA["fused_mlp"] = formula
    assert calls.get("fused_mlp") == 2 and "gelu" not in calls, calls
    assert set(acts) == {1}, acts
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_gelu_modules_route_by_form_and_look_alikes_do_not(stand_ins):
    act = transformers.activations

    class QuickGELU(torch.nn.Module):  # CLIP's x sigmoid(1.702 x): close to GELU, not it
        def forward(self, x):
            return x * torch.sigmoid(1.702 * x)

    class ClippedGELU(torch.nn.Module):  # equal to GELU on [-10, 10] only
        def forward(self, x):
            return torch.nn.functional.gelu(x).clamp(-10, 10)

    class Scaled(torch.nn.Module):  # a GELU with a weight of its own is a layer, not an activation
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(8))

        def forward(self, x):
            return torch.nn.functional.gelu(x)

    cases = [(torch.nn.GELU(), "none"), (torch.nn.GELU(approximate="tanh"), "tanh"), (act.GELUActivation(), "none"),
             (act.NewGELUActivation(), "tanh"), (act.FastGELUActivation(), "tanh"),
             (act.ACT2FN["gelu_pytorch_tanh"], "tanh"), (QuickGELU(), None), (torch.nn.SiLU(), None),
             (ClippedGELU(), None), (Scaled(), None)]
    for m, variant in cases:
        routes = ak.routes(torch.nn.Sequential(m))
        assert [(r.kind, r.variant) for r in routes] == ([("gelu", variant)] if variant else []), type(m).__name__


def test_a_gelu_module_calling_f_gelu_counts_once_eager_and_compiled(stand_ins):
    # nn.GELU's forward calls F.gelu: the module route runs the op in its place, so F.gelu's route never sees it.
    model = torch.nn.Sequential(torch.nn.GELU(approximate="tanh"), torch.nn.Linear(24, 24))
    x = torch.randn(3, 24)
    with torch.no_grad():
        want = model(x)
        ak.patch(model)
        try:
            for run in (model, torch.compile(model)):
                ak.reset_stats()
                torch.testing.assert_close(run(x), want)
                assert {k: v for k, v in ak.stats().items() if v} == {"gelu": 1, "matmul": 1}
            assert torch._dynamo.explain(model)(x).graph_break_count == 0
            # F.gelu outside any routed module, both forms, routed call by call.
            for form in ("none", "tanh"):
                ak.reset_stats()
                y = torch.nn.functional.gelu(x, approximate=form)
                torch.testing.assert_close(y, gelu._gelu_eager(x, gelu._FORMS.index(form)))
                assert ak.stats().get("gelu") == 1
        finally:
            ak.unpatch(model)
            torch._dynamo.reset()
    assert torch.nn.functional.gelu is _op._orig["gelu"]


def test_a_layernorm_is_not_an_rmsnorm_in_low_precision(stand_ins):
    # GPT-2's LayerNorms, freshly built (bias 0), on zero-mean probe rows differ from an RMSNorm by less than
    # bf16's probe tolerance: the probe must give them rows with a mean, and a bias of their own.
    for dtype in (torch.bfloat16, torch.float16, torch.float32):
        norms = torch.nn.Sequential(torch.nn.LayerNorm(1280), torch.nn.LayerNorm(64, bias=False)).to(dtype)
        assert [r.kind for r in ak.routes(norms)] == [], dtype
        rms = torch.nn.RMSNorm(1280, eps=1e-6).to(dtype)
        assert [r.kind for r in ak.routes(rms)] == ["rmsnorm"], dtype


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_graphs_and_no_weight_copies(stand_ins):
    model = tiny("llama").cuda().to(torch.bfloat16)
    x = torch.randint(0, 512, (1, 64), device="cuda")
    with torch.no_grad():
        torch.cuda.reset_peak_memory_stats()
        want = model(x).logits
        eager_peak = torch.cuda.max_memory_allocated()
        ak.patch(model)
        try:
            torch.cuda.reset_peak_memory_stats()
            model(x)
            assert torch.cuda.max_memory_allocated() <= 1.05 * eager_peak
            graphed = torch.compile(model, mode="reduce-overhead")
            for _ in range(3):
                got = graphed(x).logits
            torch.testing.assert_close(got.float(), want.float(), rtol=5e-2, atol=5e-2)
        finally:
            ak.unpatch(model)
            torch._dynamo.reset()


def test_the_compiled_graph_fuses_a_same_shape_add_before_a_norm_and_nothing_else(stand_ins):
    from autokernel_kernels import _fusions
    g = torch.Generator().manual_seed(3)
    x, r, w, bias = (torch.randn(*s, generator=g) for s in ((4, 32), (4, 32), (32,), (32,)))

    def f(x, r, bias):
        h = x + r  # the residual add: fused with the norm, and h (the next residual) still returned
        y = _ops.op("rms_norm")(h, w, 1e-6)
        z = _ops.op("rms_norm")(y + bias, w, 1e-6)  # a broadcasting add: left as it is
        return h, z

    want = f(x, r, bias)
    undo = _fusions.install()
    try:
        torch._dynamo.reset()
        ak.reset_stats()
        got = torch.compile(f)(x, r, bias)
        assert {k: v for k, v in ak.stats().items() if v} == {"add_rmsnorm": 1, "rmsnorm": 1}
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b)
    finally:
        undo()
        torch._dynamo.reset()
    assert torch._inductor.config.post_grad_custom_pre_pass is None


def compiled_calls(model, x):
    """The calls each kernel type took in one forward of torch.compile(model), and its logits."""
    torch._dynamo.reset()
    ak.reset_stats()
    logits = torch.compile(model)(x).logits
    return {k: v for k, v in ak.stats().items() if v}, logits


def test_a_fusion_alone_brings_its_unfused_form_along(stand_ins):
    # add_rmsnorm kept without an rmsnorm kernel: the norms are still routed to the rms_norm op (PyTorch's
    # formula inside), so the compiled graph has the add -> rms_norm pairs the fusion rewrites.
    model = tiny("llama")
    x = torch.randint(0, 512, (1, 16))
    with torch.no_grad():
        want = model(x).logits
        ak.patch(model, types={"add_rmsnorm"})
        try:
            assert {r.kind for r in ak.routes(model)} >= {"rmsnorm"}
            ak.reset_stats()
            torch.testing.assert_close(model(x).logits, want, rtol=1e-4, atol=1e-4)
            assert not any(ak.stats().values()), "an eager model has no fused call to make"
            calls, got = compiled_calls(model, x)
            assert calls == {"add_rmsnorm": 4}
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        finally:
            ak.unpatch(model)
            torch._dynamo.reset()


@pytest.mark.parametrize("inside", [set(), {"fused_mlp"}, {"flash_attention", "rotary_embedding"}])
def test_eager_only_types_step_aside_inside_torch_compile(stand_ins, inside):
    model = tiny("llama")
    x = torch.randint(0, 512, (1, 16))
    with torch.no_grad():
        want = model(x).logits
        ak.patch(model, inside_compile=inside)
        try:
            ak.reset_stats()
            model(x)
            assert {k: v for k, v in ak.stats().items() if v} == DECODER, "an eager model takes every kernel"
            explain = torch._dynamo.explain(model)(x)
            assert explain.graph_break_count == 0
            calls, got = compiled_calls(model, x)
            assert calls == {k: v for k, v in DECODER.items() if k in inside}
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        finally:
            ak.unpatch(model)
            torch._dynamo.reset()
    assert torch._inductor.config.post_grad_custom_pre_pass is None


def test_calls_verify_timed_faster_in_pytorch_run_pytorch_eager_and_compiled_but_for_unscreened_types(stand_ins):
    # GPT-2's Conv1D GEMMs at four shapes (two calls each, one per layer) and its LM head: verify finds the
    # shapes in the checked forward's samples; those it lists run PyTorch's code, eager and inside the compiled
    # graph (where inductor then compiles and fuses them), and the others still take the kernel.
    model = tiny("gpt2")
    x = torch.randint(0, 512, (1, 16))
    with torch.no_grad():
        want = model(x).logits
        ak.patch(model)
        try:
            with ak.checking():
                model(x)
            sigs = sorted(ak.samples())
            conv1d = [s for name, s in sigs if name == "matmul"]
            assert conv1d == sorted(f"float32[16,{k}] float32[{k},{n}] float32[{n}]"
                                    for k, n in [(64, 192), (64, 64), (64, 256), (256, 64)])
            assert [s for name, s in sigs if name == "linear"] == ["float32[1,16,64] float32[512,64] None"]
            ak.set_faster_in_pytorch({"matmul": conv1d[:3]})
            ak.reset_stats()
            torch.testing.assert_close(model(x).logits, want, rtol=1e-4, atol=1e-4)
            # The LM head, one shape's two calls; the MLPs' GELU.
            routed = {"layernorm": 5, "matmul": 1 + 2, "flash_attention": 2, "gelu": 2}
            assert {k: v for k, v in ak.stats().items() if v} == routed
            assert torch._dynamo.explain(model)(x).graph_break_count == 0
            calls, got = compiled_calls(model, x)
            assert calls == routed
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
            # verify timed the compiled model faster with every matmul call taking the kernel
            # (unscreened_inside_compile): the screened shapes still run PyTorch's code in eager, and take the
            # kernel in the compiled graph.
            ak.set_unscreened_inside_compile({"matmul"})
            ak.reset_stats()
            torch.testing.assert_close(model(x).logits, want, rtol=1e-4, atol=1e-4)
            assert {k: v for k, v in ak.stats().items() if v} == routed
            calls, got = compiled_calls(model, x)
            assert calls == dict(routed, matmul=1 + 4 * 2)
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        finally:
            ak.set_faster_in_pytorch({})
            ak.set_unscreened_inside_compile(())
            ak.unpatch(model)
            torch._dynamo.reset()


def test_verify_leaves_to_pytorch_exactly_the_call_shapes_it_timed_faster():
    from autokernel_support import verify_model

    class Timed:  # an Op whose kernel and formula each take a given time
        def __init__(self, ours, theirs):
            self.run = lambda k, *args: ours
            self.eager = lambda *args: theirs

    samples = {("linear", "a"): (Timed(0.3, 2.7), None, ()), ("matmul", "b"): (Timed(1.2, 1.0), None, ()),
               ("matmul", "c"): (Timed(1.0, 1.0), None, ()), ("matmul", "d"): (Timed(0.9, 1.0), None, ())}
    slower, lines = verify_model.faster_in_pytorch(samples, lambda fn: fn())
    assert slower == {"matmul": ["b", "c"]}, "a tie goes to PyTorch: the kernel must win to take a call"
    assert [line.split()[-1] for line in lines] == ["ours", "PyTorch", "PyTorch", "ours"]


def test_verify_tries_inside_torch_compile_the_types_in_the_graph_and_the_screened_ones_with_every_call():
    from autokernel_kernels import _fusions
    from autokernel_support import verify_model

    # The types with a graph pass are the fusion (add_rmsnorm) and matmul (the residual add folded into its GEMM).
    assert {"add_rmsnorm", "matmul"} <= _fusions.REWRITING and "rmsnorm" not in _fusions.REWRITING
    kinds = ["rmsnorm", "matmul", "fused_mlp", "add_rmsnorm", "softmax", "rotary_embedding"]
    shares = {"fused_mlp": 0.46, "matmul": 0.27, "add_rmsnorm": 0.14, "rotary_embedding": 0.07, "rmsnorm": 0.01}
    # After the per-shape screen PyTorch had every call of fused_mlp and matmul and some of rmsnorm's; rotary_embedding
    # kept all of its calls, softmax took none at all.
    took, screened = {"rotary_embedding", "rmsnorm"}, {"fused_mlp", "matmul", "rmsnorm"}
    got = verify_model.inside_compile_trials(kinds, took, screened, _fusions.REWRITING, shares)
    assert got == [("fused_mlp", True), ("matmul", False), ("matmul", True), ("add_rmsnorm", False),
                   ("rotary_embedding", False), ("rmsnorm", False), ("rmsnorm", True)], \
        "by share; with every call only where the screen took some; softmax has nothing in the graph"


def test_decode_attention_lengths_attends_each_sequences_own_keys_only():
    # The formula (masked SDPA over the whole cache) is each sequence's attention over its first lengths[b] keys,
    # whatever lies past them; lengths int32 or int64.
    g = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(3, 4, 1, 8, generator=g), torch.randn(3, 2, 10, 8, generator=g), torch.randn(3, 2, 10, 8,
                                                                                                        generator=g)
    for dtype in (torch.int32, torch.int64):
        lengths = torch.tensor([1, 10, 6], dtype=dtype)
        got = decode_attention._decode_lengths_eager(q, k, v, lengths, 0.3)
        for b, n in enumerate(lengths.tolist()):
            want = decode_attention._decode_eager(q[b:b + 1], k[b:b + 1, :, :n], v[b:b + 1, :, :n], 0.3)
            torch.testing.assert_close(got[b:b + 1], want)


def static_decode_step(model, x, nxt, max_cache_len=16):
    """A StaticCache the prompt x filled (the model's own prefill), and the step's function: one token nxt at the
    cache's position, the cache's length a tensor (what reduce-overhead generation captures in one CUDA graph)."""
    cache = transformers.StaticCache(config=model.config, max_cache_len=max_cache_len)
    model(x, past_key_values=cache, use_cache=True, cache_position=torch.arange(x.shape[1]))

    def step(ids, pos):
        return model(ids, past_key_values=cache, use_cache=True, cache_position=pos).logits
    return cache, step


@pytest.mark.parametrize("types", [None, {"decode_attention"}], ids=["with_flash_attention", "alone"])
def test_a_static_cache_decode_step_takes_decode_attention_with_its_length_on_the_device(stand_ins, types):
    # A StaticCache of 16 positions holding an 8-token prompt: the decode step's mask is "key position < 9" over
    # all 16 keys (transformers materialises it, its position a tensor). The swap hands the attention that length
    # as a device tensor, and decode_attention_lengths takes the call: eager, traced with no graph break, and
    # compiled, where two steps at two positions run one graph (the length is data, not a constant).
    model = tiny("llama")
    x, nxt = torch.randint(0, 512, (2, 8)), torch.randint(0, 512, (2, 1))
    seen = []
    kernel = stand_ins["decode_attention"]["cpu"]
    kernel.__class__ = type("Seeing", (StandIn,), {"__call__": lambda self, i, o, s=(): (
        seen.append((len(i), i[3].tolist() if len(i) > 3 else None, s[0])), StandIn.__call__(self, i, o, s))})

    def calls():
        return {k: v for k, v in ak.stats().items() if v}

    with torch.no_grad():
        _, step = static_decode_step(model, x, nxt)
        want = [step(nxt, torch.tensor([8])), step(nxt, torch.tensor([9]))]
        ak.patch(model, types=types)
        try:
            _, step = static_decode_step(model, x, nxt)
            ak.reset_stats()
            torch.testing.assert_close(step(nxt, torch.tensor([8])), want[0], rtol=1e-4, atol=1e-4)
            assert calls().get("decode_attention") == 2 and "flash_attention" not in calls(), calls()
            assert seen == [(4, [9, 9], 16.0)] * 2, "each sequence's length, 9, from the device; the bound S"
            torch.testing.assert_close(step(nxt, torch.tensor([9])), want[1], rtol=1e-4, atol=1e-4)
            cache, step = static_decode_step(model, x, nxt)
            explain = torch._dynamo.explain(step)(nxt, torch.tensor([8]))
            assert explain.graph_break_count == 0, [b.reason for b in explain.break_reasons]
            torch._dynamo.reset()
            _, step = static_decode_step(model, x, nxt)
            compiled = torch.compile(step, dynamic=False)
            ak.reset_stats()
            seen.clear()
            for t, pos in enumerate((8, 9)):
                with torch._dynamo.config.patch(error_on_recompile=t > 0):  # the second step: the same graph
                    torch.testing.assert_close(compiled(nxt, torch.tensor([pos])), want[t], rtol=1e-4, atol=1e-4)
            assert calls().get("decode_attention") == 4 and "flash_attention" not in calls(), calls()
            assert [s[1] for s in seen] == [[9, 9]] * 2 + [[10, 10]] * 2
        finally:
            ak.unpatch(model)
            torch._dynamo.reset()
    assert model.config._attn_implementation == "sdpa"
