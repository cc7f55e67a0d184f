#!/usr/bin/env bash
# Installs what autokernel builds and runs with, only where it is missing:
# Debian packages (compiler, CMake, Ninja, GoogleTest, CLI11, nlohmann-json, libcurl, clang-format for the
# layout test) and, from PyPI,
# torch (libtorch and the PyTorch references), Triton (comes with torch), numpy, pytest and matplotlib
# (the plots of `autokernel report`), scikit-build-core (`pip install .`), transformers (the Hugging Face
# families `profile --model hf:NAME` builds from their configs; the device machine has 5.17).
set -euo pipefail

TORCH_VERSION="${AUTOKERNEL_TORCH_VERSION:-2.11.0}"
PY="${PYTHON:-python3}"
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

debs=(g++ cmake ninja-build libgtest-dev libcli11-dev nlohmann-json3-dev libcurl4-openssl-dev clang-format)
missing=()
for p in "${debs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install] apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# numpy < 2.3: Triton 3.6's CPU interpreter converts 1-element arrays with int(), which numpy 2.3 rejects.
TRANSFORMERS_VERSION="${AUTOKERNEL_TRANSFORMERS_VERSION:-5.17.0}"
# scikit-build-core: what `pip install .` builds autokernel with (pyproject.toml).
if ! "$PY" -c "import torch, triton, pytest, numpy, matplotlib, transformers, scikit_build_core; assert tuple(map(int, numpy.__version__.split('.')[:2])) < (2, 3)" >/dev/null 2>&1; then
  echo "[install] pip install torch==${TORCH_VERSION} transformers==${TRANSFORMERS_VERSION} 'numpy<2.3' pytest matplotlib scikit-build-core (torch is a large download)"
  "$PY" -m pip install -q --disable-pip-version-check "torch==${TORCH_VERSION}" "transformers==${TRANSFORMERS_VERSION}" \
    "numpy<2.3" pytest matplotlib "scikit-build-core>=0.10"
fi
