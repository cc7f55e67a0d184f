#!/usr/bin/env bash
# Issue 21's regression run on a one-GPU machine: `run --gpus 0` against the run without --gpus, from the same
# extracted workspace, same budget, one after the other in one call. The LLaMA example (4 layers, bf16, 1x2048):
# profile -> extract (top TOP) -> a copy of the workspace each -> run BUDGET each -> both results.tsv and status.
#   BUDGET=60s TOP=3 bash bench/gpus_regression_call.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/ak_out}" BUDGET="${BUDGET:-60s}" TOP="${TOP:-3}"
mkdir -p "$OUT/gpus_regression"
source bench/pack_out.sh
D="$OUT/gpus_regression"
if [ ! -x build-gpu/autokernel ]; then
  BUILD_TARGET=autokernel bash bench/gpu_session.sh build > "$D/build.txt" 2>&1 || { tail -30 "$D/build.txt"; exit 1; }
fi
AK=build-gpu/autokernel
export AUTOKERNEL_CACHE="${AUTOKERNEL_CACHE:-/tmp/ak_cache}" PYTHONUNBUFFERED=1
W=/tmp/ak_gpus_ws
rm -rf $W ${W}_plain ${W}_gpus0
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
  "$AK" profile --workspace $W --model examples/models/llama.py:Llama --init-args '{"n_layers": 4}' \
    --input-shape 1,2048 --device cuda --dtype bf16 > "$D/profile.txt" 2>&1 && "$AK" extract --workspace $W --top "$TOP" || exit 1
  cp -a $W ${W}_plain && cp -a $W ${W}_gpus0
  for v in plain gpus0; do
    flag=""; [ $v = gpus0 ] && flag="--gpus 0"
    echo "== run $flag --budget $BUDGET from ${SECONDS}s"
    "$AK" run --workspace ${W}_$v --budget "$BUDGET" $flag > "$D/run_$v.txt" 2>&1; echo "exit $?"
    tail -n 12 "$D/run_$v.txt"
    cp ${W}_$v/results.tsv "$D/results_$v.tsv"
    "$AK" status --workspace ${W}_$v > "$D/status_$v.txt" 2>&1; cat "$D/status_$v.txt"
    git -C ${W}_$v branch -a > "$D/branches_$v.txt" 2>&1
  done
  echo "rows: plain $(($(wc -l < "$D/results_plain.tsv") - 1)), --gpus 0 $(($(wc -l < "$D/results_gpus0.tsv") - 1))"
  echo "done at ${SECONDS}s"
} 2>&1 | tee "$D/summary.txt"
