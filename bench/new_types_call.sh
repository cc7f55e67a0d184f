#!/usr/bin/env bash
# One device call for the types a GPU has not run yet: build the CLI, each starter of TYPES through all five stages
# (no timing), then the suite side by side with PyTorch (cuBLAS / SDPA / eager), torch.compile and the copy ceiling:
# skinny_gemm at Llama-3-8B's decode projections (M = 1, 8, 32), decode_attention at Llama-3-8B's decode step
# (32 query heads over 8 kv heads, caches 1k / 8k / 32k, batch 1 and 8), fused_mlp's defaults (SwiGLU and GeGLU).
#   bash bench/new_types_call.sh            # everything
#   STEPS=check,decode bash bench/new_types_call.sh
set -uo pipefail
cd "$(dirname "$0")/.."
STEPS="${STEPS:-check,skinny,decode,mlp}"
TYPES="${TYPES:-skinny_gemm decode_attention fused_mlp}"
source bench/call_build.sh
AK=build-gpu/autokernel
has() { [[ ",$STEPS," == *",$1,"* ]]; }
if has check; then
  for t in $TYPES; do for f in cuda.cu triton.py; do
    timeout 240 "$AK" bench --kernel "kernels/$t/$f" --no-timing >> "$OUT/check.txt" 2>&1
    echo "$t $f: $(tail -n 40 "$OUT/check.txt" | grep -E "^(outcome|failed_stage|message):" | tr '\n' ' ') (${SECONDS}s)"
  done; done
fi
suite() {  # NAME CONFIGS
  timeout "${SUITE_TIMEOUT:-200}" "$AK" suite --configs "$2" --backends cuda,triton --dtypes bf16 --quick > "$OUT/suite_$1.txt" 2>&1
  grep -E "^$1 |^[a-z_]+ +(cuda|triton) |geomean" "$OUT/suite_$1.txt" | head -60; echo "suite $1 done at ${SECONDS}s"
}
if has skinny; then
  C=""; for m in 1 8 32; do for nk in 4096x4096 1024x4096 14336x4096 4096x14336 128256x4096; do C="$C,skinny_gemm:${m}x$nk"; done; done
  suite skinny_gemm "${C#,}"
fi
if has decode; then
  C=""; for b in 1 8; do for l in 1024 8192 32768; do C="$C,decode_attention:${b}x32x${l}x128x${l}x8"; done; done
  suite decode_attention "${C#,}"
fi
if has mlp; then
  suite fused_mlp "fused_mlp:2048x4096x11008,fused_mlp:2048x3072x24576x1,fused_mlp:2048x2048x16384x1,fused_mlp:2048x2048x16384x2"
fi
echo "done at ${SECONDS}s"
