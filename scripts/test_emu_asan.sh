#!/usr/bin/env bash
# The emulated CUDA tests (pytest -m emu) against a second build of the emulated runtime and
# the unchanged csrc/cuda/*.cu under AddressSanitizer + UndefinedBehaviorSanitizer
# (build/emu-asan), so an out-of-bounds access or undefined behaviour inside a kernel fails
# the run. FASFAST_EMU_QUICK=1 (the default here) runs the quick matrix: float32 and
# bfloat16 only (float16 and float64 take the same code paths as bfloat16 and float32),
# T in {1, 9}, three of the five upsample_sub sizes. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=${CXX:-c++}
asan=$("$CXX" -print-file-name=libasan.so)
if [ ! -f "$asan" ]; then echo "test_emu_asan: $CXX has no libasan.so"; exit 1; fi
# libstdc++ preloaded too: ASan resolves the real __cxa_throw when it starts, and python
# itself does not link libstdc++.
stdcxx=$("$CXX" -print-file-name=libstdc++.so)
export FASFAST_EMU_SANITIZE=1
export FASFAST_EMU_QUICK=${FASFAST_EMU_QUICK:-1}
# Python and torch leak by design at exit; odr: torch's libraries define some globals twice.
export ASAN_OPTIONS=detect_leaks=0:detect_odr_violation=0:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# --capture=sys: a sanitizer report goes to file descriptor 2 and then aborts the process;
# it must reach the log. -v: the last test named before it is the one that failed.
LD_PRELOAD="$asan $stdcxx" python -m pytest -v --capture=sys -m emu -p no:cacheprovider \
  tests/test_emu_runtime.py tests/test_gpu_diirf.py tests/test_gpu_pyramid.py "$@"
