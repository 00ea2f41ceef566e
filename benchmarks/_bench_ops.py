"""Shared scaffolding of the operator benchmarks (``bench_diirf.py``, ``bench_pyramid.py``).

A case is a dict from ``ops_cases_*.py`` (``name``, ``make_inputs``, ``fused_fn``,
``ref_fn``, ``bytes_fwd``, ``bytes_bwd``). :func:`run_case` times one (case, pass, version)
with pytest-benchmark: ``fused`` (fasfast.ops), ``eager`` (fasfast.ops.reference) or
``compiled`` (``torch.compile`` of the reference; only with --benchmark-enable). With
benchmarks disabled it runs once on small inputs and checks fused against eager. On CPU
every version takes large tensors from one block cache (``_alloc.py``;
``FASFAST_BENCH_ALLOC=default`` turns that off), so the references do not page-fault their
large tensors in on every round.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _alloc  # noqa: E402

DEVICE = os.environ.get("FASFAST_BENCH_DEVICE", "cuda" if torch.cuda.is_available() else "cpu")
if DEVICE == "cpu":
    _alloc.apply(os.environ.get("FASFAST_BENCH_ALLOC", "cache"))
VERSIONS = ("fused", "eager", "compiled")


def _sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def make_runner(case: dict, version: str, backward: bool):
    """``run(*xs)``: one forward (no grad), or forward + ``autograd.grad`` w.r.t. every
    input with a fixed random ``grad_out`` (made on the first call)."""
    fn = case["fused_fn"] if version == "fused" else case["ref_fn"]
    if version == "compiled":
        # cases share the reference's code objects: a clean dynamo cache per case, so none
        # runs into the recompile limit (and silently falls back to eager)
        torch._dynamo.reset()
        fn = torch.compile(fn, dynamic=False)
    if not backward:

        def run(*xs):
            with torch.no_grad():
                out = fn(*xs)
            _sync()
            return out

        return run
    grad_out = {}

    def run_bwd(*xs):
        out = fn(*xs)
        if "g" not in grad_out:
            g = torch.Generator().manual_seed(0)
            grad_out["g"] = torch.randn(out.shape, generator=g).to(out.device, out.dtype)
        grads = torch.autograd.grad(out, xs, grad_out["g"])
        _sync()
        return grads

    return run_bwd


def run_case(benchmark, case: dict, backward: bool, version: str, make_small) -> None:
    """Benchmark one case; ``make_small(case)`` gives the inputs of the disabled smoke run."""
    enabled = not benchmark.disabled
    if version == "compiled" and not enabled:
        pytest.skip("torch.compile peer only measured with --benchmark-enable")
    xs = case["make_inputs"](DEVICE, torch.float32) if enabled else make_small(case)
    if backward:
        xs = tuple(x.detach().requires_grad_() for x in xs)
    run = make_runner(case, version, backward)
    first = run(*xs)  # warm-up (and compilation)
    benchmark.group = f"{case['name']} | {'fwd+bwd' if backward else 'fwd'}"
    nbytes = case["bytes_fwd"](xs) + (case["bytes_bwd"](xs) if backward else 0)
    result = benchmark.pedantic(run, args=xs, rounds=5 if enabled else 1, iterations=1)
    assert result is not None
    if enabled:
        benchmark.extra_info["GB/s (fused minimum bytes)"] = round(
            nbytes / benchmark.stats.stats.min / 1e9, 2
        )
        return
    other = make_runner(case, "eager" if version == "fused" else "fused", backward)(*xs)
    for got, want in zip(
        torch.utils._pytree.tree_leaves(first), torch.utils._pytree.tree_leaves(other), strict=True
    ):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
