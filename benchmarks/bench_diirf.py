"""pytest-benchmark: fused DIIRF / FCAM gate vs the eager and compiled references (float32).

    pytest benchmarks/bench_diirf.py --benchmark-enable --benchmark-columns=min,median

Groups ``<case> | fwd`` and ``<case> | fwd+bwd`` at the three EulerNet levels (N = 4,
T = 4; cases in ``ops_cases_diirf.py``: fcam_gate with x [N, T, C, H, W] and z [N, T, H, W];
diirf with z [N, T, C, H, W]), each with three versions: ``fused`` (fasfast.ops),
``eager`` (fasfast.ops.reference) and ``compiled`` (``torch.compile`` of the reference;
only with --benchmark-enable: it compiles for a while). Plain ``pytest`` (benchmarks
disabled) runs fused and eager once on tiny inputs to check that they work and agree.
GB/s in ``extra_info`` (minimum bytes of the fused op). CUDA is used when available
(``FASFAST_BENCH_DEVICE=cpu`` forces the CPU). ``benchmarks/ops_table.py`` prints the same
comparison as one markdown table.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ops_cases_diirf import CASES  # noqa: E402

DEVICE = os.environ.get("FASFAST_BENCH_DEVICE", "cuda" if torch.cuda.is_available() else "cpu")
VERSIONS = ("fused", "eager", "compiled")


def _sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _runner(case: dict, version: str, backward: bool, inputs):
    fn = case["fused_fn"] if version == "fused" else case["ref_fn"]
    if version == "compiled":
        fn = torch.compile(fn, dynamic=False)
    if not backward:

        def run():
            with torch.no_grad():
                out = fn(*inputs)
            _sync()
            return out

        return run
    leaves = tuple(t.detach().requires_grad_(True) for t in inputs)
    with torch.no_grad():
        shape = case["ref_fn"](*inputs).shape
    g = torch.Generator().manual_seed(0)
    grad_out = torch.randn(shape, generator=g).to(device=inputs[0].device, dtype=inputs[0].dtype)

    def run_bwd():
        grads = torch.autograd.grad(fn(*leaves), leaves, grad_out)
        _sync()
        return grads

    return run_bwd


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "fwd+bwd"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_diirf_op(benchmark, case, backward, version):
    enabled = not benchmark.disabled
    if version == "compiled" and not enabled:
        pytest.skip("torch.compile peer only measured with --benchmark-enable")
    make = case["make_inputs"] if enabled else case["make_small"]
    inputs = make(DEVICE, torch.float32)
    run = _runner(case, version, backward, inputs)
    first = run()  # warm-up (and compilation)
    benchmark.group = f"{case['name']} | {'fwd+bwd' if backward else 'fwd'}"
    nbytes = case["bytes_fwd"](inputs) + (case["bytes_bwd"](inputs) if backward else 0)
    result = benchmark.pedantic(run, rounds=5 if enabled else 1, iterations=1)
    if enabled:
        benchmark.extra_info["GB/s (fused minimum bytes)"] = round(
            nbytes / benchmark.stats.stats.min / 1e9, 2
        )
    else:  # the smoke run also checks fused == eager
        other = _runner(case, "eager" if version == "fused" else "fused", backward, inputs)()
        for got, want in zip(
            torch.utils._pytree.tree_leaves(first), torch.utils._pytree.tree_leaves(other)
        ):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert result is not None
