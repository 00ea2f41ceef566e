"""The two backends every CUDA kernel test runs on: ``cuda`` (the extension's CUDA kernels on
a GPU; skipped without one) and ``emu`` (the same kernel sources under the emulated CUDA
runtime on the CPU, ``torch.ops.fasfast_emu``; see tests/_emu.py). ``pytest -m emu`` runs
the emulated half alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch
from _emu import NARROW_MAX, SCHEDULES, config, load, take_launches

from fasfast.ops import _checks
from fasfast.ops.pyramid import needs_indices

__all__ = [
    "Backend",
    "backend",
    "BACKENDS",
    "QUICK",
    "KERNEL_DTYPES",
    "SCHEDULES",
    "NARROW_MAX",
    "config",
    "take_launches",
]

# Every dtype the CUDA kernels accept.
KERNEL_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
# FASFAST_EMU_QUICK=1 (CI's sanitizer run): fewer dtypes and sizes, see each test.
QUICK = os.environ.get("FASFAST_EMU_QUICK", "0") == "1"


class Backend:
    """The ops of one backend, with the public wrappers' input checks."""

    def __init__(self, name: str):
        self.name = name
        if name == "emu":
            load()
            self.device = torch.device("cpu")
            self.lib = torch.ops.fasfast_emu
        else:
            self.device = torch.device("cuda")
            self.lib = torch.ops.fasfast

    def __repr__(self) -> str:
        return self.name

    def to(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(self.device)

    def diirf(self, z, b, a):
        _checks.check_diirf(z, b, a)
        return self.lib.diirf(z, b, a)

    def fcam_gate(self, x, z, b, a):
        _checks.check_fcam_gate(x, z, b, a)
        return self.lib.fcam_gate(x, z, b, a)

    def upsample_sub(self, hi, lo, mode="bilinear"):
        _checks.check_upsample_sub(hi, lo, mode)
        return self.lib.upsample_sub(hi, lo, mode)

    def pool_concat(self, tensors, kind="max"):
        _checks.check_pool_concat(tensors, kind)
        tensors = list(tensors)
        return self.lib.pool_concat(tensors, kind, needs_indices(tensors, kind))[0]


BACKENDS = [
    pytest.param("cuda", marks=pytest.mark.cuda, id="cuda"),
    pytest.param("emu", marks=pytest.mark.emu, id="emu"),
]


@pytest.fixture(params=BACKENDS)
def backend(request) -> Iterator[Backend]:
    """The backend under test. Outputs the kernels allocate (``at::empty``) start as NaN
    (PyTorch's deterministic mode fills uninitialised memory), so an element a kernel skips
    shows up instead of passing with a value left in reused memory."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    if request.param == "cuda":
        from fasfast.ops import cuda_usable

        assert cuda_usable(), "a GPU is visible but fasfast._C has no CUDA kernels"
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield Backend(request.param)
    finally:
        torch.use_deterministic_algorithms(before)
