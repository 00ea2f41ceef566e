"""Benchmark cases of the residual-pyramid operators at EulerNet shapes.

Each case is a dict for the shared table script (``benchmarks/ops_table.py``) and for
``benchmarks/bench_pyramid.py``:

- ``name``: str
- ``make_inputs(device, dtype) -> tuple[Tensor, ...]`` (fresh random tensors, no grad)
- ``fused_fn(*inputs)``: fasfast.ops (compiled kernels), ``ref_fn(*inputs)``: the
  pure-PyTorch reference (eager; wrap it in ``torch.compile`` for the compiled peer)
- ``bytes_fwd(inputs) -> int`` / ``bytes_bwd(inputs) -> int``: the bytes the fused forward /
  backward must move at least (each input read once, each output written once), for GB/s.

EulerNet at 256x256 with T = 4 frames and batch 4: B * T = 16 images; level sizes 128, 64, 32.
"""

from __future__ import annotations

import torch

from fasfast.ops import pool_concat, reference, upsample_sub

IMAGES = 16  # B * T


def _numel_bytes(*ts: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in ts)


def _upsample_case(c: int, size: int, mode: str) -> dict:
    def make_inputs(device, dtype):
        g = torch.Generator(device="cpu").manual_seed(size + c)
        hi = torch.randn(IMAGES, c, size, size, generator=g, dtype=dtype)
        lo = torch.randn(IMAGES, c, size // 2, size // 2, generator=g, dtype=dtype)
        return hi.to(device), lo.to(device)

    return {
        "name": f"upsample_sub {mode} hi[{IMAGES},{c},{size},{size}]",
        "make_inputs": make_inputs,
        "fused_fn": lambda hi, lo: upsample_sub(hi, lo, mode),
        "ref_fn": lambda hi, lo: reference.upsample_sub(hi, lo, mode),
        # read hi, lo; write out  |  read grad; write grad_lo (grad_hi is grad itself)
        "bytes_fwd": lambda t: 2 * _numel_bytes(t[0]) + _numel_bytes(t[1]),
        "bytes_bwd": lambda t: _numel_bytes(t[0]) + _numel_bytes(t[1]),
    }


POOL_SHAPES = ((IMAGES, 64, 128, 128), (IMAGES, 64, 64, 64), (IMAGES, 128, 32, 32))


def _pool_case(kind: str) -> dict:
    def make_inputs(device, dtype):
        g = torch.Generator(device="cpu").manual_seed(7)
        return tuple(torch.randn(*s, generator=g, dtype=dtype).to(device) for s in POOL_SHAPES)

    def bytes_fwd(ts):
        out = sum(t.shape[1] for t in ts) * ts[0].shape[0] * ts[-1].shape[2] * ts[-1].shape[3]
        return _numel_bytes(*ts) + out * ts[0].element_size()

    def bytes_bwd(ts):
        # pooled inputs only (the 1:1 input's gradient is a slice of grad): read their grad
        # channels (and the uint8 arg-max for max), write their input gradients
        h = min(t.shape[2] for t in ts)
        total = 0
        for t in ts:
            if t.shape[2] == h:
                continue
            pooled = t.numel() // (t.shape[2] // h) ** 2
            total += pooled * t.element_size() + _numel_bytes(t) + (pooled if kind == "max" else 0)
        return total

    return {
        "name": f"pool_concat {kind} " + " + ".join(f"[{s[1]},{s[2]}]" for s in POOL_SHAPES),
        "make_inputs": make_inputs,
        "fused_fn": lambda *ts: pool_concat(list(ts), kind),
        "ref_fn": lambda *ts: reference.pool_concat(list(ts), kind),
        "bytes_fwd": bytes_fwd,
        "bytes_bwd": bytes_bwd,
    }


CASES: list[dict] = [
    _upsample_case(64, 128, "bilinear"),
    _upsample_case(64, 64, "bilinear"),
    _upsample_case(128, 128, "bilinear"),
    _upsample_case(128, 64, "bilinear"),
    _upsample_case(64, 128, "nearest"),
    _pool_case("max"),
    _pool_case("avg"),
]
