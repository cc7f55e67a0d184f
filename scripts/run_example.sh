#!/usr/bin/env bash
# The main job on a built-in example: installs what is missing, builds, and runs the rmsnorm starter
# through the five correctness stages and the timer. On a GPU it benches the CUDA starter; without one
# it says so and uses the CPU starter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  exec build/autokernel bench --kernel kernels/rmsnorm/cuda.cu --dtype bf16
fi
echo "No GPU found: running the CPU starter (the whole harness, CPU-sized shapes)."
exec build/autokernel bench --kernel kernels/rmsnorm/cpu.cpp
