"""A small language model scored with a cross-entropy loss over a large vocabulary (128k tokens, as in
LLaMA-3): the loss over [tokens, vocab] logits dominates, which is what the cross_entropy kernel is for.
The forward pass returns the mean loss, so its inputs are token ids and next-token targets:

  autokernel profile --model examples/models/lm_loss.py:LMWithLoss \
      --inputs examples/models/lm_loss.py:make_inputs --input-shape 4,512

Pass a smaller config with --init-args, e.g. '{"vocab_size": 4096, "dim": 64, "n_layers": 1}'.
"""
import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    """Pre-LayerNorm residual MLP (attention is not the point of this example)."""

    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, 4 * dim)
        self.down = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return x + self.down(F.gelu(self.up(self.norm(x))))


class LMWithLoss(nn.Module):
    def __init__(self, vocab_size=128256, dim=1024, n_layers=2):
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, dim)
        self.layers = nn.ModuleList(Block(dim) for _ in range(n_layers))
        self.norm = nn.LayerNorm(dim)
        self.lm_head = nn.Linear(dim, vocab_size, bias=False)

    def forward(self, tokens, targets):
        x = self.embed(tokens)
        for layer in self.layers:
            x = layer(x)
        logits = self.lm_head(self.norm(x))
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def make_inputs(model, device, shape=(4, 512)):
    """Token ids and targets [batch, seq] below the model's vocabulary size (shape: --input-shape)."""
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, model.vocab_size, tuple(shape), generator=g)
    targets = torch.randint(0, model.vocab_size, tuple(shape), generator=g)
    return tokens.to(device), targets.to(device)
