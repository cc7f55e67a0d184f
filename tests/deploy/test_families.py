"""Every decoder family transformers ships that we could build from a small config: patched, its logits are
unchanged, and the routes it takes are the ones its blocks' behaviour calls for (CPU, stand-in kernels that
compute each type's formula, as in test_ops.py).

None of these families has code of its own in the package (kinds/). The table says, for two layers, how
many calls reach each kernel type; where a family's block is not one of our types it names why, so a change
that routes more (or less) shows up here.
"""
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
from test_ops import run_patched, stand_ins  # noqa: E402,F401  (the fixture)

transformers = pytest.importorskip("transformers")

N, R, A, M, S = "rmsnorm", "rotary_embedding", "flash_attention", "fused_mlp", "softmax"
L, G, U = "layernorm", "matmul", "gelu"
# Per layer: two norms, the projections, one rotary over q and k, one attention, one MLP; then the final
# norm and lm_head. Families with per-head q/k norms (qwen3, olmo2, gemma3, ...) have more norm calls. A GELU
# activation module (erf or tanh form, whatever its class) is gelu's, one call per layer, unless it gates an MLP.
ROUTED = {
    "llama": {N: 5, G: 9, R: 2, A: 2, M: 2},
    "mistral": {N: 5, G: 9, R: 2, A: 2, M: 2},
    "ministral": {N: 5, G: 9, R: 2, A: 2, M: 2},
    "qwen2": {N: 5, G: 9, R: 2, A: 2, M: 2},
    "qwen3": {N: 9, G: 9, R: 2, A: 2, M: 2},
    "granite": {N: 5, G: 9, R: 2, A: 2, M: 2},
    "smollm3": {N: 5, G: 9, R: 2, A: 2, M: 2},
    "seed_oss": {N: 5, G: 9, R: 2, A: 2, M: 2},
    "hunyuan_v1_dense": {N: 9, G: 9, R: 2, A: 2, M: 2},
    "exaone4": {N: 9, G: 9, R: 2, A: 2, M: 2},
    "olmo2": {N: 9, G: 9, R: 2, A: 2, M: 2},
    "olmo": {G: 9, R: 2, A: 2, M: 2},  # its LayerNorm has no weight: nothing for a norm kernel to take
    "stablelm": {L: 5, G: 9, R: 2, A: 2, M: 2},
    "qwen2_moe": {N: 5, G: 13, R: 2, A: 2, M: 2},  # the shared expert; the routed experts are one tensor
    "mixtral": {N: 5, G: 11, R: 2, A: 2, S: 2},  # experts stored as one tensor: only the router's softmax
    # Interleaved rotary pairs: from interleaved tables (cohere) or half-layout ones (helium, ernie).
    "cohere": {G: 9, R: 2, A: 2, M: 2},  # its LayerNorm has no bias parameter and no eps attribute we read
    "helium": {N: 5, G: 9, R: 2, A: 2, M: 2},
    "ernie4_5": {N: 5, G: 9, R: 2, A: 2, M: 2},
    # Gate and up fused into one projection (a row block of its weight each, no copy).
    "phi3": {N: 5, G: 5, R: 2, A: 2, M: 2},
    "glm": {N: 5, G: 9, R: 2, A: 2, M: 2},  # partial rotary (half the head): its leading dims in one call
    # Gemma's norms scale by (1 + weight); its MLP is GELU-gated (GeGLU, the tanh form): fused_mlp's geglu.
    "gemma": {N: 5, G: 9, R: 2, A: 2, M: 2},
    "gemma2": {N: 9, G: 9, R: 2, A: 2, M: 2},
    "gemma3_text": {N: 13, G: 9, R: 2, A: 2, M: 2},
    "apertus": {N: 9, G: 13, R: 2, A: 2},  # xIELU MLP
    "arcee": {N: 5, G: 13, R: 2, A: 2},  # ReLU^2 MLP
    # Non-gated MLPs: their matmuls, and their activation where it is a GELU (not persimmon's and nemotron's
    # ReLU^2, nor opt's ReLU).
    "phi": {L: 3, G: 13, R: 2, A: 2, U: 2},
    "starcoder2": {L: 5, G: 13, R: 2, A: 2, U: 2},
    "persimmon": {L: 9, G: 9, R: 2, A: 2},
    "gpt2": {L: 5, G: 9, A: 2, U: 2},
    "gpt_neox": {L: 5, G: 9, R: 2, A: 2, U: 2},  # partial rotary, as glm's
    "nemotron": {L: 5, G: 13, R: 2, A: 2},  # partial rotary, as glm's
    "opt": {L: 5, G: 15, A: 2},
    "biogpt": {L: 5, G: 13, A: 2, U: 2},
    # Attention written out in eager form: its softmax is ours; ALiBi (bloom) is not. BloomGelu is the tanh form.
    "gptj": {L: 3, G: 13, S: 2, U: 2},
    "codegen": {L: 3, G: 9, S: 2, U: 2},
    "gpt_neo": {L: 5, G: 13, S: 2, U: 2},
    "xglm": {L: 5, G: 13, S: 2, U: 2},
    "mpt": {G: 9, S: 2, U: 2},
    "bloom": {L: 6, G: 9, U: 2},
}

SMALL = dict(hidden_size=64, intermediate_size=172, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             vocab_size=512, head_dim=16, n_embd=64, n_layer=2, n_head=4, d_model=64, n_layers=2, n_heads=4,
             num_layers=2, ffn_dim=172, d_ff=172, num_local_experts=4, num_experts=4, moe_intermediate_size=32,
             shared_expert_intermediate_size=32, pad_token_id=0, rotary_dim=8)


def small(family):
    """The family's default config, shrunk: every size field it has set to SMALL's value."""
    cfg = transformers.CONFIG_MAPPING[family]()
    for k, v in SMALL.items():
        if hasattr(cfg, k):
            setattr(cfg, k, v)
    if family == "gpt2":
        cfg.n_inner = None
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(cfg).eval()


@pytest.mark.parametrize("family", sorted(ROUTED))
def test_each_family_keeps_its_output_and_routes_what_its_blocks_compute(stand_ins, family):  # noqa: F811
    if family not in transformers.CONFIG_MAPPING:
        pytest.skip(f"this transformers has no {family}")
    model = small(family)
    x = torch.randint(0, 500, (1, 16))
    with torch.no_grad():
        want = model(x).logits
        got, calls = run_patched(model, x)
        after = model(x).logits
    assert ((got - want).norm() / want.norm()).item() < 1e-5
    assert calls == ROUTED[family], calls
    torch.testing.assert_close(after, want, rtol=0, atol=0)  # unpatch gave the model back as it was


# A StaticCache's decode step (one token at the cache's position, a tensor, over all max_cache_len keys): the swap
# hands its attention the valid length on the device and decode_attention takes both layers' calls, unless the
# family's mask is not provably "key position <= position" (then PyTorch computes it, with the mask).
STATIC_DECODE_LEFT = {
    **dict.fromkeys(("mistral", "ministral", "gemma2", "gemma3_text", "exaone4"), "a sliding window"),
    **dict.fromkeys(("opt", "biogpt"), "the model passes a 2-D padding mask of its own (all ones: only data says so)"),
    **dict.fromkeys(("codegen", "gpt_neo", "gptj", "mpt", "xglm"), "attention written out in eager form, no SDPA"),
}


@pytest.mark.parametrize("family", sorted(ROUTED))
def test_each_familys_static_cache_decode_step_takes_decode_attention(stand_ins, family):  # noqa: F811
    if family not in transformers.CONFIG_MAPPING:
        pytest.skip(f"this transformers has no {family}")
    if family == "bloom":
        pytest.skip("bloom's ALiBi does not run with a StaticCache in transformers itself")
    import autokernel_kernels as ak

    model = small(family)
    x, nxt = torch.randint(0, 500, (2, 8)), torch.randint(0, 500, (2, 1))

    def decode_step():
        cache = transformers.StaticCache(config=model.config, max_cache_len=16)
        model(x, past_key_values=cache, use_cache=True, cache_position=torch.arange(8))
        return model(nxt, past_key_values=cache, use_cache=True, cache_position=torch.tensor([8])).logits

    with torch.no_grad():
        want = decode_step()
        ak.patch(model)
        try:
            ak.reset_stats()
            got = decode_step()
            calls = ak.stats().get("decode_attention", 0)
        finally:
            ak.unpatch(model)
    assert ((got - want).norm() / want.norm()).item() < 1e-5
    assert calls == (0 if family in STATIC_DECODE_LEFT else 2), STATIC_DECODE_LEFT.get(family, calls)
