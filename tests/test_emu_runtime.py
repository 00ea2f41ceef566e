"""The emulated CUDA runtime itself (csrc/emu): each check fires on a deliberately faulty
kernel (csrc/emu/emu_selftest.cpp), and the schedules expose a missing barrier."""

from __future__ import annotations

import pytest
import torch
from _emu import SCHEDULES, config, ops

pytestmark = pytest.mark.emu


def test_schedules_expose_a_missing_barrier():
    """Each thread reads its mirror's shared-memory entry. Without the barrier the forward
    and reverse schedules read different (stale) values; with it every schedule agrees."""
    lib = ops()
    want = torch.arange(64, 0, -1, dtype=torch.int32)
    results = {}
    for schedule in SCHEDULES:
        with config(schedule, seed=3):
            assert torch.equal(lib.emu_selftest("race_with_barrier", 64), want)
            results[schedule] = lib.emu_selftest("race", 64)
    assert not torch.equal(results["forward"], want)
    assert not torch.equal(results["forward"], results["reverse"])


@pytest.mark.parametrize(
    "case, threads, match",
    [
        ("shuffle", 48, r"__shfl_down_sync .* names lane 16, which does not exist"),
        ("exited_lane", 32, r"__shfl_xor_sync .* names lane 16, which has exited"),
        ("divergent_barrier", 32, r"barrier divergence: .* waits at __syncthreads at .*:\d+"),
        ("barrier_after_exit", 32, r"__syncthreads at .* is not reached by thread \(16,0,0\)"),
        ("deadlock", 32, r"deadlock: __shfl_sync .* waits for lane 1, which waits at __sync"),
        ("narrow_overflow", 8, r"thread \(3,0,0\): narrow index overflow: 33000"),
        ("kernel_check", 16, r"FASFAST_KERNEL_CHECK\(threadIdx.x < 8\) failed"),
        ("empty_grid", 32, r"shuffle_kernel: bad grid \(0, 1, 1\)"),
        ("shuffle", 0, r"shuffle_kernel: bad block \(0, 1, 1\)"),
        ("oversized_block", 1024, r"shuffle_kernel: bad block \(1024, 2, 1\)"),
        ("oversized_grid", 32, r"shuffle_kernel: bad grid \(1, 65536, 1\)"),
        ("oversized_shared", 32, r"shuffle_kernel launched with .* 49153 bytes of dynamic shared"),
    ],
)
def test_faults_fail_naming_the_kernel(case, threads, match):
    lib = ops()
    with pytest.raises(RuntimeError, match=match) as err:
        lib.emu_selftest(case, threads)
    kernel = "shuffle_kernel" if case in ("shuffle", "empty_grid") else f"{case}_kernel"
    kernel = "shuffle_kernel" if case.startswith("oversized") else kernel
    assert kernel in str(err.value)
    # the runtime is usable again afterwards
    assert torch.equal(
        lib.emu_selftest("race_with_barrier", 32), torch.arange(32, 0, -1, dtype=torch.int32)
    )


def test_configuration_is_checked_and_restored():
    lib = ops()
    before = lib.emu_config()
    with config("random", seed=9, max_grid=5, index_limit=100):
        assert lib.emu_config() == ("random", 9, 5, 100)
    assert lib.emu_config() == before
    with pytest.raises(RuntimeError, match="schedule must be forward, reverse or random"):
        lib.emu_configure("sideways", 0, 1, 1)
    with pytest.raises(RuntimeError, match="max_grid must be >= 1"):
        lib.emu_configure("forward", 0, 0, 1)
