#!/usr/bin/env bash
# One device call that runs the GPU code written since the last GPU run: the decode_attention starters
# (ONE_LAUNCH both ways, the rewritten CUDA default path), skinny_gemm's new default (MMA_MIN_M=2) and the strided
# flash_attention / rotary_embedding starters through the five stages, the ctypes check of the CUDA starter against
# float64, then the decode sweep per call in a graph.
#   DEADLINE=570 bash bench/unverified_gpu_code_call.sh   (STAGES_ONLY=1: the five stages alone)
set -uo pipefail
cd "$(dirname "$0")/.."
DEADLINE="${DEADLINE:-570}"
OUT="${OUT:-/tmp/ak_out}"
mkdir -p "$OUT"
export BUILD_TARGET="${BUILD_TARGET:-autokernel}"
bash bench/gpu_session.sh build > "$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
echo "built at ${SECONDS}s"
stages() {  # kernel file, knobs...: one line of the five stages' verdict
  local args=(bench --kernel "$1" --no-timing --json) k
  for k in "${@:2}"; do args+=(--knob "$k"); done
  build-gpu/autokernel "${args[@]}" 2>>"$OUT/stages.err" | python3 -c '
import json, sys
t = sys.stdin.read()
try:
    r = json.loads(t[t.index("{"):])
    o, st, m = r["outcome"], r["failed_stage"], r["message"][:200]
    print(f"{sys.argv[1]:<40} {sys.argv[2]:<14} {o:<10} stage={st} {m}")
except Exception as e:
    print(sys.argv[1], sys.argv[2], "no JSON:", t[-600:])' "$1" "${*:2}"
}
# Side by side (their nvcc builds share the host's cores), each verdict printed whole when all are done.
i=0
for run in "decode_attention/cuda.cu" "decode_attention/cuda.cu ONE_LAUNCH=1" "decode_attention/triton.py" \
  "decode_attention/triton.py ONE_LAUNCH=1" "skinny_gemm/cuda.cu" "skinny_gemm/cuda.cu MMA_MIN_M=9" \
  "flash_attention/cuda.cu" "flash_attention/cuda.cu H_PINGPONG=1 H_PERSISTENT=1" "flash_attention/cuda.cu H_BLOCK_N=64" \
  "flash_attention/cuda.cu BLOCK_M=64 STAGES=1" "flash_attention/triton.py" "rotary_embedding/cuda.cu" \
  "rotary_embedding/triton.py"; do
  set -- $run
  stages "kernels/$1" "${@:2}" > "$OUT/stages_$(printf %02d $i).txt" &
  i=$((i + 1))
done
wait
cat "$OUT"/stages_*.txt
echo "five stages done at ${SECONDS}s"
[ "${STAGES_ONLY:-0}" = 1 ] && exit 0
timeout $(( DEADLINE - SECONDS - 200 )) python3 bench/decode_attention_check.py --no-timing 2>&1 | tail -8
timeout $(( DEADLINE - SECONDS - 180 )) python3 bench/decode_attention_check.py --no-timing --knobs ONE_LAUNCH=1 2>&1 | tail -8
echo "checks done at ${SECONDS}s"
timeout $(( DEADLINE - SECONDS - 5 )) python3 bench/decode_attention_sweep.py "" "ONE_LAUNCH=1" "cuda:" "cuda:ONE_LAUNCH=1" 2>&1 | tail -60
echo "sweep done at ${SECONDS}s"
