#!/usr/bin/env bash
# One device call for the matmul starter's bias in shared memory: this tree's kernels/matmul/cuda.cu against an
# earlier one (before=FILE, from git show REV:kernels/matmul/cuda.cu) with and without a bias, side by side
# (bench/matmul_variants.py, no autokernel build), then bench/gemm_sustained.py (ours against PyTorch in runs of
# 10 and 100 calls, clocks logged), then the CLI's build and the five stages at the defaults and three knob sets
# (ping-pong, clusters, not persistent), each stopped after STAGE_TIMEOUT seconds.
#   bash bench/matmul_bias_call.sh before=variants/before.cu
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/ak_out}"
mkdir -p "$OUT"
source bench/pack_out.sh
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,power.limit --format=csv | tee "$OUT/gpu_name.txt"
CASES="${CASES:-kmajor,bias}" SHAPES="${SHAPES:-2048x4096x4096,2048x12288x4096,2048x3840x1280,2048x5120x1280}" \
  python3 bench/matmul_variants.py "$@" now=kernels/matmul/cuda.cu 2>&1 | tee "$OUT/variants.txt"
echo "variants timed at ${SECONDS}s"
CLOCKS="$OUT/clocks.csv" timeout 200 python3 bench/gemm_sustained.py mm=kernels/matmul/cuda.cu \
  mm_cl2=kernels/matmul/cuda.cu:H_CLUSTER=2,H_SPLIT_K=1 mm_pp=kernels/matmul/cuda.cu:H_PINGPONG=1,H_SPLIT_K=1 \
  mlp=kernels/fused_mlp/cuda.cu mlp_cl2=kernels/fused_mlp/cuda.cu:H_CLUSTER=2 \
  mlp_pp=kernels/fused_mlp/cuda.cu:H_PINGPONG=1 2>&1 | tee "$OUT/sustained.txt"
echo "sustained timed at ${SECONDS}s"
source bench/call_build.sh
STAGE_TIMEOUT="${STAGE_TIMEOUT:-200}" bash bench/five_stages.sh "matmul/cuda.cu" "matmul/cuda.cu H_PINGPONG=1 H_SPLIT_K=1" \
  "matmul/cuda.cu H_CLUSTER=2 H_SPLIT_K=1" "matmul/cuda.cu H_PERSISTENT=0 H_SPLIT_K=2 H_BN=128"
echo "checked at ${SECONDS}s"
