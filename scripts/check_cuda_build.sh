#!/usr/bin/env bash
# The CUDA build of fasfast._C links and loads, without a GPU: a separate virtual environment
# (no system site-packages) gets a CUDA build of torch (FASFAST_CUDA_TORCH, default 2.14.1:
# 2.14.1+cu130 from the package index, about 5.5 GB), the extension is built against it from
# a copy of the sources (csrc/*.cpp and csrc/cuda/*.cu, sm_90 only: TORCH_CUDA_ARCH_LIST),
# linked against the CUDA runtime, imported on the CPU, its CUDA kernels checked registered,
# and the CPU op tests run through that build. Skips (exit 0) when nvcc is absent.
#
#   FASFAST_CUDA_VENV   where the environment lives (default build/cuda-venv; reused while
#                       it holds that torch)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if ! command -v nvcc > /dev/null; then echo "check_cuda_build: nvcc not found, skipped"; exit 0; fi
TORCH_VERSION=${FASFAST_CUDA_TORCH:-2.14.1}
VENV=${FASFAST_CUDA_VENV:-$ROOT/build/cuda-venv}
PY="$VENV/bin/python"
start=$SECONDS

has_torch() {
  "$PY" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION' or torch.version.cuda is None)" 2> /dev/null
}
if ! has_torch; then
  echo "check_cuda_build: creating $VENV with torch==$TORCH_VERSION (CUDA build)"
  rm -rf "$VENV"
  python -m venv "$VENV"
  "$PY" -m pip install -q "torch==$TORCH_VERSION" numpy scipy pytest setuptools wheel ninja \
    2>&1 | { grep -v "^WARNING: Location" || true; }
  has_torch || { echo "check_cuda_build: no CUDA build of torch $TORCH_VERSION installed"; exit 1; }
fi
"$PY" -c "import torch; print('check_cuda_build: torch', torch.__version__, 'CUDA', torch.version.cuda)"
echo "check_cuda_build: environment ready after $((SECONDS - start)) s"

# Build from a copy of the sources: an in-place build here would replace the fasfast._C of
# the development environment.
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$src"/ 2> /dev/null || true
cd "$src"
build_start=$SECONDS
TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} MAX_JOBS=${MAX_JOBS:-2} \
  "$PY" setup.py -q build_ext --inplace > build.log 2>&1 || { tail -60 build.log; exit 1; }
grep "^fasfast:" build.log
echo "check_cuda_build: built in $((SECONDS - build_start)) s"
"$PY" - <<'PY'
import torch

import fasfast.ops as ops

backends = ops.compiled_backends()
assert backends == ["cpu", "cuda"], f"compiled backends {backends}, expected cpu and cuda"
names = ["diirf", "_diirf_backward", "fcam_gate", "_fcam_gate_backward", "upsample_sub",
         "_upsample_sub_backward", "pool_concat", "_pool_concat_backward"]
missing = [n for n in names if not ops.has_kernel(n, "cuda")]
assert not missing, f"no CUDA kernel registered for {missing}"
print(f"check_cuda_build: fasfast._C imports; CUDA kernels registered for {len(names)} ops; "
      f"GPU visible: {torch.cuda.is_available()}")
PY
# The CPU op tests through this build (the rest of the suite needs packages this
# environment does not have; it runs in the main one).
"$PY" -m pytest -q -o addopts="" -p no:cacheprovider tests/test_diirf.py tests/test_fcam_gate.py \
  tests/test_pyramid_ops.py
echo "check_cuda_build: done in $((SECONDS - start)) s"
