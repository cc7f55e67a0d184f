"""Used by tests/deploy: F.scaled_dot_product_attention routed to an exported flash_attention kernel, with
as many key/value heads as query heads, with fewer (enable_gqa=True: groups of 3, and multi-query), and
calls that must fall through to PyTorch (fewer kv heads without enable_gqa raises in PyTorch itself; kv
heads that do not divide the query heads), and q, k, v as a model makes them, slices of one packed qkv
projection viewed per head (the kernel reads them in place; the output is in [B, S, H, D] memory). Prints
`calls <json>`; exits 1 when a routed result differs from PyTorch's."""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, sys.argv[1])
import autokernel_kernels  # noqa: E402


class Attend(nn.Module):
    def forward(self, q, k, v, causal, gqa):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)


torch.manual_seed(0)
model = Attend().eval()
q = torch.randn(2, 6, 17, 16)
cases = [(torch.randn(2, 6, 17, 16), True, False),   # multi-head
         (torch.randn(2, 2, 17, 16), True, True),    # groups of 3
         (torch.randn(2, 1, 17, 16), False, True)]   # multi-query
errors = []
with torch.no_grad():
    for k, causal, gqa in cases:
        v = torch.randn_like(k)
        expected = model(q, k, v, causal, gqa)
        autokernel_kernels.patch(model)
        got = model(q, k, v, causal, gqa)
        autokernel_kernels.unpatch(model)
        errors.append((got - expected).abs().max().item())
    # A fused qkv projection's output [B, S, 6 + 2 + 2, D], each part viewed per head: strided, in place.
    packed = torch.randn(2, 17, 10, 16)
    qp, kp, vp = (packed[:, :, a:b].transpose(1, 2) for a, b in ((0, 6), (6, 8), (8, 10)))
    expected = model(qp, kp, vp, True, True)
    autokernel_kernels.patch(model)
    got = model(qp, kp, vp, True, True)
    autokernel_kernels.unpatch(model)
    assert got.stride() == (17 * 6 * 16, 16, 6 * 16, 1), f"not in [B, S, H, D] memory: {got.stride()}"
    errors.append((got - expected).abs().max().item())
    calls = autokernel_kernels.stats()
    autokernel_kernels.reset_stats()
    # 4 kv heads do not divide 6 query heads: not routed (PyTorch refuses it as well).
    autokernel_kernels.patch(model)
    try:
        model(q, torch.randn(2, 4, 17, 16), torch.randn(2, 4, 17, 16), False, True)
    except RuntimeError:
        pass
    autokernel_kernels.unpatch(model)
    assert autokernel_kernels.stats() == {}, "a call with kv heads that do not divide the query heads was routed"
print("calls", json.dumps(calls))
print("errors", errors)
sys.exit(0 if max(errors) < 1e-4 else 1)
