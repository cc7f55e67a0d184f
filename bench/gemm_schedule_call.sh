#!/usr/bin/env bash
# One device call for the Hopper GEMMs' schedule knobs H_CLUSTER (clusters of two blocks, the weight slice
# TMA-multicast to both) and H_PINGPONG (the consumer warpgroups take turns on the tensor cores), in matmul and
# fused_mlp (issue 17): build the CLI; every setting of both starters through all five stages (no timing; the
# checks run side by side, so their nvcc builds share the host's cores and fill the build cache for the suite);
# then the suite (bf16, ours against cuBLAS / eager, no torch.compile) at the model shapes with the default,
# H_CLUSTER=2 and H_PINGPONG=1, interleaved twice (D C P D C P: the spread between repeats is the noise), and
# H_CLUSTER=2 with H_PINGPONG=1 last if time is left. A round that would not finish inside the call's 550 s is
# skipped and says so.
#   bash bench/gemm_schedule_call.sh
set -uo pipefail
cd "$(dirname "$0")/.."
LIMIT_S="${LIMIT_S:-550}"
source bench/call_build.sh
AK=build-gpu/autokernel

# name -> knobs (space-separated NAME=VALUE, the same for both starters)
declare -A SETTING=(
  [default]=""
  [cluster]="H_CLUSTER=2"
  [pingpong]="H_PINGPONG=1"
  [cluster_pingpong]="H_CLUSTER=2 H_PINGPONG=1"
)

# 1. Five stages, every setting of both starters at once (the default too: it builds the default into the cache).
specs=()
for t in matmul fused_mlp; do
  for name in default cluster pingpong cluster_pingpong; do specs+=("$t/cuda.cu ${SETTING[$name]}"); done
done
STAGE_TIMEOUT=300 bash bench/five_stages.sh "${specs[@]}"
echo "checked at ${SECONDS}s"

# 2. The suite, one setting per call (both types), rounds interleaved.
MM="matmul:2048x12288x4096,matmul:2048x4096x4096,matmul:2048x14336x4096,matmul:2048x32000x4096"
MM="$MM,matmul:4096x4096x4096,matmul:512x4096x4096"
FM="fused_mlp:2048x4096x11008,fused_mlp:2048x4096x14336"
round_s=90  # a guess until the first round is measured
for name in default cluster pingpong default cluster pingpong cluster_pingpong; do
  if (( SECONDS + round_s > LIMIT_S )); then
    echo "== $name: skipped (at ${SECONDS}s a round of ~${round_s}s would pass ${LIMIT_S}s)"
    continue
  fi
  knobs=()
  for k in ${SETTING[$name]}; do knobs+=(--knob "matmul.cuda.$k" --knob "fused_mlp.cuda.$k"); done
  echo "== $name (${SETTING[$name]:-defaults}) at ${SECONDS}s"
  t0=$SECONDS
  timeout $(( LIMIT_S - SECONDS > 30 ? LIMIT_S - SECONDS : 30 )) \
    "$AK" suite --configs "$MM,$FM" --backends cuda --dtypes bf16 --quick --no-compile "${knobs[@]}" 2>&1 |
    tee -a "$OUT/suite_$name.txt" | grep -E "^(matmul|fused_mlp) |error"
  (( SECONDS - t0 > round_s || round_s == 90 )) && round_s=$(( SECONDS - t0 + 5 ))
done
echo "done at ${SECONDS}s"
