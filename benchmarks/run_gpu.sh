#!/usr/bin/env bash
# One batched GPU session (for the device tool: its time is short). Builds fasfast
# against the machine's own torch, runs the CUDA tests, compute-sanitizer (memcheck,
# racecheck, synccheck) on small inputs of every kernel, then every benchmark table on the
# GPU; everything lands in $OUT (or ./gpu_out) to be copied into RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
python -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))" | tee "$OUT/device.txt"
# the device image's python (/opt/torch/.venv) holds torch but no pip: build in place with it
export MAX_JOBS=${MAX_JOBS:-$(nproc)} TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
python setup.py build_ext --inplace -j "$MAX_JOBS" > "$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
python -m fasfast info | tee "$OUT/info.txt"
python -m pytest -q -m cuda tests 2>&1 | tail -30 | tee "$OUT/cuda_tests.txt"
# compute-sanitizer: every kernel, every dtype, small inputs (scripts/gpu_small_kernels.py)
SAN=$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")
if [ -x "$SAN" ]; then
  for tool in memcheck racecheck synccheck; do
    "$SAN" --tool "$tool" --error-exitcode 1 python scripts/gpu_small_kernels.py \
      > "$OUT/sanitizer_$tool.txt" 2>&1
    echo "compute-sanitizer $tool: exit $? ($(tail -1 "$OUT/sanitizer_$tool.txt"))" | tee -a "$OUT/sanitizer.txt"
  done
else
  echo "compute-sanitizer not found (looked for $SAN)" | tee "$OUT/sanitizer.txt"
fi
timeout 120 python benchmarks/ops_table.py --device cuda 2>&1 | tee "$OUT/ops_table.md"
python benchmarks/train_step.py --device cuda --preset baseline --batch 16 --amp 2>&1 | tee "$OUT/train_step.md"
