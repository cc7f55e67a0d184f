# Temporary GPU timing probe (deleted after use).
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

what = sys.argv[1]
if what == "attn":
    B, H, S, D = 1, 32, 2048, 128
    for dt in (torch.float32, torch.float16):
        q, k, v = (rn((B, H, S, D), dt) for _ in range(3)); o = torch.empty_like(q)
        ref = F.scaled_dot_product_attention(q.double(), k.double(), v.double())
        print("sdpa", dt, f"{bench(lambda: F.scaled_dot_product_attention(q, k, v)):.0f} us", flush=True)
        precs = ["ieee", "tf32x3", "tf32"] if dt == torch.float32 else ["tf32"]
        for prec in precs:
            for bm, bn, nw in itertools.product((16, 32, 64, 128), (16, 32, 64, 128), (2, 4, 8)):
                mod = T.load_starter("flash_attention", BLOCK_M=bm, BLOCK_N=bn, NUM_WARPS=nw)
                def f():
                    grid = (triton.cdiv(S, bm), B * H)
                    mod._flash_attention_kernel[grid](q, k, v, o, S, D, D ** -0.5 * 1.4426950408889634, BLOCK_M=bm,
                        BLOCK_N=bn, BLOCK_D=D, CAUSAL=False, PRECISION=prec, num_warps=nw, num_stages=2 if dt == torch.float32 else 3)
                try:
                    t0 = time.time(); f(); torch.cuda.synchronize(); ct = time.time() - t0
                    if ct > 20: print("slow compile", ct)
                    err = ((o.double() - ref).abs().max() / ref.pow(2).mean().sqrt()).item()
                    t = bench(f, 3 if dt == torch.float32 and prec == "ieee" else 10)
                    print(f"attn {dt} {prec} {bm}x{bn} w{nw}: {t:.0f} us relerr {err:.2e}", flush=True)
                except Exception as e:
                    print(f"attn {dt} {prec} {bm}x{bn} w{nw}: ERR {type(e).__name__} {str(e)[:100]}", flush=True)
elif what == "mm":
    for dt in (torch.float16, torch.float32):
        M = N = K = 4096
        a = rn((M, K), dt); b = rn((K, N), dt); c = torch.empty((M, N), dtype=dt, device=dev)
        print("torch", dt, f"{bench(lambda: a @ b):.0f}")
        for bm, bn, bk in itertools.product((64, 128), (64, 128, 256), (32, 64)):
            mod = T.load_starter("matmul", BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk)
            try:
                print(f"mm {dt} {bm}x{bn}x{bk}: {bench(lambda: mod.kernel_fn([a, b], [c], [])):.0f} us", flush=True)
            except Exception as e:
                print(f"mm {dt} {bm}x{bn}x{bk}: ERR {type(e).__name__} {str(e)[:100]}", flush=True)
    for dt in (torch.float16, torch.float32):
        M, E, Fd = 4096, 4096, 11008
        x = rn((M, E), dt); wg = rn((Fd, E), dt, 0.02); wu = rn((Fd, E), dt, 0.02); wd = rn((E, Fd), dt, 0.02)
        y = torch.empty((M, E), dtype=dt, device=dev)
        for bm, bn, bk in itertools.product((64, 128), (64, 128), (32, 64)):
            mod = T.load_starter("fused_mlp", BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk)
            try:
                print(f"mlp {dt} {bm}x{bn}x{bk}: {bench(lambda: mod.kernel_fn([x, wg, wu, wd], [y], []), 3):.0f} us", flush=True)
            except Exception as e:
                print(f"mlp {dt} {bm}x{bn}x{bk}: ERR {type(e).__name__} {str(e)[:100]}", flush=True)
