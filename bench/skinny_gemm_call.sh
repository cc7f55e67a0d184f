#!/usr/bin/env bash
# One device call for the skinny_gemm type (the decode step's linear layers, M = 1..64): build the CLI, the CUDA
# and Triton starters through all five stages (no timing), then both against cuBLAS (F.linear) and torch.compile
# at the decode shapes of Llama-3-8B's projections and LM head, bf16, side by side in one `autokernel suite` run.
#   bash bench/skinny_gemm_call.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/call_build.sh
AK=build-gpu/autokernel
for f in cuda.cu triton.py; do
  timeout 300 "$AK" bench --kernel "kernels/skinny_gemm/$f" --no-timing > "$OUT/check_$f.txt" 2>&1
  echo "skinny_gemm $f: $(grep -E "^(outcome|correctness|failed_stage|message):" "$OUT/check_$f.txt" | tr '\n' ' ')"
done
C=""
for m in 1 8 32; do
  for nk in 4096x4096 1024x4096 14336x4096 4096x14336 128256x4096; do C="$C,skinny_gemm:${m}x$nk"; done
done
timeout 400 "$AK" suite --configs "${C#,}" --backends cuda,triton --dtypes bf16 --quick 2>&1 | tee "$OUT/suite.txt" |
  grep -E "^skinny_gemm |^device:|: ours ran"
echo "done at ${SECONDS}s"
