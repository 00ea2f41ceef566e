"""The CUDA kernels of diirf / fcam_gate (csrc/cuda/diirf.cu) on every backend: ``cuda`` (a
GPU, when there is one) and ``emu`` (the same source on the emulated CUDA runtime, CPU).

Oracles: scipy.signal.lfilter and its adjoint (tests/_diirf_cases.py), the CPU kernels
(bitwise for float32/float64: the CUDA build does not contract a*b + c into FMA), autograd
of the reference ops; every dtype the kernels take; T from 1 to past two backward chunks;
odd sizes over several blocks; strided and channels-last inputs; empty tensors; results
bitwise equal across schedules, grid caps and runs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _diirf_cases import (
    adjoint_oracle,
    autograd_grads,
    fcam_oracle,
    fcam_oracle_grads,
    lfilter_oracle,
    make_coeffs,
    randn,
    rel_err,
)
from _gpu_backends import KERNEL_DTYPES, QUICK, backend, config, take_launches

import fasfast.ops
from fasfast.ops import reference

__all__ = ["backend"]  # the fixture

K_CHUNK = 8  # frames per backward chunk (csrc/cuda/diirf.cu)
T_VALUES = (1, K_CHUNK + 1) if QUICK else (1, K_CHUNK - 1, K_CHUNK, K_CHUNK + 1, 2 * K_CHUNK + 1)
DTYPES = (torch.float32, torch.bfloat16) if QUICK else KERNEL_DTYPES
# max |got - want| / max |want| per dtype (the 16-bit ones: output rounding)
TOL = {torch.float64: 1e-12, torch.float32: 1e-5, torch.float16: 3e-3, torch.bfloat16: 3e-2}
GRAD_TOL = {torch.float64: 1e-11, torch.float32: 2e-5, torch.float16: 4e-3, torch.bfloat16: 4e-2}


def _ids(v):
    return str(v).replace("torch.", "")


def _coeffs(rng, dtype, kind="unstable"):
    cdt = torch.float64 if dtype == torch.float64 else torch.float32
    return make_coeffs(kind, rng, cdt)


def _inputs(rng, backend, dtype, T, shape):
    """z (or x) on the backend, rounded to dtype; the same values in float64 on the CPU."""
    t = randn(rng, *shape).to(dtype)
    return backend.to(t), t.double()


# ---- diirf ---------------------------------------------------------------------------


@pytest.mark.parametrize("rank", (4, 5))
@pytest.mark.parametrize("T", T_VALUES)
@pytest.mark.parametrize("dtype", DTYPES, ids=_ids)
def test_diirf_matches_lfilter_and_its_adjoint(backend, rng, dtype, T, rank):
    b, a = _coeffs(rng, dtype)
    shape = (2, T, 17, 19) if rank == 4 else (2, T, 3, 5, 7)
    z, z64 = _inputs(rng, backend, dtype, T, shape)
    gy, gy64 = _inputs(rng, backend, dtype, T, shape)
    bd, ad = backend.to(b), backend.to(a)
    y = backend.diirf(z, bd, ad)
    assert y.dtype == dtype and y.shape == z.shape and y.device == z.device
    assert rel_err(y, lfilter_oracle(z64, b, a)) <= TOL[dtype]
    gz, gb, ga = autograd_grads(backend.diirf, (z, bd, ad), gy)
    assert gb.dtype == b.dtype and ga.dtype == a.dtype
    for name, got, want in zip("zba", (gz, gb, ga), adjoint_oracle(z64, b, a, gy64)):
        assert rel_err(got, want) <= GRAD_TOL[dtype], name


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64), ids=_ids)
def test_diirf_bitwise_equal_to_cpu_kernels(backend, rng, dtype):
    """Same IEEE operations in the same order as the CPU kernels (csrc/diirf_math.h, no FMA
    contraction in either build): y and grad_z are bitwise equal."""
    if not fasfast.ops.has_kernel("diirf", "cpu"):
        pytest.skip("fasfast._C CPU kernels not built")
    b, a = _coeffs(rng, dtype, "stable")
    z = randn(rng, 2, 2 * K_CHUNK + 3, 9, 11, dtype=dtype)
    gy = randn(rng, *z.shape, dtype=dtype)
    cpu = torch.ops.fasfast
    dev = [backend.to(t) for t in (gy, z, b, a)]
    assert torch.equal(backend.lib.diirf(*dev[1:]).cpu(), cpu.diirf(z, b, a))
    gz, gb, ga = backend.lib._diirf_backward(*dev)
    want = cpu._diirf_backward(gy, z, b, a)
    assert torch.equal(gz.cpu(), want[0])
    for got, w in zip((gb, ga), want[1:]):  # reduced in another order: close, not equal
        assert rel_err(got.cpu(), w) <= (1e-13 if dtype == torch.float64 else 1e-5)


@pytest.mark.parametrize("rank", (4, 5))
def test_diirf_strided_and_channels_last(backend, rng, rank):
    b, a = (backend.to(t) for t in _coeffs(rng, torch.float32, "stable"))
    base = backend.to(randn(rng, *((2, 5, 7, 9) if rank == 4 else (2, 5, 3, 7, 9))).float())
    gy = torch.randn_like(base)
    want = backend.diirf(base, b, a)
    g_want = autograd_grads(backend.diirf, (base, b, a), gy)
    fmt = torch.channels_last if rank == 4 else torch.channels_last_3d
    views = [
        torch.repeat_interleave(base, 2, dim=-1)[..., ::2],  # stride 2 along W
        base.contiguous(memory_format=fmt),
        base.transpose(-1, -2).contiguous().transpose(-1, -2),
    ]
    for v in views:
        assert not v.is_contiguous()
        assert torch.equal(backend.diirf(v, b, a), want)
        for got, w in zip(autograd_grads(backend.diirf, (v, b, a), gy), g_want):
            assert torch.equal(got, w)


@pytest.mark.parametrize("shape", [(0, 3, 4, 5), (2, 3, 0, 5), (1, 2, 3, 0, 4)])
def test_diirf_empty(backend, rng, shape):
    b, a = (backend.to(t) for t in _coeffs(rng, torch.float32))
    z = backend.to(torch.zeros(shape))
    y = backend.diirf(z, b, a)
    assert y.shape == z.shape and y.dtype == z.dtype
    gz, gb, ga = backend.lib._diirf_backward(z, z, b, a)
    assert gz.shape == z.shape
    assert torch.equal(gb.cpu(), torch.zeros(3)) and torch.equal(ga.cpu(), torch.zeros(2))


def test_diirf_gradcheck_opcheck_second_derivative(backend, rng):
    b, a = make_coeffs("stable", rng)
    z = randn(rng, 1, K_CHUNK + 2, 2, 3)
    inputs = [backend.to(t).requires_grad_(True) for t in (z, b, a)]
    assert torch.autograd.gradcheck(backend.diirf, inputs, eps=1e-6, atol=1e-7)
    torch.library.opcheck(backend.lib.diirf.default, tuple(inputs))
    (g,) = torch.autograd.grad(backend.diirf(*inputs).square().sum(), inputs[0], create_graph=True)
    with pytest.raises(RuntimeError, match="second derivatives .* reference"):
        torch.autograd.grad(g.sum(), inputs[0])


# ---- fcam_gate -----------------------------------------------------------------------


@pytest.mark.parametrize("C", (1, 3, 20))
@pytest.mark.parametrize("T", T_VALUES)
@pytest.mark.parametrize("dtype", DTYPES, ids=_ids)
def test_fcam_gate_matches_oracle(backend, rng, dtype, T, C):
    b, a = _coeffs(rng, dtype, "stable")
    x, x64 = _inputs(rng, backend, dtype, T, (2, T, C, 7, 9))
    z, z64 = _inputs(rng, backend, dtype, T, (2, T, 7, 9))
    go, go64 = _inputs(rng, backend, dtype, T, (2, T, C, 7, 9))
    bd, ad = backend.to(b), backend.to(a)
    out = backend.fcam_gate(x, z, bd, ad)
    assert out.dtype == dtype and out.shape == x.shape
    assert rel_err(out, fcam_oracle(x64, z64, b, a)) <= TOL[dtype]
    got = autograd_grads(backend.fcam_gate, (x, z, bd, ad), go)
    assert got[2].dtype == b.dtype and got[3].dtype == a.dtype
    want = fcam_oracle_grads(x64, z64, b.double(), a.double(), go64)
    # b, a by central differences in float64: 1e-7 at best
    for name, g, w in zip("xzba", got, want):
        tol = GRAD_TOL[dtype] if name in "xz" else max(GRAD_TOL[dtype], 1e-7)
        assert rel_err(g, w) <= tol, name


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64), ids=_ids)
def test_fcam_gate_matches_cpu_kernels(backend, rng, dtype):
    """Bitwise equal to the CPU kernels on the emulator (the same exp); on a GPU, expf's last
    bits may differ."""
    if not fasfast.ops.has_kernel("fcam_gate", "cpu"):
        pytest.skip("fasfast._C CPU kernels not built")
    b, a = _coeffs(rng, dtype, "stable")
    x = randn(rng, 2, K_CHUNK + 3, 5, 6, 7, dtype=dtype)
    z = randn(rng, 2, K_CHUNK + 3, 6, 7, dtype=dtype)
    go = torch.randn_like(x)
    cpu = torch.ops.fasfast
    got = [backend.lib.fcam_gate(*(backend.to(t) for t in (x, z, b, a)))]
    got += backend.lib._fcam_gate_backward(*(backend.to(t) for t in (go, x, z, b, a)))
    want = [cpu.fcam_gate(x, z, b, a), *cpu._fcam_gate_backward(go, x, z, b, a)]
    for i, (g, w) in enumerate(zip(got, want)):
        if backend.name == "emu" and i < 3:
            assert torch.equal(g, w), i
        else:
            assert rel_err(g.cpu(), w) <= (1e-12 if dtype == torch.float64 else 1e-5), i


def test_fcam_gate_strided_channels_last_and_empty(backend, rng):
    b, a = (backend.to(t) for t in _coeffs(rng, torch.float32, "stable"))
    x = backend.to(randn(rng, 2, 4, 9, 6, 7).float())
    z = backend.to(randn(rng, 2, 4, 6, 7).float())
    go = torch.randn_like(x)
    want = backend.fcam_gate(x, z, b, a)
    g_want = autograd_grads(backend.fcam_gate, (x, z, b, a), go)
    x_cl = x.contiguous(memory_format=torch.channels_last_3d)
    z_cl = z.contiguous(memory_format=torch.channels_last)
    x_view = torch.repeat_interleave(x, 2, dim=2)[:, :, ::2]
    for xv, zv in ((x_cl, z_cl), (x_view, z.transpose(-1, -2).contiguous().transpose(-1, -2))):
        assert not xv.is_contiguous() and not zv.is_contiguous()
        assert torch.equal(backend.fcam_gate(xv, zv, b, a), want)
        for g, w in zip(autograd_grads(backend.fcam_gate, (xv, zv, b, a), go), g_want):
            assert torch.equal(g, w)
    # empty: no pixels, and no channels (the gate still has a gradient path: zero)
    for xs, zs in (((0, 4, 3, 6, 7), (0, 4, 6, 7)), ((2, 4, 0, 6, 7), (2, 4, 6, 7))):
        xe, ze = backend.to(torch.randn(xs)), backend.to(torch.randn(zs))
        assert backend.fcam_gate(xe, ze, b, a).shape == xs
        gx, gz, gb, ga = backend.lib._fcam_gate_backward(xe, xe, ze, b, a)
        assert gx.shape == xs and gz.shape == zs
        assert gz.numel() == 0 or gz.abs().max().item() == 0
        assert torch.equal(gb.cpu(), torch.zeros(3)) and torch.equal(ga.cpu(), torch.zeros(2))


def test_fcam_gate_gradcheck_opcheck_second_derivative(backend, rng):
    b, a = make_coeffs("stable", rng)
    x, z = randn(rng, 1, K_CHUNK + 1, 2, 2, 3), randn(rng, 1, K_CHUNK + 1, 2, 3)
    inputs = [backend.to(t).requires_grad_(True) for t in (x, z, b, a)]
    assert torch.autograd.gradcheck(backend.fcam_gate, inputs, eps=1e-6, atol=1e-7)
    torch.library.opcheck(backend.lib.fcam_gate.default, tuple(inputs))
    (g,) = torch.autograd.grad(
        backend.fcam_gate(*inputs).square().sum(), inputs[1], create_graph=True
    )
    with pytest.raises(RuntimeError, match="second derivatives .* reference"):
        torch.autograd.grad(g.sum(), inputs[1])


@pytest.mark.parametrize("op", ("diirf", "fcam_gate"))
def test_coefficient_gradients_over_many_blocks(backend, rng, op):
    """More blocks than reduce_partials_kernel has threads (256): its grid-stride sum over the
    partials and every level of its tree run with non-zero data."""
    b, a = make_coeffs("stable", rng)
    z = randn(rng, 1, 2, 256, 300)  # 76800 pixels: 300 blocks (diirf), 2400 tiles (fcam)
    x = randn(rng, 1, 2, 1, 256, 300)
    bd, ad = backend.to(b), backend.to(a)
    if op == "diirf":
        gy = torch.randn_like(z)
        _, gb, ga = backend.lib._diirf_backward(backend.to(gy), backend.to(z), bd, ad)
        want = adjoint_oracle(z, b, a, gy)[1:]
    else:
        go = torch.randn_like(x)
        got = backend.lib._fcam_gate_backward(backend.to(go), backend.to(x), backend.to(z), bd, ad)
        gb, ga = got[2], got[3]
        want = autograd_grads(reference.fcam_gate, (x, z, b, a), go)[2:]
    for g, w in zip((gb, ga), want):
        assert rel_err(g.cpu(), w) <= 1e-12


# ---- determinism, schedules, grid-stride loops -----------------------------------------


def _all_outputs(backend, rng_seed=7):
    """Forward and backward of both ops on one input set (float32, two chunks, odd sizes)."""
    rng = np.random.default_rng(rng_seed)
    b, a = (backend.to(t) for t in _coeffs(rng, torch.float32, "stable"))
    x = backend.to(randn(rng, 2, K_CHUNK + 3, 11, 13, 15).float())
    z = backend.to(randn(rng, 2, K_CHUNK + 3, 13, 15).float())
    go = torch.randn(x.shape, generator=torch.Generator().manual_seed(rng_seed)).to(x)
    gy = go[:, :, 0].contiguous()
    out = [backend.lib.diirf(z, b, a), *backend.lib._diirf_backward(gy, z, b, a)]
    out += [backend.lib.fcam_gate(x, z, b, a), *backend.lib._fcam_gate_backward(go, x, z, b, a)]
    return out


def test_bitwise_equal_across_runs(backend):
    first, second = _all_outputs(backend), _all_outputs(backend)
    for g1, g2 in zip(first, second):
        assert torch.equal(g1, g2)


@pytest.mark.emu
@pytest.mark.parametrize(
    "schedule,seed", [("reverse", 0), ("random", 1), ("random", 2), ("warps", 0)]
)
def test_emu_bitwise_equal_across_schedules(schedule, seed):
    """Threads and blocks run in another order: a missing barrier or a read of another
    thread's unsynchronised write would change the results."""
    from _gpu_backends import Backend

    emu = Backend("emu")
    want = _all_outputs(emu)
    with config(schedule, seed):
        got = _all_outputs(emu)
    for i, (g, w) in enumerate(zip(got, want)):
        assert torch.equal(g, w), i


@pytest.mark.emu
@pytest.mark.parametrize("max_grid", (1, 3))
def test_emu_grid_stride_loops_beyond_the_grid_cap(max_grid):
    """Grids capped at 1 and 3 blocks: every kernel's grid-stride loop runs many passes; the
    per-pixel outputs are bitwise equal, the coefficient gradients (fewer partial sums)
    close."""
    from _gpu_backends import Backend

    emu = Backend("emu")
    want = _all_outputs(emu)
    take_launches()
    with config(max_grid=max_grid):
        got = _all_outputs(emu)
    launches = take_launches()
    assert {k for k, *_ in launches} >= {
        "fasfast::diirf: diirf_forward_kernel",
        "fasfast::_diirf_backward: diirf_backward_kernel",
        "fasfast::fcam_gate: fcam_forward_kernel",
        "fasfast::_fcam_gate_backward: fcam_backward_kernel",
    }
    assert all(blocks <= max_grid for k, blocks, *_ in launches if "reduce_partials" not in k)
    for i, (g, w) in enumerate(zip(got, want)):
        if w.numel() <= 3:  # grad_b, grad_a
            assert rel_err(g, w) <= 1e-5, i
        else:
            assert torch.equal(g, w), i


@pytest.mark.emu
def test_emu_reference_agreement_in_float64_over_many_blocks(rng):
    """More pixels than one grid-stride pass of a capped grid, float64, vs the reference."""
    from _gpu_backends import Backend

    emu = Backend("emu")
    b, a = make_coeffs("unstable", rng)
    z = randn(rng, 3, 2 * K_CHUNK + 1, 23, 29)
    gy = torch.randn_like(z)
    with config("random", 3, max_grid=4):
        got = autograd_grads(emu.diirf, (z, b, a), gy)
    want = autograd_grads(reference.diirf, (z, b, a), gy)
    for g, w in zip(got, want):
        assert rel_err(g, w) <= 1e-11
