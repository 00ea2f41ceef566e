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

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_ops import DEVICE, VERSIONS, run_case  # noqa: E402
from ops_cases_diirf import CASES  # noqa: E402


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "fwd+bwd"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_diirf_op(benchmark, case, backward, version):
    run_case(
        benchmark, case, backward, version, lambda case: case["make_small"](DEVICE, torch.float32)
    )
