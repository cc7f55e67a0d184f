"""flash_attention: o = softmax(q k^T * scale (+ causal mask)) v, k and v with their own (fewer) heads
(grouped-query). Op `attention`; routes: F.scaled_dot_product_attention, and in a Hugging Face model using
SDPA, transformers' own attention interface (`swap`)."""
import math
import sys

import torch
import torch.nn.functional as F

from .._op import Op, _bshd_empty, _heads, _orig, op

KIND = "flash_attention"


def _attention_eager(q, k, v, causal, scale):
    gqa = k.shape[1] != q.shape[1]
    return _orig["sdpa"](q, k, v, is_causal=causal, scale=scale, enable_gqa=gqa)


def _attention_run(k, q, k_, v, causal, scale):
    # q, k, v as the model made them where the ABI's strides allow (no copies); o in [B, S, H, D] memory.
    o = _bshd_empty(q.shape, q)
    k([_heads(q), _heads(k_), _heads(v)], [o], [1.0 if causal else 0.0, scale])
    return o


def _attention_fake(q, k, v, causal, scale):
    return _bshd_empty(q.shape, q)


def _attention_fits(q, k, v, causal, scale):
    return (q.dim() == 4 and k.shape == v.shape and k.dim() == 4 and q.shape[0] == k.shape[0]
            and q.shape[2] == k.shape[2] and q.shape[3] == k.shape[3] and q.shape[1] % k.shape[1] == 0
            and k.shape[1] > 0 and q.numel() > 0)


OPS = [
    Op("attention", KIND, "attention(Tensor q, Tensor k, Tensor v, bool causal, float scale) -> Tensor",
       _attention_eager, _attention_run, _attention_fits, _attention_fake, 3),
]


# ---- PyTorch's function -------------------------------------------------------------------------------

def _sdpa(original):
    def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        gqa_ok = key.dim() == 4 and query.dim() == 4 and (key.shape[1] == query.shape[1] or enable_gqa)
        if attn_mask is not None or dropout_p != 0.0 or not gqa_ok:
            return original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                            scale=scale, enable_gqa=enable_gqa)
        s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
        return op("attention")(query, key, value, bool(is_causal), s)
    return attention


FUNCTIONS = [(F, "scaled_dot_product_attention", _sdpa)]


# ---- Hugging Face models: attention through transformers' own attention interface -----------------------
# Under torch.compile, transformers materialises the causal mask and repeats the k/v heads before calling
# SDPA, so the F.scaled_dot_product_attention route never sees a call it can take. Registered as an
# attention implementation of its own, with a mask function that leaves the mask out where it is the plain
# causal one, our attention gets q [B, H, S, D] and k, v with their own (fewer) heads, in eager and compiled
# models alike. Any other call (padding, decoding, soft-capping, sinks...) goes to transformers' SDPA path.
HF_ATTENTION = "autokernel"
_HF_UNSUPPORTED = ("s_aux", "sinks", "position_bias", "softcap", "attn_logit_softcapping")


_hf = {}  # transformers' own SDPA mask and attention, imported once by swap (no import while traced)


def _hf_mask(**kw):
    q_len, kv_len, local = kw.get("q_length"), kw.get("kv_length"), kw.get("local_size")
    if (kw.get("attention_mask") is None and kw.get("allow_is_causal_skip", True) and kw.get("q_offset", 0) == 0
            and q_len == kv_len and q_len > 1 and (local is None or kv_len <= local)):
        return None  # plain causal: the attention says so with is_causal
    return _hf["sdpa_mask"](**kw)


def _hf_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs):
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    plain = (not (_hf["eager_only"] and torch.compiler.is_compiling())
             and attention_mask is None and dropout == 0.0 and query.shape[2] == key.shape[2] and query.shape[2] > 1
             and all(kwargs.get(k) is None for k in _HF_UNSUPPORTED))
    if not plain:
        return _hf["sdpa_attention"](module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scaling is None else float(scaling)
    out = op("attention")(query, key, value, bool(causal), scale)
    return out.transpose(1, 2).contiguous(), None  # no copy: the op's output is in [B, S, H, D] memory already


def swap(model, inside_compile=True):
    """Switch a transformers model using SDPA to our attention (inside torch.compile too, unless
    inside_compile is False); returns the undo, or None if not such a model."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa" or "transformers" not in sys.modules:
        return None
    try:
        from transformers import AttentionInterface
        from transformers.integrations.sdpa_attention import sdpa_attention_forward
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
        _hf.update(sdpa_mask=sdpa_mask, sdpa_attention=sdpa_attention_forward, eager_only=not inside_compile)
        AttentionInterface.register(HF_ATTENTION, _hf_attention)
        AttentionMaskInterface.register(HF_ATTENTION, _hf_mask)
        model.set_attn_implementation(HF_ATTENTION)
    except (ImportError, AttributeError, ValueError):
        return None
    return lambda: model.set_attn_implementation("sdpa")
