"""Domain statistics (paper eq. 1-7): hand-computed arrays and an exact-arithmetic oracle."""

import subprocess
import sys

import numpy as np
import pytest
from _analysis_oracle import stats_oracle

from fasfast.analysis import CENTERS, domain_stats, domain_stats_all

P = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 1.0])


def test_hand_computed():
    # mean 2/6; median (0.2 + 0.3)/2; balance: nearest sample to the mean = 0.3;
    # weighted balance: g(0.3) = 0.14 - 0.50 = -0.36, g(0.4) = 0.30 - 0.36 = -0.06 -> 0.4
    s = domain_stats_all(P)
    assert s["mean"].center == 2 / 6
    assert s["median"].center == 0.25
    assert s["balance"].center == 0.3
    assert s["weighted_balance"].center == 0.4
    b = s["balance"]  # R = max(0.3, 0.7)/2; N = 0.3/0.7; D = mean|P-0.3| / R = (1.4/6)/0.35
    assert b.radius == pytest.approx(0.35, rel=1e-15)
    assert b.normalize == pytest.approx(3 / 7, rel=1e-15)
    assert b.density == pytest.approx(2 / 3, rel=1e-13)
    w = s["weighted_balance"]  # R = 0.3, N = 2/3, D = (1.6/6)/0.3 = 8/9
    assert (w.radius, w.normalize) == pytest.approx((0.3, 2 / 3), rel=1e-15)
    assert w.density == pytest.approx(8 / 9, rel=1e-13)
    m = s["mean"]  # R = 1/3, N = 1/2, D = (44/180)/(1/3) = 11/15
    assert (m.radius, m.normalize, m.density) == pytest.approx((1 / 3, 0.5, 11 / 15), rel=1e-13)
    md = s["median"]  # R = 0.375, N = 1/3, D = (1.4/6)/0.375 = 28/45
    assert (md.radius, md.normalize, md.density) == pytest.approx(
        (0.375, 1 / 3, 28 / 45), rel=1e-13
    )
    assert (b.min, b.max, b.n) == (0.0, 1.0, 6)


def test_code_convention():
    # radius without /2; weighted balance weighted by the score: nearest to
    # sum(P^2)/sum(P) = 1.3/2 = 0.65 -> 0.4
    b = domain_stats(P, "balance", convention="code")
    assert b.radius == pytest.approx(0.7, rel=1e-15)
    assert b.density == pytest.approx(1 / 3, rel=1e-13)
    assert domain_stats(P, "weighted_balance", convention="code").center == 0.4


def test_normalize_inf_and_density_zero():
    s = domain_stats([0.2, 0.5, 0.5])  # mean 0.4 -> nearest 0.5 == max
    assert s.center == 0.5 and s.normalize == float("inf")
    z = domain_stats([0.5, 0.5])
    assert z.radius == 0.0 and z.density == 0.0 and z.normalize == float("inf")
    one = domain_stats([0.7])
    assert (one.center, one.radius, one.density, one.n) == (0.7, 0.0, 0.0, 1)


@pytest.mark.parametrize("center", CENTERS)
def test_random_vs_exact_oracle(center):
    rng = np.random.default_rng(5)
    for k in range(30):
        n = int(rng.integers(1, 50))
        x = rng.integers(0, 12, n) / 8 if k % 3 == 0 else rng.beta(2, 5, n)
        got = domain_stats(x, center).as_dict()
        want = stats_oracle(x, center)
        for f in ("center", "radius", "normalize", "min", "max", "n"):
            assert got[f] == want[f], (center, f, x)
        assert got["density"] == pytest.approx(want["density"], rel=1e-12, abs=1e-300)


def test_balance_tie_goes_to_lower_sample():
    # 0.25 and 0.75 are equally near the mean 0.5 (exactly, dyadic values)
    assert domain_stats([0.25, 0.75]).center == 0.25
    assert domain_stats([0.25, 0.75], "weighted_balance").center == 0.25
    # non-dyadic values: exact arithmetic decides, not float rounding
    x = np.array([0.1, 0.3])
    assert domain_stats(x).center == stats_oracle(x, "balance")["center"]


def test_large_class_matches_numpy(rng):
    x = rng.normal(0.4, 0.1, 20_000)
    s = domain_stats_all(x)
    assert s["mean"].center == pytest.approx(np.mean(x), rel=1e-15)
    assert s["median"].center == np.median(x)
    near = x[np.argmin(np.abs(x - np.mean(x)))]
    assert s["balance"].center == near
    c = s["balance"].center
    assert s["balance"].density == pytest.approx(
        np.mean(np.abs(x - c)) / (max(c - x.min(), x.max() - c) / 2), rel=1e-12
    )


def test_float32_and_int_inputs():
    x32 = np.array([0.1, 0.2, 0.7], np.float32)
    assert domain_stats(x32, "median").center == float(np.float32(0.2))
    assert domain_stats(np.array([1, 2, 9]), "mean").center == 4.0


def test_bad_input():
    with pytest.raises(ValueError, match="unknown center 'centre'"):
        domain_stats([0.1, 0.2], "centre")
    # NaN scores are non-responses and infinite ones have no distance: left out (issue 14)
    assert domain_stats([0.1, np.nan, 0.3], "mean").center == 0.2
    st = domain_stats([0.1, -np.inf, 0.3], "mean")
    assert st.center == 0.2 and st.n == 2 and st.n_left_out == 1
    with pytest.raises(ValueError, match="NaN"):
        domain_stats([0.1, np.nan], nan_policy="error")
    with pytest.raises(ValueError, match="no finite value"):
        domain_stats([np.nan, np.inf])
    with pytest.raises(ValueError, match="empty"):
        domain_stats([])
    with pytest.raises(ValueError, match="unknown convention"):
        domain_stats([0.1], convention="authors")


def test_import_is_light():
    code = (
        "import sys, fasfast.analysis; "
        "bad = [m for m in ('torch', 'matplotlib', 'numba') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
