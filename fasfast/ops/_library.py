"""Loads the compiled extension ``fasfast._C`` once, says what it provides, and holds the one
switch between the compiled and the reference ops.

The switch is process-wide and never saved with a model (as timm's ``set_fused_attn`` /
``TIMM_FUSED_ATTN``): ``FASFAST_REFERENCE_OPS=1`` in the environment, or
:func:`use_reference` / :func:`set_reference` in code, makes all four ops
(``diirf``, ``fcam_gate``, ``upsample_sub``, ``pool_concat``) run
:mod:`fasfast.ops.reference`. :func:`uses_kernel` is the one dispatch decision.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

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


# --------------------------------------------------------------------------- dispatch
OPS = ("diirf", "fcam_gate", "upsample_sub", "pool_concat")
# The dtypes each device's kernels take (anything else runs the reference).
KERNEL_DTYPES: dict[str, tuple[torch.dtype, ...]] = {
    "cpu": (torch.float32, torch.float64),
    "cuda": (torch.float32, torch.float64, torch.float16, torch.bfloat16),
}
# Looked up once at import (the op and its backward op both compiled in): torch.compile then
# reads plain constants.
_KERNELS: dict[tuple[str, str], bool] = {
    (op, dev): has_kernel(op, dev) and has_kernel(f"_{op}_backward", dev)
    for op in OPS
    for dev in KERNEL_DTYPES
}
_ENV = "FASFAST_REFERENCE_OPS"


def _reference_from_env() -> bool:
    value = os.environ.get(_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{_ENV}={os.environ[_ENV]!r}: use 1 (reference ops) or 0 (compiled ops)")


_REFERENCE = _reference_from_env()


def reference_enabled() -> bool:
    """True while every fasfast op runs its pure-PyTorch reference (the switch is on)."""
    return _REFERENCE


def set_reference(enabled: bool) -> None:
    """Turn the switch for the whole process: True runs :mod:`fasfast.ops.reference` for
    all four ops, False the compiled kernels wherever they exist."""
    global _REFERENCE
    _REFERENCE = bool(enabled)


@contextlib.contextmanager
def use_reference(enabled: bool = True) -> Iterator[None]:
    """Within the block every fasfast op runs its pure-PyTorch reference (``enabled=False``:
    the compiled kernels); the previous choice comes back on exit.

    For export (the reference ops lower to standard ONNX nodes), higher-order gradients (the
    fused backward kernels have no derivative) and comparisons. Process-wide, not per thread.
    """
    previous = _REFERENCE
    set_reference(enabled)
    try:
        yield
    finally:
        set_reference(previous)


def uses_kernel(op: str, t: torch.Tensor) -> bool:
    """True when ``fasfast.ops.<op>`` (one of :data:`OPS`) runs the compiled kernel for
    tensor ``t``: the switch is off, no ``torch.func`` transform is active, the kernel is
    built for ``t``'s device and takes its dtype.

    Under ``torch.func`` transforms (``grad``, ``hessian``, ``jacrev``, ``vmap``, ...) the
    ops run the reference: PyTorch cannot apply those transforms to the compiled ops'
    autograd formulas (it stops with "autograd.Function ... must override the
    setup_context staticmethod"), and the reference gives exact higher derivatives.
    """
    if _REFERENCE:
        return False
    if not torch.compiler.is_compiling() and torch._C._are_functorch_transforms_active():
        return False
    dev = t.device.type
    return _KERNELS.get((op, dev), False) and t.dtype in KERNEL_DTYPES[dev]
