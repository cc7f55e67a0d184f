"""verify's generation check (python/autokernel_support/verify_generation.py): greedy tokens of the patched
model against eager's, with the per-call check at the decode step's shapes (CPU, stand-in kernels as in
test_ops.py). The CLI path (a decode profile through verify) is tested in tests/deploy/test_verify.cpp."""
import argparse
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
from test_ops import StandIn, stand_ins, tiny  # noqa: E402,F401  (the fixture)

from autokernel_support import profile_model as pm  # noqa: E402
from autokernel_support import verify_generation as vg  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
import autokernel_kernels as ak  # noqa: E402
from autokernel_kernels.kinds import rmsnorm  # noqa: E402


def tops(rows):
    """eager_tops from per-token rows of (value, index) pairs, one sequence."""
    return [(torch.tensor([[v for v, _ in r]]), torch.tensor([[i for _, i in r]])) for r in rows]


def test_tokens_must_agree_or_differ_first_where_rounding_decides():
    eager = torch.tensor([[5, 7, 9]])
    rows = [[(10.0, 5), (1.0, 6)], [(4.0, 7), (3.999, 8)], [(2.0, 9), (1.0, 3)]]
    same = vg.compare(eager, tops(rows), eager.clone(), eps=2 ** -7)
    assert same["passed"] and same["sequences"] == [{"identical": 3}]
    # Token 1: eager's 7 beat 8 by 0.001, under 2 bf16 epsilons of 4.0 (0.0625): a tie rounding decides.
    tie = vg.compare(eager, tops(rows), torch.tensor([[5, 8, 1]]), eps=2 ** -7)
    assert tie["passed"] and tie["sequences"][0]["identical"] == 1 and tie["sequences"][0]["explained"]
    # In float32 the same margin is far above 2 epsilons: not rounding.
    assert not vg.compare(eager, tops(rows), torch.tensor([[5, 8, 1]]), eps=2 ** -23)["passed"]
    # Token 0: the patched 6 was 9.0 below eager's choice; and a token outside eager's top-k: no tie at all.
    assert not vg.compare(eager, tops(rows), torch.tensor([[6, 7, 9]]), eps=2 ** -7)["passed"]
    far = vg.compare(eager, tops(rows), torch.tensor([[4, 7, 9]]), eps=2 ** -7)
    assert far["sequences"][0]["margin"] == float("inf") and not far["passed"]


def test_after_the_first_32_tokens_a_difference_passes():
    n = vg.MUST_AGREE + 2
    eager = torch.arange(n)[None]
    rows = [[(float(n - t), t), (0.0, t + 1)] for t in range(n)]
    ours = eager.clone()
    ours[0, vg.MUST_AGREE] += 1
    result = vg.compare(eager, tops(rows), ours, eps=2 ** -23)
    assert result["passed"] and result["sequences"][0]["identical"] == vg.MUST_AGREE


def generation_args(n, shape="2,12"):
    return argparse.Namespace(generate=n, input_shape=shape, inputs=None)


@pytest.mark.parametrize("spec", ["hf:llama", "example"])
def test_a_decoder_generates_eagers_tokens_with_every_call_checked(stand_ins, spec):  # noqa: F811
    if spec == "hf:llama":
        model = tiny("llama")
    else:
        torch.manual_seed(0)
        model, _ = pm.build_model(f"{ROOT}/examples/models/llama.py:Llama",
                                  {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 86, "vocab_size": 256,
                                   "max_seq_len": 64})
        model = model.float().eval()
    logs = []
    result = vg.check(model, ak, generation_args(8), torch.device("cpu"), torch.float32, lambda line: None,
                      logs.append)
    assert result["passed"] and result["tokens"] == 8 and result["batch"] == 2
    assert [s["identical"] for s in result["sequences"]] == [8, 8]
    # Two layers, eight forwards (the prefill, seven decode steps): the example's rotary module takes the
    # cache position (its forward(q, k, start_pos)), transformers' apply_rotary_pos_emb its cos/sin rows.
    assert result["calls"]["rotary_embedding"] == 2 * 8 and result["calls"]["rmsnorm"] == 5 * 8
    checked = logs[0]
    assert checked["rmsnorm"]["error"] < 1e-5 and checked["rmsnorm"]["calls"] == result["calls"]["rmsnorm"]
    assert set(result["tokens_per_s"]) == {"eager", "autokernel"}
    assert not getattr(model, "_autokernel_patched", False), "the model is left as it was"

    # An RMSNorm kernel wrong by 1%: the decode step's calls are checked too.
    stand_ins["rmsnorm"]["cpu"] = type("Wrong", (StandIn,), {"__call__": lambda self, i, o, s=(): o[0].copy_(
        rmsnorm._rms_norm_eager(i[0], i[1], s[0]) * 1.01)})("rmsnorm", "rms_norm")
    logs.clear()
    vg.check(model, ak, generation_args(4), torch.device("cpu"), torch.float32, lambda line: None, logs.append)
    assert abs(logs[0]["rmsnorm"]["error"] - 0.01) < 1e-3


def test_a_decode_step_reads_every_weight_once_the_looked_up_embedding_rows_and_the_kv_cache():
    # tiny llama: 2 layers, 2 KV heads of 16, float32, untied LM head; batch 2, a 12-token prompt, 8 tokens.
    model = tiny("llama")
    args = argparse.Namespace(decode=8, prefill=0, input_shape="2,12", inputs=None)
    read = vg.step_bytes(model, args, torch.device("cpu"), 8)
    every = sum(p.numel() for p in model.parameters()) * 4
    table = model.model.embed_tokens.weight
    assert read["weights"] == every - table.numel() * 4 + 2 * 64 * 4, "the embedding: two looked-up rows"
    per_token = 2 * 2 * 2 * 16 * 4 * 2  # k and v, layers, KV heads, head dim, bytes, batch
    assert read["cache"] == per_token * (12 + 8 / 2) and read["total"] == read["weights"] + read["cache"]
    # A model's own preallocated cache (the example's new_cache): its bytes over its length per token.
    torch.manual_seed(0)
    example, _ = pm.build_model(f"{ROOT}/examples/models/llama.py:Llama",
                                {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 86, "vocab_size": 256,
                                 "max_seq_len": 64})
    read = vg.step_bytes(example.float().eval(), args, torch.device("cpu"), 8)
    assert read["cache"] == 2 * 2 * 32 * 4 * 2 * (12 + 8 / 2)
    assert vg.copy_gb_s(torch.device("cpu")) > 0


def test_the_decode_steps_call_shapes_are_timed_and_the_slower_ones_left_to_pytorch(stand_ins):  # noqa: F811
    # On a GPU verify times each call shape of the decode step (verify_model's time_shapes) between the checked
    # run and the timed one: a kernel faster at the prefill's rows may be slower at one token's. Here a
    # stand-in timer hands every decode-step (one-token) rms_norm shape to PyTorch: the timed run's calls are
    # then the prefill's alone, and the checked run still checked every call.
    model = tiny("llama")
    seen = []

    def time_shapes(samples):
        seen.extend(samples)
        one_token = sorted({sig for name, sig in samples if name == "rms_norm" and "[2,1," in sig})
        ak.set_faster_in_pytorch({"rms_norm": one_token})

    logs = []
    try:
        result = vg.check(model, ak, generation_args(8), torch.device("cpu"), torch.float32, lambda line: None,
                          logs.append, time_shapes)
    finally:
        ak.set_faster_in_pytorch({})
    names = {name for name, _ in seen}
    assert {"rms_norm", "rotary"} <= names and any("[2,1," in sig for _, sig in seen), "decode shapes were timed"
    assert any("[2,12," in sig for _, sig in seen), "and the prefill's, which the checked run also made"
    assert result["passed"] and logs[0]["rmsnorm"]["calls"] == 5 * 8, "the checked run took every call"
    assert result["calls"]["rmsnorm"] == 5, "the timed run: the prefill's 5 calls, the decode steps' in PyTorch"


def test_a_static_cache_decodes_the_same_tokens_and_compiles_with_our_ops_inside(stand_ins):  # noqa: F811
    # transformers' StaticCache (fixed shapes: on a GPU, one CUDA graph replayed per step) gives the tokens the
    # DynamicCache gives; and the decode step compiles (mode="reduce-overhead": CUDA graphs on a GPU, plain
    # compiled code here) with our ops in it, patched, and still decodes eager's tokens.
    model = tiny("llama")
    a = generation_args(6)
    decode_args = argparse.Namespace(decode=6, prefill=0, input_shape=a.input_shape, inputs=None)
    cpu = torch.device("cpu")
    dynamic, dynamic_tops, _ = vg.generate(model, decode_args, cpu, 6)
    static, _, _ = vg.generate(model, decode_args, cpu, 6, static=True)
    assert torch.equal(dynamic, static)
    ak.patch(model)
    try:
        # The static cache's decode step: its attention is decode_attention's, the length on the device.
        ak.reset_stats()
        eager_static, static_tops, _ = vg.generate(model, decode_args, cpu, 6, static=True)
        assert ak.stats().get("decode_attention", 0) == 2 * 5, "both layers' attention in each of 5 decode steps"
        assert torch.equal(eager_static, dynamic)
        for (ours, _), (want, _) in zip(static_tops, dynamic_tops):  # eager's top logits
            torch.testing.assert_close(ours, want, rtol=1e-4, atol=1e-4)
        ak.reset_stats()
        tokens, seconds = vg.compiled(model, decode_args, cpu, 6)
        assert ak.stats().get("rmsnorm", 0) > 0, "the compiled decode step ran our ops"
        assert ak.stats().get("decode_attention", 0) > 0, "and its attention through decode_attention_lengths"
    finally:
        ak.unpatch(model)
    assert torch.equal(tokens, dynamic) and seconds > 0
    with pytest.raises(pm.ModelError, match="static cache"):
        torch.manual_seed(0)
        example, _ = pm.build_model(f"{ROOT}/examples/models/llama.py:Llama",
                                    {"dim": 32, "n_layers": 1, "n_heads": 2, "vocab_size": 64, "max_seq_len": 32})
        pm.Decode(example, decode_args, cpu, static=True)
