#!/usr/bin/env bash
# Sets up fasfast and runs the end-to-end demo (the README's main job).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
fasfast demo "$@"
