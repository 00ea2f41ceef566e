"""fasfast.ops.fcam_gate: fused kernels vs a scipy oracle, the reference and autograd."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from _diirf_cases import (
    COEFF_KINDS,
    T_VALUES,
    autograd_grads,
    fcam_oracle,
    fcam_oracle_grads,
    make_coeffs,
    randn,
    rel_err,
)

import fasfast.ops
from fasfast.ops import diirf, fcam_gate, reference, use_reference, uses_kernel

needs_c = pytest.mark.skipif(
    not fasfast.ops.has_kernel("fcam_gate", "cpu"), reason="fasfast._C CPU kernel not built"
)


def _xz(rng, T, C=3, H=5, W=6, N=2, dtype=torch.float64):
    return randn(rng, N, T, C, H, W, dtype=dtype), randn(rng, N, T, H, W, dtype=dtype)


@needs_c
def test_compiled_kernel_is_used():
    x = torch.randn(1, 2, 3, 4, 4)
    assert uses_kernel("fcam_gate", x)
    with use_reference():
        assert not uses_kernel("fcam_gate", x)


@pytest.mark.parametrize("kind", COEFF_KINDS)
@pytest.mark.parametrize("T", T_VALUES)
def test_matches_oracle(rng, T, kind):
    b, a = make_coeffs(kind, rng)
    x, z = _xz(rng, T)
    want = fcam_oracle(x, z, b, a)
    out = fcam_gate(x, z, b, a)
    assert out.shape == x.shape and out.dtype == torch.float64
    assert np.abs(out.numpy() - want).max() <= 1e-12
    x32, z32, b32, a32 = x.float(), z.float(), b.float(), a.float()
    assert rel_err(fcam_gate(x32, z32, b32, a32), fcam_oracle(x32, z32, b32, a32)) <= 1e-5


@pytest.mark.parametrize("T", (1, 4, 33))
def test_gradients_match_scipy_oracle(rng, T):
    b, a = make_coeffs("unstable", rng)
    x, z = _xz(rng, T, C=4)
    go = torch.randn_like(x)
    got = autograd_grads(fcam_gate, (x, z, b, a), go)
    want = fcam_oracle_grads(x, z, b, a, go)
    for name, g, w, tol in zip("xzba", got, want, (1e-12, 1e-11, 1e-7, 1e-7)):
        assert rel_err(g, w) <= tol, name


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("T", (1, 4, 33))
def test_matches_reference(rng, dtype, T):
    b, a = make_coeffs("stable", rng, dtype)
    x, z = _xz(rng, T, C=5, H=9, W=11, N=3, dtype=dtype)
    go = torch.randn_like(x)
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    assert rel_err(fcam_gate(x, z, b, a), reference.fcam_gate(x, z, b, a)) <= tol
    got = autograd_grads(fcam_gate, (x, z, b, a), go)
    want = autograd_grads(reference.fcam_gate, (x, z, b, a), go)
    for name, g, w in zip("xzba", got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, name
        assert rel_err(g, w) <= tol * 10, name


def test_gradcheck(rng):
    b, a = make_coeffs("stable", rng)
    x, z = _xz(rng, 4, C=2, H=2, W=3, N=1)
    inputs = [t.clone().requires_grad_(True) for t in (x, z, b, a)]
    assert torch.autograd.gradcheck(fcam_gate, inputs, eps=1e-6, atol=1e-7)


@needs_c
def test_opcheck(rng):
    b, a = make_coeffs("stable", rng, torch.float32)
    x, z = _xz(rng, 3, C=2, H=3, W=4, dtype=torch.float32)
    torch.library.opcheck(torch.ops.fasfast.fcam_gate.default, (x, z, b, a))
    req = [t.double().requires_grad_(True) for t in (x, z, b, a)]
    torch.library.opcheck(torch.ops.fasfast.fcam_gate.default, tuple(req))
    go = torch.randn_like(x)
    torch.library.opcheck(torch.ops.fasfast._fcam_gate_backward.default, (go, x, z, b, a))


@needs_c
def test_torch_compile_fullgraph(rng):
    """Both ops inside one compiled function: no graph break, same values and gradients."""
    torch._dynamo.reset()
    b, a = make_coeffs("stable", rng, torch.float32)
    x, z = _xz(rng, 4, C=3, H=6, W=6, dtype=torch.float32)

    def f(x, z, b, a):
        out = fcam_gate(x, z, b, a)
        y = diirf(z, b, a)
        return out.sum() + (y * y).mean()

    # No cached compiled graphs: the caches key on the forward graph, not on the ops'
    # autograd formulas, so a backward compiled by an older build could be replayed.
    with (
        torch._inductor.config.patch(fx_graph_cache=False),
        torch._functorch.config.patch(enable_autograd_cache=False),
    ):
        compiled = torch.compile(f, fullgraph=True, dynamic=False)
        got = autograd_grads(compiled, (x, z, b, a), torch.tensor(1.0))
        want = autograd_grads(f, (x, z, b, a), torch.tensor(1.0))
        for g, w in zip(got, want):
            assert rel_err(g, w) <= 1e-6
        assert torch.allclose(compiled(x, z, b, a), f(x, z, b, a), rtol=1e-6)


def test_noncontiguous_and_channels_last(rng):
    b, a = make_coeffs("stable", rng, torch.float32)
    x, z = _xz(rng, 4, C=4, H=6, W=7, dtype=torch.float32)
    go = torch.randn_like(x)
    want = fcam_gate(x, z, b, a)
    g_want = autograd_grads(fcam_gate, (x, z, b, a), go)
    x_cl = x.contiguous(memory_format=torch.channels_last_3d)
    z_cl = z.contiguous(memory_format=torch.channels_last)
    assert not x_cl.is_contiguous() and not z_cl.is_contiguous()
    assert torch.equal(fcam_gate(x_cl, z_cl, b, a), want)
    x_view = torch.repeat_interleave(x, 2, dim=2)[:, :, ::2]  # channel stride 2
    z_view = z.transpose(-1, -2).contiguous().transpose(-1, -2)
    assert not x_view.is_contiguous() and not z_view.is_contiguous()
    assert torch.equal(fcam_gate(x_view, z_view, b, a), want)
    g_got = autograd_grads(
        fcam_gate, (x_cl, z_view, b, a), go.transpose(-1, -2).contiguous().transpose(-1, -2)
    )
    for g, w in zip(g_got, g_want):
        assert torch.equal(g, w)


def test_deterministic(rng):
    b, a = make_coeffs("stable", rng, torch.float32)
    x, z = _xz(rng, 4, C=8, H=40, W=40, N=4, dtype=torch.float32)
    go = torch.randn_like(x)
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        runs = [autograd_grads(fcam_gate, (x, z, b, a), go) for _ in range(2)]
    finally:
        torch.use_deterministic_algorithms(was)
    for g1, g2 in zip(*runs):
        assert torch.equal(g1, g2)


def test_thread_count_does_not_change_results(rng):
    """The work partition depends on the shape only: 1 and 2 threads agree bitwise."""
    b, a = make_coeffs("stable", rng, torch.float32)
    x, z = _xz(rng, 4, C=3, H=33, W=40, N=3, dtype=torch.float32)
    go = torch.randn_like(x)
    threads = torch.get_num_threads()
    runs = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            runs.append(autograd_grads(fcam_gate, (x, z, b, a), go))
            runs[-1].extend(autograd_grads(diirf, (x, b, a), go))
    finally:
        torch.set_num_threads(threads)
    for g1, g2 in zip(*runs):
        assert torch.equal(g1, g2)


_ISA_SCRIPT = """
import sys, numpy as np, torch
import fasfast.ops  # noqa: F401
rng = np.random.default_rng(5)
out = []
for dt in (np.float32, np.float64):
    t = lambda *s: torch.from_numpy(rng.standard_normal(s).astype(dt))
    x, z, go = t(2, 5, 3, 9, 70), t(2, 5, 9, 70), t(2, 5, 3, 9, 70)
    b, a = t(3), torch.tensor([-0.4, 0.3], dtype=x.dtype)
    out += [torch.ops.fasfast.fcam_gate(x, z, b, a), torch.ops.fasfast.diirf(x, b, a)]
    out += list(torch.ops.fasfast._fcam_gate_backward(go, x, z, b, a))
    out += list(torch.ops.fasfast._diirf_backward(go, x, b, a))
if len(sys.argv) > 1:
    torch.save(out, sys.argv[1])
"""


@needs_c
def test_instruction_set_variants_agree_bitwise(tmp_path):
    """The CPU task bodies are compiled for several instruction sets (the best one picked
    at run time, capped by ATEN_CPU_CAPABILITY); every variant must give bitwise identical
    results: here the best one (this process) against the baseline and AVX2 (children)."""
    scope: dict = {}
    exec(_ISA_SCRIPT.replace("sys.argv", "[]"), scope)
    for cap in ("default", "avx2"):
        path = tmp_path / f"{cap}.pt"
        env = dict(os.environ, ATEN_CPU_CAPABILITY=cap, OMP_NUM_THREADS="2")
        subprocess.run(
            [sys.executable, "-c", _ISA_SCRIPT, str(path)], env=env, check=True, timeout=180
        )
        for t0, t1 in zip(scope["out"], torch.load(path)):
            assert torch.equal(t0, t1), cap


def test_fallback_reference_matches(rng):
    b, a = make_coeffs("unstable", rng)
    x, z = _xz(rng, 7)
    go = torch.randn_like(x)
    out = fcam_gate(x, z, b, a)
    got = autograd_grads(fcam_gate, (x, z, b, a), go)
    with use_reference():
        out_ref = fcam_gate(x, z, b, a)
        ref = autograd_grads(fcam_gate, (x, z, b, a), go)
    assert rel_err(out, out_ref) <= 1e-12
    for g, w in zip(got, ref):
        assert rel_err(g, w) <= 1e-11


def test_single_channel_and_large_gate_values(rng):
    """C = 1, and |y| large enough that exp overflows: gate exactly 0 / 1, no NaN."""
    b = torch.tensor([1e4, 0.0, 0.0])
    a = torch.tensor([0.0, 0.0])
    x, z = _xz(rng, 3, C=1, dtype=torch.float32)
    z = torch.sign(z) * (z.abs() + 0.05)  # |y| >= 500: exp(+-y) over/underflows
    out = fcam_gate(x, z, b, a)
    assert torch.isfinite(out).all()
    assert torch.equal(out, x * (z > 0).to(x.dtype).unsqueeze(2))
    g = autograd_grads(fcam_gate, (x, z, b, a), torch.ones_like(x))
    assert all(torch.isfinite(t).all() for t in g)
    assert torch.equal(g[0], (z > 0).to(x.dtype).unsqueeze(2).expand_as(x))


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda x, z, b, a: (x[:, 0], z, b, a), ValueError, r"x must have rank 5 .* got rank 4"),
        (
            lambda x, z, b, a: (x, z[:, :, None], b, a),
            ValueError,
            r"z must have rank 4 .* got rank 5",
        ),
        (lambda x, z, b, a: (x, z[:, :2], b, a), ValueError, r"T of x \(3\) and z \(2\) differ"),
        (lambda x, z, b, a: (x, z[..., :3], b, a), ValueError, r"must agree in N, H and W"),
        (lambda x, z, b, a: (x, z, b[:1], a), ValueError, r"b must hold exactly 3 coefficients"),
        (lambda x, z, b, a: (x, z, b, a[:1]), ValueError, r"a must hold exactly 2 coefficients"),
        (lambda x, z, b, a: (x, z.double(), b, a), TypeError, r"x and z must share a dtype"),
        (lambda x, z, b, a: (x.double(), z.double(), b, a), TypeError, r"coefficient dtype"),
        (lambda x, z, b, a: (x, z.to("meta"), b, a), TypeError, r"x is on cpu but z is on meta"),
        (lambda x, z, b, a: (x, z, b, a.to("meta")), TypeError, r"a is on meta but z is on cpu"),
        (lambda x, z, b, a: (x.long(), z.long(), b, a), TypeError, r"x must be a floating-point"),
    ],
)
def test_bad_input_messages(make, exc, match):
    x = torch.randn(2, 3, 4, 5, 5)
    z = torch.randn(2, 3, 5, 5)
    b = torch.randn(3)
    a = torch.randn(2)
    with pytest.raises(exc, match=match):
        fcam_gate(*make(x, z, b, a))


@needs_c
def test_direct_op_call_checks_do_not_crash():
    x = torch.randn(2, 3, 4, 5, 5)
    z = torch.randn(2, 3, 5, 5)
    with pytest.raises(RuntimeError, match="must agree in N, T, H and W"):
        torch.ops.fasfast.fcam_gate(x, z[:, :2], torch.randn(3), torch.randn(2))
    with pytest.raises(RuntimeError, match="a must hold exactly 2"):
        torch.ops.fasfast.fcam_gate(x, z, torch.randn(3), torch.randn(3))
    with pytest.raises(RuntimeError, match="grad_out must match x"):
        torch.ops.fasfast._fcam_gate_backward(z, x, z, torch.randn(3), torch.randn(2))


@needs_c
def test_second_derivative_is_refused_with_the_way_out(rng):
    b, a = make_coeffs("stable", rng)
    x, z = _xz(rng, 3, C=2, H=2, W=3, N=1)
    x.requires_grad_()
    z.requires_grad_()
    gx, gz = torch.autograd.grad(fcam_gate(x, z, b, a).square().sum(), (x, z), create_graph=True)
    with pytest.raises(
        RuntimeError, match=r"fasfast::fcam_gate: second derivatives .* fasfast.ops.reference"
    ):
        torch.autograd.grad(gx.sum() + gz.sum(), (x, z))
    with use_reference():
        assert torch.autograd.gradgradcheck(fcam_gate, (x, z, b, a))
