"""DIIRF (differential IIR filter over frames) and the fused FCAM gate of EulerNet.

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076

``diirf(z, b, a)`` and ``fcam_gate(x, z, b, a)`` validate their inputs, then call the
compiled ``torch.ops.fasfast.*`` kernels when ``fasfast._C`` has one for the tensors'
device and dtype (CPU: float32/float64; CUDA: float32/float64/float16/bfloat16) and the
reference switch is off (:func:`fasfast.ops.use_reference`), else the pure-PyTorch
:mod:`fasfast.ops.reference`. The compiled ops have fake (meta) kernels and
autograd formulas registered here, so ``torch.compile(fullgraph=True)`` traces them
without a graph break and gradients reach ``x``, ``z``, ``b`` and ``a``. Second
derivatives are refused with a RuntimeError (the fused backward kernels have no
derivative); the reference ops (``fasfast.ops.use_reference()``) give them, and run by
themselves under ``torch.func`` transforms (:func:`fasfast.ops.uses_kernel`).

The C++ wrappers make inputs contiguous (a no-op for contiguous tensors); outputs are
contiguous. Coefficient gradients are reduced over all pixels in a fixed order, so they
are bitwise reproducible run to run.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch

from fasfast import FasfastDeprecationWarning
from fasfast.ops import reference
from fasfast.ops._checks import check_diirf, check_fcam_gate
from fasfast.ops._library import HAS_C, use_reference, uses_kernel

__all__ = ["diirf", "fcam_gate", "force_reference", "uses_kernel"]


# --------------------------------------------------------------------------- public wrappers
def diirf(z: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Second-order IIR filter along dim 1 (time), transposed direct form II, zero state.

    z: [N, T, H, W] or [N, T, C, H, W] (channels filtered independently); b: [3] =
    (b0, b1, b2); a: [2] = (a1, a2), float32 (float64 for float64 z). Returns y with z's
    shape and dtype, equal to ``scipy.signal.lfilter(b, [1, a1, a2], z, axis=1)``.
    """
    check_diirf(z, b, a)
    if uses_kernel("diirf", z):
        return torch.ops.fasfast.diirf(z, b, a)
    return reference.diirf(z, b, a)


def fcam_gate(x: torch.Tensor, z: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Fused FCAM attention ``x * sigmoid(diirf(z, b, a)).unsqueeze(2)``.

    x: [N, T, C, H, W]; z: [N, T, H, W] (the gate is broadcast over C); b: [3]; a: [2].
    Returns [N, T, C, H, W] with x's dtype. One pass over x forward and backward; neither
    the filtered z nor the gate is materialised.
    """
    check_fcam_gate(x, z, b, a)
    if uses_kernel("fcam_gate", x):
        return torch.ops.fasfast.fcam_gate(x, z, b, a)
    return reference.fcam_gate(x, z, b, a)


@contextlib.contextmanager
def force_reference(enabled: bool = True) -> Iterator[None]:
    """Deprecated alias of :func:`fasfast.ops.use_reference`, which covers all four ops."""
    warnings.warn(
        "fasfast.ops.diirf.force_reference() is deprecated; use fasfast.ops.use_reference(), "
        "which switches all four ops (or FASFAST_REFERENCE_OPS=1)",
        FasfastDeprecationWarning,
        stacklevel=3,
    )
    with use_reference(enabled):
        yield


# --------------------------------------------------------------------------- registrations

_SECOND_ORDER = (
    "{ns}::{op}: second derivatives (double backward) are not implemented by the fused "
    "kernels: the backward op {ns}::_{op}_backward has no derivative of its own. For "
    "gradient penalties, torch.func.hessian or Hessian-vector products use the reference "
    "ops: fasfast.ops.reference.{op}, or call fasfast.ops.{op} inside "
    "`with fasfast.ops.use_reference():`."
)


def register_ops(ns: str) -> None:
    """Fake kernels and autograd formulas of the ops of library ``ns``: ``"fasfast"`` (the
    extension) or ``"fasfast_emu"`` (the tests' emulated CUDA build, same schemas).

    First derivatives run the fused backward ops; a second derivative raises a
    RuntimeError that names the op and the way out (the reference ops). A function of the
    namespace, not module-level code, because the emulated build registers the same formulas.
    """
    lib = getattr(torch.ops, ns)

    # fake (meta) kernels: shapes and dtypes only, for torch.compile and opcheck
    @torch.library.register_fake(f"{ns}::diirf")
    def _diirf_fake(z, b, a):
        return torch.empty_like(z, memory_format=torch.contiguous_format)

    @torch.library.register_fake(f"{ns}::_diirf_backward")
    def _diirf_backward_fake(grad_y, z, b, a):
        return (
            torch.empty_like(z, memory_format=torch.contiguous_format),
            torch.empty_like(b, memory_format=torch.contiguous_format),
            torch.empty_like(a, memory_format=torch.contiguous_format),
        )

    @torch.library.register_fake(f"{ns}::fcam_gate")
    def _fcam_gate_fake(x, z, b, a):
        return torch.empty_like(x, memory_format=torch.contiguous_format)

    @torch.library.register_fake(f"{ns}::_fcam_gate_backward")
    def _fcam_gate_backward_fake(grad_out, x, z, b, a):
        return (
            torch.empty_like(x, memory_format=torch.contiguous_format),
            torch.empty_like(z, memory_format=torch.contiguous_format),
            torch.empty_like(b, memory_format=torch.contiguous_format),
            torch.empty_like(a, memory_format=torch.contiguous_format),
        )

    # autograd: first derivatives run the fused backward ops
    def _save_inputs(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    def _diirf_backward(ctx, grad_y):
        z, b, a = ctx.saved_tensors
        return lib._diirf_backward(grad_y, z, b, a)

    def _fcam_gate_backward(ctx, grad_out):
        x, z, b, a = ctx.saved_tensors
        return lib._fcam_gate_backward(grad_out, x, z, b, a)

    torch.library.register_autograd(f"{ns}::diirf", _diirf_backward, setup_context=_save_inputs)
    torch.library.register_autograd(
        f"{ns}::fcam_gate", _fcam_gate_backward, setup_context=_save_inputs
    )

    # the backward ops have no derivative of their own: a second derivative is refused
    def _refuse(op: str):
        def backward(ctx, *grads):
            raise RuntimeError(_SECOND_ORDER.format(ns=ns, op=op))

        return backward

    def _no_context(ctx, inputs, output):
        pass

    for op in ("diirf", "fcam_gate"):
        torch.library.register_autograd(
            f"{ns}::_{op}_backward", _refuse(op), setup_context=_no_context
        )


if HAS_C:
    register_ops("fasfast")
