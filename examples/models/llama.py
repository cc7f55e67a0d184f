"""A LLaMA-style decoder, randomly initialised: RMSNorm, rotary position embeddings (RoPE), a SwiGLU MLP
and causal attention through F.scaled_dot_product_attention.

The defaults are LLaMA-7B's shape; pass a smaller config with --init-args, e.g.
  autokernel profile --model examples/models/llama.py:Llama --input-shape 1,64 --device cpu \
      --init-args '{"dim": 64, "n_layers": 2, "n_heads": 4, "hidden_dim": 172, "vocab_size": 512}'
Input: token ids [batch, seq].

Generation with a KV cache (what `autokernel profile --decode N` runs):
  cache = model.new_cache(batch_size)
  logits = model(prompt, cache, start_pos=0)             # prefill: the prompt's keys and values go in the cache
  logits = model(next_token, cache, start_pos=len_prompt)  # one decode step: [batch, 1] against the cache
Without a cache, forward(tokens) is the plain causal forward over the whole sequence.
"""
import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """x / rms(x) * weight, in f32 then back to the input's dtype (as Meta's reference does)."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight


class RotaryEmbedding(nn.Module):
    """Rotates interleaved pairs (x[2i], x[2i+1]) of q [B, H, S, D] and k [B, HKV, S, D] by position * base^(-2i/D),
    as Meta's LLaMA does; returns both."""

    def __init__(self, head_dim, max_seq_len, base=10000.0):
        super().__init__()
        inv_freq = base ** (-torch.arange(0, head_dim, 2).float() / head_dim)
        theta = torch.outer(torch.arange(max_seq_len).float(), inv_freq)
        self.register_buffer("cos", theta.cos(), persistent=False)
        self.register_buffer("sin", theta.sin(), persistent=False)

    def forward(self, q, k, start_pos=0):
        seq = q.shape[2]  # positions start_pos .. start_pos + seq - 1
        cos, sin = self.cos[start_pos:start_pos + seq].to(q.dtype), self.sin[start_pos:start_pos + seq].to(q.dtype)
        return self.rotate(q, cos, sin), self.rotate(k, cos, sin)

    @staticmethod
    def rotate(x, cos, sin):
        pairs = x.unflatten(-1, (-1, 2))
        x1, x2 = pairs[..., 0], pairs[..., 1]
        return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class KVCache:
    """The keys and values of every layer, [batch, heads, max_len, head_dim] each, allocated once. A forward
    with a cache writes its tokens' keys and values at start_pos.. and attends to positions 0 .. start_pos + S - 1."""

    def __init__(self, n_layers, batch_size, n_heads, head_dim, max_len, dtype, device):
        shape = (batch_size, n_heads, max_len, head_dim)
        self.layers = [(torch.zeros(shape, dtype=dtype, device=device), torch.zeros(shape, dtype=dtype, device=device))
                       for _ in range(n_layers)]


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x))."""

    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.up_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.down_proj = nn.Linear(hidden_dim, dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Attention(nn.Module):
    def __init__(self, dim, n_heads, max_seq_len):
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.rotary = RotaryEmbedding(self.head_dim, max_seq_len)

    def forward(self, x, kv=None, start_pos=0):
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        # rotary(q, k) alone at position 0: the call autokernel's exported rotary kernel replaces
        q, k = self.rotary(q, k, start_pos) if start_pos else self.rotary(q, k)
        if kv is not None:  # this layer's (keys, values) in a KVCache: store ours, attend to all so far
            assert s == 1 or start_pos == 0, "a cached forward is a prefill from position 0 or one decode token"
            cache_k, cache_v = kv
            cache_k[:, :, start_pos:start_pos + s] = k
            cache_v[:, :, start_pos:start_pos + s] = v
            k, v = cache_k[:, :, :start_pos + s], cache_v[:, :, :start_pos + s]
        # One new token attends to every cached position: nothing to mask.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=kv is None or s > 1)
        return self.out(y.transpose(1, 2).reshape(b, s, d))


class Block(nn.Module):
    def __init__(self, dim, n_heads, hidden_dim, max_seq_len):
        super().__init__()
        self.attn_norm = RMSNorm(dim)
        self.attn = Attention(dim, n_heads, max_seq_len)
        self.mlp_norm = RMSNorm(dim)
        self.mlp = SwiGLU(dim, hidden_dim)

    def forward(self, x, kv=None, start_pos=0):
        x = x + self.attn(self.attn_norm(x), kv, start_pos)
        return x + self.mlp(self.mlp_norm(x))


class Llama(nn.Module):
    def __init__(self, vocab_size=32000, dim=4096, n_layers=32, n_heads=32, hidden_dim=11008, max_seq_len=4096):
        super().__init__()
        self.max_seq_len = max_seq_len
        self.embed = nn.Embedding(vocab_size, dim)
        self.layers = nn.ModuleList(Block(dim, n_heads, hidden_dim, max_seq_len) for _ in range(n_layers))
        self.norm = RMSNorm(dim)
        self.lm_head = nn.Linear(dim, vocab_size, bias=False)

    def new_cache(self, batch_size, max_len=None):
        """An empty KVCache for forward(tokens, cache, start_pos), in the model's dtype and device."""
        attn, w = self.layers[0].attn, self.lm_head.weight
        return KVCache(len(self.layers), batch_size, attn.n_heads, attn.head_dim, max_len or self.max_seq_len,
                       w.dtype, w.device)

    def forward(self, tokens, cache=None, start_pos=0):
        x = self.embed(tokens)
        for i, layer in enumerate(self.layers):
            x = layer(x, cache.layers[i] if cache is not None else None, start_pos)
        return self.lm_head(self.norm(x))
