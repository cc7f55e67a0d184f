"""Used by tests/deploy: import an exported package the way a user does, patch a small model that has an
RMSNorm module, a Linear and a softmax, and check that the kernels really ran and changed nothing.
Prints `calls <json>` and `max_error <float>`; exits 1 when patching changed the output."""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, sys.argv[1])
import autokernel_kernels  # noqa: E402


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.eps = 1e-6
        self.weight = nn.Parameter(torch.randn(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = RMSNorm(64)
        self.proj = nn.Linear(64, 48)

    def forward(self, x):
        return F.softmax(self.proj(self.norm(x)), dim=-1)


torch.manual_seed(0)
model = Small().eval()
x = torch.randn(3, 7, 64)
with torch.no_grad():
    expected = model(x)
    autokernel_kernels.patch(model)
    got = model(x)
    calls = autokernel_kernels.stats()
    autokernel_kernels.unpatch(model)
    autokernel_kernels.reset_stats()
    model(x)
    assert autokernel_kernels.stats() == {}, "unpatch left a kernel in place"
err = (got - expected).abs().max().item()
print("calls", json.dumps(calls))
print("max_error", err)
sys.exit(0 if err < 1e-4 else 1)
