"""`autokernel suite`, the baselines side (started as a child process by the C++ command).

For each configuration of the request (kernel type, dims, dtype) it builds inputs with the shapes,
layouts and dtypes of the catalog's make_problem (src/catalog/<type>.cpp) and times:
  eager    the PyTorch op exactly as the type's C++ eager() calls it;
  compile  torch.compile of that same function (the request's mode, dynamic=False); the first call
           compiles (and autotunes), outside the timing, and its seconds are reported;
  library  the vendor kernel where there is one: cuBLAS for matmul (torch.matmul, the eager op
           itself, so its eager time) and for skinny_gemm (F.linear, likewise), flash attention for flash_attention
           and decode_attention (F.scaled_dot_product_attention under sdpa_kernel(SDPBackend.FLASH_ATTENTION);
           decode_attention's on the cache's valid slice; where L < S, the catalogue's device form, a StaticCache's
           call, as PyTorch makes it: SDPA over the zero-filled cache with the mask of the lengths, the library
           flash or, as CUDA's flash takes no mask, the memory-efficient kernel).
Once per run it measures the copy ceiling: a device-to-device copy of 1 GiB, GB/s = 2 * bytes / time.

Every time is taken the way the harness's SampleTimer (src/harness/timing.cpp) takes it, so the
numbers compare with our kernels': see Timer.

Reads --request (JSON), writes --out (JSON) again after every configuration, so a crash keeps what
was measured ("done" is true only at the end). Prints one progress line per configuration.
Exit 0: ran (a configuration that failed has an "error"); 2: could not run (the output has "error").
"""
import argparse
import json
import math
import os
import random
import sys
import time
import traceback

try:  # a missing torch is reported as one error line by run(), not as a traceback
    import torch
    import torch.nn.functional as F
except ImportError as _e:
    torch = F = None
    TORCH_IMPORT_ERROR = _e

MIN_IDLE_US = 200           # device idle before every timed call, as the C++ timer's k_min_idle_us (timing.hpp)
GPU_OPTIONS = {"warmup": 3, "min_samples": 10, "max_samples": 300, "max_seconds": 3.0, "target_rel_error": 0.005}
CPU_OPTIONS = {"warmup": 3, "min_samples": 5, "max_samples": 50, "max_seconds": 3.0, "target_rel_error": 0.01}
INPUT_SETS = 3              # rotated, as the harness does
CPU_FLUSH_BYTES = 64 << 20  # as the C++ timer: larger than the host caches we target
RMSNORM_EPS, LAYERNORM_EPS, IGNORE_INDEX, ROPE_BASE = 1e-6, 1e-5, -100, 10000.0


class SetupError(Exception):
    """The whole run cannot go on: one line for the user, and a hint."""

    def __init__(self, message, hint=""):
        super().__init__(message)
        self.hint = hint


def say(line):
    print(line, flush=True)


# --- statistics: the same formulas as timing.cpp ---------------------------------------------------

def quantile(values, q):
    v = sorted(values)
    pos = q * (len(v) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def summarise(ms, host_ms=()):
    s = {"samples": len(ms), "median_ms": 0.0, "min_ms": 0.0, "p25_ms": 0.0, "p75_ms": 0.0, "rel_spread": 0.0,
         "host_call_ms": quantile(list(host_ms), 0.5) if host_ms else 0.0}
    if not ms:
        return s
    s.update(median_ms=quantile(ms, 0.5), p25_ms=quantile(ms, 0.25), p75_ms=quantile(ms, 0.75), min_ms=min(ms))
    s["rel_spread"] = (s["p75_ms"] - s["p25_ms"]) / s["median_ms"] if s["median_ms"] > 0 else 0.0
    return s


def median_rel_error(s):
    """Standard error of the median relative to it: 1.2533 * sigma / sqrt(n), sigma = IQR / 1.349."""
    if s["samples"] < 2 or s["median_ms"] <= 0:
        return 1.0
    sigma = (s["p75_ms"] - s["p25_ms"]) / 1.349
    return 1.2533 * sigma / math.sqrt(s["samples"]) / s["median_ms"]


# --- the timer ---------------------------------------------------------------------------------------

def idle_sleep_cycles(host_us, cycles_per_us):
    """Device-sleep cycles before a call launched in host_us: twice that, never below MIN_IDLE_US, at
    most 20 ms (the C++ timer's idle_sleep_cycles)."""
    return int(min(max(2 * host_us, MIN_IDLE_US), 20e3) * cycles_per_us)


class Timer:
    """SampleTimer's method: per sample the L2 is flushed (a write of twice its size), then on a GPU a
    short device sleep is queued so the host's launch cost is not counted, and CUDA events bracket
    exactly one call, on a stream of the timer's own. Warm-up calls first; median; stop once the
    median's relative standard error is below the target, or after max_seconds or max_samples.

    As in the C++ timer, the sleep outlasts twice the call's own host time (measured in the warm-up):
    a Python launcher (a compiled graph's guards and wrapper) can take over 100 us, and a gap left
    would be counted as device time. It is never shorter than MIN_IDLE_US, the C++ timer's floor: a
    memory-bound call that starts within tens of microseconds of the flush runs slower, so every
    caller waits alike."""

    def __init__(self, device):
        self.device = device
        self.cuda = device.type == "cuda"
        self.options = GPU_OPTIONS if self.cuda else CPU_OPTIONS
        flush_bytes = 2 * torch.cuda.get_device_properties(device).L2_cache_size if self.cuda else CPU_FLUSH_BYTES
        self.flush = torch.empty(flush_bytes, dtype=torch.uint8, device=device)
        self.stream = torch.cuda.Stream(device) if self.cuda else None
        self.cycles_per_us = self._sleep_rate() if self.cuda else 0.0

    def _sleep_rate(self):
        """Device clock cycles per microsecond, as torch.cuda._sleep counts them."""
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        cycles = 400000  # a few hundred microseconds
        torch.cuda._sleep(cycles)  # the first launch loads the kernel
        begin.record()
        torch.cuda._sleep(cycles)
        end.record()
        end.synchronize()
        return cycles / max(begin.elapsed_time(end) * 1e3, 1e-3)

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def time(self, run):
        """Times run(i) for samples i = 0, 1, ...; returns the statistics (milliseconds)."""
        o = self.options
        if self.cuda:
            with torch.cuda.stream(self.stream):
                return self._time(run, o)
        return self._time(run, o)

    def _time(self, run, o):
        self.sync()  # the inputs were made on another stream, which ours does not wait for
        warm_host_us = []
        for i in range(o["warmup"]):
            t0 = time.perf_counter()
            run(i)
            warm_host_us.append((time.perf_counter() - t0) * 1e6)
            self.sync()
        sleep_cycles = idle_sleep_cycles(quantile(warm_host_us, 0.5) if warm_host_us else 0.0, self.cycles_per_us)
        ms, host_ms = [], []
        start = time.perf_counter()
        for i in range(o["max_samples"]):
            self.flush.fill_(random.randrange(256))
            if self.cuda:
                begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                torch.cuda._sleep(sleep_cycles)
                begin.record()
                t0 = time.perf_counter()
                run(i)
                host_ms.append((time.perf_counter() - t0) * 1e3)
                end.record()
                end.synchronize()
                ms.append(begin.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                run(i)
                host_ms.append((time.perf_counter() - t0) * 1e3)
                ms.append(host_ms[-1])
            self.sync()
            stats = summarise(ms)
            if len(ms) >= o["min_samples"] and (median_rel_error(stats) < o["target_rel_error"]
                                                 or time.perf_counter() - start > o["max_seconds"]):
                break
        stats = summarise(ms, host_ms)
        stats["sleep_cycles"] = sleep_cycles if self.cuda else 0
        return stats


def timing_json(stats):
    return {"us": stats["median_ms"] * 1e3, "min_us": stats["min_ms"] * 1e3, "spread": stats["rel_spread"],
            "samples": stats["samples"], "host_us": stats["host_call_ms"] * 1e3, "sleep_cycles": stats["sleep_cycles"]}


# --- the problems: inputs as the catalog's make_problem, eager as its eager() ------------------------

def _gen(device, seed):
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def randn(shape, dtype, device, seed, std=1.0):
    return (torch.randn(shape, generator=_gen(device, seed), device=device, dtype=torch.float32) * std).to(dtype)


def rand(shape, device, seed):
    return torch.rand(shape, generator=_gen(device, seed), device=device, dtype=torch.float32)


def _bshd(x):
    """x [B, H, S, D] with the same values in a model's layout, the transpose of [B, S, H, D] memory: the layout the
    harness times attention and rotary in (catalog/common.cpp, head_layouts), so every column reads the same."""
    return x.transpose(1, 2).contiguous().transpose(1, 2)


def make_inputs(type_name, dims, dtype, device, seed):
    """(tensors, scalars) of one call, in the order the catalog gives them."""
    if type_name in ("softmax", "reduce"):
        return (randn(dims, dtype, device, seed),), {}
    if type_name == "rmsnorm":
        m, n = dims
        return (randn((m, n), dtype, device, seed), (randn((n,), torch.float32, device, seed + 1, 0.1) + 1).to(dtype)), {}
    if type_name == "add_rmsnorm":
        m, n = dims
        w = (randn((n,), torch.float32, device, seed + 2, 0.1) + 1).to(dtype)
        return (randn((m, n), dtype, device, seed), randn((m, n), dtype, device, seed + 1), w), {}
    if type_name == "layernorm":
        m, n = dims
        w = (randn((n,), torch.float32, device, seed + 1, 0.1) + 1).to(dtype)
        return (randn((m, n), dtype, device, seed), w, randn((n,), dtype, device, seed + 2, 0.1)), {}
    if type_name == "cross_entropy":
        m, v = dims
        target = (rand((m,), device, seed + 1) * v).floor().clamp_max(v - 1).long()
        target = target.masked_fill(rand((m,), device, seed + 2) < 1.0 / 16, IGNORE_INDEX)  # padding rows
        return (randn((m, v), dtype, device, seed, 2.0), target), {}
    if type_name == "rotary_embedding":
        # B,H,S,D,HKV,style; a 4-dim shape is the older form: HKV = H, style 0 (interleaved).
        b, h, s, d = dims[:4]
        hkv = dims[4] if len(dims) > 4 else h
        style = dims[5] if len(dims) > 5 else 0
        pos = torch.arange(s, dtype=torch.float64, device=device)
        inv_freq = ROPE_BASE ** (-torch.arange(0, d, 2, dtype=torch.float64, device=device) / d)
        theta = torch.outer(pos, inv_freq)  # [S, D/2]: pair i turns by theta[s, i]
        q, k = _bshd(randn((b, h, s, d), dtype, device, seed)), _bshd(randn((b, hkv, s, d), dtype, device, seed + 1))
        return (q, k, theta.cos().to(dtype), theta.sin().to(dtype)), {"style": style}
    if type_name == "matmul":
        # A 4th dim, the linear form (catalog/matmul.cpp): B K-major, the transposed view of the [N, K] matrix the
        # model holds (1: x W^T, B = W^T; 2: y^T = W x^T, B = x^T, PyTorch's call F.linear(x, W)).
        # A 5th, bias: a third tensor bias[N] (PyTorch's call then addmm, as F.linear with a bias and Conv1D make).
        # A 6th, residual: residual[M, N] added after (the model's GEMM, then its residual add; ours is one kernel).
        m, n, k = dims[:3]
        form = dims[3] if len(dims) > 3 else 0
        b = randn((n, k), dtype, device, seed + 1, 1 / math.sqrt(k)).t()
        tensors = (randn((m, k), dtype, device, seed), b if form else b.contiguous())
        if len(dims) > 4 and dims[4]:
            tensors += (randn((n,), dtype, device, seed + 3),)
        extra = {"residual": randn((m, n), dtype, device, seed + 4)} if len(dims) > 5 and dims[5] else {}
        return tensors, {"linear": form, **extra}
    if type_name == "skinny_gemm":
        m, n, k = dims
        return (randn((m, k), dtype, device, seed), randn((n, k), dtype, device, seed + 1, 1 / math.sqrt(k))), {}
    if type_name == "gelu":
        m, n = dims[:2]  # a 3rd, approximate (0: erf, 1: tanh), picks the form; 2 dims: erf (catalog/gelu.cpp)
        return (randn((m, n), dtype, device, seed, 2.0),), {"approximate": dims[2] if len(dims) > 2 else 0}
    if type_name == "flash_attention":
        b, h, s, d = dims[:4]
        causal = len(dims) > 4 and dims[4] != 0
        hkv = dims[5] if len(dims) > 5 else h  # grouped-query attention: k and v have HKV heads
        qkv = tuple(_bshd(randn((b, h if i == 0 else hkv, s, d), dtype, device, seed + i)) for i in range(3))
        return qkv, {"causal": causal, "scale": 1 / math.sqrt(d)}
    if type_name == "decode_attention":
        b, h, s, d, length = dims[:5]
        hkv = dims[5] if len(dims) > 5 else h  # grouped-query attention: the cache has HKV heads
        q = randn((b, h, 1, d), dtype, device, seed)
        k, v = (randn((b, hkv, s, d), dtype, device, seed + i) for i in (1, 2))
        if length < s:  # the device's form (catalog/decode_attention.cpp): a StaticCache's, zeros past L as it holds
            k[:, :, length:] = 0.0
            v[:, :, length:] = 0.0
            lengths = torch.full((b,), length, dtype=torch.int64, device=device)
            return (q, k, v), {"length": length, "scale": 1 / math.sqrt(d), "lengths": lengths}
        return (q, k, v), {"length": length, "scale": 1 / math.sqrt(d)}
    if type_name == "fused_mlp":
        m, e, f = dims[:3]  # a 4th, ACT (0 silu, 1 GELU tanh, 2 GELU erf), picks the gate's activation; 3 dims: silu
        return (randn((m, e), dtype, device, seed), randn((f, e), dtype, device, seed + 1, 1 / math.sqrt(e)),
                randn((f, e), dtype, device, seed + 2, 1 / math.sqrt(e)),
                randn((e, f), dtype, device, seed + 3, 1 / math.sqrt(f))), {"act": dims[3] if len(dims) > 3 else 0}
    raise KeyError(f"unknown kernel type '{type_name}'")


def _softmax(x):
    return x.softmax(-1)


def _rmsnorm(x, w):
    return F.rms_norm(x, (x.shape[-1],), w, RMSNORM_EPS)


def _add_rmsnorm(x, r, w):
    s = x + r
    return s, F.rms_norm(s, (s.shape[-1],), w, RMSNORM_EPS)


def _layernorm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w, b, LAYERNORM_EPS)


def _reduce(x):
    return x.sum(-1)


def _cross_entropy(logits, target):
    return F.cross_entropy(logits, target, reduction="none", ignore_index=IGNORE_INDEX)


def _rotate_pairs(x, cos, sin):
    pairs = x.unflatten(-1, (-1, 2))
    x1, x2 = pairs[..., 0], pairs[..., 1]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), -1).flatten(-2)


def _rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def _rotary(q, k, cos, sin, style):
    """style 0: interleaved pairs (Meta's LLaMA); 1: Hugging Face's apply_rotary_pos_emb, tables repeated to D."""
    if style == 0:
        return _rotate_pairs(q, cos, sin), _rotate_pairs(k, cos, sin)
    cos, sin = torch.cat((cos, cos), dim=-1), torch.cat((sin, sin), dim=-1)
    return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin


def _matmul(a, b, bias=None, linear=0, residual=None):
    if linear == 2:
        return F.linear(b.t(), a).t()  # the model's F.linear(x, W), seen as y^T
    c = a.matmul(b) if bias is None else torch.addmm(bias, a, b)
    return c if residual is None else c + residual


def _skinny_gemm(x, w):
    return F.linear(x, w)


def _gelu(x, approximate):
    return F.gelu(x, approximate="tanh" if approximate else "none")


def _attention(q, k, v, causal, scale):
    # enable_gqa only where k and v have fewer heads than q, as the catalog's eager() does.
    return F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=causal, scale=scale,
                                          enable_gqa=k.shape[1] != q.shape[1])


def _decode_attention(q, k, v, length, scale, lengths=None):
    # SDPA on the valid slice of the cache (a view), enable_gqa where the heads differ, as the catalog's eager(); in
    # the device's form, over the whole cache with the mask "key position < lengths[b]" (PyTorch's StaticCache call).
    if lengths is None:
        return _attention(q, k[:, :, :length], v[:, :, :length], False, scale)
    mask = (torch.arange(k.shape[2], device=k.device)[None, :] < lengths[:, None]).view(k.shape[0], 1, 1, k.shape[2])
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=k.shape[1] != q.shape[1])


def _fused_mlp(x, wg, wu, wd, act):
    # act 0: SwiGLU (F.silu); 1, 2: GeGLU, F.gelu's tanh or erf form (catalog/fused_mlp.cpp's ACT).
    g = F.linear(x, wg)
    g = F.silu(g) if act == 0 else F.gelu(g, approximate="tanh" if act == 1 else "none")
    return F.linear(g * F.linear(x, wu), wd)


EAGER = {"softmax": _softmax, "rmsnorm": _rmsnorm, "add_rmsnorm": _add_rmsnorm, "layernorm": _layernorm, "reduce": _reduce,
         "cross_entropy": _cross_entropy, "rotary_embedding": _rotary, "matmul": _matmul,
         "skinny_gemm": _skinny_gemm, "gelu": _gelu, "flash_attention": _attention, "fused_mlp": _fused_mlp,
         "decode_attention": _decode_attention}


def library(type_name, device):
    """(name, function or None) of the vendor kernel for a type; None: the eager op is it."""
    if type_name in ("matmul", "skinny_gemm"):
        return ("cuBLAS" if device.type == "cuda" else "CPU BLAS"), None
    if type_name == "flash_attention":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        def flash(q, k, v, causal, scale):
            with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
                return _attention(q, k, v, causal, scale)

        return "SDPA flash", flash
    if type_name == "decode_attention":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        def flash_decode(q, k, v, length, scale, lengths=None):
            # A StaticCache's call has a mask, which CUDA's flash kernel does not take: the memory-efficient one does.
            backends = [SDPBackend.FLASH_ATTENTION] + ([SDPBackend.EFFICIENT_ATTENTION] if lengths is not None else [])
            with sdpa_kernel(backends):
                return _decode_attention(q, k, v, length, scale, lengths)

        return "SDPA flash", flash_decode
    return None, None


# --- the run -------------------------------------------------------------------------------------------

def one_line(e):
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def copy_ceiling(timer, device):
    nbytes = (1 << 30) if device.type == "cuda" else (256 << 20)
    src = torch.empty(nbytes, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    stats = timer.time(lambda i: dst.copy_(src))
    del src, dst
    return {"bytes": nbytes, "us": stats["median_ms"] * 1e3, "copy_gb_s": 2 * nbytes / (stats["median_ms"] * 1e-3) / 1e9,
            "samples": stats["samples"], "spread": stats["rel_spread"]}


def measure(config, timer, device, compile_mode, do_compile):
    """One configuration: eager, compile, library. A failing measurement is an "error" entry."""
    name, dims = config["type"], config["dims"]
    dtype = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}[config["dtype"]]
    out = {"type": name, "label": config["label"], "dims": dims, "dtype": config["dtype"]}
    if name not in EAGER:
        out["error"] = f"unknown kernel type '{name}'"
        return out
    eager = EAGER[name]
    seed = 1000
    sets = [make_inputs(name, dims, dtype, device, seed + 10 * s) for s in range(INPUT_SETS)]

    def timed(fn):
        try:
            return timing_json(timer.time(lambda i: fn(*sets[i % INPUT_SETS][0], **sets[i % INPUT_SETS][1])))
        except Exception as e:  # noqa: BLE001 - one failed measurement, the others go on
            if device.type == "cuda":
                torch.cuda.empty_cache()
            return {"error": one_line(e)}

    out["eager"] = timed(eager)
    lib_name, lib_fn = library(name, device)
    if lib_name:
        # matmul, skinny_gemm: the eager op is the cuBLAS call itself, so its measurement is the library's.
        out["library"] = dict(out["eager"], same_as="eager") if lib_fn is None else timed(lib_fn)
        out["library"]["name"] = lib_name
    if do_compile:
        say(f"{config_name(out)}: torch.compile (mode {compile_mode or 'default'}) ...")  # max-autotune takes minutes
        try:
            compiled = torch.compile(eager, mode=compile_mode, dynamic=False)
            t0 = time.perf_counter()
            compiled(*sets[0][0], **sets[0][1])  # compiles (and autotunes) for this shape and dtype
            timer.sync()
            seconds = time.perf_counter() - t0
            out["compile"] = timed(compiled)
            out["compile"]["compile_s"] = seconds
        except Exception as e:  # noqa: BLE001
            out["compile"] = {"error": one_line(e)}
        finally:
            torch._dynamo.reset()  # each shape compiles afresh; no recompile limit is reached
    del sets
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def config_name(r):
    dims = "x".join(str(d) for d in r["dims"] or [])
    label = "" if r["label"] == dims else f"{r['label']} "
    return f"{r['type']} {label}{dims} {r['dtype']}"


def describe(r):
    def part(key, label):
        m = r.get(key)
        if m is None:
            return None
        if "error" in m:
            return f"{label} failed ({m['error']})"
        extra = f" (compiled in {m['compile_s']:.1f} s)" if "compile_s" in m else ""
        return f"{label} {m['us']:.2f} us{extra}"

    parts = [p for p in (part("eager", "eager"), part("compile", "compile"),
                         part("library", r.get("library", {}).get("name", "library"))) if p]
    head = config_name(r)
    return f"{head}: {r['error']}" if "error" in r else f"{head}: {', '.join(parts)}"


def write(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


def run(request, out_path):
    if torch is None:
        raise SetupError(f"cannot import torch: {TORCH_IMPORT_ERROR}", f"pip install torch (for {sys.executable})")

    if request.get("device", "cpu") == "cuda":
        if not torch.cuda.is_available():
            raise SetupError(f"torch {torch.__version__} sees no CUDA GPU", "install a CUDA build of torch")
        device = torch.device("cuda", 0)
        device_name = torch.cuda.get_device_name(device)
    else:
        device, device_name = torch.device("cpu"), "cpu"
    do_compile = bool(request.get("compile", True))
    compile_mode = request.get("compile_mode") or None
    doc = {"device": device.type, "device_name": device_name, "torch": torch.__version__,
           "python": sys.version.split()[0], "compile_mode": compile_mode if do_compile else None,
           "results": [], "done": False}
    with torch.no_grad():
        timer = Timer(device)
        doc["timer"] = dict(timer.options, min_idle_us=MIN_IDLE_US, cycles_per_us=timer.cycles_per_us,
                            flush_bytes=timer.flush.numel(), input_sets=INPUT_SETS)
        doc["ceiling"] = copy_ceiling(timer, device)
        say(f"copy ceiling: {doc['ceiling']['copy_gb_s']:.0f} GB/s ({doc['ceiling']['bytes'] >> 20} MiB, device to device)")
        write(out_path, doc)
        for config in request.get("configs", []):
            try:
                r = measure(config, timer, device, compile_mode, do_compile)
            except Exception as e:  # noqa: BLE001 - building the inputs failed (out of memory, say)
                traceback.print_exc()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                r = {"type": config.get("type"), "label": config.get("label"), "dims": config.get("dims"),
                     "dtype": config.get("dtype"), "error": one_line(e)}
            doc["results"].append(r)
            say(describe(r))
            write(out_path, doc)
    doc["done"] = True
    return doc


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--request", required=True, help="JSON: device, compile, compile_mode, configs")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    try:
        with open(args.request) as f:
            request = json.load(f)
        doc = run(request, args.out)
    except SetupError as e:
        doc = {"error": str(e), "hint": e.hint}
    except Exception as e:  # noqa: BLE001 - one line for the user, the traceback for us
        traceback.print_exc()
        doc = {"error": one_line(e)}
    write(args.out, doc)
    sys.exit(2 if "error" in doc else 0)


if __name__ == "__main__":
    main()
