"""pytest-benchmark: full score analysis vs np.sort vs sklearn roc_curve + EER.

Run with ``pytest benchmarks/bench_analysis.py --benchmark-enable``; compare the groups'
means (same size, same run). Larger sizes: ``benchmarks/analysis_speed.py``.
"""

import numpy as np
import pytest

from fasfast.analysis import analyze

N = 200_000


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    live = rng.normal(0.7, 0.1, N // 2)
    attack = rng.normal(0.3, 0.1, N // 2)
    analyze(live[:100], attack[:100])  # numba compile/cache load outside the timing
    return live, attack, np.r_[live, attack], np.r_[np.ones(N // 2), np.zeros(N // 2)]


@pytest.mark.benchmark(group="analysis-2e5")
def test_full_analysis(benchmark, data):
    live, attack, _, _ = data
    r = benchmark(analyze, live, attack)
    assert 0 <= r["eer"] < 0.05


@pytest.mark.benchmark(group="analysis-2e5")
def test_np_sort(benchmark, data):
    s = benchmark(np.sort, data[2])
    assert s[0] <= s[-1]


@pytest.mark.benchmark(group="analysis-2e5")
def test_sklearn_roc_eer(benchmark, data):
    from sklearn.metrics import roc_curve

    def roc_eer(y, s):
        fpr, tpr, thr = roc_curve(y, s)
        i = np.nanargmin(np.abs(1 - tpr - fpr))
        return (fpr[i] + 1 - tpr[i]) / 2

    e = benchmark(roc_eer, data[3], data[2])
    assert 0 <= e < 0.05
