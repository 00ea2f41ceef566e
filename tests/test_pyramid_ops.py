"""Residual-pyramid operators: fasfast.ops.upsample_sub / pool_concat.

Oracles: F.interpolate, F.max_pool2d, F.avg_pool2d and torch.cat (forward and autograd),
fasfast.ops.reference, float64 gradcheck, torch.library.opcheck.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fasfast.ops import pool_concat, reference, upsample_sub
from fasfast.ops._library import has_kernel

pytestmark = pytest.mark.skipif(
    not has_kernel("upsample_sub", "cpu"), reason="fasfast._C pyramid kernels not built"
)

ops = torch.ops.fasfast
MODES = ("bilinear", "nearest")
KINDS = ("max", "avg")
# lo sizes (H, W): 1x1, odd, non-square, wider than tall
LO_SIZES = [(1, 1), (1, 3), (3, 3), (5, 7), (6, 4)]
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=1e-5, atol=1e-5)}


def _up(lo: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "bilinear":
        return F.interpolate(lo, scale_factor=2, mode="bilinear", align_corners=False)
    return F.interpolate(lo, scale_factor=2, mode="nearest")


def _randn(*shape, dtype=torch.float64, gen=None):
    return torch.randn(*shape, dtype=dtype, generator=gen)


def _pool_oracle(tensors, kind):
    hs = min(t.shape[2] for t in tensors)
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    parts = []
    for t in tensors:
        r = t.shape[2] // hs
        parts.append(t if r == 1 else pool(t, kernel_size=r, stride=r))
    return torch.cat(parts, dim=1)


def _grads(fn, inputs, grad_out):
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(leaves)
    out.backward(grad_out)
    return out.detach(), [t.grad for t in leaves]


# ------------------------------------------------------------------------- upsample_sub


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lo_size", LO_SIZES)
def test_upsample_sub_matches_interpolate(lo_size, mode, dtype):
    g = torch.Generator().manual_seed(hash((lo_size, mode)) % 2**31)
    h, w = lo_size
    hi = _randn(2, 3, 2 * h, 2 * w, dtype=dtype, gen=g)
    lo = _randn(2, 3, h, w, dtype=dtype, gen=g)
    grad_out = _randn(2, 3, 2 * h, 2 * w, dtype=dtype, gen=g)

    out, (g_hi, g_lo) = _grads(lambda t: upsample_sub(t[0], t[1], mode), [hi, lo], grad_out)
    ref, (r_hi, r_lo) = _grads(lambda t: t[0] - _up(t[1], mode), [hi, lo], grad_out)
    torch.testing.assert_close(out, ref, **TOL[dtype])
    torch.testing.assert_close(g_hi, r_hi, **TOL[dtype])
    torch.testing.assert_close(g_lo, r_lo, **TOL[dtype])
    torch.testing.assert_close(out, reference.upsample_sub(hi, lo, mode), **TOL[dtype])
    assert out.dtype == dtype and out.shape == hi.shape and out.is_contiguous()


def test_upsample_sub_backward_op_is_minus_adjoint():
    # <U lo, g> == <lo, U^T g>: the backward op must be minus the adjoint of the up-sampling.
    g = torch.Generator().manual_seed(3)
    for mode in MODES:
        lo = _randn(2, 4, 5, 7, gen=g)
        grad = _randn(2, 4, 10, 14, gen=g)
        lhs = (_up(lo, mode) * grad).sum()
        rhs = -(lo * ops._upsample_sub_backward(grad, mode)).sum()
        torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", ["channels_last", "strided", "expanded"])
def test_upsample_sub_non_contiguous(layout):
    g = torch.Generator().manual_seed(5)
    hi = _randn(2, 3, 8, 10, gen=g)
    lo = _randn(2, 3, 4, 5, gen=g)
    if layout == "channels_last":
        hi, lo = hi.to(memory_format=torch.channels_last), lo.to(memory_format=torch.channels_last)
    elif layout == "strided":
        hi = _randn(2, 6, 8, 20, gen=g)[:, ::2, :, ::2]
        lo = _randn(2, 3, 4, 10, gen=g)[..., 1::2]
    else:
        lo = _randn(1, 3, 4, 5, gen=g).expand(2, 3, 4, 5)
    assert not hi.is_contiguous() or not lo.is_contiguous()
    for mode in MODES:
        torch.testing.assert_close(
            upsample_sub(hi, lo, mode), hi - _up(lo, mode), rtol=0, atol=1e-12
        )


@pytest.mark.parametrize("mode", MODES)
def test_upsample_sub_gradcheck(mode):
    g = torch.Generator().manual_seed(7)
    hi = _randn(1, 2, 6, 8, gen=g).requires_grad_()
    lo = _randn(1, 2, 3, 4, gen=g).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: upsample_sub(a, b, mode), (hi, lo))


# -------------------------------------------------------------------------- pool_concat

# smallest size, ratios (1 = passed through); odd smallest sizes included
POOL_CASES = [
    ((2, 2), (4, 2, 1)),
    ((3, 5), (4, 2, 1)),
    ((3, 3), (2, 1)),
    ((1, 1), (1, 4)),
    ((2, 3), (3, 1)),
    ((2, 2), (1,)),
]


def _pool_inputs(size, ratios, dtype=torch.float64, seed=0, integer=False):
    g = torch.Generator().manual_seed(seed)
    h, w = size
    out = []
    for i, r in enumerate(ratios):
        shape = (2, 2 + i, h * r, w * r)
        if integer:  # few distinct values: forces ties inside the windows
            out.append(torch.randint(0, 3, shape, generator=g).to(dtype))
        else:
            out.append(torch.randn(*shape, dtype=dtype, generator=g))
    return out


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size,ratios", POOL_CASES)
def test_pool_concat_matches_pooling_and_cat(size, ratios, kind, dtype):
    xs = _pool_inputs(size, ratios, dtype, seed=len(ratios) + size[0])
    grad_out = torch.randn(
        2,
        sum(t.shape[1] for t in xs),
        *size,
        dtype=dtype,
        generator=torch.Generator().manual_seed(1),
    )
    out, grads = _grads(lambda t: pool_concat(t, kind), xs, grad_out)
    ref, ref_grads = _grads(lambda t: _pool_oracle(t, kind), xs, grad_out)
    torch.testing.assert_close(out, ref, **TOL[dtype])
    for gk, gr in zip(grads, ref_grads):
        torch.testing.assert_close(gk, gr, **TOL[dtype])
    torch.testing.assert_close(out, reference.pool_concat(xs, kind), **TOL[dtype])
    assert out.shape == (2, sum(t.shape[1] for t in xs), *size) and out.dtype == dtype


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_pool_concat_max_ties_route_like_max_pool2d(dtype):
    # integer-valued inputs: most windows hold ties; the first maximum (row-major) wins
    xs = _pool_inputs((3, 4), (4, 2, 1), dtype, seed=11, integer=True)
    grad_out = torch.randn(2, 9, 3, 4, dtype=dtype, generator=torch.Generator().manual_seed(2))
    out, grads = _grads(lambda t: pool_concat(t, "max"), xs, grad_out)
    ref, ref_grads = _grads(lambda t: _pool_oracle(t, "max"), xs, grad_out)
    assert torch.equal(out, ref)
    for gk, gr in zip(grads, ref_grads):
        assert torch.equal(gk, gr)  # exact: the same element of every window gets the gradient


def test_pool_concat_max_nan_and_inf_like_max_pool2d():
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x[0, 0, 0, 1] = float("nan")
    x[0, 0, 1, 0] = float("nan")  # two NaNs in one window
    x[0, 1, 2:, 2:] = float("-inf")  # an all -inf window
    x[0, 1, 0, 0] = float("inf")
    small = torch.randn(1, 1, 2, 2, dtype=torch.float64)
    grad_out = torch.arange(12, dtype=torch.float64).reshape(1, 3, 2, 2) + 1
    out, grads = _grads(lambda t: pool_concat(t, "max"), [x, small], grad_out)
    ref, ref_grads = _grads(lambda t: _pool_oracle(t, "max"), [x, small], grad_out)
    torch.testing.assert_close(out, ref, equal_nan=True, rtol=0, atol=0)
    assert torch.isnan(out[0, 0, 0, 0]) and out[0, 1, 1, 1] == float("-inf")
    assert torch.equal(grads[0], ref_grads[0]) and torch.equal(grads[1], ref_grads[1])


@pytest.mark.parametrize("kind", KINDS)
def test_pool_concat_gradcheck(kind):
    # distinct values (a shuffled ramp) keep the arg-max away from ties for finite differences
    g = torch.Generator().manual_seed(9)
    shapes = [(1, 2, 8, 4), (1, 1, 4, 2), (1, 2, 2, 1)]
    xs = []
    for s in shapes:
        n = torch.Size(s).numel()
        xs.append(
            (torch.randperm(n, generator=g).to(torch.float64) / n).reshape(s).requires_grad_()
        )
    assert torch.autograd.gradcheck(lambda *t: pool_concat(list(t), kind), xs, eps=1e-4)


def test_pool_concat_many_inputs_and_large_ratio():
    # more inputs than one CUDA launch takes (8), and a ratio > 16 (int32 indices)
    g = torch.Generator().manual_seed(13)
    ratios = (1, 2, 3, 1, 4, 2, 5, 1, 2, 17)
    xs = [
        torch.randn(1, 1 + i % 3, 2 * r, r, dtype=torch.float64, generator=g)
        for i, r in enumerate(ratios)
    ]
    for kind in KINDS:
        out, idx = ops.pool_concat(xs, kind, True)
        torch.testing.assert_close(out, _pool_oracle(xs, kind), rtol=1e-12, atol=1e-12)
        if kind == "max":
            assert idx.dtype == torch.int32 and idx.shape == out.shape
        grad_out = torch.randn_like(out)
        _, grads = _grads(lambda t, k=kind: pool_concat(t, k), xs, grad_out)
        _, ref_grads = _grads(lambda t, k=kind: _pool_oracle(t, k), xs, grad_out)
        for gk, gr in zip(grads, ref_grads):
            torch.testing.assert_close(gk, gr, rtol=1e-12, atol=1e-12)


def test_pool_concat_indices_only_when_needed():
    xs = _pool_inputs((2, 2), (2, 1), torch.float32)
    _, idx = ops.pool_concat(xs, "max", True)
    assert idx.dtype == torch.uint8 and idx.shape == (2, 5, 2, 2)
    assert int(idx.max()) <= 3
    assert ops.pool_concat(xs, "max", False)[1].numel() == 0
    assert ops.pool_concat(xs, "avg", True)[1].numel() == 0


def test_pool_concat_max_without_indices_cannot_backward():
    xs = [t.requires_grad_() for t in _pool_inputs((2, 2), (2, 1), torch.float32)]
    out, _ = ops.pool_concat(xs, "max", False)
    with pytest.raises(RuntimeError, match="with_indices=False"):
        out.sum().backward()


def test_pool_concat_non_contiguous_inputs():
    g = torch.Generator().manual_seed(17)
    a = torch.randn(2, 3, 8, 12, dtype=torch.float64, generator=g).to(
        memory_format=torch.channels_last
    )
    b = torch.randn(2, 8, 4, 6, dtype=torch.float64, generator=g)[:, ::2]
    c = torch.randn(2, 2, 3, 2, dtype=torch.float64, generator=g).transpose(2, 3)
    assert not (a.is_contiguous() or b.is_contiguous() or c.is_contiguous())
    for kind in KINDS:
        torch.testing.assert_close(pool_concat([a, b, c], kind), _pool_oracle([a, b, c], kind))
        torch.testing.assert_close(pool_concat((a, b, c), kind), _pool_oracle([a, b, c], kind))


def test_pool_concat_inference_and_half_fallback():
    xs = _pool_inputs((2, 2), (2, 1), torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(pool_concat(xs, "max"), _pool_oracle(xs, "max"))
    # no CPU kernel for float16: the reference runs instead
    xh = [t.half() for t in xs]
    torch.testing.assert_close(pool_concat(xh, "avg"), _pool_oracle(xh, "avg"))
    hi, lo = torch.randn(1, 2, 4, 4).bfloat16(), torch.randn(1, 2, 2, 2).bfloat16()
    torch.testing.assert_close(upsample_sub(hi, lo), hi - _up(lo, "bilinear"))


# ------------------------------------------------------------------ second derivatives


def _hvp(fn, inputs, vs):
    """Hessian-vector product of sum(fn(*inputs) ** 2) along vs, w.r.t. every input."""
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    grads = torch.autograd.grad(fn(*leaves).square().sum(), leaves, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, vs))
    return torch.autograd.grad(dot, leaves)


@pytest.mark.parametrize("mode", MODES)
def test_upsample_sub_second_derivatives(mode):
    """Double backward is exact: gradgradcheck, and the Hessian-vector product of
    sum(out ** 2) equals the reference ops' (the case that was silently 0 before)."""
    g = torch.Generator().manual_seed(43)
    hi = _randn(1, 2, 6, 8, gen=g).requires_grad_()
    lo = _randn(1, 2, 3, 4, gen=g).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda a, b: upsample_sub(a, b, mode), (hi, lo))
    vs = [_randn(*t.shape, gen=g) for t in (hi, lo)]
    got = _hvp(lambda a, b: upsample_sub(a, b, mode), (hi, lo), vs)
    want = _hvp(lambda a, b: reference.upsample_sub(a, b, mode), (hi, lo), vs)
    for gk, wk in zip(got, want):
        assert wk.abs().max() > 0
        torch.testing.assert_close(gk, wk, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_pool_concat_second_derivatives(kind):
    g = torch.Generator().manual_seed(47)
    xs = []
    for s in [(1, 2, 8, 4), (1, 1, 4, 2), (1, 2, 2, 1)]:
        n = torch.Size(s).numel()
        xs.append((torch.randperm(n, generator=g).double() / n).reshape(s).requires_grad_())
    assert torch.autograd.gradgradcheck(lambda *t: pool_concat(list(t), kind), xs, eps=1e-4)
    vs = [_randn(*t.shape, gen=g) for t in xs]
    got = _hvp(lambda *t: pool_concat(list(t), kind), xs, vs)
    want = _hvp(lambda *t: _pool_oracle(list(t), kind), xs, vs)
    for gk, wk in zip(got, want):
        torch.testing.assert_close(gk, wk, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ registration checks


def test_opcheck_all_ops():
    g = torch.Generator().manual_seed(19)
    hi = _randn(2, 3, 6, 10, gen=g).requires_grad_()
    lo = _randn(2, 3, 3, 5, gen=g).requires_grad_()
    for mode in MODES:
        torch.library.opcheck(ops.upsample_sub.default, (hi, lo, mode))
        torch.library.opcheck(ops._upsample_sub_backward.default, (hi.detach(), mode))
    xs = [t.requires_grad_() for t in _pool_inputs((3, 5), (4, 2, 1), torch.float64)]
    for kind in KINDS:
        torch.library.opcheck(ops.pool_concat.default, (xs, kind, True))
        torch.library.opcheck(ops.pool_concat.default, ([t.detach() for t in xs], kind, False))
    out, idx = ops.pool_concat([t.detach() for t in xs], "max", True)
    grad = torch.randn_like(out)
    for kind in KINDS:
        torch.library.opcheck(
            ops._pool_concat_backward.default, (grad, idx, [0, 2, 5], [2, 3, 4], [4, 2, 1], kind)
        )


def test_torch_compile_fullgraph_forward_backward():
    def pyramid(f128, f64, f32):
        s128 = upsample_sub(f128, f64, "bilinear")
        s64 = upsample_sub(f64, f32, "nearest")
        return pool_concat([s128, s64, f32], "max") + pool_concat([s128, f32], "avg").mean(1, True)

    g = torch.Generator().manual_seed(23)
    xs = [torch.randn(2, 3, s, s, generator=g) for s in (8, 4, 2)]
    # aot_eager: full graph capture + fake kernels + AOT autograd (the parts these ops own),
    # without inductor code generation (which costs ~50 s on the 2-core CI machine)
    compiled = torch.compile(pyramid, fullgraph=True, backend="aot_eager")
    out, grads = _grads(lambda t: compiled(*t), xs, torch.ones(2, 9, 2, 2))
    ref, ref_grads = _grads(lambda t: pyramid(*t), xs, torch.ones(2, 9, 2, 2))
    torch.testing.assert_close(out, ref)
    for gk, gr in zip(grads, ref_grads):
        torch.testing.assert_close(gk, gr)


# ----------------------------------------------------------------------------- errors


def test_upsample_sub_errors():
    hi, lo = torch.randn(1, 2, 6, 8), torch.randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match="mode must be one of"):
        upsample_sub(hi, lo, "bicubic")
    with pytest.raises(ValueError, match="exactly twice"):
        upsample_sub(torch.randn(1, 2, 7, 8), lo)
    with pytest.raises(ValueError, match="channel counts differ"):
        upsample_sub(hi, torch.randn(1, 3, 3, 4))
    with pytest.raises(ValueError, match="batch sizes differ"):
        upsample_sub(hi, torch.randn(2, 2, 3, 4))
    with pytest.raises(ValueError, match="rank 4"):
        upsample_sub(hi[0], lo[0])
    with pytest.raises(TypeError, match="share a dtype"):
        upsample_sub(hi, lo.double())
    with pytest.raises(TypeError, match="floating-point"):
        upsample_sub(hi.long(), lo.long())
    with pytest.raises(TypeError, match="mixed devices"):
        upsample_sub(hi, lo.to("meta"))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        upsample_sub(hi, lo.numpy())
    # the compiled op checks its inputs too
    with pytest.raises(RuntimeError, match="mode must be 'nearest' or 'bilinear'"):
        ops.upsample_sub(hi, lo, "area")
    with pytest.raises(RuntimeError, match=r"must be \[N, C, 2H, 2W\]"):
        ops.upsample_sub(torch.randn(1, 2, 7, 8), lo, "nearest")


def test_pool_concat_errors():
    a, b = torch.randn(1, 2, 8, 8), torch.randn(1, 3, 4, 4)
    with pytest.raises(ValueError, match="kind must be one of"):
        pool_concat([a, b], "min")
    with pytest.raises(ValueError, match="non-empty list"):
        pool_concat([], "max")
    with pytest.raises(ValueError, match="integer multiple"):
        pool_concat([torch.randn(1, 2, 6, 6), b], "max")
    with pytest.raises(ValueError, match="integer multiple"):
        pool_concat([torch.randn(1, 2, 8, 4), b], "avg")  # 2x in H, 1x in W
    with pytest.raises(ValueError, match="batch sizes differ"):
        pool_concat([a, torch.randn(2, 3, 4, 4)])
    with pytest.raises(ValueError, match="rank 4"):
        pool_concat([a, b[0]])
    with pytest.raises(ValueError, match="empty spatial size"):
        pool_concat([a, torch.randn(1, 3, 0, 4)])
    with pytest.raises(TypeError, match="has dtype"):
        pool_concat([a, b.double()])
    with pytest.raises(TypeError, match="mixed devices"):
        pool_concat([a, b.to("meta")])
    with pytest.raises(TypeError, match="floating-point"):
        pool_concat([a, b.int()])
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        pool_concat([a, "b"])
    with pytest.raises(RuntimeError, match="kind must be 'max' or 'avg'"):
        ops.pool_concat([a, b], "sum", False)
    with pytest.raises(RuntimeError, match="integer multiple"):
        ops.pool_concat([torch.randn(1, 2, 6, 6), b], "max", False)
    with pytest.raises(RuntimeError, match="needs the indices"):
        ops._pool_concat_backward(
            torch.randn(1, 5, 4, 4), torch.empty(0, dtype=torch.uint8), [0], [2], [2], "max"
        )


def test_compiled_ops_reject_bad_rank():
    with pytest.raises(RuntimeError, match=r"must be \[N, C, H, W\]"):
        ops.pool_concat([torch.randn(2, 4, 4), torch.randn(1, 2, 2, 2)], "avg", False)
    with pytest.raises(RuntimeError, match="no tensor arguments"):  # the dispatcher's own check
        ops.pool_concat([], "avg", False)
