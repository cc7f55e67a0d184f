#!/usr/bin/env bash
# One device call: bench/gemm_sustained.py (ours against PyTorch in runs of 10 and 100 back-to-back calls, the SM
# clock and power read every 100 ms beside it) on the hf:llama MLP, its projections and LM head, with this tree's
# matmul and fused_mlp starters at their defaults, with clusters of two (TMA multicast: each weight slice read
# from L2 once for two blocks) and with ping-pong consumers, and any NAME=FILE[:KNOBS] given.
#   bash bench/gemm_sustained_call.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/ak_out}"
mkdir -p "$OUT"
source bench/pack_out.sh
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,power.limit --format=csv | tee "$OUT/gpu_name.txt"
CLOCKS="$OUT/clocks.csv" python3 bench/gemm_sustained.py mm=kernels/matmul/cuda.cu \
  mm_cl2=kernels/matmul/cuda.cu:H_CLUSTER=2,H_SPLIT_K=1 mm_pp=kernels/matmul/cuda.cu:H_PINGPONG=1,H_SPLIT_K=1 \
  mlp=kernels/fused_mlp/cuda.cu mlp_cl2=kernels/fused_mlp/cuda.cu:H_CLUSTER=2 mlp_pp=kernels/fused_mlp/cuda.cu:H_PINGPONG=1 \
  "$@" 2>&1 | tee "$OUT/sustained.txt"
echo "done at ${SECONDS}s"
