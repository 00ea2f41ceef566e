"""pytest-benchmark: score analysis vs np.sort vs sklearn roc_curve + EER, float64 and float32.

Run with ``pytest benchmarks/bench_analysis.py --benchmark-enable``; compare the groups'
means (same size and dtype, same run). Larger sizes and the bootstrap:
``benchmarks/analysis_speed.py``.
"""

import numpy as np
import pytest

from fasfast.analysis import analyze, pad_metrics, select_thresholds

N = 200_000


@pytest.fixture(scope="module", params=["float64", "float32"])
def data(request):
    rng = np.random.default_rng(0)
    live = rng.normal(0.7, 0.1, N // 2).astype(request.param)
    attack = rng.normal(0.3, 0.1, N // 2).astype(request.param)
    analyze(live[:100], attack[:100])  # numba compile/cache load outside the timing
    is_live = np.r_[np.ones(N // 2, bool), np.zeros(N // 2, bool)]
    pad_metrics(np.r_[live[:100], attack[:100]], is_live[N // 2 - 100 : N // 2 + 100], 0.5)
    return live, attack, np.r_[live, attack], is_live


def _group(data):
    return f"analysis-2e5-{data[0].dtype}"


def test_thresholds_and_metrics(benchmark, data):
    live, attack, allv, is_live = data
    benchmark.group = _group(data)

    def run():
        th = select_thresholds(live, attack)
        return pad_metrics(allv, is_live, th.acer_point)

    m = benchmark(run)
    assert 0 <= m.acer < 0.05


def test_full_analysis(benchmark, data):
    live, attack, _, _ = data
    benchmark.group = _group(data)
    r = benchmark(analyze, live, attack)
    assert 0 <= r["eer"] < 0.05


def test_np_sort(benchmark, data):
    benchmark.group = _group(data)
    s = benchmark(np.sort, data[2])
    assert s[0] <= s[-1]


def test_sklearn_roc_eer(benchmark, data):
    from sklearn.metrics import roc_curve

    benchmark.group = _group(data)

    def roc_eer(y, s):
        fpr, tpr, thr = roc_curve(y, s)
        i = np.nanargmin(np.abs(1 - tpr - fpr))
        return (fpr[i] + 1 - tpr[i]) / 2

    e = benchmark(roc_eer, data[3].astype(float), data[2])
    assert 0 <= e < 0.05
