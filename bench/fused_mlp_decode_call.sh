#!/usr/bin/env bash
# One device call for fused_mlp at the decode step (M = 1..64 tokens, the SMALL_M path of both starters): build the
# CLI, the CUDA and Triton starters through all five stages (defaults, and SMALL_M=0: the GEMM path alone), then
# both against eager (cuBLAS + PyTorch's act*mul) and torch.compile at Llama-3-8B widths (E 4096, F 14336), bf16,
# side by side in one `autokernel suite` run, and the large GEMM shape to see the big path unchanged.
#   bash bench/fused_mlp_decode_call.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/call_build.sh
STAGE_TIMEOUT=300 bash bench/five_stages.sh "fused_mlp/cuda.cu" "fused_mlp/triton.py" "fused_mlp/cuda.cu SMALL_M=0" \
  "fused_mlp/cuda.cu SMALL_M=8" "fused_mlp/triton.py SMALL_M=16"
cat "$OUT"/stages_*.txt
echo "stages done at ${SECONDS}s"
C=""
for m in 1 8 32 64; do C="$C,fused_mlp:${m}x4096x14336"; done
timeout "${SUITE_LIMIT_S:-300}" build-gpu/autokernel suite --configs "${C#,},fused_mlp:2048x4096x14336" \
  --backends cuda,triton --dtypes bf16 --quick 2>&1 | tee "$OUT/suite.txt" | grep -E "^fused_mlp |^device:|: ours ran"
echo "done at ${SECONDS}s"
