"""decode_attention: one decode step's attention, o = softmax(q k^T * scale) v for one query token per sequence
(q [B, H, 1, D]) against the KV cache (k, v [B, HKV, S, D], grouped-query heads natively). Two ops:
`decode_attention(q, k, v, scale)`, every key of k valid (the kernel ABI's L is k's length: the cache as a
DynamicCache holds it), and `decode_attention_lengths(q, k, v, lengths, scale)`, sequence b's keys 0..lengths[b]-1
valid (lengths [B], int32 or int64, on the device: the ABI's 4th input, its L the bound S), the rest of the cache
never read: a StaticCache's decode step, whose valid length changes between replays of one captured CUDA graph.
Routes: F.scaled_dot_product_attention with one query token, no mask, no dropout and not causal (or a single key);
its wrapper wraps flash_attention's (later in ALL), so it sees each call first and hands the rest on. In a Hugging
Face model, transformers' mask and attention (`swap`): a decode step's causal mask over a cache whose keys are all
the sequence's (no padding, no window, no other pattern) is all true, so it is left out and the SDPA call becomes
one this route takes, inside torch.compile too, where transformers would materialise it. A StaticCache's mask
(one query token at the cache's position, a tensor, over all max_cache_len keys, no padding, no window, the plain
causal pattern) is exactly "key position < position + 1": the swap's attention gets it with that length as a
device tensor and calls decode_attention_lengths, with no host sync (traceable, capturable); any other mask goes
on to PyTorch."""
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


def _valid(k, lengths):
    """[B, 1, 1, S]: key j of sequence b is valid where j < lengths[b] (PyTorch's mask of a StaticCache's step)."""
    return (torch.arange(k.shape[2], device=k.device)[None, :] < lengths[:, None]).view(k.shape[0], 1, 1, k.shape[2])


def _decode_lengths_eager(q, k, v, lengths, scale):
    return _orig["sdpa"](q, k, v, attn_mask=_valid(k, lengths), scale=scale, enable_gqa=k.shape[1] != q.shape[1])


def _decode_lengths_run(kern, q, k, v, lengths, scale):
    # The ABI's device form: lengths int64 [B], L their bound (the cache's S: the host never reads them).
    o = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    kern([q.contiguous(), k.contiguous(), v.contiguous(), lengths.to(torch.int64).contiguous()], [o],
         [float(k.shape[2]), scale])
    return o


def _fits_lengths(q, k, v, lengths, scale):
    return (_fits(q, k, v, scale) and lengths.dim() == 1 and lengths.shape[0] == q.shape[0]
            and lengths.dtype in (torch.int32, torch.int64) and lengths.device == q.device)


OPS = [
    Op("decode_attention", KIND, "decode_attention(Tensor q, Tensor k, Tensor v, float scale) -> Tensor",
       _decode_eager, _decode_run, _fits, _same_fake, 3),
    Op("decode_attention_lengths", KIND,
       "decode_attention_lengths(Tensor q, Tensor k, Tensor v, Tensor lengths, float scale) -> Tensor",
       _decode_lengths_eager, _decode_lengths_run, _fits_lengths, _same_fake, 3),
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
# A StaticCache (what torch.compile's reduce-overhead generation uses) gives the mask function q_offset as a tensor
# (the cache's length, so one graph serves every step) and kv_length = max_cache_len: the mask is then
# "key position <= q_offset", nothing else where the rest is as above. The mask function returns it as a
# _StaticDecode, the materialised mask with that length, q_offset + 1, as a device tensor [B]; the attention
# registered beside it calls decode_attention_lengths where the call fits, else transformers' attention with the
# mask. No .item(), no host sync: the length stays on the device, traced by torch.compile and captured in a graph.
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


def _static_decode(kw):
    """Whether these create_causal_mask arguments describe a StaticCache's decode step (see above): the mask is
    then exactly "key position < q_offset + 1" over kv_length keys from 0, the same for every sequence."""
    q_offset, kv_length, batch = kw.get("q_offset"), kw.get("kv_length"), kw.get("batch_size")
    return (kw.get("q_length") == 1 and kw.get("attention_mask") is None and kw.get("kv_offset", 0) == 0
            and kw.get("mask_function") is _hf["causal"] and kw.get("local_size") is None
            and isinstance(q_offset, torch.Tensor) and q_offset.numel() == 1 and not q_offset.is_floating_point()
            and q_offset.dtype != torch.bool and isinstance(kv_length, int) and isinstance(batch, int))


class _StaticDecode:
    """A StaticCache decode step's mask: `mask`, as transformers builds it, and `lengths` [B] (int64, on the
    device), the valid keys of each sequence; `kv_length` the keys it covers."""

    def __init__(self, mask, lengths, kv_length):
        self.mask, self.lengths, self.kv_length = mask, lengths, kv_length


def _mask_over(previous, eager_only):
    def mask(*args, **kw):
        if args or (eager_only and torch.compiler.is_compiling()):
            return previous(*args, **kw)
        if _all_true(kw):
            return None
        if _static_decode(kw):
            lengths = (kw["q_offset"].reshape(1).to(torch.int64) + 1).expand(kw["batch_size"]).contiguous()
            return _StaticDecode(previous(*args, **kw), lengths, kw["kv_length"])
        return previous(*args, **kw)
    return mask


_HF_UNSUPPORTED = ("s_aux", "sinks", "position_bias", "softcap", "attn_logit_softcapping")


def _attention_over(previous, eager_only):
    """The model's attention, with a StaticCache decode step's call (a _StaticDecode mask) taken by
    decode_attention_lengths where it fits: one query token, no dropout, the cache as long as the mask."""
    def attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
        if isinstance(attention_mask, _StaticDecode):
            take = (not (eager_only and torch.compiler.is_compiling()) and dropout == 0.0 and query.dim() == 4
                    and key.dim() == 4 and key.shape[2] == attention_mask.kv_length
                    and all(kwargs.get(k) is None for k in _HF_UNSUPPORTED)
                    and _fits_lengths(query, key, value, attention_mask.lengths, 1.0)
                    and _kernel(KIND, query, key, value) is not None)
            if take:
                s = 1.0 / math.sqrt(query.shape[-1]) if scaling is None else float(scaling)
                out = op("decode_attention_lengths")(query, key, value, attention_mask.lengths, s)
                return out.transpose(1, 2).contiguous(), None
            attention_mask = attention_mask.mask
        return previous(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    return attention


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
        AttentionInterface.register(name, _attention_over(ALL_ATTENTION_FUNCTIONS[current], not inside_compile))
        AttentionMaskInterface.register(name, _mask_over(ALL_MASK_ATTENTION_FUNCTIONS[current], not inside_compile))
        model.set_attn_implementation(name)
    except (ImportError, AttributeError, KeyError, ValueError):
        return None
    return lambda: model.set_attn_implementation(current)
