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
        torch.testing.assert_close(o, reference.fcam_gate(x, z, b, a * (k + 1)),
                                   rtol=1e-5, atol=1e-6)


def _run(env_value, code):
    env = dict(os.environ, FASFAST_CPU_CACHE_MB=env_value)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)


def test_environment_limit():
    code = ("import torch; from fasfast import ops; x = torch.randn(4, 4, 8, 128, 128); "
            "z = torch.randn(4, 4, 128, 128); b = torch.randn(3); a = torch.tensor([.3, -.2]);"
            "[ops.fcam_gate(x, z, b, a) for _ in range(3)]; print(ops.output_cache_info())")
    off = _run("0", code)
    assert off.returncode == 0, off.stderr
    assert "'limit_bytes': 0" in off.stdout and "'cached_bytes': 0" in off.stdout
    small = _run("3", code)  # 3 MiB: the 8 MiB outputs are never kept
    assert small.returncode == 0, small.stderr
    assert f"'limit_bytes': {3 << 20}" in small.stdout and "'cached_bytes': 0" in small.stdout
    bad = _run("lots", code)
    assert bad.returncode != 0 and "FASFAST_CPU_CACHE_MB must be a non-negative integer" in (
        bad.stderr)
