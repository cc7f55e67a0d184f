"""The generation check's CUDA-graphs path on a GPU, with no build: torch.compile(mode="reduce-overhead") of a
transformers decoder's decode step with a StaticCache, as it is and patched with Triton starters loaded
straight from kernels/ (rmsnorm and rotary_embedding: Triton needs no compiled library), each
against eager's greedy tokens (verify_generation.compare), with tokens/s.
    python3 bench/cuda_graphs_decode_check.py [LAYERS] [TOKENS]
"""
import argparse
import os
import sys
import time

import torch
import transformers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
import autokernel_kernels as ak  # noqa: E402
from autokernel_kernels import _ops  # noqa: E402
from autokernel_support import verify_generation as vg  # noqa: E402

layers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
n = int(sys.argv[2]) if len(sys.argv) > 2 else 64
config = transformers.LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=layers,
                                  num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                                  max_position_embeddings=4096)
if not torch.cuda.is_available():
    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=172, num_hidden_layers=layers,
                                      num_attention_heads=4, num_key_value_heads=2, vocab_size=512)
torch.manual_seed(0)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # cpu: a dry run of this script
model = transformers.AutoModelForCausalLM.from_config(config).to(device, torch.bfloat16).eval()
table = {}
for kind in ("rmsnorm", "rotary_embedding"):
    entry = {"name": f"{kind}_triton", "type": kind, "backend": "triton",
             "module": os.path.join(ROOT, "kernels", kind, "triton.py")}
    table[kind] = {"cuda": ak._Kernel(entry)} if device.type == "cuda" else {}
ak._state["kernels"] = table
_ops.set_table(table)
print(f"{torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}: Llama-3-8B widths, {layers} layers, bf16, batch 1, prefill 128, {n} tokens")
args = argparse.Namespace(decode=n, prefill=0, input_shape="1,128", inputs=None)
eager, tops, seconds = vg.generate(model, args, device, n)
_, _, seconds = vg.generate(model, args, device, n)
print(f"eager                           {(n - 1) / seconds:8.1f} tokens/s")
eps = torch.finfo(torch.bfloat16).eps
for label, patched in (("reduce-overhead", False), ("autokernel inside it", True)):
    if patched:
        ak.patch(model)
    start = time.perf_counter()
    try:
        ak.reset_stats()
        tokens, seconds = vg.compiled(model, args, device, n)
        verdict = vg.compare(eager, tops, tokens, eps)
        print(f"{label:<31} {(n - 1) / seconds:8.1f} tokens/s   tokens as eager's: {verdict['passed']}   "
              f"calls {ak.stats()}   ({time.perf_counter() - start:.0f} s)")
    except Exception as e:  # noqa: BLE001
        print(f"{label}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    finally:
        if patched:
            ak.unpatch(model)
