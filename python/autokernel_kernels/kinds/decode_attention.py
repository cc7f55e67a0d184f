"""decode_attention: one decode step's attention, o = softmax(q k^T * scale) v for one query token per sequence
(q [B, H, 1, D]) against the KV cache (k, v [B, HKV, L, D], every key valid, grouped-query heads natively). Op
`decode_attention` (the kernel ABI's L is k's length: the cache as a DynamicCache holds it). Routes:
F.scaled_dot_product_attention with one query token, no mask, no dropout and not causal (or a single key); its
wrapper wraps flash_attention's (later in ALL), so it sees each call first and hands the rest on. In a Hugging
Face model, transformers' mask (`swap`): a decode step's causal mask over a cache whose keys are all the
sequence's (no padding, no window, no other pattern) is all true, so it is left out and the SDPA call becomes one
this route takes, inside torch.compile too, where transformers would materialise it. A StaticCache's mask is not
provably all true at trace time (its length is a tensor): that call goes on to PyTorch."""
import math
import sys

import torch
import torch.nn.functional as F

from .._op import Op, _kernel, _orig, _same_fake, op

KIND = "decode_attention"


def _decode_eager(q, k, v, scale):
    return _orig["sdpa"](q, k, v, scale=scale, enable_gqa=k.shape[1] != q.shape[1])


def _decode_run(kern, q, k, v, scale):
    o = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    kern([q.contiguous(), k.contiguous(), v.contiguous()], [o], [float(k.shape[2]), scale])
    return o


def _fits(q, k, v, scale):
    return (q.dim() == 4 and k.dim() == 4 and k.shape == v.shape and q.shape[2] == 1 and q.shape[0] == k.shape[0]
            and q.shape[3] == k.shape[3] and k.shape[1] > 0 and q.shape[1] % k.shape[1] == 0 and k.shape[2] > 0
            and q.numel() > 0)


OPS = [
    Op("decode_attention", KIND, "decode_attention(Tensor q, Tensor k, Tensor v, float scale) -> Tensor",
       _decode_eager, _decode_run, _fits, _same_fake, 3),
]


# ---- PyTorch's function -------------------------------------------------------------------------------

def _sdpa(original):
    def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        take = (attn_mask is None and dropout_p == 0.0 and query.dim() == 4 and key.dim() == 4
                and query.shape[2] == 1 and (not is_causal or key.shape[2] == 1)
                and (key.shape[1] == query.shape[1] or enable_gqa) and value is not None
                and _fits(query, key, value, 1.0) and _kernel(KIND, query, key, value) is not None)
        if not take:  # flash_attention's wrapper, or PyTorch's function
            return original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                            scale=scale, enable_gqa=enable_gqa)
        s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
        return op("decode_attention")(query, key, value, s)
    return attention


FUNCTIONS = [(F, "scaled_dot_product_attention", _sdpa)]


# ---- Hugging Face models: the decode step's mask, left out where it is all true -------------------------------
# transformers builds one causal mask per forward through the attention implementation's mask function. For a
# decode step (one query token at position q_offset) over kv_length = q_offset + 1 keys from position 0, with no
# padding mask, no window and the plain causal pattern, every key is visible: the mask is all true and SDPA
# without it computes the same. Eager transformers finds that out from the data (and passes no mask); under
# torch.compile it materialises the mask, which no route takes. This swap registers an implementation that is
# the model's current one (SDPA's, or flash_attention's) with a mask function returning None in exactly that
# case, so the decode step's SDPA call reaches decode_attention's route in eager and compiled models alike.
HF_ATTENTION = "autokernel_decode"
_SWAPPABLE = ("sdpa", "autokernel")  # SDPA, and flash_attention's own (kinds/flash_attention.py's HF_ATTENTION)
_hf = {}  # name -> (attention, mask function) of the implementation each swapped model had


def _all_true(kw):
    """Whether the causal mask these create_causal_mask arguments describe is all true (see above)."""
    q_offset, kv_length = kw.get("q_offset", 0), kw.get("kv_length")
    local = kw.get("local_size")
    return (kw.get("q_length") == 1 and kw.get("attention_mask") is None and kw.get("kv_offset", 0) == 0
            and kw.get("mask_function") is _hf["causal"] and isinstance(q_offset, (int, torch.SymInt))
            and not isinstance(q_offset, bool) and kv_length == q_offset + 1 and (local is None or kv_length <= local))


def _mask_over(previous, eager_only):
    def mask(*args, **kw):
        if not args and not (eager_only and torch.compiler.is_compiling()) and _all_true(kw):
            return None
        return previous(*args, **kw)
    return mask


def swap(model, inside_compile=True):
    """Give a transformers model using SDPA (or flash_attention's swap of it) the decode step's mask function
    (inside torch.compile too, unless inside_compile is False); returns the undo, or None if not such a model."""
    config = getattr(model, "config", None)
    current = getattr(config, "_attn_implementation", None) if config is not None else None
    if current not in _SWAPPABLE or "transformers" not in sys.modules:
        return None
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, causal_mask_function
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
        _hf["causal"] = causal_mask_function
        name = f"{HF_ATTENTION}_{current}"  # one registration per implementation it stands over
        AttentionInterface.register(name, ALL_ATTENTION_FUNCTIONS[current])
        AttentionMaskInterface.register(name, _mask_over(ALL_MASK_ATTENTION_FUNCTIONS[current], not inside_compile))
        model.set_attn_implementation(name)
    except (ImportError, AttributeError, KeyError, ValueError):
        return None
    return lambda: model.set_attn_implementation(current)
