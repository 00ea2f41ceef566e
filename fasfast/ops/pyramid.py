"""Residual-pyramid operators (placeholder: dispatches to the reference until the
compiled kernels land)."""

from fasfast.ops.reference import pool_concat, upsample_sub

__all__ = ["upsample_sub", "pool_concat"]
