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


def test_warps_schedule_exposes_a_buffer_reused_without_a_barrier():
    """Warp 0 reads a shared buffer that the other warps overwrite after 8 shuffles. With the
    barrier between, every schedule reads the first values. Without it the lock-step
    schedules still do (warp 0 reads before any warp finishes a shuffle), and only the warps
    schedule, which runs warps 7..1 to their end before warp 0, reads overwritten ones."""
    lib = ops()
    want = torch.zeros(256, dtype=torch.int32)
    want[:8] = torch.arange(1, 9, dtype=torch.int32)
    for schedule in SCHEDULES:
        with config(schedule, seed=4):
            assert torch.equal(lib.emu_selftest("reuse_with_barrier", 256), want), schedule
            got = lib.emu_selftest("reuse", 256)
        assert torch.equal(got, want) == (schedule != "warps"), (schedule, got[:8])


@pytest.mark.parametrize("threads", [32, 96, 256, 1024])
def test_block_reduce_store_twice_in_one_kernel(threads):
    """diirf.cu's block reduction, called twice in one kernel (a test kernel in
    csrc/emu/diirf_emu.cpp): both block sums are exact on every schedule. Its trailing
    barrier is what keeps the second call's warps from overwriting warp_sums before warp 0
    has read the first call's; without it the warps schedule fails this test."""
    lib = ops()
    t = torch.arange(threads, dtype=torch.float64)
    n = float(threads)
    want = torch.tensor(
        [
            [t.sum(), n, (t * t).sum(), -t.sum(), 2 * n],
            [n, t.sum(), 3 * n, (t * t).sum(), -n],
        ],
        dtype=torch.float64,
    )
    for schedule in SCHEDULES:
        with config(schedule, seed=2):
            assert torch.equal(lib.emu_reduce_twice(threads), want), schedule


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
    with pytest.raises(RuntimeError, match="schedule must be forward, reverse, random or warps"):
        lib.emu_configure("sideways", 0, 1, 1)
    with pytest.raises(RuntimeError, match="max_grid must be >= 1"):
        lib.emu_configure("forward", 0, 0, 1)
