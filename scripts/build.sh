#!/usr/bin/env bash
# Configures and builds autokernel into build/ (Release with debug info). Re-running rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${generator[@]}" -DPython3_EXECUTABLE="$(command -v "$PY")" >/dev/null
fi
cmake --build build -j"$(nproc)"
