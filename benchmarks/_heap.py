"""Keep glibc's heap between timed runs, so no version of an op pays for fresh pages.

By default glibc serves every allocation of 32 MiB or more with a fresh ``mmap`` and
returns it to the kernel on ``free``: each run of the eager and ``torch.compile``'d
references then page-faults its large tensors in again (at the 128x128 level that is
~16-33 k faults and more than half of the time on the 2-core machine), while the fused
ops take their outputs from fasfast's own cache of freed blocks. :func:`keep_heap` turns
off glibc's ``mmap`` for large blocks and the trimming of the heap top, so the references
reuse warm heap memory as well: the comparison is then of the kernels, each at its best.
``--heap default`` (ops_table.py) or ``FASFAST_BENCH_HEAP=default`` (pytest-benchmark)
measures the process as glibc sets it up instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util

HEAP_MODES = ("keep", "default")

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4


def keep_heap() -> bool:
    """Stop glibc from mmap-ing large blocks and trimming the heap. False where the C
    library is not glibc (nothing changed)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    ok = mallopt(_M_MMAP_MAX, 0) == 1
    ok &= mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
    ok &= mallopt(_M_TOP_PAD, 64 * 2**20) == 1
    return bool(ok)


def apply(mode: str) -> str:
    """Set the heap mode ("keep" or "default"); returns what is in effect, for the table."""
    if mode not in HEAP_MODES:
        raise ValueError(f"heap mode must be one of {HEAP_MODES}, got {mode!r}")
    if mode == "keep":
        return "glibc heap kept (mmap off)" if keep_heap() else "default heap (not glibc)"
    return "default glibc heap"
