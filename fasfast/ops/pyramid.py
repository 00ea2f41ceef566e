"""Residual-pyramid operators (EulerNet eq. 4-6), fused.

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076

- :func:`upsample_sub` ``hi - upsample2x(lo)`` in one pass (no up-sampled tensor).
- :func:`pool_concat` pools every input to the smallest size and concatenates along
  channels in one pass.

Both run the compiled kernels of ``fasfast._C`` (``torch.ops.fasfast.*``: CPU float32 /
float64; CUDA float32 / float64 / float16 / bfloat16) when they exist for the input's
device and dtype and the reference switch is off (:func:`fasfast.ops.use_reference`), else
the pure-PyTorch :mod:`fasfast.ops.reference`. The compiled ops carry fake kernels and
autograd formulas, so they differentiate (twice, too) and compile under
``torch.compile(fullgraph=True)``.

Op schemas (declared in ``csrc/pyramid_common.h``; the underscore ops are internal)::

    upsample_sub(Tensor hi, Tensor lo, str mode) -> Tensor
    _upsample_sub_backward(Tensor grad, str mode) -> Tensor           # grad_lo
    pool_concat(Tensor[] tensors, str kind, bool with_indices) -> (Tensor out, Tensor indices)
    _pool_concat_backward(Tensor grad, Tensor indices, SymInt[] offsets, SymInt[] channels,
                          SymInt[] ratios, str kind) -> Tensor[]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from fasfast.ops import reference
from fasfast.ops._checks import check_pool_concat, check_upsample_sub
from fasfast.ops._library import HAS_C, uses_kernel

__all__ = ["upsample_sub", "pool_concat"]


# --------------------------------------------------------------------------- public wrappers
def upsample_sub(hi: torch.Tensor, lo: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """``hi - upsample2x(lo)``, the residual of the pyramid (EulerNet eq. 4-5).

    hi: [N, C, 2H, 2W]; lo: [N, C, H, W]; mode "bilinear" (the numbers of
    ``F.interpolate(scale_factor=2, mode="bilinear", align_corners=False)``) or "nearest".
    Returns a contiguous [N, C, 2H, 2W] tensor of hi's dtype.
    """
    check_upsample_sub(hi, lo, mode)
    if uses_kernel("upsample_sub", hi):
        return torch.ops.fasfast.upsample_sub(hi, lo, mode)
    return reference.upsample_sub(hi, lo, mode)


def pool_concat(tensors: Sequence[torch.Tensor], kind: str = "max") -> torch.Tensor:
    """Pool each input to the smallest input's size and concatenate along channels.

    tensors: non-empty list of [N, C_i, H_i, W_i]; each H_i, W_i is the same integer multiple
    r_i of the smallest size (h, w); kind "max" or "avg" (kernel = stride = r_i, as
    ``F.max_pool2d`` / ``F.avg_pool2d``; max ties go to the first element in row-major order).
    Returns [N, sum C_i, h, w], the inputs in list order (EulerNet eq. 6).
    """
    check_pool_concat(tensors, kind)
    tensors = list(tensors)
    if uses_kernel("pool_concat", tensors[0]):
        return torch.ops.fasfast.pool_concat(tensors, kind, needs_indices(tensors, kind))[0]
    return reference.pool_concat(tensors, kind)


def needs_indices(tensors: Sequence[torch.Tensor], kind: str) -> bool:
    """Whether the compiled pool_concat must keep its arg-max indices: max pooling that
    autograd will differentiate."""
    return kind == "max" and torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


# --------------------------------------------------------------------------- registrations
def _index_dtype(max_ratio) -> torch.dtype:
    # Local arg-max offsets dy * r + dx fit a byte while r <= 16.
    return torch.uint8 if max_ratio <= 16 else torch.int32


def register_ops(ns: str) -> None:
    """Fake kernels and autograd formulas of the ops of library ``ns``: ``"fasfast"`` (the
    extension) or ``"fasfast_emu"`` (the tests' emulated CUDA build, same schemas).

    Both backward ops are linear in the incoming gradient, so their own derivatives are
    exact and cheap: second derivatives through ``upsample_sub`` and ``pool_concat`` are
    correct (``gradgradcheck`` in the tests). A function of the namespace, not module-level
    code, because the emulated build registers the same formulas.
    """
    lib = getattr(torch.ops, ns)
    _register_fakes(ns)
    _register_upsample_sub_autograd(ns, lib)
    _register_pool_concat_autograd(ns, lib)
    _register_pool_concat_backward_autograd(ns)


def _register_fakes(ns: str) -> None:
    """Fake (meta) kernels: shapes and dtypes only, for torch.compile and opcheck."""

    @torch.library.register_fake(f"{ns}::upsample_sub")
    def _upsample_sub_fake(hi, lo, mode):
        return hi.new_empty(hi.shape)

    @torch.library.register_fake(f"{ns}::_upsample_sub_backward")
    def _upsample_sub_backward_fake(grad, mode):
        n, c, h2, w2 = grad.shape
        return grad.new_empty((n, c, h2 // 2, w2 // 2))

    @torch.library.register_fake(f"{ns}::pool_concat")
    def _pool_concat_fake(tensors, kind, with_indices):
        h = min(t.shape[2] for t in tensors)
        w = min(t.shape[3] for t in tensors)
        ctot = sum(t.shape[1] for t in tensors)
        n = tensors[0].shape[0]
        idx_dtype = _index_dtype(max(t.shape[2] // h for t in tensors))
        out = tensors[0].new_empty((n, ctot, h, w))
        idx_shape = (n, ctot, h, w) if (with_indices and kind == "max") else (0,)
        return out, tensors[0].new_empty(idx_shape, dtype=idx_dtype)

    @torch.library.register_fake(f"{ns}::_pool_concat_backward")
    def _pool_concat_backward_fake(grad, indices, offsets, channels, ratios, kind):
        n, _, h, w = grad.shape
        return [grad.new_empty((n, c, h * r, w * r)) for c, r in zip(channels, ratios)]


def _register_upsample_sub_autograd(ns: str, lib) -> None:
    """upsample_sub: out = hi - U lo; grad_hi = grad, grad_lo = -U^T grad (the backward op),
    whose own derivative follows."""

    def _upsample_sub_setup(ctx, inputs, output):
        ctx.mode = inputs[2]

    def _upsample_sub_backward(ctx, grad):
        # d/dhi is the identity: hand grad on as it is (no copy).
        grad_lo = lib._upsample_sub_backward(grad, ctx.mode)
        return grad, grad_lo, None

    torch.library.register_autograd(
        f"{ns}::upsample_sub", _upsample_sub_backward, setup_context=_upsample_sub_setup
    )

    # _upsample_sub_backward(g) = -U^T g is linear in g: its derivative is -U, i.e.
    # upsample_sub(0, gg) (differentiable again through the forward op's formula).
    def _adjoint_setup(ctx, inputs, output):
        ctx.mode = inputs[1]
        ctx.shape = inputs[0].shape

    def _adjoint_backward(ctx, gg):
        return lib.upsample_sub(gg.new_zeros(ctx.shape), gg.contiguous(), ctx.mode), None

    torch.library.register_autograd(
        f"{ns}::_upsample_sub_backward", _adjoint_backward, setup_context=_adjoint_setup
    )


def _register_pool_concat_autograd(ns: str, lib) -> None:
    """pool_concat: a slice of grad for each input at the output's size, the backward op for
    each pooled one."""

    def _pool_concat_setup(ctx, inputs, output):
        tensors, kind, with_indices = inputs
        ctx.kind = kind
        ctx.with_indices = with_indices
        ctx.sizes = [(t.shape[1], t.shape[2]) for t in tensors]
        ctx.save_for_backward(output[1])

    def _pool_concat_backward(ctx, grad, grad_indices):
        (indices,) = ctx.saved_tensors
        h = grad.shape[2]
        grads: list[torch.Tensor | None] = [None] * len(ctx.sizes)
        pooled, offsets, channels, ratios = [], [], [], []
        offset = 0
        for i, (c, hi) in enumerate(ctx.sizes):
            r = hi // h
            if r == 1:  # a plain slice of grad, as torch.cat's backward
                grads[i] = grad.narrow(1, offset, c)
            else:
                pooled.append(i)
                offsets.append(offset)
                channels.append(c)
                ratios.append(r)
            offset += c
        if pooled:
            if ctx.kind == "max" and not ctx.with_indices:
                raise RuntimeError(
                    f"{ns}::pool_concat was called with with_indices=False, so its max "
                    "pooling cannot be differentiated; use fasfast.ops.pool_concat"
                )
            outs = lib._pool_concat_backward(grad, indices, offsets, channels, ratios, ctx.kind)
            for i, g in zip(pooled, outs):
                grads[i] = g
        return grads, None, None

    torch.library.register_autograd(
        f"{ns}::pool_concat", _pool_concat_backward, setup_context=_pool_concat_setup
    )


def _register_pool_concat_backward_autograd(ns: str) -> None:
    """_pool_concat_backward routes grad back through each window (max: to the stored
    arg-max; avg: 1 / r^2 to every element), linear in grad. Its derivative gathers each
    input-sized gradient back to the pooled size the same way."""

    def _routes_setup(ctx, inputs, output):
        grad, indices, offsets, channels, ratios, kind = inputs
        ctx.save_for_backward(indices)
        ctx.shape = grad.shape
        ctx.layout = list(zip(offsets, channels, ratios))
        ctx.kind = kind

    def _routes_backward(ctx, ggs):
        (indices,) = ctx.saved_tensors
        n, _, h, w = ctx.shape
        out = None
        for (off, c, r), gg in zip(ctx.layout, ggs):
            if gg is None:
                continue
            if out is None:
                out = gg.new_zeros(ctx.shape)
            if ctx.kind == "avg":
                part = torch.nn.functional.avg_pool2d(gg, kernel_size=r, stride=r)
            else:
                # [n, c, h*r, w*r] -> [n, c, h, w, r*r] windows, local offset dy * r + dx
                win = gg.reshape(n, c, h, r, w, r).permute(0, 1, 2, 4, 3, 5)
                win = win.reshape(n, c, h, w, r * r)
                arg = indices.narrow(1, off, c).long().unsqueeze(-1)
                part = win.gather(-1, arg).squeeze(-1)
            out = out.index_add(1, torch.arange(off, off + c, device=gg.device), part)
        return out, None, None, None, None, None

    torch.library.register_autograd(
        f"{ns}::_pool_concat_backward", _routes_backward, setup_context=_routes_setup
    )


if HAS_C:
    register_ops("fasfast")
