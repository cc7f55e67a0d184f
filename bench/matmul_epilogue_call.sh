#!/usr/bin/env bash
# One device call for the matmul CUDA starter's epilogue (bias, residual): first the timing of this tree's
# kernels/matmul/cuda.cu against earlier versions of it, side by side (bench/matmul_variants.py, no autokernel
# build), then the CLI's build and the five stages of the starter at its defaults and three knob sets.
#   bash bench/matmul_epilogue_call.sh before=/tmp/before.cu plain=/tmp/plain.cu   (git show REV:kernels/matmul/cuda.cu)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/ak_out}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw --format=csv,noheader | tee "$OUT/gpu_name.txt"
python3 bench/matmul_variants.py "$@" now=kernels/matmul/cuda.cu 2>&1 | tee "$OUT/variants.txt"
echo "timed at ${SECONDS}s"
source bench/call_build.sh
STAGE_TIMEOUT="${STAGE_TIMEOUT:-200}" bash bench/five_stages.sh "matmul/cuda.cu" "matmul/cuda.cu H_PINGPONG=1 H_SPLIT_K=1" \
  "matmul/cuda.cu H_PERSISTENT=0 H_SPLIT_K=2 H_BN=128" "matmul/cuda.cu H_CONSUMERS=1" "matmul/cuda.cu H_CLUSTER=2 H_SPLIT_K=1"
echo "checked at ${SECONDS}s"
