#!/usr/bin/env bash
# `pip install .` as a user does it, into a fresh virtual environment that sees this machine's torch, then the
# installed `autokernel` from another folder: `bench` of a CPU starter copied there.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
PY="${PYTHON:-python3}"
tmp="$(mktemp -d)"
"$PY" -m venv --system-site-packages "$tmp/venv"
echo "[pip] pip install --no-build-isolation . (into $tmp/venv)"
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation "$repo"
mkdir "$tmp/elsewhere" && cp "$repo/kernels/rmsnorm/cpu.cpp" "$tmp/elsewhere/rmsnorm.cpp"
cd "$tmp/elsewhere"
PATH="$tmp/venv/bin:$PATH"
command -v autokernel
autokernel bench --kernel rmsnorm.cpp --quick
