#!/usr/bin/env bash
# Records torch.profiler traces of the example models (tiny configs) for tests/data/traces/, through the
# same runner `autokernel profile` uses. On the GPU machine (CUDA, bf16):
#   OUT=/tmp/traces bash bench/record_traces.sh            # -> $OUT/<model>.cuda.json + .cuda.meta.json
# then copy them into tests/data/traces/: the trace tests pick up every *.json there.
# DEVICE=cpu DTYPE=fp32 records the CPU traces committed there (the CI has no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:?set OUT to the folder the traces go to}"
DEVICE="${DEVICE:-cuda}"
DTYPE="${DTYPE:-bf16}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"

# The configs the tests expect (tests/profile/test_trace_analysis.cpp): keep them in step.
record() {
  local name=$1
  shift
  echo "[record] $name on $DEVICE ($DTYPE)"
  "$PY" python/autokernel_support/profile_model.py --device "$DEVICE" --dtype "$DTYPE" --warmup 2 --iters 2 \
    --trace "$OUT/$name.$DEVICE.json" --meta "$OUT/$name.$DEVICE.meta.json" "$@"
  # Same events, without the indentation: a third of the size.
  "$PY" - "$OUT/$name.$DEVICE.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    trace = json.load(f)
with open(path, "w") as f:
    json.dump(trace, f, separators=(",", ":"))
PY
}

record llama --model examples/models/llama.py:Llama --input-shape 1,64 \
  --init-args '{"dim": 64, "n_layers": 2, "n_heads": 4, "hidden_dim": 172, "vocab_size": 512}'
record gpt2 --model examples/models/gpt2.py:GPT2 --input-shape 1,64 \
  --init-args '{"n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 512, "n_positions": 128}'
record bert --model examples/models/bert.py:Bert --input-shape 1,64 \
  --init-args '{"hidden": 64, "layers": 2, "heads": 4, "vocab_size": 512}'
record lm_loss --model examples/models/lm_loss.py:LMWithLoss --inputs examples/models/lm_loss.py:make_inputs \
  --input-shape 2,64 --init-args '{"vocab_size": 4096, "dim": 64, "n_layers": 1}'
ls -la "$OUT"
