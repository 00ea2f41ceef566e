"""Benchmark cases of the DIIRF / FCAM-gate operators at the three EulerNet levels.

Same case format as ``ops_cases_pyramid.py`` (read by ``benchmarks/ops_table.py`` and
``benchmarks/bench_diirf.py``): a dict with

- ``name``: str; ``op``: "fcam_gate" or "diirf"
- ``make_inputs(device, dtype) -> (x, z, b, a)`` or ``(z, b, a)``: fresh random tensors,
  no grad; the coefficients b [3], a [2] are float32 (float64 for float64 inputs)
- ``make_small(device, dtype)``: the same at a tiny size (smoke tests)
- ``fused_fn(*inputs)`` (fasfast.ops) and ``ref_fn(*inputs)`` (fasfast.ops.reference)
- ``bytes_fwd(inputs)`` / ``bytes_bwd(inputs)``: bytes the fused op must move at least.
  fcam_gate forward reads x and z and writes out; backward reads x, z and grad_out and
  writes grad_x and grad_z. diirf forward reads z, writes y; backward reads z, grad_y,
  writes grad_z (the 5 coefficients are negligible).

EulerNet (paper II.A): batch N = 4, T = 4 frames; FCAM levels (C, H, W) = (64, 128, 128),
(128, 64, 64), (128, 32, 32). fcam_gate: x [N, T, C, H, W], z [N, T, H, W] (the 1-channel
compressed map). diirf: z [N, T, C, H, W], every channel filtered (the model filters the
1-channel map, a few hundred KB at most, which no benchmark can tell apart from launch
overhead; the 5-D form measures the kernel's memory throughput).
"""

from __future__ import annotations

import torch

from fasfast.ops import diirf, fcam_gate, reference

N, T = 4, 4
LEVELS = ((64, 128, 128), (128, 64, 64), (128, 32, 32))


def _nbytes(*ts: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in ts)


def _coeffs(device, dtype):
    cdt = torch.float64 if dtype == torch.float64 else torch.float32
    b = torch.tensor([0.6, -0.3, 0.2], dtype=cdt, device=device)
    a = torch.tensor([-0.5, 0.25], dtype=cdt, device=device)
    return b, a


def _randn(shape, seed, device, dtype):
    g = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float32).to(device=device, dtype=dtype)


def fcam_case(c: int, h: int, w: int) -> dict:
    def make(n, cc, device, dtype):
        x = _randn((n, T, cc, h, w), 1, device, dtype)
        z = _randn((n, T, h, w), 2, device, dtype)
        return (x, z, *_coeffs(device, dtype))

    return {
        "name": f"fcam_gate x[{N},{T},{c},{h},{w}]",
        "op": "fcam_gate",
        "make_inputs": lambda device, dtype: make(N, c, device, dtype),
        "make_small": lambda device, dtype: make(1, 4, device, dtype),
        "fused_fn": fcam_gate,
        "ref_fn": reference.fcam_gate,
        "bytes_fwd": lambda t: 2 * _nbytes(t[0]) + _nbytes(t[1]),
        "bytes_bwd": lambda t: 3 * _nbytes(t[0]) + 2 * _nbytes(t[1]),
    }


def diirf_case(c: int, h: int, w: int) -> dict:
    def make(n, cc, device, dtype):
        return (_randn((n, T, cc, h, w), 3, device, dtype), *_coeffs(device, dtype))

    return {
        "name": f"diirf z[{N},{T},{c},{h},{w}]",
        "op": "diirf",
        "make_inputs": lambda device, dtype: make(N, c, device, dtype),
        "make_small": lambda device, dtype: make(1, 4, device, dtype),
        "fused_fn": diirf,
        "ref_fn": reference.diirf,
        "bytes_fwd": lambda t: 2 * _nbytes(t[0]),
        "bytes_bwd": lambda t: 3 * _nbytes(t[0]),
    }


CASES: list[dict] = [fcam_case(*lv) for lv in LEVELS] + [diirf_case(*lv) for lv in LEVELS]
