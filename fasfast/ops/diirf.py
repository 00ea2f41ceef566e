"""DIIRF and FCAM-gate operators (placeholder: dispatches to the reference until the
compiled kernels land)."""

from fasfast.ops.reference import diirf, fcam_gate

__all__ = ["diirf", "fcam_gate"]
