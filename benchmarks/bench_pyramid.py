"""pytest-benchmark: residual-pyramid operators at EulerNet shapes (float32).

    pytest benchmarks/bench_pyramid.py --benchmark-enable [--benchmark-columns=min,median]

Groups ``<case> | fwd`` and ``<case> | fwd+bwd``, each with three versions: ``fused``
(fasfast.ops, compiled kernels), ``eager`` (fasfast.ops.reference) and ``compiled``
(``torch.compile`` of the reference; only with --benchmark-enable: it compiles for a
while). Plain ``pytest`` (benchmarks disabled) runs fused and eager once at 1/16 of the
batch to check that they work. GB/s in ``extra_info`` (minimum bytes of the fused op).
CUDA is used when available (``FASFAST_BENCH_DEVICE=cpu`` forces the CPU).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ops_cases_pyramid import CASES  # noqa: E402

DEVICE = os.environ.get("FASFAST_BENCH_DEVICE", "cuda" if torch.cuda.is_available() else "cpu")
VERSIONS = ("fused", "eager", "compiled")


def _sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _runner(case: dict, version: str, backward: bool):
    fn = case["fused_fn"] if version == "fused" else case["ref_fn"]
    if version == "compiled":
        # every case shares the reference's code objects: start from a clean dynamo cache so
        # that no case runs into the recompile limit (and silently falls back to eager)
        torch._dynamo.reset()
        fn = torch.compile(fn, dynamic=False)
    if not backward:

        def run(*xs):
            with torch.no_grad():
                out = fn(*xs)
            _sync()
            return out

        return run

    grad_out = {}  # made once (outside the timed calls after the warm-up)

    def run_bwd(*xs):
        out = fn(*xs)
        if "g" not in grad_out:
            grad_out["g"] = torch.randn_like(out)
        grads = torch.autograd.grad(out, xs, grad_out["g"])
        _sync()
        return grads

    return run_bwd


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "fwd+bwd"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_pyramid_op(benchmark, case, backward, version):
    enabled = not benchmark.disabled
    if version == "compiled" and not enabled:
        pytest.skip("torch.compile peer only measured with --benchmark-enable")
    xs = case["make_inputs"](DEVICE, torch.float32)
    if not enabled:  # a quick check at 1/16 of the batch
        xs = tuple(x[:1].contiguous() for x in xs)
    if backward:
        xs = tuple(x.requires_grad_() for x in xs)
    run = _runner(case, version, backward)
    run(*xs)  # warm-up (and compilation)
    benchmark.group = f"{case['name']} | {'fwd+bwd' if backward else 'fwd'}"
    nbytes = case["bytes_fwd"](xs) + (case["bytes_bwd"](xs) if backward else 0)
    result = benchmark.pedantic(run, args=xs, rounds=5 if enabled else 1, iterations=1)
    if enabled:
        benchmark.extra_info["GB/s (fused minimum bytes)"] = round(
            nbytes / benchmark.stats.stats.min / 1e9, 2
        )
    assert result is not None
