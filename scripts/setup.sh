#!/usr/bin/env bash
# Installs fasfast with its compiled extension and everything the tests need.
# torch is pinned here (the CPU wheel); the package itself only asks for torch>=2.6,
# and the extension is built against the torch already installed (no build isolation).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet "torch==2.13.0" "torchvision==0.28.0"
python -m pip install --quiet "setuptools>=64" wheel ninja
python -m pip install --quiet --no-build-isolation -e ".[dev]"
