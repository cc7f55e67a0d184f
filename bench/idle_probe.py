"""Does the idle time before a timed call change what a memory-bound kernel measures? The timers flush
the L2 by writing twice its size, then queue a device sleep (to hide the host's launch cost); this times
eager and torch.compile's sum after several sleep lengths, with the flush alone and with a read pass
after it (which leaves the L2's lines clean). It is why both timers wait at least k_min_idle_us.
    python3 bench/idle_probe.py 4096x4096
"""
import statistics
import sys

import torch

dims = [int(v) for v in (sys.argv[1] if len(sys.argv) > 1 else "4096x4096").split("x")]
x = torch.randn(*dims, device="cuda", dtype=torch.bfloat16)
l2 = torch.cuda.get_device_properties(0).L2_cache_size
flush = torch.empty(2 * l2, dtype=torch.uint8, device="cuda")
compiled = torch.compile(lambda t: t.sum(-1), mode="max-autotune-no-cudagraphs")
fns = {"eager": lambda: x.sum(-1), "compile": lambda: compiled(x)}
for f in fns.values():
    for _ in range(5):
        f()
torch.cuda.synchronize()
b, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
b.record(); torch.cuda._sleep(1_000_000); e.record(); e.synchronize()
cyc_per_us = 1_000_000 / (b.elapsed_time(e) * 1000)
print(f"sleep clock: {cyc_per_us:.0f} cycles/us")
for flush_kind in ("write", "write+read"):
    for sleep_us in (20, 60, 250, 1000):
        row = []
        for name, f in fns.items():
            ts = []
            for i in range(60):
                flush.fill_(i & 255)
                if flush_kind == "write+read":
                    flush.sum(dtype=torch.int64)  # re-read: the lines left in L2 are clean
                torch.cuda._sleep(int(sleep_us * cyc_per_us))
                b.record(); f(); e.record(); e.synchronize()
                ts.append(b.elapsed_time(e) * 1000)
            row.append(f"{name} {statistics.median(ts[10:]):6.2f} us")
        print(f"flush {flush_kind:10s} sleep {sleep_us:5d} us: " + "   ".join(row), flush=True)
