"""fasfast.ops.diirf: compiled kernels vs scipy.signal.lfilter, the reference, autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _diirf_cases import (
    COEFF_KINDS,
    T_VALUES,
    adjoint_oracle,
    autograd_grads,
    lfilter_oracle,
    make_coeffs,
    randn,
    rel_err,
)

import fasfast.ops
from fasfast.ops import diirf, reference, use_reference, uses_kernel

needs_c = pytest.mark.skipif(
    not fasfast.ops.has_kernel("diirf", "cpu"), reason="fasfast._C CPU kernel not built"
)


def _z(rng, rank, T, dtype=torch.float64):
    shape = (2, T, 5, 6) if rank == 4 else (2, T, 3, 4, 5)
    return randn(rng, *shape, dtype=dtype)


@needs_c
def test_compiled_kernel_is_used():
    z = torch.randn(1, 3, 4, 4)
    assert uses_kernel("diirf", z)
    assert uses_kernel("diirf", z.double())
    with use_reference():
        assert not uses_kernel("diirf", z)
    assert uses_kernel("diirf", z)


@pytest.mark.parametrize("kind", COEFF_KINDS)
@pytest.mark.parametrize("T", T_VALUES)
@pytest.mark.parametrize("rank", (4, 5))
def test_matches_lfilter(rng, rank, T, kind):
    b, a = make_coeffs(kind, rng)
    z = _z(rng, rank, T)
    want = lfilter_oracle(z, b, a)
    y64 = diirf(z, b, a)
    assert y64.dtype == torch.float64 and y64.shape == z.shape
    assert np.abs(y64.numpy() - want).max() <= 1e-12
    # float32: the oracle runs in float64 on the float32 inputs.
    z32, b32, a32 = z.float(), b.float(), a.float()
    y32 = diirf(z32, b32, a32)
    assert y32.dtype == torch.float32
    assert rel_err(y32, lfilter_oracle(z32, b32, a32)) <= 1e-5


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("T", (1, 4, 33))
def test_matches_reference_forward_and_backward(rng, dtype, T):
    b, a = make_coeffs("stable", rng, dtype)
    z = randn(rng, 3, T, 7, 9, dtype=dtype)
    gy = randn(rng, 3, T, 7, 9, dtype=dtype)
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    assert rel_err(diirf(z, b, a), reference.diirf(z, b, a)) <= tol
    got = autograd_grads(diirf, (z, b, a), gy)
    want = autograd_grads(reference.diirf, (z, b, a), gy)
    for name, g, w in zip("zba", got, want):
        assert g.dtype == w.dtype, name
        assert rel_err(g, w) <= tol * 10, name


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("T", range(1, 10))
def test_backward_matches_scipy_adjoint(rng, dtype, T):
    """Every frame count the CPU backward keeps in registers (T <= 8) and the first one it
    runs through scratch (T = 9), on blocks of full 16-pixel strips plus a partial one
    (3 * 5 * 7 = 105 pixels per frame)."""
    b, a = make_coeffs("unstable", rng, dtype)
    z = randn(rng, 2, T, 3, 5, 7, dtype=dtype)
    gy = randn(rng, 2, T, 3, 5, 7, dtype=dtype)
    got = autograd_grads(diirf, (z, b, a), gy)
    want = adjoint_oracle(z, b, a, gy)
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    for name, g, w in zip("zba", got, want):
        assert g.dtype == dtype, name
        assert rel_err(g, w) <= tol, name


@pytest.mark.parametrize("rank", (4, 5))
def test_gradcheck(rng, rank):
    b, a = make_coeffs("stable", rng)
    z = _z(rng, rank, 5)[:, :, :2]
    inputs = [t.clone().requires_grad_(True) for t in (z, b, a)]
    assert torch.autograd.gradcheck(diirf, inputs, eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("T", (1, 33))
def test_gradcheck_long_and_single_frame(rng, T):
    b, a = make_coeffs("unstable", rng)
    z = randn(rng, 1, T, 2, 3)
    inputs = [t.clone().requires_grad_(True) for t in (z, b, a)]
    assert torch.autograd.gradcheck(diirf, inputs, eps=1e-6, atol=1e-6)


@needs_c
def test_opcheck(rng):
    b, a = make_coeffs("stable", rng, torch.float32)
    z = randn(rng, 2, 4, 3, 5, dtype=torch.float32)
    torch.library.opcheck(torch.ops.fasfast.diirf.default, (z, b, a))
    z5 = randn(rng, 1, 3, 2, 3, 4, dtype=torch.float64).requires_grad_(True)
    torch.library.opcheck(
        torch.ops.fasfast.diirf.default,
        (z5, b.double().requires_grad_(True), a.double().requires_grad_(True)),
    )
    gy = randn(rng, 2, 4, 3, 5, dtype=torch.float32)
    torch.library.opcheck(torch.ops.fasfast._diirf_backward.default, (gy, z, b, a))


@pytest.mark.parametrize("rank", (4, 5))
def test_noncontiguous_and_channels_last(rng, rank):
    b, a = make_coeffs("stable", rng, torch.float32)
    base = _z(rng, rank, 4, torch.float32)
    want = diirf(base, b, a)
    # A strided view: every other column of a twice-as-wide tensor.
    wide = torch.repeat_interleave(base, 2, dim=-1)
    view = wide[..., ::2]
    assert not view.is_contiguous()
    assert torch.equal(diirf(view, b, a), want)
    fmt = torch.channels_last if rank == 4 else torch.channels_last_3d
    cl = base.contiguous(memory_format=fmt)
    assert not cl.is_contiguous()
    assert torch.equal(diirf(cl, b, a), want)
    # Transposed H/W, transposed back, and non-contiguous coefficients.
    tr = base.transpose(-1, -2).contiguous().transpose(-1, -2)
    b_nc = torch.stack([b, b], 1)[:, 0]
    assert not b_nc.is_contiguous()
    assert torch.equal(diirf(tr, b_nc, a), want)
    # Gradients as well.
    gy = torch.randn_like(base)
    g_want = autograd_grads(diirf, (base, b, a), gy)
    g_got = autograd_grads(diirf, (cl, b, a), gy.contiguous(memory_format=fmt))
    for g, w in zip(g_got, g_want):
        assert torch.equal(g, w)


def test_deterministic_coefficient_gradients(rng):
    b, a = make_coeffs("stable", rng, torch.float32)
    z = randn(rng, 4, 4, 48, 48, dtype=torch.float32)
    gy = randn(rng, 4, 4, 48, 48, dtype=torch.float32)
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        first = autograd_grads(diirf, (z, b, a), gy)
        second = autograd_grads(diirf, (z, b, a), gy)
    finally:
        torch.use_deterministic_algorithms(was)
    for g1, g2 in zip(first, second):
        assert torch.equal(g1, g2)


def test_fallback_reference_matches(rng):
    b, a = make_coeffs("unstable", rng)
    z = _z(rng, 5, 7)
    gy = torch.randn_like(z)
    got = autograd_grads(diirf, (z, b, a), gy)
    y = diirf(z, b, a)
    with use_reference():
        assert not uses_kernel("diirf", z)
        y_ref = diirf(z, b, a)
        ref = autograd_grads(diirf, (z, b, a), gy)
    assert rel_err(y, y_ref) <= 1e-12
    for g, w in zip(got, ref):
        assert rel_err(g, w) <= 1e-11


def test_half_on_cpu_falls_back(rng):
    b, a = make_coeffs("stable", rng, torch.float32)
    z = randn(rng, 1, 3, 4, 4, dtype=torch.float32)
    y = diirf(z.to(torch.bfloat16), b, a)
    assert y.dtype == torch.bfloat16
    assert rel_err(y.float(), lfilter_oracle(z.to(torch.bfloat16), b, a)) <= 1e-2


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda z, b, a: (z[0], b, a), ValueError, r"z must have rank 4 .* got rank 3"),
        (lambda z, b, a: (z[..., None, None], b, a), ValueError, r"got rank 6"),
        (lambda z, b, a: (z, b[:2], a), ValueError, r"b must hold exactly 3 coefficients"),
        (lambda z, b, a: (z, b, torch.ones(3)), ValueError, r"a must hold exactly 2 coefficients"),
        (lambda z, b, a: (z, b.reshape(3, 1), a), ValueError, r"b must hold exactly 3"),
        (lambda z, b, a: (z.double(), b, a), TypeError, r"coefficient dtype .* does not match"),
        (lambda z, b, a: (z, b.double(), a), TypeError, r"b and a must share a dtype"),
        (lambda z, b, a: (z.int(), b, a), TypeError, r"z must be a floating-point tensor"),
        (lambda z, b, a: (z[:, :0], b, a), ValueError, r"T = 0 frames"),
        (lambda z, b, a: (z, b.to("meta"), a), TypeError, r"b is on meta but z is on cpu"),
        (lambda z, b, a: (z.numpy(), b, a), TypeError, r"z must be a torch.Tensor"),
    ],
)
def test_bad_input_messages(make, exc, match):
    z = torch.randn(2, 3, 4, 4)
    b = torch.randn(3)
    a = torch.randn(2)
    with pytest.raises(exc, match=match):
        diirf(*make(z, b, a))


@needs_c
def test_direct_op_call_checks_do_not_crash():
    z = torch.randn(2, 3, 4, 4)
    with pytest.raises(RuntimeError, match="b must hold exactly 3 coefficients"):
        torch.ops.fasfast.diirf(z, torch.randn(2), torch.randn(2))
    with pytest.raises(RuntimeError, match="rank 4"):
        torch.ops.fasfast.diirf(z[0], torch.randn(3), torch.randn(2))
    with pytest.raises(RuntimeError, match="grad_y must match z"):
        torch.ops.fasfast._diirf_backward(z[:1], z, torch.randn(3), torch.randn(2))


@needs_c
def test_second_derivative_is_refused_with_the_way_out(rng):
    """The fused backward has no derivative: a second derivative (gradient penalty, Hessian)
    raises, naming the op and the reference ops, which give it (here checked against
    finite differences)."""
    b, a = make_coeffs("stable", rng)
    z = randn(rng, 1, 4, 3, 3).requires_grad_()
    bb = b.clone().requires_grad_()
    (g,) = torch.autograd.grad(diirf(z, bb, a).square().sum(), z, create_graph=True)
    with pytest.raises(RuntimeError, match=r"fasfast::diirf: second derivatives .* reference"):
        torch.autograd.grad(g.sum(), (z, bb))
    with use_reference():
        assert torch.autograd.gradgradcheck(diirf, (z, bb, a.clone().requires_grad_()))
