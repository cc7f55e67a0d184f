"""Used by tests/deploy: the functions the package routes that check_package.py does not touch:
F.layer_norm (layernorm), F.cross_entropy with ignored targets and each reduction (cross_entropy), and a
row sum through torch.sum (reduce; the tensor method x.sum is not routed). Prints `calls <json>`; exits 1 when a patched result differs from PyTorch's."""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, sys.argv[1])
import autokernel_kernels  # noqa: E402


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(48)

    def forward(self, x, target, target3):
        h = self.norm(x)
        logits = h.reshape(-1, 48)
        return (F.cross_entropy(logits, target), F.cross_entropy(logits, target3, reduction="sum", ignore_index=3),
                F.cross_entropy(logits, target, reduction="none"), torch.sum(h, -1))


torch.manual_seed(0)
model = Head().eval()
with torch.no_grad():
    model.norm.weight.normal_()
    model.norm.bias.normal_()
x = torch.randn(2, 5, 48)
target = torch.randint(0, 48, (10,))
target[2] = -100  # ignored by the default ignore_index
target3 = target.clone()
target3[2], target3[4] = 7, 3  # ignore_index=3 in the "sum" call
with torch.no_grad():
    expected = model(x, target, target3)
    autokernel_kernels.patch(model)
    got = model(x, target, target3)
calls = autokernel_kernels.stats()
print("calls", json.dumps(calls))
errors = [(g - e).abs().max().item() for g, e in zip(got, expected)]
print("errors", errors)
sys.exit(0 if max(errors) < 1e-4 else 1)
