#!/usr/bin/env bash
# One device call for the strided layouts of flash_attention and rotary_embedding (kernel_abi.h: q, k, v as a
# model's views, outputs in [B,S,H,D] memory), not yet run on a GPU: the CUDA and Triton starters through the
# five stages (every stage takes the three layouts in turn; the CUDA attention at each schedule knob), the GPU
# tests of the layouts, then both CUDA starters timed on their benchmark shapes (inputs in the model's
# transposed layout, PyTorch's eager op on the same tensors).
#   DEADLINE=570 bash bench/strided_layouts_call.sh   (STAGES_ONLY=1: the five stages alone)
set -uo pipefail
cd "$(dirname "$0")/.."
DEADLINE="${DEADLINE:-570}"
BUILD_TARGET="${BUILD_TARGET:-autokernel ak_tests}"
source bench/call_build.sh
bash bench/five_stages.sh "flash_attention/cuda.cu" "flash_attention/cuda.cu H_PINGPONG=0" \
  "flash_attention/cuda.cu H_PERSISTENT=0" "flash_attention/cuda.cu H_PINGPONG=0 H_PERSISTENT=0" \
  "flash_attention/cuda.cu H_BLOCK_N=64 H_STAGES=3 H_PERSISTENT=0" "flash_attention/cuda.cu BLOCK_M=64 STAGES=1" \
  "flash_attention/triton.py" "rotary_embedding/cuda.cu" "rotary_embedding/cuda.cu CHUNKS_PER_THREAD=4 PAIRS_PER_THREAD=1" \
  "rotary_embedding/triton.py"
echo "five stages done at ${SECONDS}s"
[ "${STAGES_ONLY:-0}" = 1 ] && exit 0
(cd build-gpu && timeout $(( DEADLINE - SECONDS - 200 )) ./ak_tests \
  --gtest_filter='*GpuStridedLayouts*:*GpuStarter*flash_attention*:*GpuStarter*rotary*' 2>&1 | grep -E '^\[ *(OK|FAILED|SKIPPED|PASSED) ' )
echo "gpu tests done at ${SECONDS}s"
for k in flash_attention rotary_embedding; do
  timeout $(( DEADLINE - SECONDS - 5 )) build-gpu/autokernel bench --kernel "kernels/$k/cuda.cu" --dtype bf16 2>&1 | tail -12
done
echo "timing done at ${SECONDS}s"
