#!/usr/bin/env bash
# One device call for the CUDA matmul starter's per-call tile choice (H_BN=0) and split-K (H_SPLIT_K): build the CLI;
# the starter through all five stages with the new defaults (both per call), the old default (H_BN=256 H_SPLIT_K=1)
# and each split forced on each tile (side by side: their nvcc builds share the host's cores and fill the build cache
# for the suite); then the suite (bf16, ours against cuBLAS, no torch.compile) at few-token projections in both
# orientations (M = out features, N = tokens, as the linear op calls it; and M = tokens), k/v and down projections,
# the 2048-token and 4096^3 shapes where nothing may change, and an LM head; rounds new, old, tile-only (H_SPLIT_K=1),
# twice interleaved (the spread between repeats is the noise). A round that would not finish inside the call's
# 550 s is skipped and says so. SKIP_CHECKS=1 leaves out the five stages (a second call: timing only); ROUNDS
# overrides the rounds' order (default "new old tile_only new old tile_only").
#   bash bench/gemm_small_m_call.sh
#   SKIP_CHECKS=1 ROUNDS="tile_only new old" bash bench/gemm_small_m_call.sh
set -uo pipefail
cd "$(dirname "$0")/.."
LIMIT_S="${LIMIT_S:-550}"
source bench/call_build.sh
AK=build-gpu/autokernel

# name -> knobs (space-separated NAME=VALUE)
declare -A SETTING=(
  [new]=""
  [old]="H_BN=256 H_SPLIT_K=1"
  [tile_only]="H_SPLIT_K=1"
  [w256_s2]="H_BN=256 H_SPLIT_K=2"
  [w256_s4]="H_BN=256 H_SPLIT_K=4"
  [w128_s2]="H_BN=128 H_SPLIT_K=2"
  [w128_s4]="H_BN=128 H_SPLIT_K=4"
  [np_s2]="H_PERSISTENT=0 H_SPLIT_K=2"
)
CHECKS="new old w256_s2 w256_s4 w128_s2 w128_s4 np_s2"

# 1. Five stages (float64 oracle), every setting at once.
[ "${SKIP_CHECKS:-0}" = 1 ] && CHECKS=""
specs=()
for name in $CHECKS; do specs+=("matmul/cuda.cu ${SETTING[$name]}"); done
[ ${#specs[@]} -gt 0 ] && bash bench/five_stages.sh "${specs[@]}"
echo "checked at ${SECONDS}s"

# 2. The suite, one setting per call, rounds interleaved. Linear orientation (M = out features, N = tokens) first.
MM="matmul:4096x128x4096,matmul:4096x256x4096,matmul:4096x512x4096,matmul:1024x512x4096"
MM="$MM,matmul:14336x512x4096,matmul:4096x512x14336,matmul:128x4096x4096,matmul:512x4096x4096"
MM="$MM,matmul:4096x2048x4096,matmul:2048x4096x4096,matmul:4096x4096x4096,matmul:2048x12288x4096,matmul:128256x512x4096"
round_s=120  # a guess until the first round is measured
for name in ${ROUNDS:-new old tile_only new old tile_only}; do
  if (( SECONDS + round_s > LIMIT_S )); then
    echo "== $name: skipped (at ${SECONDS}s a round of ~${round_s}s would pass ${LIMIT_S}s)"
    continue
  fi
  knobs=()
  for k in ${SETTING[$name]}; do knobs+=(--knob "matmul.cuda.$k"); done
  echo "== $name (${SETTING[$name]:-defaults}) at ${SECONDS}s"
  t0=$SECONDS
  timeout $(( LIMIT_S - SECONDS > 30 ? LIMIT_S - SECONDS : 30 )) \
    "$AK" suite --configs "$MM" --backends cuda --dtypes bf16 --quick --no-compile "${knobs[@]}" 2>&1 |
    tee -a "$OUT/suite_$name.txt" | grep -E "^matmul |error"
  (( SECONDS - t0 > round_s || round_s == 120 )) && round_s=$(( SECONDS - t0 + 5 ))
done
echo "done at ${SECONDS}s"
