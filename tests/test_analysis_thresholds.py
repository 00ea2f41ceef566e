"""select_thresholds and target-rate thresholds vs a brute force over every candidate.

The oracles in ``_analysis_oracle`` enumerate every threshold interval (ties included) and
count APCER per PAI species and BPCER by direct comparison. Changed with issue 16: a
threshold taken from the attack border (fake border, ACER-left, a balance point clamped to
the fake border, the low end of a target row) is applied just above the attack score, not at
it (``score >= t`` would accept that attack); ACER-mid is a row of its own.
"""

import math
import zlib
from fractions import Fraction

import numpy as np
import pytest
from _analysis_oracle import Candidates, target_oracle, thresholds_oracle

from fasfast.analysis import (
    apcer_at_bpcer,
    bpcer_at_apcer,
    pad_metrics,
    select_thresholds,
    tpr_at_fpr,
)

FIELDS = (
    "fake_border",
    "live_border",
    "acer_point",
    "acer_left",
    "acer_mid",
    "acer_right",
    "cross",
    "balance",
    "min_acer",
    "eer",
    "fake_border_score",
    "live_border_score",
)


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


def _check(got, want, ctx):
    for f in FIELDS:
        assert getattr(got, f) == want[f], (ctx, f, getattr(got, f), want[f])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("center", ["balance", "weighted_balance", "mean", "median"])
def test_brute_force_every_field(kind, center):
    rng = np.random.default_rng(zlib.crc32(f"{kind}/{center}".encode()))
    for _ in range(12 if kind != "constant" else 3):
        live, attack = _case(rng, kind)
        got = select_thresholds(live, attack, center=center)
        want = thresholds_oracle(live, attack, center)
        _check(got, want, (kind, center, live, attack))
        assert got.table_dict() == {k: want[k] for k in got.table_dict()}


def _species_case(rng, kind, n_species):
    live, attack = _case(rng, kind)
    m = attack.size
    types = rng.choice([f"pai{k}" for k in range(n_species)], m)
    # shift one species so the species differ (the worst one drives the ISO APCER)
    attack = np.where(types == "pai0", attack + rng.choice([0.0, 0.125, 0.25]), attack)
    return live, attack, types


@pytest.mark.parametrize("kind", ["ties", "overlap", "separable", "tiny"])
@pytest.mark.parametrize("definition", ["max", "pooled"])
def test_per_pai_thresholds_brute_force(kind, definition):
    rng = np.random.default_rng(zlib.crc32(f"pai/{kind}/{definition}".encode()))
    for _ in range(25):
        live, attack, types = _species_case(rng, kind, int(rng.integers(2, 5)))
        got = select_thresholds(live, attack, attack_types=types, apcer=definition)
        want = thresholds_oracle(live, attack, types=types, definition=definition)
        _check(got, want, (kind, definition, live, attack, types))
        assert got.apcer == definition


@pytest.mark.parametrize("kind", ["ties", "overlap", "tiny", "separable"])
@pytest.mark.parametrize("placement", ["best", "low", "high", "midpoint"])
def test_target_rows_brute_force(kind, placement):
    rng = np.random.default_rng(zlib.crc32(f"targets/{kind}/{placement}".encode()))
    for _ in range(15):
        live, attack, types = _species_case(rng, kind, int(rng.integers(1, 4)))
        for definition in ("max", "pooled"):
            for rate in (0.0, 0.01, 0.05, 0.2, 0.5, 1.0):
                for fn, kind_ in (
                    (bpcer_at_apcer, "bpcer@apcer"),
                    (tpr_at_fpr, "tpr@fpr"),
                    (apcer_at_bpcer, "apcer@bpcer"),
                ):
                    op = fn(
                        live,
                        attack,
                        rate,
                        attack_types=types,
                        apcer=definition,
                        placement=placement,
                    )
                    t, a, b = target_oracle(live, attack, kind_, rate, types, definition, placement)
                    ctx = (kind_, definition, rate, placement, live, attack, types)
                    assert op.threshold == t, ctx
                    assert (op.apcer, op.bpcer) == (float(a), float(b)), ctx
                    if kind_ != "apcer@bpcer":
                        assert op.apcer <= rate + 1e-12, ctx  # true to the APCER it prints
                    else:
                        assert op.bpcer <= rate + 1e-12, ctx


def test_rows_printed_under_iso_apcer_never_exceed_their_target(rng):
    """The issue's first fault: pooled selection printed with the ISO APCER broke "APCER 5%"."""
    live = rng.normal(0.7, 0.12, 400)
    types = np.repeat(["print", "replay", "mask", "paper", "screen"], 80)
    shift = {"print": 0.0, "replay": 0.05, "mask": 0.25, "paper": -0.05, "screen": 0.1}
    attack = rng.normal(0.3, 0.12, 400) + np.array([shift[t] for t in types])
    y = np.r_[np.ones(400), np.zeros(400)]
    s = np.r_[live, attack]
    at = np.r_[np.full(400, "live"), types]
    for rate in (0.05, 0.01):
        iso = bpcer_at_apcer(live, attack, rate, attack_types=types)
        m = pad_metrics(s, y, iso.threshold, at)
        assert m.apcer == iso.apcer <= rate and m.apcer == max(m.apcer_per_type.values())
        pooled = bpcer_at_apcer(live, attack, rate, attack_types=types, apcer="pooled")
        mp = pad_metrics(s, y, pooled.threshold, at, apcer="pooled")
        assert mp.apcer == pooled.apcer <= rate
        # the pooled choice, printed with the ISO APCER, breaks the row's promise here
        assert pad_metrics(s, y, pooled.threshold, at).apcer > rate
        assert iso.bpcer >= pooled.bpcer


def test_acer_interval_rows_reach_the_least_acer(rng):
    """300 live / 500 attack overlapping Gaussians: ACER-left sat on an attack score that
    ``score >= t`` accepts, so its row printed more than the least ACER."""
    for seed in range(5):
        r = np.random.default_rng(seed)
        live, attack = r.normal(0.55, 0.15, 300), r.normal(0.45, 0.15, 500)
        types = r.choice(["a", "b"], 500)
        for definition in ("max", "pooled"):
            th = select_thresholds(live, attack, attack_types=types, apcer=definition)
            y = np.r_[np.ones(300), np.zeros(500)]
            at = np.r_[np.full(300, "live"), types]
            for name in ("acer_left", "acer_right"):
                m = pad_metrics(np.r_[live, attack], y, getattr(th, name), at, apcer=definition)
                assert m.acer == th.min_acer, (seed, definition, name)
            # the infimum is an attack score: applied just above it, the row rejects it
            assert np.nextafter(th.acer_left, -1) in set(attack.tolist())


def test_paper_table7_separable():
    """Paper Table 7: borders 0.24815 / 0.74673 -> cross point 0.49744 = midpoint."""
    attack = np.array([0.1, 0.2, 0.24815])
    live = np.array([0.74673, 0.8, 0.9])
    th = select_thresholds(live, attack)
    assert th.fake_border_score == 0.24815 and th.live_border == 0.74673
    # applied just above the attack score it comes from (it must reject that attack)
    assert th.fake_border == th.acer_left == np.nextafter(0.24815, 1)
    assert th.acer_right == 0.74673
    assert th.cross == pytest.approx(0.49744, abs=5e-16)
    assert th.fake_border < th.balance <= th.live_border
    assert th.min_acer == 0.0
    assert "0.24815" in th.notes["fake_border"] and "just above" in th.notes["fake_border"]
    mid = select_thresholds(live, attack, border="midpoint")
    assert mid.fake_border == mid.acer_left == (0.24815 + 0.74673) / 2


def test_balance_point_clamped_and_overlap():
    # separable; the pooled mean (0.9 + 100 * 1.0) / 102 = 0.989 > live border 0.9 -> clamped
    live = np.r_[0.9, np.full(100, 1.0)]
    attack = np.array([0.0])
    assert select_thresholds(live, attack).balance == 0.9
    th = select_thresholds(1.0 - attack, 1.0 - live)  # mirrored: clamped to the fake border
    assert th.fake_border_score == 1.0 - 0.9
    assert th.balance == th.fake_border == np.nextafter(1.0 - 0.9, 1)  # rejects that attack
    assert "clamped" in th.notes["balance"]
    # inside the borders it is the pooled mean: (0.1 + 0.2 + 0.8 + 0.9) / 4 = 0.5
    assert select_thresholds([0.8, 0.9], [0.1, 0.2]).balance == 0.5
    # overlapping: only the overlap; A' = {a >= 0.4} = {0.5, 0.6}, L' = {l <= 0.6} = {0.4}
    th = select_thresholds(np.array([0.4, 0.7, 0.9]), np.array([0.1, 0.5, 0.6]))
    assert th.balance == 0.5


def test_demo_like_separable_dev_split(rng):
    """The demo's dev split (16 live, 80 attacks, separable): the balance point clamped to
    the fake border accepted an attack (APCER 3.125% where 0% was possible)."""
    live = rng.uniform(0.9, 1.0, 16)
    attack = np.r_[rng.uniform(0.0, 0.05, 79), 0.22528]
    types = np.tile(["print", "replay"], 40)
    th = select_thresholds(live, attack, attack_types=types)
    y = np.r_[np.ones(16), np.zeros(80)]
    at = np.r_[np.full(16, "live"), types]
    for name in ("balance", "fake_border", "acer_left", "acer_point", "cross"):
        m = pad_metrics(np.r_[live, attack], y, getattr(th, name), at)
        assert m.apcer == 0.0 and m.bpcer == 0.0, name
    assert th.balance == th.fake_border  # the balance point was clamped to the border
    bp = bpcer_at_apcer(live, attack, 0.05, attack_types=types)
    assert bp.apcer <= 0.05


def test_higher_is_attack_flips_consistently(rng):
    live = rng.normal(0.3, 0.15, 50)
    attack = rng.normal(0.7, 0.15, 40)
    a = select_thresholds(live, attack, higher_is_live=False)
    b = select_thresholds(-live, -attack)
    for f in ("fake_border", "live_border", "acer_point", "cross", "balance", "acer_mid"):
        assert getattr(a, f) == -getattr(b, f)
    assert a.acer_left == -b.acer_right and a.acer_right == -b.acer_left
    assert a.eer == b.eer and a.min_acer == b.min_acer
    assert a.fake_border_score == attack.min() and a.live_border == live.max()
    assert a.fake_border == np.nextafter(attack.min(), -1)  # just below: rule score <= t


def test_float32_input_is_exact(rng):
    live = rng.normal(0.6, 0.2, 300).astype(np.float32)
    attack = rng.normal(0.4, 0.2, 200).astype(np.float32)
    got = select_thresholds(live, attack)
    want = thresholds_oracle(live.astype(np.float64), attack.astype(np.float64), dtype=np.float32)
    for f in FIELDS:
        if f in ("cross", "balance"):
            continue  # computed values: rounded up to float32 (checked below)
        assert getattr(got, f) == want[f], f
    for f in ("cross", "balance"):  # the least float32 >= the exact value: same decisions
        c32 = np.float32(want[f])
        c32 = c32 if float(c32) >= want[f] else np.nextafter(c32, np.float32(1))
        assert getattr(got, f) == float(c32), f
    # thresholds are float32 values, not rounded versions of them
    for f in ("acer_right", "acer_left", "fake_border", "acer_point", "cross", "acer_mid"):
        assert float(np.float32(getattr(got, f))) == getattr(got, f), f
    assert np.float32(got.acer_right) in set(np.r_[live, attack].tolist())


def test_eer_rules_brute_force():
    rng = np.random.default_rng(21)
    for _ in range(40):
        kind = ("ties", "overlap", "tiny")[int(rng.integers(0, 3))]
        live, attack, types = _species_case(rng, kind, int(rng.integers(1, 4)))
        for definition in ("max", "pooled"):
            cand = Candidates(live, attack, types)
            tab = cand.table(definition)
            x = [a - b for a, b in tab]
            k1 = max(k for k, v in enumerate(x) if v >= 0)  # last with APCER >= BPCER
            k2 = min(k for k, v in enumerate(x) if v <= 0)  # first with APCER <= BPCER
            s1, s2 = sum(tab[k1]), sum(tab[k2])
            fvc = float(min(s1, s2) / 2)
            th = select_thresholds(
                live, attack, attack_types=types, apcer=definition, eer_rule="fvc2000"
            )
            assert th.eer == fvc, (definition, live, attack, types)
            k = k1 if s1 <= s2 else k2
            t = th.acer_point
            assert cand.start(k) < t <= cand.ends[k] or (
                math.isinf(cand.start(k)) and t == cand.ends[k]
            )
            # ROCCH-EER: the least diagonal crossing of a segment between two curve points
            pts = [(float(a), float(b)) for a, b in tab]
            best = math.inf
            for i, (xa, ya) in enumerate(pts):
                for xb, yb in pts[i:]:
                    fa, fb = xa - ya, xb - yb
                    if fa == 0:
                        best = min(best, xa)
                    if fb == 0:
                        best = min(best, xb)
                    if fa * fb < 0:
                        s = fa / (fa - fb)
                        best = min(best, xa + s * (xb - xa))
            r = select_thresholds(
                live, attack, attack_types=types, apcer=definition, eer_rule="rocch"
            )
            assert r.eer == pytest.approx(best, abs=1e-12)
            bob = select_thresholds(live, attack, attack_types=types, apcer=definition)
            assert r.acer_point == bob.acer_point  # the ROCCH rule keeps bob's threshold


def test_decimal_rate_slack():
    live = np.linspace(0.5, 1.0, 100)
    attack = np.linspace(0.0, 0.6, 100)
    op = bpcer_at_apcer(live, attack, 0.03)  # 0.03 * 100 = 2.9999999999999996 in float
    assert op.apcer == 0.03


def test_nan_scores_are_nonresponses():
    live = np.array([0.9, np.nan, 0.8, 0.7])
    attack = np.array([0.1, 0.2, np.nan, np.nan, 0.3])
    got = select_thresholds(live, attack)
    want = thresholds_oracle(live[~np.isnan(live)], attack[~np.isnan(attack)])
    _check(got, want, "nan")
    with pytest.raises(ValueError, match="live scores contain 1 NaN value"):
        select_thresholds(live, attack, nan_policy="error")
    with pytest.raises(ValueError, match="only one class present"):
        select_thresholds([np.nan, np.nan], [0.2])


def test_infinite_scores_are_valid():
    live = np.array([np.inf, 0.9, 0.8, -np.inf])
    attack = np.array([0.1, np.inf, 0.3, -np.inf])
    th = select_thresholds(live, attack)
    y = np.r_[np.ones(4), np.zeros(4)]
    s = np.r_[live, attack]
    for name, t in th.table_dict().items():
        m = pad_metrics(s, y, t)  # every row's rates are those at its own threshold
        a = Fraction(int((attack >= t).sum()), 4)
        b = Fraction(int((live < t).sum()), 4)
        assert (m.apcer, m.bpcer) == (float(a), float(b)), name
    assert th.fake_border_score == math.inf and th.live_border == -math.inf
    assert th.live_stats.n == 2 and th.live_stats.n_left_out == 2  # the domain: finite only


@pytest.mark.parametrize(
    "live, attack, match",
    [
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
    with pytest.raises(ValueError, match="unknown apcer definition 'worst'"):
        select_thresholds([0.6], [0.2], apcer="worst")
    with pytest.raises(ValueError, match="unknown eer_rule"):
        select_thresholds([0.6], [0.2], eer_rule="pyeer")
    with pytest.raises(ValueError, match="unknown placement"):
        bpcer_at_apcer([0.6], [0.2], placement="top")
    with pytest.raises(ValueError, match="length mismatch: 1 attack scores but 2"):
        select_thresholds([0.6], [0.2], attack_types=["a", "b"])


def test_former_name_acer_is_accepted_with_a_warning(rng):
    """``Thresholds.acer`` (a threshold, easily read as the error rate ACER) became
    ``acer_point``; the old attribute and method string work for one release, with a
    DeprecationWarning; the new names give no warning."""
    import warnings

    from fasfast.analysis.thresholds import RENAMED_THRESHOLDS, threshold_name

    th = select_thresholds(rng.normal(0.7, 0.2, 50), rng.normal(0.4, 0.2, 60))
    assert "acer_point" in th.as_dict() and "acer" not in th.as_dict()
    assert "acer" not in th.notes and "acer_point" in th.notes
    with pytest.warns(DeprecationWarning, match="Thresholds.acer_point"):
        assert th.acer == th.acer_point
    with pytest.warns(DeprecationWarning, match="'acer' is deprecated.*'acer_point'"):
        assert threshold_name("acer") == "acer_point"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert threshold_name("acer_point") == "acer_point"
        assert threshold_name("balance") == "balance"
    assert RENAMED_THRESHOLDS == {"acer": "acer_point"}
