"""Loads the compiled extension ``fasfast._C`` once and says what it provides."""

from __future__ import annotations

import warnings

import torch

try:
    from fasfast import _C  # noqa: F401  (registers torch.ops.fasfast.*)

    HAS_C = True
    LOAD_ERROR: str | None = None
except ImportError as exc:  # not built, or built against another torch
    HAS_C = False
    LOAD_ERROR = f"{type(exc).__name__}: {exc}"
    warnings.warn(
        "fasfast._C is not available ("
        + LOAD_ERROR
        + "); fasfast.ops falls back to the pure-PyTorch reference implementations "
        "(correct but slower). Build it with `pip install --no-build-isolation -e .`.",
        RuntimeWarning,
        stacklevel=2,
    )


def compiled_backends() -> list[str]:
    """Backends compiled into ``fasfast._C`` (``[]`` when it is not loaded)."""
    if not HAS_C:
        return []
    return list(torch.ops.fasfast.compiled_backends())


def has_kernel(op: str, device_type: str) -> bool:
    """True when ``torch.ops.fasfast.<op>`` has a compiled kernel for ``device_type``."""
    if not HAS_C:
        return False
    key = {"cpu": "CPU", "cuda": "CUDA"}[device_type]
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key(f"fasfast::{op}", key)
    except RuntimeError:
        return False


def cuda_usable() -> bool:
    """CUDA kernels compiled in and a CUDA device visible now."""
    return "cuda" in compiled_backends() and torch.cuda.is_available()


def output_cache_info() -> dict:
    """The CPU output cache of the compiled kernels (csrc/output_cache.h): freed output
    blocks (>= 1 MiB) kept for reuse, up to ``FASFAST_CPU_CACHE_MB`` (default 512, 0 = off).

    Returns ``{"cached_bytes", "limit_bytes", "hits", "misses"}`` (zeros without ``_C``).
    """
    if not HAS_C:
        return {"cached_bytes": 0, "limit_bytes": 0, "hits": 0, "misses": 0}
    cached, limit, hits, misses = torch.ops.fasfast.output_cache_info()
    return {"cached_bytes": cached, "limit_bytes": limit, "hits": hits, "misses": misses}


def output_cache_clear() -> None:
    """Return every cached output block to the system."""
    if HAS_C:
        torch.ops.fasfast.output_cache_clear()


def output_cache_for_all(enable: bool) -> None:
    """Make the output cache torch's CPU allocator (``enable=True``) or give torch its own
    back: while on, every CPU tensor of >= 1 MiB, not only the fused ops' outputs, reuses
    freed blocks instead of fresh pages. For benchmarks that compare kernels under one
    allocator; tensors made before a switch keep the allocator that made them.
    """
    if not HAS_C:
        raise RuntimeError("output_cache_for_all needs the compiled extension fasfast._C")
    torch.ops.fasfast.output_cache_for_all(bool(enable))
