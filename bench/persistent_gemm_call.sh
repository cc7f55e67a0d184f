#!/usr/bin/env bash
# One device call for the Hopper GEMMs' H_PERSISTENT knob (matmul and fused_mlp): build the CLI, each starter
# through all five stages at H_PERSISTENT=0 and 1 (no timing), then both settings side by side at the model
# shapes through `autokernel suite` (bf16; ours against cuBLAS / eager, no torch.compile, so both fit one call).
#   bash bench/persistent_gemm_call.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/call_build.sh
AK=build-gpu/autokernel
for t in matmul fused_mlp; do
  for p in 0 1; do
    timeout 120 "$AK" bench --kernel "kernels/$t/cuda.cu" --knob "H_PERSISTENT=$p" --no-timing > "$OUT/check_${t}_$p.txt" 2>&1
    echo "$t H_PERSISTENT=$p: $(grep -E "^(outcome|correctness|failed_stage|message):" "$OUT/check_${t}_$p.txt" | tr '\n' ' ')"
  done
done
MM="matmul:2048x12288x4096,matmul:2048x4096x4096,matmul:2048x32000x4096,matmul:4096x4096x4096,matmul:512x4096x4096"
FM="fused_mlp:2048x4096x11008,fused_mlp:2048x4096x14336"
for p in 0 1 0 1; do  # twice each, interleaved: the spread between repeats is the noise
  echo "== H_PERSISTENT=$p"
  timeout 200 "$AK" suite --configs "$MM,$FM" --backends cuda --dtypes bf16 --quick --no-compile \
    --knob "matmul.cuda.H_PERSISTENT=$p" --knob "fused_mlp.cuda.H_PERSISTENT=$p" 2>&1 | tee -a "$OUT/suite_$p.txt" |
    grep -E "^(matmul|fused_mlp) "
done
echo "done at ${SECONDS}s"
