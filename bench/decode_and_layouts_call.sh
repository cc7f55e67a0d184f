#!/usr/bin/env bash
# One device call for the GPU code first run on 2026-12-06 (H100, all passed; bench/results/2026-12-06_*_split_k_
# strided_attention_decode): the decode_attention starters (ONE_LAUNCH both ways), skinny_gemm (MMA_MIN_M 2 and 9)
# and the strided flash_attention / rotary_embedding starters (defaults and the schedule knobs off) through the five
# stages, the ctypes check of the CUDA decode starter against float64, then the decode sweep per call in a graph.
#   DEADLINE=570 bash bench/decode_and_layouts_call.sh   (STAGES_ONLY=1: the five stages alone)
set -uo pipefail
cd "$(dirname "$0")/.."
DEADLINE="${DEADLINE:-570}"
BUILD_TARGET="${BUILD_TARGET:-autokernel}"
source bench/call_build.sh
bash bench/five_stages.sh "decode_attention/cuda.cu" "decode_attention/cuda.cu ONE_LAUNCH=1" \
  "decode_attention/triton.py" "decode_attention/triton.py ONE_LAUNCH=0" "skinny_gemm/cuda.cu" \
  "skinny_gemm/cuda.cu MMA_MIN_M=9" "flash_attention/cuda.cu" "flash_attention/cuda.cu H_PINGPONG=0 H_PERSISTENT=0" \
  "flash_attention/cuda.cu BLOCK_M=64 STAGES=1" "flash_attention/triton.py" "rotary_embedding/cuda.cu" \
  "rotary_embedding/triton.py"
echo "five stages done at ${SECONDS}s"
[ "${STAGES_ONLY:-0}" = 1 ] && exit 0
timeout $(( DEADLINE - SECONDS - 200 )) python3 bench/decode_attention_check.py --no-timing 2>&1 | tail -8
timeout $(( DEADLINE - SECONDS - 180 )) python3 bench/decode_attention_check.py --no-timing --knobs ONE_LAUNCH=1 2>&1 | tail -8
echo "checks done at ${SECONDS}s"
timeout $(( DEADLINE - SECONDS - 5 )) python3 bench/decode_attention_sweep.py "" "ONE_LAUNCH=0" "cuda:" "cuda:ONE_LAUNCH=1" 2>&1 | tail -60
echo "sweep done at ${SECONDS}s"
