#!/usr/bin/env bash
# One device call for the Hopper attention's schedule knobs (issue 17, part 3): H_PINGPONG (the two consumer
# warpgroups take turns issuing their GEMMs) and H_PERSISTENT (one block per SM, longest causal tiles first,
# O staged apart from Q). Build the CLI; each new setting through all five stages (no timing, the three
# checks side by side); then `autokernel suite` (bf16, no torch.compile) at d 128 and 64, causal and not,
# sequence 2048, 4096 and 8192 (8192 tokens a call: 4x32, 2x32, 1x32 heads), the default and each setting
# interleaved twice (the spread between the two rounds is the noise); last, SDPA's flash and cuDNN backends
# timed by torch at the same shapes (the suite's "eager" is PyTorch's own pick). Within ~550 s: a suite run
# that would end past 520 s (judged by the last run's length) is skipped and said so.
#   bash bench/attention_schedule_call.sh
#   SETTINGS="H_PINGPONG=1,H_PERSISTENT=1" LIMIT_S=360 bash bench/attention_schedule_call.sh   (one setting, a shorter call)
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/call_build.sh
AK=build-gpu/autokernel
K=kernels/flash_attention/cuda.cu
read -ra SETTINGS <<< "${SETTINGS:-H_PINGPONG=1 H_PERSISTENT=1 H_PINGPONG=1,H_PERSISTENT=1}"
LIMIT_S="${LIMIT_S:-520}"
args() {  # "A=1,B=2" -> --knob A=1 --knob B=2 (with PREFIX before each name)
  local out=() kv
  for kv in ${1//,/ }; do out+=(--knob "$2$kv"); done
  echo "${out[@]}"
}
tag() { echo "${1//[=,]/_}"; }
for s in "${SETTINGS[@]}"; do
  # shellcheck disable=SC2046
  timeout 240 "$AK" bench --kernel "$K" $(args "$s" "") --no-timing > "$OUT/check_$(tag "$s").txt" 2>&1 &
done
wait
for s in "${SETTINGS[@]}"; do
  echo "$s: $(grep -E "^(outcome|correctness|failed_stage|failed_case|message):" "$OUT/check_$(tag "$s").txt" | tr '\n' ' ')"
done
echo "checked at ${SECONDS}s"
CFG=""
for d in 128 64; do
  for bs in 4x32x2048 2x32x4096 1x32x8192; do
    for c in 0 1; do CFG="${CFG:+$CFG,}flash_attention:${bs}x${d}x${c}"; done
  done
done
last=60  # seconds the last suite run took (a guess for the first)
for round in 1 2; do
  for s in defaults "${SETTINGS[@]}"; do
    if (( SECONDS + last > LIMIT_S )); then echo "== round $round $s: skipped (at ${SECONDS}s, a run takes ~${last}s)"; continue; fi
    echo "== round $round $s"
    t0=$SECONDS
    knobs=""
    [ "$s" != defaults ] && knobs=$(args "$s" "flash_attention.cuda.")
    # shellcheck disable=SC2086
    timeout 150 "$AK" suite --configs "$CFG" --backends cuda --dtypes bf16 --quick --no-compile $knobs \
      --json "$OUT/suite_$(tag "$s")_r$round.json" 2>&1 | tee -a "$OUT/suite_$(tag "$s").txt" | grep -E "^flash_attention "
    last=$(( SECONDS - t0 ))
  done
done
if (( SECONDS < LIMIT_S + 5 )); then
  echo "== SDPA backends timed by torch (median of 20 calls, CUDA events)"
  timeout $(( LIMIT_S + 25 - SECONDS )) python3 - "$CFG" <<'PY' 2>&1 | tee "$OUT/sdpa_backends.txt"
import sys, torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
for item in sys.argv[1].split(","):
    b, h, s, d, c = (int(x) for x in item.split(":")[1].split("x"))
    q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    flops = 4.0 * b * h * s * s * d / (2 if c else 1)
    line = f"{b}x{h}x{s}x{d}x{c}"
    for name, be in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
        try:
            with sdpa_kernel([be]):
                for _ in range(3):
                    F.scaled_dot_product_attention(q, k, v, is_causal=bool(c))
                times = []
                for _ in range(20):
                    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    e0.record()
                    F.scaled_dot_product_attention(q, k, v, is_causal=bool(c))
                    e1.record()
                    e1.synchronize()
                    times.append(e0.elapsed_time(e1) * 1000.0)
            us = sorted(times)[len(times) // 2]
            line += f"  {name} {us:9.2f} us {flops / us / 1e6:6.0f} TFLOP/s"
        except Exception as e:  # a backend that refuses the shape
            line += f"  {name} failed ({type(e).__name__})"
    print(line, flush=True)
PY
fi
echo "done at ${SECONDS}s"
