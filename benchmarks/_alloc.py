"""One allocator for every version of an op in the CPU benchmarks.

The fused ops take their outputs from fasfast's cache of freed blocks
(``csrc/output_cache.h``). Left alone, the eager and ``torch.compile``'d references get
theirs from glibc, which serves blocks of 32 MiB and more with fresh mappings: every run
then page-faults its large tensors in again (at the 128x128 level ~16-33 k faults, more
than half of the time on the 2-core machine), and the comparison is of allocators, not
kernels. ``cache`` (the default) makes the output cache torch's CPU allocator for the whole
benchmark (:func:`fasfast.ops.output_cache_for_all`), so all three versions reuse warm
blocks; ``default`` measures the process as glibc sets it up, which is what a user gets.
"""

from __future__ import annotations

import os

ALLOC_MODES = ("cache", "default")
CACHE_MB = "8192"  # room for every block the largest reference keeps alive at once


def apply(mode: str) -> str:
    """Set the CPU allocator mode ("cache" or "default"); returns a label for the table."""
    if mode not in ALLOC_MODES:
        raise ValueError(f"allocator mode must be one of {ALLOC_MODES}, got {mode!r}")
    if mode == "default":
        return "glibc allocator for the references"
    os.environ.setdefault("FASFAST_CPU_CACHE_MB", CACHE_MB)  # read when the cache is made
    from fasfast import ops

    if not ops.HAS_C:
        return "glibc allocator (no fasfast._C)"
    ops.output_cache_for_all(True)
    limit_mb = ops.output_cache_info()["limit_bytes"] >> 20
    return f"one block cache for all versions ({limit_mb} MiB)"
