"""Checks the decode workload of python/autokernel_support/profile_model.py (`autokernel profile --decode N`) and
the KV cache of examples/models/llama.py: each decode step feeds the right position against the right cache, so
its logits are those of the full forward over the same tokens. The CLI path (trace, ranking, refusals) is tested
in tests/cli/test_profile_extract.cpp.

Run:  python3 -m pytest -q tests/profile
"""
import argparse
import pathlib
import sys

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
from autokernel_support import profile_model as pm  # noqa: E402

LLAMA = f"{ROOT}/examples/models/llama.py:Llama"
TINY_LLAMA = {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 86, "vocab_size": 256, "max_seq_len": 64}
TINY_HF_LLAMA = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                 "num_key_value_heads": 1, "vocab_size": 256, "max_position_embeddings": 64}


def args(**kw):
    a = {"input_shape": "2,12", "inputs": "", "decode": 3, "prefill": 0, "iters": 3}
    a.update(kw)
    return argparse.Namespace(**a)


def built(spec, init_args):
    torch.manual_seed(0)
    model, _ = pm.build_model(spec, init_args)
    return model.float().eval()


def full_logits(model, tokens):
    with torch.no_grad():
        return pm.logits_of(model(tokens))[:, -1]


def check_decode_matches_the_full_forward(model):
    d = pm.Decode(model, args(), torch.device("cpu"))
    d.run_prefill()
    assert d.cache_length() == 12
    # A warm-up step is taken back out of the cache: the profiled steps start at the prefill's length.
    d.step()
    d.take_back()
    assert d.cache_length() == 12
    seq = d.prompt
    for i in range(3):
        seq = torch.cat([seq, d.token], dim=1)
        assert d.cache_length() == 12 + i
        with torch.no_grad():
            out = d.step()
        assert pm.logits_of(out).shape[1] == 1  # one new token per sequence
        torch.testing.assert_close(pm.logits_of(out)[:, -1], full_logits(model, seq), atol=1e-4, rtol=1e-4)
        d.advance(out)
    assert d.meta()["cache"] == type(d.cache).__name__


def test_the_llama_example_decodes_against_its_cache_as_its_full_forward_computes():
    check_decode_matches_the_full_forward(built(LLAMA, TINY_LLAMA))


def test_a_transformers_model_decodes_against_a_dynamic_cache_as_its_full_forward_computes():
    pytest.importorskip("transformers")
    check_decode_matches_the_full_forward(built("hf:llama", TINY_HF_LLAMA))


def test_the_llama_example_without_a_cache_is_the_plain_causal_forward():
    model = built(LLAMA, TINY_LLAMA)
    tokens = torch.randint(0, 256, (2, 10), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        plain = model(tokens)
        cached = model(tokens, model.new_cache(2), start_pos=0)
    torch.testing.assert_close(plain, cached)


def test_decode_refuses_a_model_without_a_cache_and_a_prefill_past_its_positions():
    gpt2 = built(f"{ROOT}/examples/models/gpt2.py:GPT2", {"n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 256})
    with pytest.raises(pm.ModelError, match="GPT2 takes no KV cache"):
        pm.Decode(gpt2, args(), torch.device("cpu"))
    with pytest.raises(pm.ModelError, match="needs 67 positions, but Llama has 64"):
        pm.Decode(built(LLAMA, TINY_LLAMA), args(prefill=64), torch.device("cpu"))
    with pytest.raises(pm.ModelError, match="makes its own inputs"):
        pm.Decode(built(LLAMA, TINY_LLAMA), args(inputs="x.py:make_inputs"), torch.device("cpu"))


def test_make_inputs_may_return_a_cache_which_is_passed_as_it_is(tmp_path):
    model = built(LLAMA, TINY_LLAMA)
    (tmp_path / "inputs.py").write_text(
        "import torch\n"
        "def make_inputs(model, shape):\n"
        "    cache = model.new_cache(shape[0])\n"
        "    return {'tokens': torch.zeros(shape[0], 1, dtype=torch.long), 'cache': cache, 'start_pos': shape[1]}\n")
    a = args(inputs=f"{tmp_path}/inputs.py:make_inputs", input_shape="2,8", decode=0)
    positional, keyword = pm.build_inputs(model, a, torch.float32, torch.device("cpu"))
    assert positional == ()
    assert isinstance(keyword["cache"], type(model.new_cache(1)))  # the object itself, not converted
    assert keyword["start_pos"] == 8
    assert pm.describe((positional, keyword)) == [{"shape": [2, 1], "dtype": "int64"}, {"value": "KVCache"},
                                                  {"value": "8"}]
    with torch.no_grad():
        assert model(**keyword).shape == (2, 1, 256)
