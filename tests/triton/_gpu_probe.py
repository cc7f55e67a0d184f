# Temporary GPU probe (deleted after use): every knob combo that can stress resources, plus timing.
import itertools, math, sys, time, traceback, os
sys.path.insert(0, os.path.dirname(__file__))
import torch
import check_triton_starters as T
F = torch.nn.functional
dev = "cuda"
which = sys.argv[1:] or ["all"]
DT = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}

def rn(shape, dt, s=1.0, seed=0):
    g = torch.Generator(device=dev).manual_seed(seed)
    return (torch.randn(shape, generator=g, device=dev) * s).to(dt)

fails = []
def attempt(tag, fn):
    try:
        fn()
    except Exception as e:
        msg = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        fails.append((tag, msg)); print("FAIL", tag, msg, flush=True)

def bench(f, iters=20):
    f(); torch.cuda.synchronize()
    s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(iters): f()
    e.record(); torch.cuda.synchronize()
    return s.elapsed_time(e) / iters * 1000  # us

def tol(kind, dt):
    return (T.TOL_MATMUL if kind == "mm" else T.TOL_ROWWISE)[dt]

def do_matmul(combo_all):
    M, N, K = 1000, 1100, 700
    knobs = T.parse_knobs(T.KERNELS / "matmul" / "triton.py")
    grid = itertools.product(knobs["BLOCK_M"][1], knobs["BLOCK_N"][1], knobs["BLOCK_K"][1])
    for (bm, bn, bk) in grid:
        for dname, dt in DT.items():
            for tf in ([0, 1] if dt == torch.float32 else [0]):
                def f():
                    a = rn((M, K), dt); b = rn((K, N), dt, 1 / math.sqrt(K), 1)
                    (c,) = T.run("matmul", [a, b], [((M, N), dt)], BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, TF32=tf)
                    T.assert_close(c, a.double() @ b.double(), 5e-3 if tf else tol("mm", dt), "mm")
                attempt(f"matmul {bm}x{bn}x{bk} {dname} tf32={tf}", f)

def do_attn():
    knobs = T.parse_knobs(T.KERNELS / "flash_attention" / "triton.py")
    for D in (64, 128, 256):
        for bm, bn, nw in itertools.product(knobs["BLOCK_M"][1], knobs["BLOCK_N"][1], knobs["NUM_WARPS"][1]):
            for dname, dt in DT.items():
                for tf in ([0, 1] if dt == torch.float32 else [0]):
                    if D == 64 and (nw != 4): continue
                    def f():
                        B, H, S = 1, 2, 300
                        q, k, v = (rn((B, H, S, D), dt, 1, i) for i in range(3))
                        for causal in (0, 1):
                            (o,) = T.run("flash_attention", [q, k, v], [((B, H, S, D), dt)], [causal, D ** -0.5],
                                         BLOCK_M=bm, BLOCK_N=bn, NUM_WARPS=nw, TF32=tf)
                            T.assert_close(o, T._attention_reference(q, k, v, causal, D ** -0.5),
                                           5e-3 if tf else tol("mm", dt), "attn")
                    attempt(f"attn D={D} {bm}x{bn} w{nw} {dname} tf32={tf}", f)

def do_mlp():
    knobs = T.parse_knobs(T.KERNELS / "fused_mlp" / "triton.py")
    for bm, bn, bk in itertools.product(knobs["BLOCK_M"][1], knobs["BLOCK_N"][1], knobs["BLOCK_K"][1]):
        for dname, dt in DT.items():
            for tf in ([0, 1] if dt == torch.float32 else [0]):
                def f():
                    M, E, Fd = 300, 260, 700
                    x = rn((M, E), dt); wg = rn((Fd, E), dt, E ** -0.5, 1); wu = rn((Fd, E), dt, E ** -0.5, 2)
                    wd = rn((E, Fd), dt, Fd ** -0.5, 3)
                    (y,) = T.run("fused_mlp", [x, wg, wu, wd], [((M, E), dt)], BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, TF32=tf)
                    xd = x.double()
                    ref = (F.silu(xd @ wg.double().T) * (xd @ wu.double().T)) @ wd.double().T
                    T.assert_close(y, ref, 5e-3 if tf else tol("mm", dt), "mlp")
                attempt(f"mlp {bm}x{bn}x{bk} {dname} tf32={tf}", f)

def do_rowwise():
    for kt in ("softmax", "layernorm", "rmsnorm", "reduce", "cross_entropy", "rotary_embedding"):
        knobs = T.parse_knobs(T.KERNELS / kt / "triton.py")
        names = list(knobs)
        for vals in itertools.product(*[knobs[n][1] for n in names]):
            kn = dict(zip(names, vals))
            for dname, dt in DT.items():
                def f():
                    if kt == "rotary_embedding":
                        B, H, S, D = 2, 3, 50, 128
                        x = rn((B, H, S, D), dt); c = rn((S, D // 2), dt, 1, 1); s = rn((S, D // 2), dt, 1, 2)
                        (y,) = T.run(kt, [x, c, s], [((B, H, S, D), dt)], **kn)
                        x0, x1 = x.double()[..., 0::2], x.double()[..., 1::2]; cd, sd = c.double(), s.double()
                        ref = torch.stack([x0 * cd - x1 * sd, x0 * sd + x1 * cd], -1).flatten(-2)
                        T.assert_close(y, ref, tol("row", dt), kt); return
                    M, N = 37, 5000
                    x = rn((M, N), dt, 2)
                    if kt == "softmax":
                        (y,) = T.run(kt, [x], [((M, N), dt)], **kn); ref = F.softmax(x.double(), -1)
                    elif kt == "reduce":
                        (y,) = T.run(kt, [x], [((M,), dt)], **kn); ref = x.double().sum(-1)
                    elif kt == "layernorm":
                        w = rn((N,), dt, 1, 1); b = rn((N,), dt, 1, 2)
                        (y,) = T.run(kt, [x, w, b], [((M, N), dt)], [1e-5], **kn)
                        ref = F.layer_norm(x.double(), (N,), w.double(), b.double(), 1e-5)
                    elif kt == "rmsnorm":
                        w = rn((N,), dt, 1, 1)
                        (y,) = T.run(kt, [x, w], [((M, N), dt)], [1e-6], **kn)
                        xd = x.double(); ref = xd * torch.rsqrt(xd.pow(2).mean(-1, keepdim=True) + 1e-6) * w.double()
                    else:
                        t = torch.randint(0, N, (M,), device=dev); t[3] = -100
                        (y,) = T.run(kt, [x, t], [((M,), torch.float32)], **kn); ref = T._ce_reference(x, t)
                        T.assert_close(y, ref, 1e-4, kt); return
                    T.assert_close(y, ref, tol("row", dt), kt)
                attempt(f"{kt} {kn} {dname}", f)

def do_bench():
    rows = []
    def add(name, f_ak, f_ref):
        try:
            rows.append((name, bench(f_ak), bench(f_ref)))
        except Exception as e:
            rows.append((name, f"ERR {e}"[:100], 0))
    for dname, dt in (("f16", torch.float16), ("f32", torch.float32)):
        M = N = K = 4096
        a = rn((M, K), dt); b = rn((K, N), dt); c = torch.empty((M, N), dtype=dt, device=dev)
        mod = T.load_starter("matmul")
        add(f"matmul 4096^3 {dname}", lambda: mod.kernel_fn([a, b], [c], []), lambda: a @ b)
        if dt == torch.float32:
            mod2 = T.load_starter("matmul", TF32=1)
            add(f"matmul 4096^3 f32 tf32=1", lambda: mod2.kernel_fn([a, b], [c], []), lambda: a @ b)
        for kt in ("softmax", "rmsnorm", "layernorm", "reduce"):
            M, N = 4096, 8192
            x = rn((M, N), dt); w = rn((N,), dt); bb = rn((N,), dt)
            y = torch.empty((M,) if kt == "reduce" else (M, N), dtype=dt, device=dev)
            m = T.load_starter(kt)
            ins = {"softmax": [x], "reduce": [x], "rmsnorm": [x, w], "layernorm": [x, w, bb]}[kt]
            ref = {"softmax": lambda: torch.softmax(x, -1), "reduce": lambda: x.sum(-1),
                   "rmsnorm": lambda: F.rms_norm(x, (N,), w, 1e-6), "layernorm": lambda: F.layer_norm(x, (N,), w, bb, 1e-5)}[kt]
            add(f"{kt} 4096x8192 {dname}", (lambda m=m, ins=ins, y=y: m.kernel_fn(ins, [y], [1e-5])), ref)
        M, V = 4096, 50257
        x = rn((M, V), dt); t = torch.randint(0, V, (M,), device=dev); loss = torch.empty(M, device=dev)
        m = T.load_starter("cross_entropy")
        add(f"cross_entropy 4096x50257 {dname}", lambda: m.kernel_fn([x, t], [loss], []),
            lambda: F.cross_entropy(x, t, reduction="none"))
        B, H, S, D = 4, 32, 2048, 128
        q, k, v = (rn((B, H, S, D), dt, 1, i) for i in range(3)); o = torch.empty_like(q)
        m = T.load_starter("flash_attention")
        for causal in (0, 1):
            add(f"attn 4x32x2048x128 causal={causal} {dname}", lambda m=m, causal=causal: m.kernel_fn([q, k, v], [o], [causal, D ** -0.5]),
                lambda causal=causal: F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal)))
        M, E, Fd = 4096, 4096, 11008
        x = rn((M, E), dt); wg = rn((Fd, E), dt, 0.02); wu = rn((Fd, E), dt, 0.02); wd = rn((E, Fd), dt, 0.02)
        y = torch.empty((M, E), dtype=dt, device=dev)
        m = T.load_starter("fused_mlp")
        add(f"fused_mlp 4096x4096x11008 {dname}", lambda m=m: m.kernel_fn([x, wg, wu, wd], [y], []),
            lambda: (F.silu(x @ wg.T) * (x @ wu.T)) @ wd.T)
        B, H, S, D = 4, 32, 2048, 128
        x = rn((B, H, S, D), dt); cs = rn((S, D // 2), dt); sn = rn((S, D // 2), dt); y = torch.empty_like(x)
        m = T.load_starter("rotary_embedding")
        def rref():
            x0, x1 = x[..., 0::2], x[..., 1::2]
            return torch.stack([x0 * cs - x1 * sn, x0 * sn + x1 * cs], -1).flatten(-2)
        add(f"rotary 4x32x2048x128 {dname}", lambda m=m: m.kernel_fn([x, cs, sn], [y], []), rref)
    for r in rows:
        print("BENCH", r[0], r[1] if isinstance(r[1], str) else f"triton {r[1]:.1f} us  torch {r[2]:.1f} us  ratio {r[2]/r[1]:.2f}", flush=True)

t0 = time.time()
for w in which:
    if w in ("all", "matmul"): do_matmul(True)
    if w in ("all", "attn"): do_attn()
    if w in ("all", "mlp"): do_mlp()
    if w in ("all", "row"): do_rowwise()
    if w in ("all", "bench"): do_bench()
    print("done", w, f"{time.time()-t0:.0f}s", flush=True)
print("FAILURES", len(fails))
for t, m in fails: print(" ", t, m)
