#!/usr/bin/env bash
# Compiles every csrc/cuda/*.cu with nvcc (-c, sm_80 and sm_90, C++20, --fmad=false as the
# extension is built) against the installed torch headers, so CUDA code that does not
# compile fails CI even on a machine without a GPU, then checks ptxas's resource figures
# (scripts/ptxas_report.py: registers, spills, shared memory, blocks per SM; the table is
# printed and written to $PTXAS_TABLE if set). Nothing built here is run. Skips when nvcc
# is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
NVCC=${NVCC:-$(command -v nvcc || true)}
if [ -z "$NVCC" ]; then echo "compile_cuda: nvcc not found, skipped"; exit 0; fi
shopt -s nullglob
files=(csrc/cuda/*.cu)
if [ ${#files[@]} -eq 0 ]; then echo "compile_cuda: no .cu files"; exit 0; fi
mapfile -t incs < <(python - <<'PY'
import sysconfig
from torch.utils.cpp_extension import include_paths
for p in include_paths():
    print(p)
print(sysconfig.get_paths()["include"])
PY
)
flags=(-c -std=c++20 -O2 --expt-relaxed-constexpr --fmad=false -DFASFAST_WITH_CUDA=1
       -gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90,code=sm_90
       -D__CUDA_NO_HALF_OPERATORS__ -D__CUDA_NO_HALF_CONVERSIONS__
       -D__CUDA_NO_BFLOAT16_CONVERSIONS__ -D__CUDA_NO_HALF2_OPERATORS__
       -DTORCH_EXTENSION_NAME=_C -Icsrc -Xptxas -v)
for i in "${incs[@]}"; do flags+=(-I"$i"); done
out=$(mktemp -d)
pids=()
for f in "${files[@]}"; do
  echo "compile_cuda: $f"
  "$NVCC" "${flags[@]}" "$f" -o "$out/$(basename "$f").o" > "$out/$(basename "$f").log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    status=1
    echo "compile_cuda: ${files[$i]} failed:"
    grep -v "^ptxas info\|^    [0-9]* bytes stack" "$out/$(basename "${files[$i]}").log" | tail -40
  fi
done
[ $status -eq 0 ] || exit 1
echo "compile_cuda: ${#files[@]} file(s) compiled"
python scripts/ptxas_report.py ${PTXAS_TABLE:+--markdown "$PTXAS_TABLE"} "$out"/*.log
