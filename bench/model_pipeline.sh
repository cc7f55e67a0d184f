#!/usr/bin/env bash
# One model through the whole pipeline on the GPU machine, as a user runs it: profile -> extract -> run ->
# verify (eager, torch.compile, autokernel, autokernel inside torch.compile, side by side in one process).
#   bash bench/model_pipeline.sh NAME MODEL INIT_ARGS [BUDGET] [TOP]
# e.g. bash bench/model_pipeline.sh hf_llama hf:llama '{"hidden_size": 4096, ...}' 2m 6
# Writes $OUT/NAME/{pipeline.txt,profile.json,verify.json,results.tsv} when OUT is set (the device tool's
# folder), else under bench/results/tmp/. Expects build-gpu/autokernel (bash bench/gpu_session.sh build).
set -uo pipefail
cd "$(dirname "$0")/.."
NAME="$1" MODEL="$2" INIT="$3" BUDGET="${4:-2m}" TOP="${5:-6}"
DEST="${OUT:-bench/results/tmp}/$NAME"
WS="/tmp/ak_ws_$NAME"
mkdir -p "$DEST"
rm -rf "$WS"
AK=build-gpu/autokernel
export AUTOKERNEL_CACHE="${AUTOKERNEL_CACHE:-/tmp/ak_cache}" PYTHONUNBUFFERED=1
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1): $MODEL $INIT, bf16, 1x2048"
  "$AK" profile --workspace "$WS" --model "$MODEL" --input-shape 1,2048 --init-args "$INIT" --device cuda --dtype bf16 &&
  "$AK" extract --workspace "$WS" --top "$TOP" &&
  "$AK" run --workspace "$WS" --budget "$BUDGET" &&
  "$AK" verify --workspace "$WS" --runs 10
  echo "exit: $?"
} 2>&1 | tee "$DEST/pipeline.txt"
cp "$WS"/profile.json "$WS"/verify.json "$WS"/results.tsv "$DEST"/ 2>/dev/null
true
