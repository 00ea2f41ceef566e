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

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_ops import DEVICE, VERSIONS, run_case  # noqa: E402
from ops_cases_pyramid import CASES  # noqa: E402


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "fwd+bwd"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_pyramid_op(benchmark, case, backward, version):
    run_case(
        benchmark,
        case,
        backward,
        version,
        lambda case: tuple(x[:1].contiguous() for x in case["make_inputs"](DEVICE, torch.float32)),
    )
