#!/usr/bin/env bash
# The main job on the built-in example, as a newcomer's first run: installs what is missing, builds,
# then takes the LLaMA-style example model (examples/models/llama.py, random weights) through the whole
# pipeline: profile -> extract -> run (search proposer, no LLM, BUDGET, default 2m) -> verify -> report.
# On a GPU it uses the cuda backend at a mid-sized config; without one it says so and uses the CPU
# backend at a tiny config. Everything lands in $WORKSPACE (default workspace/example); a second run
# resumes its loop where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
# AUTOKERNEL=path/to/autokernel: use that build, install and build nothing (a machine set up by hand).
if [ -z "${AUTOKERNEL:-}" ]; then
  bash scripts/install_deps.sh
  bash scripts/build.sh
fi
AK="${AUTOKERNEL:-build/autokernel}"
WS="${WORKSPACE:-workspace/example}"
MODEL=examples/models/llama.py:Llama
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  DEVICE=cuda DTYPE=bf16 SHAPE=1,1024 VERIFY=()
  CONFIG='{"dim": 1024, "n_layers": 2, "n_heads": 8, "hidden_dim": 2816, "vocab_size": 32000}'
else
  echo "No GPU found: running on the CPU backend (the whole pipeline, at a tiny model size)."
  # Every kept kernel, even one no faster than PyTorch (on a CPU most starters are not): the example shows
  # the swap working. torch.compile on a CPU takes minutes: skipped.
  DEVICE=cpu DTYPE=fp32 SHAPE=1,64 VERIFY=(--all --no-compile)
  CONFIG='{"dim": 64, "n_layers": 2, "n_heads": 4, "hidden_dim": 172, "vocab_size": 512}'
fi
step() { echo; echo "== $*"; "$AK" "$@"; }
if [ ! -f "$WS/profile.json" ]; then
  step profile --workspace "$WS" --model "$MODEL" --input-shape "$SHAPE" --init-args "$CONFIG" --device "$DEVICE" --dtype "$DTYPE"
  step extract --workspace "$WS" --top 5
fi
step run --workspace "$WS" --budget "${BUDGET:-2m}"
set +e
step verify --workspace "$WS" "${VERIFY[@]}" --runs 10
verdict=$?
set -e
step report --workspace "$WS"
echo
echo "Done. Open $WS/report/report.html (or report.md); the experiments are in $WS/results.tsv and"
echo "its git history (git -C $WS log --oneline autokernel/run)."
exit $verdict
