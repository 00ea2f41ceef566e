"""The CPU output cache of the compiled kernels: reused blocks give correct results, the
limit holds, ``FASFAST_CPU_CACHE_MB`` is honoured, and a bad value is a clear error."""

import os
import subprocess
import sys

import pytest
import torch

from fasfast import ops
from fasfast.ops import reference

pytestmark = pytest.mark.skipif(not ops.HAS_C, reason="needs fasfast._C")


def _inputs(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, 8, 64, 128, generator=g)  # 1.5 MiB: goes through the cache
    z = torch.randn(2, 3, 64, 128, generator=g)
    b = torch.randn(3, generator=g)
    a = torch.tensor([-0.4, 0.2])
    return x, z, b, a


def test_reused_blocks_hold_fresh_results():
    ops.output_cache_clear()
    before = ops.output_cache_info()
    for seed in range(4):  # each output block is the previous step's, freed
        x, z, b, a = _inputs(seed)
        out = ops.fcam_gate(x, z, b, a)
        torch.testing.assert_close(out, reference.fcam_gate(x, z, b, a), rtol=1e-5, atol=1e-6)
        hi = torch.randn(2, 8, 128, 128)
        lo = torch.randn(2, 8, 64, 64)
        torch.testing.assert_close(ops.upsample_sub(hi, lo), reference.upsample_sub(hi, lo))
        del out
    info = ops.output_cache_info()
    assert info["hits"] > before["hits"]
    assert 0 < info["cached_bytes"] <= info["limit_bytes"]
    ops.output_cache_clear()
    assert ops.output_cache_info()["cached_bytes"] == 0


def test_live_outputs_never_share_memory():
    x, z, b, a = _inputs(7)
    outs = [ops.fcam_gate(x, z, b, a * (k + 1)) for k in range(3)]
    ptrs = {o.data_ptr() for o in outs}
    assert len(ptrs) == 3
    for k, o in enumerate(outs):
        torch.testing.assert_close(
            o, reference.fcam_gate(x, z, b, a * (k + 1)), rtol=1e-5, atol=1e-6
        )


def _run(env_value, code):
    env = dict(os.environ, FASFAST_CPU_CACHE_MB=env_value)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_environment_limit():
    code = (
        "import torch; from fasfast import ops; x = torch.randn(4, 4, 8, 128, 128); "
        "z = torch.randn(4, 4, 128, 128); b = torch.randn(3); a = torch.tensor([.3, -.2]);"
        "[ops.fcam_gate(x, z, b, a) for _ in range(3)]; print(ops.output_cache_info())"
    )
    off = _run("0", code)
    assert off.returncode == 0, off.stderr
    assert "'limit_bytes': 0" in off.stdout and "'cached_bytes': 0" in off.stdout
    small = _run("3", code)  # 3 MiB: the 8 MiB outputs are never kept
    assert small.returncode == 0, small.stderr
    assert f"'limit_bytes': {3 << 20}" in small.stdout and "'cached_bytes': 0" in small.stdout
    bad = _run("lots", code)
    assert bad.returncode != 0 and "FASFAST_CPU_CACHE_MB must be a non-negative integer" in (
        bad.stderr
    )


def test_cache_for_all_cpu_tensors():
    """output_cache_for_all(True): plain torch tensors of >= 1 MiB reuse cached blocks (and
    hold what is written to them); small ones and, after (False), all use torch's own
    allocator again. In a child process: it swaps the process-wide CPU allocator."""
    code = """
import torch
from fasfast import ops
ops.output_cache_for_all(True)
h0 = ops.output_cache_info()["hits"]
a = torch.full((1 << 19,), 2.0); pa = a.data_ptr(); del a   # 2 MiB, into the cache
b = torch.arange(1 << 19, dtype=torch.float32)               # the same block again
assert b.data_ptr() == pa and torch.equal(b[:4], torch.tensor([0., 1., 2., 3.]))
assert torch.equal(b, torch.arange(1 << 19, dtype=torch.float32))  # a second, fresh block
s = torch.ones(100); del s                                   # small: torch's allocator
h1 = ops.output_cache_info()["hits"]
assert h1 == h0 + 1, (h0, h1)
ops.output_cache_for_all(False)
del b
c = torch.empty(1 << 19); d = c * 2; del c, d
assert ops.output_cache_info()["hits"] == h1
print("ok")
"""
    done = _run("64", code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_new_blocks_start_at_different_cache_colours():
    """Fresh blocks are 2 MiB aligned but their data starts at rotating offsets, so two
    live outputs never begin at the same cache set (it halved a DIIRF forward's speed)."""
    x, z, b, a = _inputs(11)
    ops.output_cache_clear()
    outs = [ops.fcam_gate(x, z, b, a * (k + 1)) for k in range(4)]  # 4 live: 4 new blocks
    offsets = {o.data_ptr() % (2 << 20) for o in outs}
    assert len(offsets) == 4
    assert all(off % 64 == 0 for off in offsets)  # still cache-line (and SIMD) aligned
    for k, o in enumerate(outs):
        torch.testing.assert_close(
            o, reference.fcam_gate(x, z, b, a * (k + 1)), rtol=1e-5, atol=1e-6
        )
