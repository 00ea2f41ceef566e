#!/usr/bin/env bash
# Installs fasfast with its compiled extension and everything the tests need.
# torch is pinned here; the package itself only asks for torch>=2.6, and the extension is
# built against the torch already installed (no build isolation). On Linux, PyPI's torch
# wheel is the CUDA build: FASFAST_TORCH_INDEX=https://download.pytorch.org/whl/cpu takes
# the CPU wheel from PyTorch's index instead.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet "torch==2.13.0" "torchvision==0.28.0" \
  ${FASFAST_TORCH_INDEX:+--index-url "$FASFAST_TORCH_INDEX"}
python -m pip install --quiet "setuptools>=64" wheel ninja
python -m pip install --quiet --no-build-isolation -e ".[dev]"
