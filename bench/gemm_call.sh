#!/usr/bin/env bash
# One device call for a change to the GEMM starters (kernels/matmul, kernels/fused_mlp): this tree's matmul against
# earlier ones and knob sets (the arguments, NAME=FILE[:KNOB=V,...]; an earlier file from git show
# REV:kernels/matmul/cuda.cu) side by side at SHAPES and CASES (bench/matmul_variants.py, no autokernel build), then
# bench/gemm_sustained.py (ours against PyTorch in runs of 10 and 100 calls, clocks logged) over SUSTAINED's
# variants at SUSTAINED_CASES (its CASES), then the CLI's build and the five stages at each of STAGES' knob sets
# (';' between them), each stopped after STAGE_TIMEOUT seconds.
#   bash bench/gemm_call.sh before=variants/before.cu now_cl2=kernels/matmul/cuda.cu:H_CLUSTER=2,H_SPLIT_K=1
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/pack_out.sh
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,power.limit --format=csv | tee "$OUT/gpu_name.txt"
CASES="${CASES:-kmajor,bias}" SHAPES="${SHAPES:-2048x4096x4096,2048x12288x4096,2048x3840x1280,2048x5120x1280}" \
  python3 bench/matmul_variants.py "$@" now=kernels/matmul/cuda.cu 2>&1 | tee "$OUT/variants.txt"
echo "variants timed at ${SECONDS}s"
SUSTAINED="${SUSTAINED:-mm=kernels/matmul/cuda.cu mm_cl2=kernels/matmul/cuda.cu:H_CLUSTER=2,H_SPLIT_K=1
  mm_pp=kernels/matmul/cuda.cu:H_PINGPONG=1,H_SPLIT_K=1 mlp=kernels/fused_mlp/cuda.cu
  mlp_cl2=kernels/fused_mlp/cuda.cu:H_CLUSTER=2 mlp_pp=kernels/fused_mlp/cuda.cu:H_PINGPONG=1}"
# shellcheck disable=SC2086
env -u CASES ${SUSTAINED_CASES:+CASES=$SUSTAINED_CASES} CLOCKS="$OUT/clocks.csv" timeout "${SUSTAINED_TIMEOUT:-200}" python3 bench/gemm_sustained.py $SUSTAINED 2>&1 |
  tee "$OUT/sustained.txt"
echo "sustained timed at ${SECONDS}s"
source bench/call_build.sh
IFS=';' read -r -a sets <<< "${STAGES:-matmul/cuda.cu;matmul/cuda.cu H_PINGPONG=1 H_SPLIT_K=1;matmul/cuda.cu H_CLUSTER=2 H_SPLIT_K=1;matmul/cuda.cu H_PERSISTENT=0 H_SPLIT_K=2 H_BN=128}"
STAGE_TIMEOUT="${STAGE_TIMEOUT:-200}" bash bench/five_stages.sh "${sets[@]}"
echo "checked at ${SECONDS}s"
