#!/usr/bin/env bash
# One device call: where our GEMMs' bytes go against cuBLAS's (bench/ncu_gemm.py: DRAM and L2 bytes, clock and stalls
# of each kernel under Nsight Compute), the variants' time in long runs at the power limit (bench/gemm_sustained.py),
# and a matmul sweep at 128-2048 tokens (bench/matmul_variants.py). Variants in NCU, SUSTAINED and SWEEP (NAME=FILE
# [:KNOB=V,...], space-separated); cases in NCU_CASES, SUSTAINED_CASES and SWEEP_SHAPES.
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/pack_out.sh
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,power.limit --format=csv | tee "$OUT/gpu_name.txt"
M=kernels/matmul/cuda.cu
L=kernels/fused_mlp/cuda.cu
# shellcheck disable=SC2086
CASES="${NCU_CASES:-matmul:2048x14336x4096,fused_mlp:2048x14336x4096,matmul:2048x128256x4096,matmul:512x1024x4096}" \
  NCU_CSV="$OUT/ncu_raw.csv" timeout "${NCU_TIMEOUT:-240}" python3 bench/ncu_gemm.py \
  ${NCU:-now=$M g16=$M:GROUP_M=16 mlp=$L mlp_g16=$L:GROUP_M=16 s2=$M:H_BN=128,H_SPLIT_K=2} 2>&1 | tee "$OUT/ncu.txt"
echo "ncu done at ${SECONDS}s"
# shellcheck disable=SC2086
C=fused_mlp:2048x14336x4096,matmul:2048x14336x4096,matmul:2048x4096x14336,matmul:2048x128256x4096
CASES="${SUSTAINED_CASES:-$C}" \
  CLOCKS="$OUT/clocks.csv" timeout "${SUSTAINED_TIMEOUT:-200}" python3 bench/gemm_sustained.py \
  ${SUSTAINED:-mm=$M mm_g16=$M:GROUP_M=16 mlp=$L mlp_g16=$L:GROUP_M=16} 2>&1 | tee "$OUT/sustained.txt"
echo "sustained done at ${SECONDS}s"
S=128x4096x4096,256x4096x4096,512x4096x4096,1024x4096x4096,128x14336x4096,256x14336x4096,512x14336x4096
S=$S,1024x14336x4096,128x4096x14336,256x4096x14336,512x4096x14336,1024x4096x14336,128x1024x4096,256x1024x4096
S=$S,512x1024x4096,1024x1024x4096,2048x1024x4096,2048x4096x4096
# shellcheck disable=SC2086
SHAPES="${SWEEP_SHAPES:-$S}" CASES=kmajor timeout "${SWEEP_TIMEOUT:-150}" python3 bench/matmul_variants.py \
  ${SWEEP:-now=$M cl2_128=$M:H_CLUSTER=2,H_SPLIT_K=1,H_BN=128 cl2_256=$M:H_CLUSTER=2,H_SPLIT_K=1,H_BN=256} 2>&1 |
  tee "$OUT/sweep.txt"
echo "done at ${SECONDS}s"
