"""DIIRF (differential IIR filter over frames) and the fused FCAM gate.

``diirf(z, b, a)`` and ``fcam_gate(x, z, b, a)`` validate their inputs, then call the
compiled ``torch.ops.fasfast.*`` kernels when ``fasfast._C`` has one for the tensors'
device and dtype (CPU: float32/float64; CUDA: float32/float64/float16/bfloat16), else the
pure-PyTorch :mod:`fasfast.ops.reference`. The compiled ops have fake (meta) kernels and
autograd formulas registered here, so ``torch.compile(fullgraph=True)`` traces them
without a graph break and gradients reach ``x``, ``z``, ``b`` and ``a``. Second
derivatives are refused with a RuntimeError (the fused backward kernels have no
derivative); the reference ops (``force_reference()``) give them.

The C++ wrappers make inputs contiguous (a no-op for contiguous tensors); outputs are
contiguous. Coefficient gradients are reduced over all pixels in a fixed order, so they
are bitwise reproducible run to run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from fasfast.ops import reference
from fasfast.ops._checks import check_diirf, check_fcam_gate
from fasfast.ops._library import HAS_C, has_kernel

__all__ = ["diirf", "fcam_gate", "force_reference", "uses_kernel"]

# Looked up once at import: torch.compile then sees plain constants.
_KERNELS: dict[tuple[str, str], bool] = {
    (op, dev): has_kernel(op, dev) for op in ("diirf", "fcam_gate") for dev in ("cpu", "cuda")
}
_KERNEL_DTYPES = {
    "cpu": (torch.float32, torch.float64),
    "cuda": (torch.float32, torch.float64, torch.float16, torch.bfloat16),
}
_FORCE_REFERENCE = False


@contextlib.contextmanager
def force_reference(enabled: bool = True) -> Iterator[None]:
    """Within the block, ``diirf`` / ``fcam_gate`` use the pure-PyTorch reference."""
    global _FORCE_REFERENCE
    previous = _FORCE_REFERENCE
    _FORCE_REFERENCE = enabled
    try:
        yield
    finally:
        _FORCE_REFERENCE = previous


def uses_kernel(op: str, t: torch.Tensor) -> bool:
    """True when ``op`` ("diirf" or "fcam_gate") runs the compiled kernel for tensor ``t``."""
    if _FORCE_REFERENCE:
        return False
    dev = t.device.type
    return _KERNELS.get((op, dev), False) and t.dtype in _KERNEL_DTYPES[dev]


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


# --- fake kernels and autograd for the compiled ops -------------------------------------

_SECOND_ORDER = (
    "{ns}::{op}: second derivatives (double backward) are not implemented by the fused "
    "kernels: the backward op {ns}::_{op}_backward has no derivative of its own. For "
    "gradient penalties, torch.func.hessian or Hessian-vector products use the reference "
    "ops: fasfast.ops.reference.{op}, or call fasfast.ops.{op} inside "
    "`with fasfast.ops.diirf.force_reference():`."
)


def register_ops(ns: str) -> None:
    """Fake kernels and autograd formulas of the ops of library ``ns``: ``"fasfast"`` (the
    extension) or ``"fasfast_emu"`` (the tests' emulated CUDA build, same schemas).

    First derivatives run the fused backward ops; a second derivative raises a
    RuntimeError that names the op and the way out (the reference ops).
    """
    lib = getattr(torch.ops, ns)

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


if HAS_C and hasattr(torch.ops.fasfast, "diirf"):
    register_ops("fasfast")
