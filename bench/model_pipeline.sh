#!/usr/bin/env bash
# One model through the whole pipeline on the GPU machine, as a user runs it: profile -> extract -> run ->
# verify (eager, torch.compile, autokernel, autokernel inside torch.compile, side by side in one process).
#   bash bench/model_pipeline.sh NAME MODEL INIT_ARGS [BUDGET] [TOP]
# e.g. bash bench/model_pipeline.sh hf_llama hf:llama '{"hidden_size": 4096, ...}' 2m 6
# Writes $OUT/NAME/{pipeline.txt,profile.json,verify.json,results.tsv,workspace.tgz} when OUT is set (the
# device tool's folder), else under bench/results/tmp/. Expects build-gpu/autokernel (bash bench/gpu_session.sh build).
# INSIDE_COMPILE=all skips verify's timing of each kernel type inside torch.compile (one compile per type).
# FROM=path/to/workspace.tgz (an earlier call's, carried back) skips profile, extract and run: verify only,
# so a model whose pipeline does not fit one device call takes two. PREP_ONLY=1 stops before verify (the first
# of those two calls). DECODE=N profiles N decode steps after a prefill of SHAPE's length (SHAPE, default
# 1,2048): verify then runs the generation check too.
set -uo pipefail
cd "$(dirname "$0")/.."
NAME="$1" MODEL="$2" INIT="$3" BUDGET="${4:-2m}" TOP="${5:-6}"
DEST="${OUT:-bench/results/tmp}/$NAME"
WS="/tmp/ak_ws_$NAME"
mkdir -p "$DEST"
rm -rf "$WS"
AK=build-gpu/autokernel
export AUTOKERNEL_CACHE="${AUTOKERNEL_CACHE:-/tmp/ak_cache}" PYTHONUNBUFFERED=1
t0=$(date +%s)
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1): $MODEL $INIT, bf16, ${SHAPE:-1,2048}${DECODE:+, $DECODE decode steps}"
  if [ -n "${FROM:-}" ]; then
    mkdir -p "$WS" && tar xzf "$FROM" -C "$WS" && echo "== workspace from $FROM"
  else
    "$AK" profile --workspace "$WS" --model "$MODEL" --input-shape "${SHAPE:-1,2048}" --init-args "$INIT" --device cuda \
      --dtype bf16 ${DECODE:+--decode $DECODE} &&
    "$AK" extract --workspace "$WS" --top "$TOP" &&
    echo "== run from $(( $(date +%s) - t0 ))s" &&
    "$AK" run --workspace "$WS" --budget "$BUDGET"; rc=$?
    # The workspace as it is now (kernels, their history, results.tsv, profile.json), for a verify-only call.
    tar czf "$DEST/workspace.tgz" -C "$WS" --exclude=run.lock --exclude=.autokernel . 2>/dev/null
    [ "$rc" -eq 0 ] && [ -z "${PREP_ONLY:-}" ]
  fi &&
  echo "== verify from $(( $(date +%s) - t0 ))s" &&
  "$AK" verify --workspace "$WS" --runs 10 ${INSIDE_COMPILE:+--inside-compile $INSIDE_COMPILE}
  echo "exit: $? after $(( $(date +%s) - t0 ))s"
} 2>&1 | tee "$DEST/pipeline.txt"
cp "$WS"/profile.json "$WS"/verify.json "$WS"/results.tsv "$DEST"/ 2>/dev/null
true
