#!/usr/bin/env bash
# On the GPU machine, the whole model pipeline on the LLaMA-style example (bf16, batch 1, sequence 2048):
# profile -> extract -> `autokernel run` (search proposer) -> verify (with --diagnose), then the
# workspace under $OUT. Run after `bash bench/gpu_session.sh build`.
#   OUT=/tmp/out BUDGET=4m bash bench/gpu_model.sh
# LAYERS (default 4) keeps LLaMA-7B's widths (dim 4096, 32 heads, SwiGLU 11008) with fewer layers, so the
# fp32 truth copy and torch.compile fit in one call; every layer runs the same kernels at the same shapes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/ak_out}"
WS="${WS:-/tmp/ak_model_ws}"
mkdir -p "$OUT/model"
export AUTOKERNEL_CACHE="${AUTOKERNEL_CACHE:-/tmp/ak_cache}"
export PYTHONUNBUFFERED=1
AK=build-gpu/autokernel
MODEL=(--model examples/models/llama.py:Llama --input-shape 1,2048 --init-args "{\"n_layers\": ${LAYERS:-4}}")
rm -rf "$WS"
{
  echo "== profile"; $AK profile --workspace "$WS" "${MODEL[@]}" --dtype bf16 --device cuda
  echo "== extract"; $AK extract --workspace "$WS" --top "${TOP:-6}" --backend cuda --tag h100
  echo "== run";     $AK run --workspace "$WS" --tag h100 --budget "${BUDGET:-4m}" --dtype bf16
  echo "== status";  $AK status --workspace "$WS"
  echo "== verify";  $AK verify --workspace "$WS" --diagnose --runs 30
} 2>&1 | tee "$OUT/model/pipeline.txt"
cp "$WS"/profile.json "$WS"/verify.json "$WS"/results.tsv "$OUT/model/" 2>/dev/null
tar czf "$OUT/model/workspace.tgz" -C "$WS" --exclude=run.lock --exclude=.autokernel .
tar czf "$OUT/model.tgz" -C "$OUT" model
