#!/usr/bin/env bash
# Builds autokernel into build/ (Release with debug info) and installs it into the Python that has torch
# (`pip install --no-build-isolation .`, which reuses build/ as it is): `autokernel` is then a command of that
# environment, runnable from any folder. Re-running rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${generator[@]}" -DPython3_EXECUTABLE="$(command -v "$PY")" >/dev/null
fi
cmake --build build -j"$(nproc)"
echo "[build] pip install --no-build-isolation . (the build above, installed: the autokernel command)"
"$PY" -m pip install -q --disable-pip-version-check --no-build-isolation .
