"""The benchmark scaffolding still runs: the pytest-benchmark files in their smoke mode
(benchmarks disabled: tiny inputs, fused checked against eager) and the heap setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=BENCH
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_alloc_modes():
    """cache: a freed 64 MiB tensor's block is reused (no new page faults) by every version;
    default: glibc maps fresh pages each time; anything else is an error."""
    code = """
import resource, torch, _alloc
state = _alloc.apply("{mode}")
def faults():
    t = torch.empty(16 * 2**20); t.fill_(1.0); del t
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        t = torch.empty(16 * 2**20); t.fill_(1.0); del t
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(state, "|", faults())
"""
    state, count = _run(code.format(mode="cache")).split(" | ")
    assert state == "one block cache for all versions (8192 MiB)"
    assert int(count) < 100  # 64 MiB of 4 KiB pages would be ~16k faults per run
    state, count = _run(code.format(mode="default")).split(" | ")
    assert state == "glibc allocator for the references"
    if sys.platform.startswith("linux"):
        assert int(count) > 3 * 1000, "glibc should map fresh pages for 64 MiB"
    bad = subprocess.run(
        [sys.executable, "-c", "import _alloc; _alloc.apply('forever')"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=BENCH,
    )
    assert bad.returncode != 0 and "allocator mode must be one of" in bad.stderr


@pytest.mark.parametrize("name", ["bench_diirf.py", "bench_pyramid.py"])
def test_op_benchmarks_smoke(name):
    """Fused and eager run on tiny inputs and agree (compiled peers skip when disabled)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(BENCH / name)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=BENCH.parent,
        env={**os.environ, "FASFAST_BENCH_DEVICE": "cpu"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
