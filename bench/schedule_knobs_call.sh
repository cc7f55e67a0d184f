#!/usr/bin/env bash
# One device call for both schedule-knob sets of issue 17, when one call is all the session's device time allows
# (the full A/B of each is bench/gemm_schedule_call.sh and bench/attention_schedule_call.sh): build; the new
# settings of matmul (H_CLUSTER, H_PINGPONG) and flash_attention (H_PINGPONG, H_PERSISTENT) through all five
# stages, side by side; then the suite (bf16, --quick, no torch.compile) with the default and each setting that
# passed, at four LLaMA GEMM shapes and at d 128 causal / non-causal 2x32x4096 attention, until DEADLINE s.
#   DEADLINE=570 bash bench/schedule_knobs_call.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/ak_out}" DEADLINE="${DEADLINE:-570}"
mkdir -p "$OUT"
BUILD_TARGET="${BUILD_TARGET:-autokernel}"
source bench/call_build.sh
AK=build-gpu/autokernel
GEMM=("H_CLUSTER=2" "H_PINGPONG=1" "H_CLUSTER=2,H_PINGPONG=1")
ATTN=("H_PINGPONG=1" "H_PERSISTENT=1" "H_PINGPONG=1,H_PERSISTENT=1")
knobs() { local o=() kv; for kv in ${1//,/ }; do o+=(--knob "$2$kv"); done; echo "${o[@]}"; }
tag() { echo "${1//[=,]/_}"; }
for s in "${GEMM[@]}"; do  # shellcheck disable=SC2046
  timeout 240 "$AK" bench --kernel kernels/matmul/cuda.cu $(knobs "$s" "") --no-timing > "$OUT/check_matmul_$(tag "$s").txt" 2>&1 &
done
for s in "${ATTN[@]}"; do  # shellcheck disable=SC2046
  timeout 240 "$AK" bench --kernel kernels/flash_attention/cuda.cu $(knobs "$s" "") --no-timing \
    > "$OUT/check_flash_attention_$(tag "$s").txt" 2>&1 &
done
wait
passed() { grep -q "^outcome: *pass" "$OUT/check_$1_$(tag "$2").txt"; }
for s in "${GEMM[@]}"; do echo "matmul $s: $(grep -E "^(outcome|failed_stage|message):" "$OUT/check_matmul_$(tag "$s").txt" | tr '\n' ' ' | cut -c1-300)"; done
for s in "${ATTN[@]}"; do echo "flash_attention $s: $(grep -E "^(outcome|failed_stage|message):" "$OUT/check_flash_attention_$(tag "$s").txt" | tr '\n' ' ' | cut -c1-300)"; done
echo "checked at ${SECONDS}s"
suite() {  # TYPE CONFIGS SETTING
  (( SECONDS + 45 > DEADLINE )) && { echo "== $1 $3: skipped at ${SECONDS}s"; return; }
  local k=""; [ "$3" != default ] && k=$(knobs "$3" "$1.cuda.")
  echo "== $1 $3 at ${SECONDS}s"  # shellcheck disable=SC2086
  timeout $(( DEADLINE - SECONDS )) "$AK" suite --configs "$2" --backends cuda --dtypes bf16 --quick --no-compile $k 2>&1 |
    tee -a "$OUT/suite_$1_$(tag "$3").txt" | grep -E "^$1 "
}
MM="matmul:2048x12288x4096,matmul:2048x14336x4096,matmul:2048x4096x4096,matmul:4096x4096x4096"
FA="flash_attention:2x32x4096x128x1,flash_attention:2x32x4096x128x0"
for round in 1 2; do
  suite matmul "$MM" default
  for s in "${GEMM[@]}"; do passed matmul "$s" && suite matmul "$MM" "$s"; done
  suite flash_attention "$FA" default
  for s in "${ATTN[@]}"; do passed flash_attention "$s" && suite flash_attention "$FA" "$s"; done
done
echo "done at ${SECONDS}s"
