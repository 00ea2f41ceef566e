"""select_thresholds and target-rate thresholds vs a brute force over every candidate."""

import zlib

import numpy as np
import pytest
from _analysis_oracle import thresholds_oracle

from fasfast.analysis import (
    apcer_at_bpcer,
    bpcer_at_apcer,
    select_thresholds,
    tpr_at_fpr,
)

FIELDS = ("fake_border", "live_border", "acer", "acer_left", "acer_right", "cross", "balance",
          "min_acer", "eer")


def _case(rng, kind):
    n, m = (int(v) for v in rng.integers(1, 40, 2))
    if kind == "tiny":
        n, m = (int(v) for v in rng.integers(1, 4, 2))
        return rng.random(n), rng.random(m)
    if kind == "ties":  # dyadic grid: many exact ties, exact float arithmetic
        return rng.integers(0, 9, n) / 16 + 0.25, rng.integers(0, 9, m) / 16
    if kind == "overlap":
        return rng.normal(0.5, 0.2, n), rng.normal(0.45, 0.2, m)
    if kind == "separable":
        return rng.uniform(0.6, 1.0, n), rng.uniform(0.0, 0.4, m)
    if kind == "inverted":
        return rng.uniform(0.0, 0.4, n), rng.uniform(0.6, 1.0, m)
    if kind == "constant":
        v = rng.integers(0, 4) / 4
        return np.full(n, v), np.full(m, v)
    raise AssertionError(kind)


KINDS = ("tiny", "ties", "overlap", "separable", "inverted", "constant")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("center", ["balance", "weighted_balance", "mean", "median"])
def test_brute_force_every_field(kind, center):
    rng = np.random.default_rng(zlib.crc32(f"{kind}/{center}".encode()))
    for _ in range(12 if kind != "constant" else 3):
        live, attack = _case(rng, kind)
        got = select_thresholds(live, attack, center=center)
        want = thresholds_oracle(live, attack, center)
        for f in FIELDS:
            assert getattr(got, f) == want[f], (kind, center, f, live, attack)
        assert got.as_dict() == {k: want[k] for k in got.as_dict()}


def test_float32_input_is_exact(rng):
    live = rng.normal(0.6, 0.2, 300).astype(np.float32)
    attack = rng.normal(0.4, 0.2, 200).astype(np.float32)
    got = select_thresholds(live, attack)
    want = thresholds_oracle(live.astype(np.float64), attack.astype(np.float64))
    for f in FIELDS:
        assert getattr(got, f) == want[f], f
    # thresholds are observed float32 values, not rounded versions of them
    assert np.float32(got.acer_right) in set(np.r_[live, attack].tolist())


def test_paper_table7_separable():
    """Paper Table 7: borders 0.24815 / 0.74673 -> cross point 0.49744 = midpoint."""
    attack = np.array([0.1, 0.2, 0.24815])
    live = np.array([0.74673, 0.8, 0.9])
    th = select_thresholds(live, attack)
    assert th.fake_border == 0.24815 and th.live_border == 0.74673
    assert th.acer_left == 0.24815 and th.acer_right == 0.74673
    assert th.cross == pytest.approx(0.49744, abs=5e-16)
    assert th.fake_border <= th.balance <= th.live_border
    assert th.min_acer == 0.0


def test_balance_point_clamped_and_overlap():
    # separable; the pooled mean (0.9 + 100 * 1.0) / 102 = 0.989 > live border 0.9 -> clamped
    live = np.r_[0.9, np.full(100, 1.0)]
    attack = np.array([0.0])
    assert select_thresholds(live, attack).balance == 0.9
    th = select_thresholds(1.0 - attack, 1.0 - live)  # mirrored: clamped to the fake border
    assert th.balance == th.fake_border == 1.0 - 0.9
    # inside the borders it is the pooled mean: (0.1 + 0.2 + 0.8 + 0.9) / 4 = 0.5
    assert select_thresholds([0.8, 0.9], [0.1, 0.2]).balance == 0.5
    # overlapping: only the overlap; A' = {a >= 0.4} = {0.5, 0.6}, L' = {l <= 0.6} = {0.4}
    th = select_thresholds(np.array([0.4, 0.7, 0.9]), np.array([0.1, 0.5, 0.6]))
    assert th.balance == 0.5


def test_higher_is_attack_flips_consistently(rng):
    live = rng.normal(0.3, 0.15, 50)
    attack = rng.normal(0.7, 0.15, 40)
    a = select_thresholds(live, attack, higher_is_live=False)
    b = select_thresholds(-live, -attack)
    for f in ("fake_border", "live_border", "acer", "cross", "balance"):
        assert getattr(a, f) == -getattr(b, f)
    assert a.acer_left == -b.acer_right and a.acer_right == -b.acer_left
    assert a.eer == b.eer and a.min_acer == b.min_acer
    assert a.fake_border == attack.min() and a.live_border == live.max()


def _rates(live, attack, t):
    return np.mean(attack >= t), np.mean(live < t)


@pytest.mark.parametrize("kind", ["ties", "overlap", "tiny"])
def test_target_rates_brute_force(kind):
    rng = np.random.default_rng(7)
    for _ in range(20):
        live, attack = _case(rng, kind)
        u = np.unique(np.r_[live, attack])
        for r in (0.0, 0.01, 0.05, 0.2, 0.5):
            op = bpcer_at_apcer(live, attack, r)
            ok = [t for t in u if _rates(live, attack, t)[0] <= r + 1e-12]
            if ok:
                assert op.threshold == min(ok)
            a, b = _rates(live, attack, op.threshold)
            assert op.apcer == a <= r + 1e-12 and op.bpcer == b
            assert op.bpcer == min(_rates(live, attack, t)[1] for t in np.r_[ok, np.inf])
            op2 = tpr_at_fpr(live, attack, r)
            assert op2.threshold == op.threshold and op2.tpr == 1 - op.bpcer
            op3 = apcer_at_bpcer(live, attack, r)
            ok3 = [t for t in u if _rates(live, attack, t)[1] <= r + 1e-12]
            if ok3 and int(np.floor(r * live.size + 1e-9)) < live.size:
                assert op3.threshold == max(ok3)
            assert op3.bpcer <= r + 1e-12


def test_decimal_rate_slack():
    live = np.linspace(0.5, 1.0, 100)
    attack = np.linspace(0.0, 0.6, 100)
    op = bpcer_at_apcer(live, attack, 0.03)  # 0.03 * 100 = 2.9999999999999996 in float
    assert op.apcer == 0.03


@pytest.mark.parametrize(
    "live, attack, match",
    [
        ([0.1, np.nan], [0.2], "live scores contain 1 NaN"),
        ([0.1, 0.2], [np.inf, 0.3], "attack scores contain 1 infinite"),
        ([], [0.3], "live scores is empty"),
        ([0.1], [], "attack scores is empty"),
        ([[0.1, 0.2]], [0.3], "must be 1-D"),
        (["a"], [0.3], "real numeric array"),
    ],
)
def test_bad_input(live, attack, match):
    with pytest.raises((ValueError, TypeError), match=match):
        select_thresholds(np.asarray(live), np.asarray(attack))


def test_bad_options():
    with pytest.raises(ValueError, match="unknown center 'middle'"):
        select_thresholds([0.6], [0.2], center="middle")
    with pytest.raises(ValueError, match="unknown convention"):
        select_thresholds([0.6], [0.2], convention="x")
    with pytest.raises(ValueError, match=r"rate in \[0, 1\]"):
        bpcer_at_apcer([0.6], [0.2], 1.5)
