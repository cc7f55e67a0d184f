#!/usr/bin/env bash
# One device call for the matmul type's K-major B (F.linear's weight as it is, kernel_abi.h): build the CLI; the CUDA
# starter through all five stages (whose cases take B row-major and K-major in turn, and the linear shapes K-major)
# at the defaults and under each schedule knob, the Triton starter likewise (its TMA path describes a K-major B as the
# [N, K] matrix it is), side by side; then the suite (bf16; ours against cuBLAS's F.linear on the same tensors, and
# torch.compile) at the linear forms the profile now gives a model's F.linear calls: x W^T (M = tokens) at 128, 512,
# 2048 tokens and the LLaMA-7B projections, and y^T = W x^T for an odd vocabulary; beside them two plain shapes and
# two with a bias (kernel_abi.h's optional third input, added in the epilogue), and three with a residual added there.
#   bash bench/linear_kmajor_call.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/call_build.sh
STAGE_TIMEOUT="${STAGE_TIMEOUT:-240}" bash bench/five_stages.sh "matmul/cuda.cu" "matmul/cuda.cu H_SPLIT_K=1 H_BN=256" \
  "matmul/cuda.cu H_CLUSTER=2 H_SPLIT_K=1" "matmul/cuda.cu H_PINGPONG=1 H_SPLIT_K=1" \
  "matmul/cuda.cu H_PERSISTENT=0 H_SPLIT_K=2 H_BN=128" "matmul/triton.py" "matmul/triton.py PERSISTENT=1"
echo "checked at ${SECONDS}s"
L="matmul:128x4096x4096x1,matmul:512x4096x4096x1,matmul:2048x4096x4096x1,matmul:2048x11008x4096x1"
L="$L,matmul:2048x12288x4096x1,matmul:2048x4096x11008x1,matmul:50257x2048x1280x2"
# With a bias added in the epilogue: GPT-2-large's Conv1D qkv (addmm, B row-major) and a biased F.linear.
P="matmul:512x4096x4096,matmul:2048x12288x4096,matmul:2048x3840x1280x0x1,matmul:2048x4096x4096x1x1"
# With the residual add after the GEMM in its epilogue (the compiled graph's fusion, kinds/matmul.py): LLaMA-7B's wo
# and w2 at 2048 tokens, GPT-2-large's c_proj (Conv1D, a bias too); eager and torch.compile run the GEMM, then the add.
P="$P,matmul:2048x4096x4096x1x0x1,matmul:2048x4096x11008x1x0x1,matmul:2048x1280x1280x0x1x1"
timeout "${SUITE_LIMIT_S:-300}" build-gpu/autokernel suite --configs "$L,$P" --backends cuda,triton --dtypes bf16 \
  --quick 2>&1 | tee "$OUT/suite_linear.txt" | grep -E "^matmul |^device:|error"
echo "done at ${SECONDS}s"
