#!/usr/bin/env bash
# One device call for issue 16's models: build the CLI (a no-op when the warm machine has it), then each named
# model through profile -> extract -> run -> verify (bench/model_pipeline.sh), in order, until DEADLINE seconds
# from the start, so that whatever finished comes back under $OUT/NAME/.
#   DEADLINE=570 bash bench/models_call.sh hf_llama hf_mistral
# Names: llama7b (the LLaMA example, 32 layers), hf_llama (Llama-3-8B widths, 8 layers), hf_mistral (Mistral-7B
# widths, 8 layers), hf_gpt2 (gpt2-large widths, 36 layers). All bf16 at 1x2048, a BUDGET-long run (default 40s).
# FROM=workspace.tgz (carried from an earlier call) makes it verify only (bench/model_pipeline.sh).
# The decode step: SHAPE=1,512 DECODE=256 bash bench/models_call.sh hf_llama (profile --decode, then verify's
# generation check with CUDA graphs; issue 20's setting is hf_llama at 32 layers: INIT in this file says 8).
set -uo pipefail
cd "$(dirname "$0")/.."
DEADLINE="${DEADLINE:-570}" BUDGET="${BUDGET:-40s}"
source bench/call_build.sh
declare -A MODEL INIT
MODEL[llama7b]=examples/models/llama.py:Llama
INIT[llama7b]='{"n_layers": 32}'
MODEL[hf_llama]=hf:llama
INIT[hf_llama]='{"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 8, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 4096, "rope_theta": 500000.0}'
MODEL[hf_mistral]=hf:mistral
INIT[hf_mistral]='{"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 8, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000, "max_position_embeddings": 4096}'
MODEL[hf_gpt2]=hf:gpt2
INIT[hf_gpt2]='{"n_embd": 1280, "n_layer": 36, "n_head": 20, "vocab_size": 50257, "n_positions": 2048}'
for name in "$@"; do
  left=$(( DEADLINE - SECONDS ))
  [ "$left" -gt 150 ] || { echo "$name: not started (${left}s left)"; continue; }
  echo "$name from ${SECONDS}s (${left}s left)"
  timeout "$left" bash bench/model_pipeline.sh "$name" "${MODEL[$name]}" "${INIT[$name]}" "$BUDGET" "${TOP:-6}" > /dev/null 2>&1
  # Cut short, the pipeline copied nothing: verify's checkpoints and the workspace still come back.
  cp -n /tmp/ak_ws_$name/verify.json /tmp/ak_ws_$name/results.tsv /tmp/ak_ws_$name/profile.json "$OUT/$name/" 2>/dev/null
  grep -v "^  *[0-9]" "$OUT/$name/pipeline.txt" | grep -E "^(== |model|total|eager|torch.compile|autokernel|  inside torch.compile|left to inductor|  calls|  check|  graph|generation|  eager  |  autokernel  |  torch.compile reduce|  sequence|  routes only|  slower than|each call shape|.* (ours|PyTorch)$|time|verify|exit|  [a-z_]+ +[0-9.]+%|.*left out|.*Error|.*error:)" | head -60
  echo "$name done at ${SECONDS}s"
done
