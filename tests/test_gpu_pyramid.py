"""The CUDA kernels of upsample_sub / pool_concat (csrc/cuda/pyramid.cu) on every backend:
``cuda`` (a GPU, when there is one) and ``emu`` (the same source on the emulated CUDA
runtime, CPU).

Oracles: F.interpolate, F.max_pool2d / F.avg_pool2d + torch.cat and their autograd in
float64 from the same rounded inputs; the CPU kernels; every dtype the kernels take, odd and
1-pixel sizes, strided and channels-last inputs, empty tensors; both index widths and
grid-stride loops beyond a capped grid at small sizes (the emulator's narrow index type is a
checked int16, so a 32-bit overflow shows on tensors of some 2^14 elements).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _gpu_backends import (
    KERNEL_DTYPES,
    NARROW_MAX,
    QUICK,
    Backend,
    backend,
    config,
    take_launches,
)

__all__ = ["backend"]  # the fixture

MODES = ("bilinear", "nearest")
KINDS = ("max", "avg")
DTYPES = (torch.float32, torch.bfloat16) if QUICK else KERNEL_DTYPES
LO_SIZES = [(1, 1), (3, 3), (5, 7)] if QUICK else [(1, 1), (1, 3), (3, 3), (5, 7), (6, 4)]
TOL = {
    torch.float64: dict(rtol=1e-12, atol=1e-12),
    torch.float32: dict(rtol=1e-5, atol=1e-5),
    torch.float16: dict(rtol=2e-3, atol=2e-3),
    torch.bfloat16: dict(rtol=1.6e-2, atol=1.6e-2),
}


def _ids(v):
    return str(v).replace("torch.", "")


def _up(lo, mode):
    if mode == "bilinear":
        return F.interpolate(lo, scale_factor=2, mode="bilinear", align_corners=False)
    return F.interpolate(lo, scale_factor=2, mode="nearest")


def _pool_oracle(tensors, kind):
    hs = min(t.shape[2] for t in tensors)
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    return torch.cat([t if t.shape[2] == hs else pool(t, t.shape[2] // hs) for t in tensors], 1)


def _grads(fn, inputs, grad_out):
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(leaves)
    out.backward(grad_out)
    return out.detach(), [t.grad for t in leaves]


def _check(backend_fn, oracle_fn, inputs, grad_out, dtype):
    """Forward and gradients on the backend vs the float64 oracle from the same values."""
    out, grads = _grads(backend_fn, inputs, grad_out)
    ref, ref_grads = _grads(
        oracle_fn, [t.detach().double().cpu() for t in inputs], grad_out.double().cpu()
    )
    assert out.dtype == dtype and out.device == inputs[0].device
    torch.testing.assert_close(out.double().cpu(), ref, **TOL[dtype])
    for g, r in zip(grads, ref_grads):
        assert g.dtype == dtype
        torch.testing.assert_close(g.double().cpu(), r, **TOL[dtype])
    return out, grads


def _pool_inputs(size, ratios, dtype, seed=0, integer=False):
    g = torch.Generator().manual_seed(seed)
    h, w = size
    out = []
    for i, r in enumerate(ratios):
        shape = (2, 1 + i % 3, h * r, w * r)
        t = torch.randint(0, 3, shape, generator=g) if integer else torch.randn(shape, generator=g)
        out.append(t.to(dtype))
    return out


# ------------------------------------------------------------------------- upsample_sub


@pytest.mark.parametrize("lo_size", LO_SIZES, ids=_ids)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=_ids)
def test_upsample_sub_matches_interpolate(backend, dtype, mode, lo_size):
    g = torch.Generator().manual_seed(hash((lo_size, mode)) % 2**31)
    h, w = lo_size
    hi = backend.to(torch.randn(2, 3, 2 * h, 2 * w, generator=g).to(dtype))
    lo = backend.to(torch.randn(2, 3, h, w, generator=g).to(dtype))
    go = backend.to(torch.randn(2, 3, 2 * h, 2 * w, generator=g).to(dtype))
    out, _ = _check(
        lambda t: backend.upsample_sub(t[0], t[1], mode),
        lambda t: t[0] - _up(t[1], mode),
        [hi, lo],
        go,
        dtype,
    )
    assert out.is_contiguous()


@pytest.mark.parametrize("layout", ["channels_last", "strided", "expanded"])
def test_upsample_sub_layouts(backend, layout):
    g = torch.Generator().manual_seed(5)
    hi, lo = torch.randn(2, 3, 8, 10, generator=g), torch.randn(2, 3, 4, 5, generator=g)
    want = {m: backend.upsample_sub(backend.to(hi), backend.to(lo), m) for m in MODES}
    if layout == "channels_last":
        hv = hi.to(memory_format=torch.channels_last)
        lv = lo.to(memory_format=torch.channels_last)
    elif layout == "strided":
        hv = torch.repeat_interleave(hi, 2, dim=1)[:, ::2]
        lv = torch.repeat_interleave(lo, 2, dim=3)[..., ::2]
    else:
        lo = lo[:1]
        lv = lo.expand(2, 3, 4, 5)
        hv = hi
        want = {
            m: backend.upsample_sub(backend.to(hi), backend.to(lv.contiguous()), m) for m in MODES
        }
    assert not hv.is_contiguous() or not lv.is_contiguous()
    for m in MODES:
        assert torch.equal(backend.upsample_sub(backend.to(hv), backend.to(lv), m), want[m])


def test_upsample_sub_empty_gradgradcheck_opcheck(backend):
    for shape in ((0, 3, 4, 5), (2, 0, 4, 5)):
        lo = backend.to(torch.randn(shape))
        hi = backend.to(torch.randn(shape[0], shape[1], 8, 10))
        assert backend.upsample_sub(hi, lo, "bilinear").shape == hi.shape
        assert backend.lib._upsample_sub_backward(hi, "nearest").shape == lo.shape
    g = torch.Generator().manual_seed(7)
    hi = backend.to(torch.randn(1, 2, 6, 8, dtype=torch.float64, generator=g)).requires_grad_()
    lo = backend.to(torch.randn(1, 2, 3, 4, dtype=torch.float64, generator=g)).requires_grad_()
    for mode in MODES:
        fn = lambda a, b, m=mode: backend.upsample_sub(a, b, m)  # noqa: E731
        assert torch.autograd.gradgradcheck(fn, (hi, lo))
        torch.library.opcheck(backend.lib.upsample_sub.default, (hi, lo, mode))
        torch.library.opcheck(backend.lib._upsample_sub_backward.default, (hi.detach(), mode))


# -------------------------------------------------------------------------- pool_concat

POOL_CASES = [((2, 2), (4, 2, 1)), ((3, 5), (4, 2, 1)), ((1, 1), (1, 4)), ((2, 3), (3, 1))]
MANY = (4, 2, 1, 3, 1, 2, 1, 1, 2, 17)  # > 8 inputs: two launches; ratio 17: int32 indices


@pytest.mark.parametrize("case", range(len(POOL_CASES) + 2))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=_ids)
def test_pool_concat_matches_pooling_and_cat(backend, dtype, kind, case):
    if case < len(POOL_CASES):
        size, ratios = POOL_CASES[case]
        xs = _pool_inputs(size, ratios, dtype, seed=case)
    elif case == len(POOL_CASES):  # ties in most windows: the first maximum wins
        size, ratios = (3, 4), (4, 2, 1)
        xs = _pool_inputs(size, ratios, dtype, seed=11, integer=True)
    else:
        size, ratios = (2, 3), MANY
        xs = _pool_inputs(size, ratios, dtype, seed=13)
    xs = [backend.to(t) for t in xs]
    c = sum(t.shape[1] for t in xs)
    go = backend.to(torch.randn(2, c, *size, generator=torch.Generator().manual_seed(3)))
    _check(
        lambda t: backend.pool_concat(t, kind),
        lambda t: _pool_oracle(t, kind),
        xs,
        go.to(dtype),
        dtype,
    )


def test_pool_concat_layouts_empty_gradgradcheck_opcheck(backend):
    g = torch.Generator().manual_seed(17)
    a = torch.randn(2, 3, 8, 12, dtype=torch.float64, generator=g)
    b = torch.randn(2, 8, 4, 6, dtype=torch.float64, generator=g)[:, ::2]
    c = torch.randn(2, 2, 3, 2, dtype=torch.float64, generator=g).transpose(2, 3)
    views = [a.to(memory_format=torch.channels_last), b, c]
    assert not any(v.is_contiguous() for v in views)
    for kind in KINDS:
        want = backend.pool_concat([backend.to(t.contiguous()) for t in views], kind)
        assert torch.equal(backend.pool_concat([backend.to(t) for t in views], kind), want)
    # empty: no batch, an input without channels
    e = [backend.to(torch.randn(0, 2, 4, 4)), backend.to(torch.randn(0, 1, 2, 2))]
    assert backend.pool_concat(e, "max").shape == (0, 3, 2, 2)
    e = [backend.to(torch.randn(2, 0, 4, 4)), backend.to(torch.randn(2, 1, 2, 2))]
    out, grads = _grads(
        lambda t: backend.pool_concat(t, "max"), e, backend.to(torch.ones(2, 1, 2, 2))
    )
    assert out.shape == (2, 1, 2, 2) and grads[0].shape == (2, 0, 4, 4)
    # second derivatives (distinct values keep finite differences off the ties), opcheck
    xs = []
    for s in [(1, 2, 8, 4), (1, 1, 4, 2), (1, 2, 2, 1)]:
        n = torch.Size(s).numel()
        xs.append(backend.to((torch.randperm(n, generator=g).double() / n).reshape(s)))
    xs = [t.requires_grad_() for t in xs]
    for kind in KINDS:
        fn = lambda *t, k=kind: backend.pool_concat(list(t), k)  # noqa: E731
        assert torch.autograd.gradgradcheck(fn, xs, eps=1e-4)
        torch.library.opcheck(backend.lib.pool_concat.default, (xs, kind, True))


def test_pyramid_bitwise_equal_to_cpu_kernels(backend):
    """The CPU kernels run the same per-element math (csrc/pyramid_math.h) in the same order."""
    from fasfast.ops import has_kernel

    if not has_kernel("upsample_sub", "cpu"):
        pytest.skip("fasfast._C CPU kernels not built")
    cpu = torch.ops.fasfast
    g = torch.Generator().manual_seed(19)
    for dtype in (torch.float32, torch.float64):
        hi = torch.randn(2, 3, 14, 18, dtype=dtype, generator=g)
        lo = torch.randn(2, 3, 7, 9, dtype=dtype, generator=g)
        for mode in MODES:
            got = backend.lib.upsample_sub(backend.to(hi), backend.to(lo), mode)
            assert torch.equal(got.cpu(), cpu.upsample_sub(hi, lo, mode))
            got = backend.lib._upsample_sub_backward(backend.to(hi), mode)
            assert torch.equal(got.cpu(), cpu._upsample_sub_backward(hi, mode))
        xs = _pool_inputs((3, 5), (4, 2, 1), dtype, seed=23)
        for kind in KINDS:
            out, idx = backend.lib.pool_concat([backend.to(t) for t in xs], kind, True)
            want, want_idx = cpu.pool_concat(xs, kind, True)
            assert torch.equal(out.cpu(), want) and torch.equal(idx.cpu(), want_idx)


# ---------------------------------------------- index widths, grid-stride loops, schedules


def _pyramid_outputs(backend, s=60):
    """Every pyramid kernel, float32: hi [1, 2, 2s, 2s], lo [1, 2, s, s]. At s = 60 the
    forward launches and the pool_concat backward cover 21600 to 28800 elements: above
    2^14, inside the emulator's int16 narrow index type."""
    g = torch.Generator().manual_seed(29)
    hi = backend.to(torch.randn(1, 2, 2 * s, 2 * s, generator=g))
    lo = backend.to(torch.randn(1, 2, s, s, generator=g))
    out = [backend.lib.upsample_sub(hi, lo, m) for m in MODES]
    out += [backend.lib._upsample_sub_backward(hi, m) for m in MODES]
    for kind in KINDS:
        pooled, idx = backend.lib.pool_concat([hi, lo, lo], kind, True)
        grad = torch.randn(pooled.shape, generator=g).to(pooled)
        out += [pooled, idx, *backend.lib._pool_concat_backward(grad, idx, [0], [2], [2], kind)]
    return out


PYRAMID_KERNELS = {
    "fasfast::upsample_sub: upsample_sub_kernel",
    "fasfast::_upsample_sub_backward: upsample_sub_backward_kernel",
    "fasfast::pool_concat: pool_concat_kernel",
    "fasfast::_pool_concat_backward: pool_concat_backward_kernel",
}


@pytest.mark.emu
def test_emu_narrow_index_path_above_2_14_elements():
    """The 32-bit index path, with the emulator's checked int16 in place of int32, on more than
    2^14 elements: a grid-stride loop counter of the narrow type would pass INT16_MAX at
    i + stride and fail the launch (as int32 did above 2^30 elements on the device).
    Bitwise equal to the 64-bit path, and right against the oracle."""
    emu = Backend("emu")
    take_launches()
    narrow = _pyramid_outputs(emu)
    launches = take_launches()
    assert {k for k, *_ in launches} == PYRAMID_KERNELS
    assert all("CheckedIndex16" in params for *_, params in launches)
    assert max(blocks * threads for k, blocks, threads, _ in launches) > 2**14 + 256
    with config(index_limit=0):
        wide = _pyramid_outputs(emu)
    launches = take_launches()
    assert all("CheckedIndex16" not in params for *_, params in launches)
    for i, (a, b) in enumerate(zip(narrow, wide)):
        assert torch.equal(a, b), i
    g = torch.Generator().manual_seed(29)
    hi, lo = torch.randn(1, 2, 120, 120, generator=g), torch.randn(1, 2, 60, 60, generator=g)
    torch.testing.assert_close(narrow[0], hi - _up(lo, "bilinear"))
    assert NARROW_MAX < hi.numel() * 2


@pytest.mark.emu
@pytest.mark.parametrize("max_grid", (1, 3))
def test_emu_grid_stride_loops_beyond_the_grid_cap(max_grid):
    emu = Backend("emu")
    want = _pyramid_outputs(emu, s=20)
    take_launches()
    with config(max_grid=max_grid):
        got = _pyramid_outputs(emu, s=20)
    launches = take_launches()
    assert {k for k, *_ in launches} == PYRAMID_KERNELS
    assert all(blocks <= max_grid for _, blocks, *_ in launches)
    for i, (g, w) in enumerate(zip(got, want)):
        assert torch.equal(g, w), i


@pytest.mark.emu
@pytest.mark.parametrize("schedule,seed", [("reverse", 0), ("random", 5), ("warps", 0)])
def test_emu_bitwise_equal_across_schedules(schedule, seed):
    emu = Backend("emu")
    want = _pyramid_outputs(emu, s=20)
    with config(schedule, seed, max_grid=4):
        got = _pyramid_outputs(emu, s=20)
    for i, (g, w) in enumerate(zip(got, want)):
        assert torch.equal(g, w), i


def test_bitwise_equal_across_runs(backend):
    for g1, g2 in zip(_pyramid_outputs(backend, s=20), _pyramid_outputs(backend, s=20)):
        assert torch.equal(g1, g2)
