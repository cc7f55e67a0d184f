"""Print the Triton code and launch configs torch.compile (max-autotune-no-cudagraphs) generates for
the memory-bound suite types at one shape: what our CUDA kernels are measured against.
    python3 bench/inductor_dump.py 8192x8192 bf16 > inductor.txt
    python3 bench/inductor_dump.py 4096x4096 bf16 reduce     # only the named types
"""
import glob
import os
import sys
import tempfile

cache = tempfile.mkdtemp(prefix="inductor_dump_")
os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
os.environ.setdefault("TORCHINDUCTOR_MAX_AUTOTUNE_REPORT_CHOICES_STATS", "0")
import logging  # noqa: E402

import torch  # noqa: E402

# The autotuner's time for every config it tried (debug lines of its logger), to stderr.
_tuner_log = logging.getLogger("torch._inductor.runtime.triton_heuristics")
_tuner_log.setLevel(logging.DEBUG)
_tuner_log.addHandler(logging.StreamHandler(sys.stderr))
import torch.nn.functional as F  # noqa: E402

m, n = (int(v) for v in sys.argv[1].split("x"))
dtype = {"bf16": torch.bfloat16, "f16": torch.float16}[sys.argv[2]]
x = torch.randn(m, n, device="cuda", dtype=dtype)
w = torch.randn(n, device="cuda", dtype=dtype)
b = torch.randn(n, device="cuda", dtype=dtype)
fns = {
    "rmsnorm": (lambda x, w: F.rms_norm(x, (n,), w, 1e-6), (x, w)),
    "layernorm": (lambda x, w, b: F.layer_norm(x, (n,), w, b, 1e-5), (x, w, b)),
    "reduce": (lambda x: x.sum(-1), (x,)),
}
only = sys.argv[3].split(",") if len(sys.argv) > 3 else list(fns)
for name, (fn, args) in fns.items():
    if name not in only:
        continue
    before = set(glob.glob(f"{cache}/**/*.py", recursive=True))
    torch._dynamo.reset()
    torch.compile(fn, mode="max-autotune-no-cudagraphs")(*args)
    torch.cuda.synchronize()
    print(f"######## {name} {sys.argv[1]} {sys.argv[2]}")
    try:  # the configs the autotuner kept, from every loaded generated module
        from torch._inductor.codecache import PyCodeCache
        mods = PyCodeCache.modules if isinstance(PyCodeCache.modules, list) else list(PyCodeCache.modules.values())
        for mod in mods:
            for attr, obj in vars(mod).items():
                if hasattr(obj, "launchers") and obj.launchers:
                    print(f"kept config: {attr}: {[str(l.config) for l in obj.launchers]}")
    except Exception as e:  # private API: the source below still says what was generated
        print(f"(no kept configs: {e!r})")
    for path in sorted(set(glob.glob(f"{cache}/**/*.py", recursive=True)) - before):
        text = open(path).read()
        if "@triton.jit" in text or "triton_heuristics" in text:
            print(f"---- {os.path.relpath(path, cache)}")
            print(text)
