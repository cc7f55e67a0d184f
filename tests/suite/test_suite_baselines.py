"""Checks python/autokernel_support/suite_baselines.py, the baselines child of `autokernel suite`.

Run:  python3 -m pytest -q tests/suite
"""
import json
import math
import pathlib
import re
import subprocess
import sys
import time

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
from autokernel_support import suite_baselines as sb  # noqa: E402

SCRIPT = ROOT / "python" / "autokernel_support" / "suite_baselines.py"
CPU = torch.device("cpu")


def test_statistics_are_the_cpp_timers():
    # timing.cpp: linear interpolation between order statistics.
    assert sb.quantile([4.0, 1.0, 3.0, 2.0], 0.25) == pytest.approx(1.75)
    assert sb.quantile([4.0, 1.0, 3.0, 2.0], 0.5) == pytest.approx(2.5)
    s = sb.summarise([float(v) for v in range(1, 11)])
    assert (s["median_ms"], s["p25_ms"], s["p75_ms"], s["min_ms"]) == pytest.approx((5.5, 3.25, 7.75, 1.0))
    assert s["rel_spread"] == pytest.approx(4.5 / 5.5)
    assert sb.median_rel_error(s) == pytest.approx(1.2533 * (4.5 / 1.349) / math.sqrt(10) / 5.5)
    assert sb.median_rel_error(sb.summarise([1.0])) == 1.0  # one sample says nothing


def test_the_idle_before_a_call_is_the_cpp_timers():
    # The same floor as timing.hpp's k_min_idle_us, so a kernel and a baseline start on the same settled L2.
    header = (pathlib.Path(__file__).resolve().parents[2] / "src/harness/timing.hpp").read_text()
    cpp_floor = float(re.search(r"k_min_idle_us = ([0-9.]+);", header).group(1))
    assert sb.MIN_IDLE_US == cpp_floor
    assert sb.idle_sleep_cycles(5.0, 1000.0) == int(cpp_floor * 1000)  # a fast launch waits the floor
    assert sb.idle_sleep_cycles(150.0, 1000.0) == 300 * 1000             # a slow one is covered twice over
    assert sb.idle_sleep_cycles(1e6, 1000.0) == 20000 * 1000             # at most 20 ms


def test_the_cpu_timer_measures_one_call_and_stops_by_the_rules():
    timer = sb.Timer(CPU)
    stats = timer.time(lambda i: time.sleep(0.002))
    assert 1.9 <= stats["median_ms"] <= 8.0  # one call of 2 ms (a loaded CI machine oversleeps), not several
    assert sb.CPU_OPTIONS["min_samples"] <= stats["samples"] <= sb.CPU_OPTIONS["max_samples"]


@pytest.mark.parametrize("name, dims, shapes", [
    ("softmax", [4, 8], [(4, 8)]),
    ("reduce", [4, 8], [(4, 8)]),
    ("rmsnorm", [4, 8], [(4, 8), (8,)]),
    ("layernorm", [4, 8], [(4, 8), (8,), (8,)]),
    ("cross_entropy", [64, 10], [(64, 10), (64,)]),
    ("rotary_embedding", [2, 3, 5, 8], [(2, 3, 5, 8), (2, 3, 5, 8), (5, 4), (5, 4)]),  # the older form: HKV = H
    ("rotary_embedding", [2, 4, 5, 8, 2, 1], [(2, 4, 5, 8), (2, 2, 5, 8), (5, 4), (5, 4)]),
    ("matmul", [4, 6, 8], [(4, 8), (8, 6)]),
    ("matmul", [4, 6, 8, 1], [(4, 8), (8, 6)]),  # x W^T: B = W^T, K-major, the weight as the model holds it
    ("matmul", [6, 4, 8, 2], [(6, 8), (8, 4)]),  # y^T = W x^T: B = x^T, PyTorch's call F.linear(x, W)
    ("matmul", [4, 6, 8, 1, 1], [(4, 8), (8, 6), (6,)]),  # F.linear with a bias: addmm
    ("matmul", [4, 6, 8, 1, 1, 1], [(4, 8), (8, 6), (6,)]),  # and the residual add after it (a keyword)
    ("matmul", [4, 6, 8, 0, 0, 1], [(4, 8), (8, 6)]),
    ("skinny_gemm", [4, 6, 8], [(4, 8), (6, 8)]),  # the weight as F.linear takes it, [N, K]
    ("gelu", [4, 6, 1], [(4, 6)]),
    ("flash_attention", [2, 3, 16, 8, 1], [(2, 3, 16, 8)] * 3),
    ("flash_attention", [2, 6, 16, 8, 1, 2], [(2, 6, 16, 8), (2, 2, 16, 8), (2, 2, 16, 8)]),
    ("fused_mlp", [4, 8, 12], [(4, 8), (12, 8), (12, 8), (8, 12)]),
    ("fused_mlp", [4, 8, 12, 1], [(4, 8), (12, 8), (12, 8), (8, 12)]),  # GeGLU, the tanh form
    ("decode_attention", [2, 8, 16, 8, 11, 2], [(2, 8, 1, 8), (2, 2, 16, 8), (2, 2, 16, 8)]),  # the cache as allocated
])
def test_inputs_have_the_catalogs_shapes_and_dtypes(name, dims, shapes):
    tensors, scalars = sb.make_inputs(name, dims, torch.bfloat16, CPU, 7)
    assert [tuple(t.shape) for t in tensors] == shapes
    for t in tensors:
        assert t.dtype == (torch.int64 if name == "cross_entropy" and t.dim() == 1 else torch.bfloat16)
    if name == "flash_attention":
        assert scalars == {"causal": True, "scale": pytest.approx(1 / math.sqrt(8))}
    if name == "rotary_embedding":
        assert scalars == {"style": dims[5] if len(dims) > 5 else 0}
        assert not torch.equal(tensors[0][:, :1], tensors[1][:, :1])  # q and k are drawn apart
    if name == "gelu":
        assert scalars == {"approximate": 1}
    if name == "fused_mlp":
        assert scalars == {"act": dims[3] if len(dims) > 3 else 0}
    if name == "matmul":
        residual = scalars.pop("residual", None)
        assert scalars == {"linear": dims[3] if len(dims) > 3 else 0}
        assert (residual is not None) == (len(dims) > 5 and dims[5] == 1)
        assert tensors[1].stride() == ((1, 8) if dims[3:4] in ([1], [2]) else (dims[1], 1))
        want = tensors[0] @ tensors[1] + (tensors[2] if len(tensors) > 2 else 0)
        if residual is not None:
            assert residual.shape == (4, 6)
            scalars["residual"] = residual
            want = want + residual
        torch.testing.assert_close(sb.EAGER["matmul"](*tensors, **scalars), want)
    if name == "decode_attention":  # L < S: the device's form, a StaticCache's (zeros past L, lengths on the device)
        lengths = scalars.pop("lengths")
        assert scalars == {"length": 11, "scale": pytest.approx(1 / math.sqrt(8))}
        assert torch.equal(lengths, torch.full((2,), 11, dtype=torch.int64))
        assert bool((tensors[1][:, :, 11:] == 0).all()) and bool(tensors[1][:, :, :11].isfinite().all())
    if name == "cross_entropy":
        target = tensors[1]
        assert bool(((target == sb.IGNORE_INDEX) | ((target >= 0) & (target < 10))).all())
    # Three input sets differ (the harness rotates three).
    again, _ = sb.make_inputs(name, dims, torch.bfloat16, CPU, 17)
    assert not torch.equal(tensors[0], again[0])


def reference(name, tensors, scalars):
    """The catalog's float64 oracles, written out independently."""
    t = [x.double() if x.is_floating_point() else x for x in tensors]
    if name == "rmsnorm":
        x, w = t
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + sb.RMSNORM_EPS) * w
    if name == "rotary_embedding":
        q, k, cos, sin = t
        rot = torch.complex(cos, sin)
        if scalars["style"] == 0:  # pairs (x[2i], x[2i+1]) as complex numbers
            return tuple(torch.view_as_real(torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous()) * rot)
                         .flatten(-2) for x in (q, k))
        half = q.shape[-1] // 2  # pairs (x[i], x[i + D/2])
        return tuple(torch.cat(torch.view_as_real(torch.complex(x[..., :half], x[..., half:]) * rot).unbind(-1), -1)
                     for x in (q, k))
    if name == "cross_entropy":
        logits, target = t
        picked = logits.gather(1, target.clamp_min(0)[:, None])[:, 0]
        return (torch.logsumexp(logits, 1) - picked).masked_fill(target < 0, 0.0)
    if name == "flash_attention":
        q, k, v = t
        group = q.shape[1] // k.shape[1]  # grouped-query attention: kv head h // group serves query head h
        k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
        s = q @ k.transpose(-1, -2) * scalars["scale"]
        if scalars["causal"]:
            s = s.masked_fill(torch.ones_like(s, dtype=torch.bool).triu(1), float("-inf"))
        return s.softmax(-1) @ v
    if name == "skinny_gemm":
        x, w = t
        return x @ w.T
    if name == "gelu":
        (x,) = t
        if scalars["approximate"]:
            return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    if name == "decode_attention":
        q, k, v = t
        n = scalars["length"]  # only the valid keys (every sequence's: the device's form has lengths all L)
        group = q.shape[1] // k.shape[1]
        k, v = k[:, :, :n].repeat_interleave(group, 1), v[:, :, :n].repeat_interleave(group, 1)
        return (q @ k.transpose(-1, -2) * scalars["scale"]).softmax(-1) @ v
    if name == "fused_mlp":
        x, wg, wu, wd = t
        g = x @ wg.T
        if scalars["act"] == 0:
            a = g * torch.sigmoid(g)
        elif scalars["act"] == 1:
            a = 0.5 * g * (1 + torch.tanh(math.sqrt(2 / math.pi) * (g + 0.044715 * g**3)))
        else:
            a = 0.5 * g * (1 + torch.erf(g / math.sqrt(2)))
        return (a * (x @ wu.T)) @ wd.T
    raise KeyError(name)


@pytest.mark.parametrize("name, dims", [("rmsnorm", [8, 32]), ("rotary_embedding", [1, 2, 8, 16]),
                                        ("rotary_embedding", [1, 4, 8, 16, 2, 0]),
                                        ("rotary_embedding", [2, 4, 8, 16, 1, 1]),
                                        ("cross_entropy", [64, 50]), ("flash_attention", [1, 2, 32, 16, 1]),
                                        ("flash_attention", [1, 2, 32, 16, 0]), ("flash_attention", [1, 4, 32, 16, 1, 1]),
                                        ("flash_attention", [2, 6, 32, 16, 0, 2]), ("fused_mlp", [8, 16, 24]),
                                        ("fused_mlp", [8, 16, 24, 1]), ("fused_mlp", [8, 16, 24, 2]),
                                        ("skinny_gemm", [3, 16, 24]), ("gelu", [5, 7, 0]), ("gelu", [5, 7, 1]),
                                        ("decode_attention", [2, 8, 32, 16, 29, 2]),
                                        ("decode_attention", [3, 4, 8, 16, 1])])
def test_eager_computes_the_types_function(name, dims):
    tensors, scalars = sb.make_inputs(name, dims, torch.float32, CPU, 3)
    got, want = sb.EAGER[name](*tensors, **scalars), reference(name, tensors, scalars)
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert torch.allclose(g.double(), w, rtol=1e-4, atol=1e-4)
    _, flash = sb.library(name, CPU)
    if flash is not None:
        assert torch.allclose(flash(*tensors, **scalars).double(), reference(name, tensors, scalars), rtol=1e-4, atol=1e-4)


def run_child(tmp_path, request):
    req = tmp_path / "request.json"
    out = tmp_path / "out.json"
    req.write_text(json.dumps(request))
    proc = subprocess.run([sys.executable, str(SCRIPT), "--request", str(req), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    return proc, json.loads(out.read_text())


def test_a_run_measures_every_configuration_and_goes_on_past_a_bad_one(tmp_path):
    configs = [{"type": "softmax", "label": "a", "dims": [16, 64], "dtype": "f16"},
               {"type": "convolution", "label": "b", "dims": [3], "dtype": "f16"},
               {"type": "matmul", "label": "c", "dims": [16, 16, 16], "dtype": "bf16"},
               {"type": "flash_attention", "label": "d", "dims": [1, 2, 32, 16, 1], "dtype": "bf16"}]
    proc, doc = run_child(tmp_path, {"device": "cpu", "compile": False, "configs": configs})
    assert proc.returncode == 0, proc.stderr
    assert doc["done"] is True
    assert doc["ceiling"]["copy_gb_s"] > 0
    assert doc["torch"] == torch.__version__
    assert [(r["type"], r["label"], r["dtype"]) for r in doc["results"]] == [
        (c["type"], c["label"], c["dtype"]) for c in configs]
    softmax, bad, matmul, attention = doc["results"]
    assert softmax["eager"]["us"] > 0 and "compile" not in softmax and "library" not in softmax
    assert "unknown kernel type 'convolution'" in bad["error"]
    assert matmul["library"]["name"] == "CPU BLAS" and matmul["library"]["us"] == matmul["eager"]["us"]
    assert attention["library"]["name"] == "SDPA flash" and attention["library"]["us"] > 0
    assert "softmax a 16x64 f16: eager" in proc.stdout  # one progress line per configuration


def test_compile_is_timed_after_its_first_call(tmp_path):
    configs = [{"type": "rmsnorm", "label": "a", "dims": [16, 64], "dtype": "f32"}]
    proc, doc = run_child(tmp_path, {"device": "cpu", "compile": True, "configs": configs})
    assert proc.returncode == 0, proc.stderr
    compiled = doc["results"][0]["compile"]
    assert "error" not in compiled, compiled
    assert compiled["us"] > 0 and compiled["compile_s"] > 0 and compiled["samples"] >= 5


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_without_one_is_one_error(tmp_path):
    proc, doc = run_child(tmp_path, {"device": "cuda", "configs": []})
    assert proc.returncode == 2
    assert "sees no CUDA GPU" in doc["error"]
