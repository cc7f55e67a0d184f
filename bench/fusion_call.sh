#!/usr/bin/env bash
# One short device call for the add_rmsnorm fusion: build the CLI, its CUDA and Triton starters through all
# five stages and timed at their bench shapes (bf16), the suite's rows for the type, then hf:llama (Llama-3-8B widths, 8 layers) through
# profile -> extract -> run -> verify with the fusion in place, cut off at DEADLINE seconds from the start so
# that what ran comes back. Everything lands under $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
DEADLINE="${DEADLINE:-450}"
source bench/call_build.sh
for f in cuda.cu triton.py; do
  timeout 45 build-gpu/autokernel bench --kernel "kernels/add_rmsnorm/$f" --dtype bf16 > "$OUT/add_rmsnorm_${f%%.*}.txt" 2>&1
  grep -E "^(backend|outcome|correctness|message|shape|latency_us|reference_latency_us|speedup_vs_reference|bandwidth_gb_s|pct_of_ceiling):" "$OUT/add_rmsnorm_${f%%.*}.txt" | tr '\n' ' '; echo
done
# The type against eager and torch.compile (which fuses the add and the norm itself) and the copy ceiling.
timeout $(( DEADLINE - SECONDS )) build-gpu/autokernel suite --types add_rmsnorm --backends cuda,triton --dtypes bf16 \
  --json "$OUT/suite_add_rmsnorm.json" 2>&1 | tail -16 | tee "$OUT/suite_add_rmsnorm.txt"
left=$(( DEADLINE - SECONDS ))
[ "$left" -gt 200 ] || { echo "no time left for the model (${left}s)"; exit 0; }
echo "pipeline with ${left}s left"
timeout "$left" bash bench/model_pipeline.sh hf_llama hf:llama '{"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 8, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 4096, "rope_theta": 500000.0}' 40s 6 | grep -v "^  *[0-9]" | tail -50
