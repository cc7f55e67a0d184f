#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test. GPU tests skip without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
# Each GoogleTest case runs as its own process: a candidate's crash never takes others with it.
(cd build && ctest --output-on-failure -j2 --timeout 1200)
# The Triton starters, checked directly in Python (interpreted on CPU, compiled on a GPU), the report's plotter,
# the suite's baselines child, the exported package's pieces and profile's decode workload.
"${PYTHON:-python3}" -m pytest -q tests/test_architecture.py tests/bench tests/triton tests/report tests/suite tests/deploy tests/profile
# The README's first-run path, as a newcomer runs it: the example model through profile, extract, run,
# verify and report (the CPU backend here; CUDA on a GPU machine).
WORKSPACE="$(mktemp -d)/example" BUDGET=90s bash scripts/run_example.sh
# `pip install .` into a fresh virtual environment, and the installed command run from another folder.
bash scripts/pip_install_check.sh
