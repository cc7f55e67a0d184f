# Temporary GPU probe (deleted after use).
import itertools, math, sys, os, time
sys.path.insert(0, os.path.dirname(__file__))
import torch, triton
import check_triton_starters as T
F = torch.nn.functional
dev = "cuda"

def bench(f, iters=10):
    f(); torch.cuda.synchronize()
    s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(iters): f()
    e.record(); torch.cuda.synchronize()
    return s.elapsed_time(e) / iters * 1000

def rn(shape, dt, s=1.0):
    return (torch.randn(shape, device=dev) * s).to(dt)

def attn(dt, prec, bm, bn, nw, B=1, H=32, S=2048, D=128, causal=False, ns=None, time_it=True):
    q, k, v = (rn((B, H, S, D), dt) for _ in range(3)); o = torch.empty_like(q)
    mod = T.load_starter("flash_attention", BLOCK_M=bm, BLOCK_N=bn, NUM_WARPS=nw)
    bd = max(16, triton.next_power_of_2(D))
    if ns is None: ns = 2 if dt == torch.float32 else 3
    def f():
        mod._flash_attention_kernel[(triton.cdiv(S, bm), B * H)](q, k, v, o, S, D, D ** -0.5 * 1.4426950408889634,
            BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=bd, CAUSAL=causal, PRECISION=prec, num_warps=nw, num_stages=ns)
    tag = f"attn {str(dt)[6:]} {prec} D={D} {bm}x{bn} w{nw} s{ns}"
    try:
        t0 = time.time(); f(); torch.cuda.synchronize(); ct = time.time() - t0
        ref = T._attention_reference(q, k, v, causal, D ** -0.5)
        err = ((o.double() - ref).abs().max() / ref.pow(2).mean().sqrt()).item()
        t = bench(f, 5) if time_it else 0
        print(f"{tag}: {t:.0f} us relerr {err:.2e} compile {ct:.1f}s", flush=True)
    except Exception as e:
        print(f"{tag}: ERR {type(e).__name__} {str(e)[:150]}", flush=True)

part = sys.argv[1]
if part == "a":
    q = rn((1, 32, 2048, 128), torch.float16)
    print("sdpa f16", bench(lambda: F.scaled_dot_product_attention(q, q, q)))
    for bm, bn, nw in itertools.product((64, 128), (32, 64, 128), (4, 8)):
        attn(torch.float16, "tf32", bm, bn, nw)
    for prec in ("tf32x3", "tf32"):
        for bm, bn, nw in ((64, 64, 8), (64, 32, 4), (128, 64, 8), (64, 64, 4)):
            attn(torch.float32, prec, bm, bn, nw)
if part == "b":
    # resource extremes: compile only matters (small S)
    for D in (128, 256):
        for dt in (torch.float16, torch.float32):
            for bm, bn in ((128, 128), (128, 64), (64, 128), (16, 128)):
                for ns in ((1, 2, 3) if dt == torch.float16 else (1, 2)):
                    attn(dt, "tf32" if dt == torch.float16 else "ieee", bm, bn, 8, B=1, H=1, S=300, D=D, ns=ns, time_it=False)

def timed_kernel(tag, ktype, ins, outs, scalars, ref=None, tolv=None, iters=5, **kn):
    try:
        mod = T.load_starter(ktype, **kn)
        t0 = time.time(); mod.kernel_fn(ins, outs, scalars); torch.cuda.synchronize(); ct = time.time() - t0
        err = ""
        if ref is not None:
            r = ref()
            err = f"relerr {((outs[0].double() - r).abs().max() / r.pow(2).mean().sqrt()).item():.2e}"
            del r
        t = bench(lambda: mod.kernel_fn(ins, outs, scalars), iters) if iters else 0
        print(f"{tag} {kn}: {t:.0f} us {err} first-call {ct:.1f}s stages {getattr(mod, '_STAGES', {})}", flush=True)
    except Exception as e:
        print(f"{tag} {kn}: ERR {type(e).__name__} {str(e)[:200]}", flush=True)

if part == "c":
    M = N = K = 4096
    for dt, cfgs in ((torch.float16, [(128, 128, 32), (128, 128, 64), (128, 256, 64), (64, 128, 64), (128, 64, 64)]),
                     (torch.float32, [(128, 128, 32), (64, 64, 32), (128, 128, 16), (64, 128, 32)])):
        a = rn((M, K), dt); b = rn((K, N), dt); c = torch.empty((M, N), dtype=dt, device=dev)
        print("torch mm", dt, bench(lambda: a @ b))
        for bm, bn, bk in cfgs:
            timed_kernel(f"mm {dt}", "matmul", [a, b], [c], [], BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk)
        if dt == torch.float32:
            for fd in (1, 2):
                timed_kernel(f"mm {dt}", "matmul", [a, b], [c], [], ref=lambda: a.double() @ b.double(), F32_DOT=fd)
    M, E, Fd = 4096, 4096, 11008
    for dt, cfgs in ((torch.float16, [(64, 64, 32), (128, 128, 32), (128, 128, 64), (128, 64, 64)]),
                     (torch.float32, [(64, 64, 32), (128, 128, 32), (64, 128, 32)])):
        x = rn((M, E), dt); wg = rn((Fd, E), dt, 0.02); wu = rn((Fd, E), dt, 0.02); wd = rn((E, Fd), dt, 0.02)
        y = torch.empty((M, E), dtype=dt, device=dev)
        print("torch mlp", dt, bench(lambda: (F.silu(x @ wg.T) * (x @ wu.T)) @ wd.T, 3))
        for bm, bn, bk in cfgs:
            timed_kernel(f"mlp {dt}", "fused_mlp", [x, wg, wu, wd], [y], [], iters=3, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk)
        if dt == torch.float32:
            timed_kernel(f"mlp {dt}", "fused_mlp", [x, wg, wu, wd], [y], [], iters=3, F32_DOT=1)
    B, H, S, D = 1, 32, 2048, 128
    q, k, v = (rn((B, H, S, D), torch.float32) for _ in range(3)); o = torch.empty_like(q)
    timed_kernel("attn f32", "flash_attention", [q, k, v], [o], [0, D ** -0.5], F32_DOT=1)
    timed_kernel("attn f32", "flash_attention", [q, k, v], [o], [1, D ** -0.5], F32_DOT=1)

if part == "d":
    def attn_ext(dt, D, **kn):
        B, H, S = 1, 2, 200
        q, k, v = (rn((B, H, S, D), dt) for _ in range(3)); o = torch.full_like(q, float("nan"))
        for causal in (0, 1):
            timed_kernel(f"attn-ext {dt} D={D} causal={causal}", "flash_attention", [q, k, v], [o], [causal, D ** -0.5],
                         ref=lambda: T._attention_reference(q, k, v, causal, D ** -0.5), iters=0, **kn)
    for D in (128, 256):
        for dt in (torch.float16, torch.bfloat16):
            attn_ext(dt, D, BLOCK_M=128, BLOCK_N=128, NUM_WARPS=8)
            attn_ext(dt, D, BLOCK_M=128, BLOCK_N=128, NUM_WARPS=2)
        attn_ext(torch.float32, D, BLOCK_M=128, BLOCK_N=128, NUM_WARPS=8, F32_DOT=1)
        attn_ext(torch.float32, D, BLOCK_M=16, BLOCK_N=128, NUM_WARPS=4, F32_DOT=1)
    attn_ext(torch.float32, 128, BLOCK_M=128, BLOCK_N=128, NUM_WARPS=8)
    attn_ext(torch.float32, 256, BLOCK_M=64, BLOCK_N=64, NUM_WARPS=8)
    for dt in (torch.float16, torch.float32):
        M, N, K = 300, 520, 200
        a = rn((M, K), dt); b = rn((K, N), dt)
        c = torch.full((M, N), float("nan"), dtype=dt, device=dev)
        for fd in ((0, 1, 2) if dt == torch.float32 else (0,)):
            timed_kernel(f"mm-ext {dt}", "matmul", [a, b], [c], [], ref=lambda: a.double() @ b.double(), iters=0,
                         BLOCK_M=128, BLOCK_N=256, BLOCK_K=64, F32_DOT=fd)
        x = rn((M, K), dt); wg = rn((N, K), dt, 0.1); wu = rn((N, K), dt, 0.1); wd = rn((K, N), dt, 0.05)
        y = torch.full((M, K), float("nan"), dtype=dt, device=dev)
        for fd in ((0, 1, 2) if dt == torch.float32 else (0,)):
            timed_kernel(f"mlp-ext {dt}", "fused_mlp", [x, wg, wu, wd], [y], [], iters=0,
                         ref=lambda: (F.silu(x.double() @ wg.double().T) * (x.double() @ wu.double().T)) @ wd.double().T,
                         BLOCK_M=128, BLOCK_N=128, BLOCK_K=64, F32_DOT=fd)
    for kt in ("softmax", "layernorm", "rmsnorm", "reduce", "cross_entropy"):
        for bn, nw in ((8192, 1), (8192, 16), (256, 16), (256, 1)):
            M, N = 5, 20000
            x = rn((M, N), torch.float32)
            kn = {("BLOCK_V" if kt == "cross_entropy" else "BLOCK_N"): bn, "NUM_WARPS": nw}
            if kt == "cross_entropy":
                t = torch.tensor([0, 1, -100, 19999, 7], device=dev); out = torch.full((M,), float("nan"), device=dev)
                timed_kernel(kt, kt, [x, t], [out], [], ref=lambda: T._ce_reference(x, t), iters=0, **kn)
            elif kt == "softmax":
                out = torch.full_like(x, float("nan"))
                timed_kernel(kt, kt, [x], [out], [], ref=lambda: F.softmax(x.double(), -1), iters=0, **kn)
            elif kt == "reduce":
                out = torch.full((M,), float("nan"), device=dev)
                timed_kernel(kt, kt, [x], [out], [], ref=lambda: x.double().sum(-1), iters=0, **kn)
            elif kt == "layernorm":
                w = rn((N,), torch.float32); bb = rn((N,), torch.float32); out = torch.full_like(x, float("nan"))
                timed_kernel(kt, kt, [x, w, bb], [out], [1e-5], ref=lambda: F.layer_norm(x.double(), (N,), w.double(), bb.double(), 1e-5), iters=0, **kn)
            else:
                w = rn((N,), torch.float32); out = torch.full_like(x, float("nan"))
                timed_kernel(kt, kt, [x, w], [out], [1e-6], ref=lambda: x.double() * torch.rsqrt(x.double().pow(2).mean(-1, keepdim=True) + 1e-6) * w.double(), iters=0, **kn)
