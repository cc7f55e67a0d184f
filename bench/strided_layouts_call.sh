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
OUT="${OUT:-/tmp/ak_out}"
mkdir -p "$OUT"
export BUILD_TARGET="${BUILD_TARGET:-autokernel ak_tests}"
bash bench/gpu_session.sh build > "$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
echo "built at ${SECONDS}s"
stages() {  # kernel file, then NAME=value knobs: one line of the five stages' verdict
  local file="$1" args=(bench --kernel "$1" --no-timing --json) label="${*:2}"
  shift
  for k in "$@"; do args+=(--knob "$k"); done
  build-gpu/autokernel "${args[@]}" 2>>"$OUT/stages.err" | python3 -c '
import json, sys
t = sys.stdin.read()
try:
    r = json.loads(t[t.index("{"):])
    print("{:<36} {:<34} {:<10} stage={} {} {}".format(sys.argv[1], sys.argv[2], r["outcome"], r["failed_stage"],
                                                      r["failed_case"], r["message"][:200]))
except Exception as e:
    print(sys.argv[1], sys.argv[2], "no JSON:", t[-600:])' "$file" "${label:--}"
}
i=0
for run in "flash_attention/cuda.cu" "flash_attention/cuda.cu H_PINGPONG=1" "flash_attention/cuda.cu H_PERSISTENT=1" \
  "flash_attention/cuda.cu H_PINGPONG=1 H_PERSISTENT=1" "flash_attention/cuda.cu H_BLOCK_N=64 H_STAGES=3" \
  "flash_attention/cuda.cu BLOCK_M=64 STAGES=1" "flash_attention/triton.py" "rotary_embedding/cuda.cu" \
  "rotary_embedding/cuda.cu CHUNKS_PER_THREAD=4 PAIRS_PER_THREAD=1" "rotary_embedding/triton.py"; do
  set -- $run
  stages "kernels/$1" "${@:2}" > "$OUT/stages_$i.txt" &
  i=$((i + 1))
done
wait
cat "$OUT"/stages_*.txt
echo "five stages done at ${SECONDS}s"
[ "${STAGES_ONLY:-0}" = 1 ] && exit 0
(cd build-gpu && timeout $(( DEADLINE - SECONDS - 200 )) ./ak_tests \
  --gtest_filter='*GpuStridedLayouts*:*GpuStarter*flash_attention*:*GpuStarter*rotary*' 2>&1 | grep -E '^\[ *(OK|FAILED|SKIPPED|PASSED) ' )
echo "gpu tests done at ${SECONDS}s"
for k in flash_attention rotary_embedding; do
  timeout $(( DEADLINE - SECONDS - 5 )) build-gpu/autokernel bench --kernel "kernels/$k/cuda.cu" --dtype bf16 2>&1 | tail -12
done
echo "timing done at ${SECONDS}s"
