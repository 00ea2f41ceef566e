"""Confidence intervals: Clopper-Pearson vs scipy, coverage by simulation (95% intervals
cover the true rate in 93-97% of 2,000 seeded draws), the bootstrap engines held to
resampling done by hand, and intervals in the threshold table."""

import numpy as np
import pytest
from scipy.stats import binomtest, norm

from fasfast.analysis import (
    ScoreSet,
    bootstrap,
    clopper_pearson,
    metrics_from_counts,
    pad_metrics,
    select_thresholds,
    threshold_table,
)
from fasfast.analysis.bootstrap import Strata
from fasfast.analysis.intervals import fixed_threshold_bootstrap, max_interval

DRAWS = 2000


def test_clopper_pearson_vs_scipy():
    rng = np.random.default_rng(0)
    for _ in range(60):
        n = int(rng.integers(1, 300))
        k = int(rng.integers(0, n + 1))
        for level in (0.9, 0.95, 0.99):
            want = binomtest(k, n).proportion_ci(level, method="exact")
            lo, hi = clopper_pearson(k, n, level)
            assert lo == pytest.approx(want.low, abs=1e-12)
            assert hi == pytest.approx(want.high, abs=1e-12)
    assert all(v != v for v in clopper_pearson(0, 0))  # NaN: no presentations
    with pytest.raises(ValueError, match="level must be in"):
        clopper_pearson(1, 2, 1.5)


def test_clopper_pearson_coverage_by_simulation():
    """BPCER at a fixed threshold: N live scores ~ N(0, 1), t = -0.8416 (true BPCER 20%).
    Clopper-Pearson is conservative: its exact coverage here is 95.2%."""
    from scipy.stats import binom

    rng = np.random.default_rng(2024)
    p, n = 0.2, 1000
    t = norm.ppf(p)
    hits = 0
    for _ in range(DRAWS):
        live = rng.normal(0, 1, n)
        lo, hi = clopper_pearson(int((live < t).sum()), n)
        hits += lo <= p <= hi
    assert 0.93 <= hits / DRAWS <= 0.97, hits / DRAWS
    exact = sum(binom.pmf(k, n, p) for k in range(n + 1)
                if clopper_pearson(k, n)[0] <= p <= clopper_pearson(k, n)[1])
    assert 0.95 <= exact <= 0.96


def test_worst_species_interval_coverage():
    """The ISO APCER (max over species): Bonferroni over species is conservative, >= 95%."""
    rng = np.random.default_rng(7)
    p = (0.08, 0.12, 0.1)
    hits = 0
    for _ in range(DRAWS):
        counts = [(int(rng.binomial(300, q)), 300) for q in p]
        lo, hi = max_interval(counts)
        hits += lo <= max(p) <= hi
    assert hits / DRAWS >= 0.95


def test_acer_bootstrap_coverage_at_a_fixed_threshold():
    """ACER = (APCER + BPCER)/2 at a fixed threshold, two Gaussian classes (true ACER known),
    the stratified percentile bootstrap of intervals.fixed_threshold_bootstrap."""
    rng = np.random.default_rng(11)
    t = 0.5
    true_b = norm.cdf((t - 0.7) / 0.15)
    true_a = norm.sf((t - 0.35) / 0.15)
    true = (true_a + true_b) / 2
    n, m = 400, 400
    hits = 0
    for i in range(DRAWS):
        k_live = int((rng.normal(0.7, 0.15, n) < t).sum())
        k_att = int((rng.normal(0.35, 0.15, m) >= t).sum())
        iv = fixed_threshold_bootstrap((n, k_live), {"attack": (m, k_att)}, "max", 400, seed=i)
        lo, hi = iv["acer"]
        hits += lo <= true <= hi
    assert 0.93 <= hits / DRAWS <= 0.97, hits / DRAWS


def test_fixed_threshold_bootstrap_with_units_draws_whole_units():
    # one unit per class holding every error: a replicate has 0 errors or a multiple of 10
    sizes, errs = np.array([10.0, 10.0, 10.0]), np.array([10.0, 0.0, 0.0])
    iv = fixed_threshold_bootstrap((30, 10, (sizes, errs)), {"attack": (30, 0, (sizes, 0 * errs))},
                                   "max", 500, seed=1)
    assert "videos" in iv["resampling"]
    lo, hi = iv["acer"]
    assert lo == 0.0 and hi >= 1 / 3 - 1e-12


def test_metrics_from_counts_takes_nonresponses_without_scores():
    """The entry point for callers that count unreadable videos as non-responses."""
    m = metrics_from_counts(0.5, live=(18, 2), species={"print": (9, 1), "replay": (10, 0)},
                            nr_live=2, nr_species={"print": 1, "mask": 4}, ci=0.95,
                            bootstrap=200)
    assert m.bpnrr == 2 / 20 and m.apnrr_per_type == {"print": 0.1, "replay": 0.0,
                                                     "mask": 1.0}
    assert m.apnrr == 1.0 and m.n_attack_nr == 5 and m.n_live_nr == 2
    assert m.apcer_per_type["mask"] != m.apcer_per_type["mask"]  # no response: no APCER
    assert m.apcer == 1 / 9 and m.worst_type == "print" and m.bpcer == 2 / 18
    lo, hi = m.ci["bpnrr"]
    assert (lo, hi) == clopper_pearson(2, 20)
    assert m.ci["acer"][0] <= m.acer <= m.ci["acer"][1]
    # the same through pad_metrics: NaN scores plus counts passed in
    s = np.r_[np.full(16, 0.9), 0.1, 0.1, np.nan, np.nan, np.full(8, 0.1), 0.9, np.nan,
              np.full(10, 0.1)]
    y = np.r_[np.ones(20), np.zeros(20)]
    t = np.r_[np.full(20, "live"), np.full(10, "print"), np.full(10, "replay")]
    pm = pad_metrics(s, y, 0.5, t, nonresponses={"mask": 4})
    assert (pm.bpnrr, pm.apnrr, pm.apcer, pm.bpcer) == (m.bpnrr, m.apnrr, m.apcer, m.bpcer)


def test_table_rows_carry_intervals(rng):
    n = 120
    lab = (np.arange(n) < 50).astype(int)
    types = np.where(lab == 1, "live", np.where(np.arange(n) % 2, "print", "replay"))
    s = np.where(lab == 1, rng.normal(0.7, 0.1, n), rng.normal(0.35, 0.12, n))
    ss = ScoreSet(np.arange(n), lab, s, types)
    rows = threshold_table(ss, ss, bootstrap=200)
    for r in rows:
        m = r["select"]
        for key in ("apcer", "bpcer", "acer", "fpr", "tpr", "bpnrr", "apnrr"):
            lo, hi = m.ci[key]
            assert lo <= getattr(m, key) <= hi, (r["key"], key)
        for ty, (lo, hi) in m.ci["apcer_per_type"].items():
            assert lo <= m.apcer_per_type[ty] <= hi
        assert "bootstrap" in m.ci["methods"]["acer"]
    assert threshold_table(ss, ci=None)[0]["select"].ci is None


def test_exact_bootstrap_engine_is_the_analysis_of_each_resample(rng):
    live, attack = rng.normal(0.6, 0.2, 40), rng.normal(0.4, 0.2, 50)
    types = rng.choice(["p", "r"], 50)
    res = bootstrap(live, attack, attack_types=types, reps=25, seed=5, values=True,
                    engine="exact")
    st = Strata(live, attack, types)
    r = np.random.default_rng(5)
    for i in range(25):
        cl, ca = st.draw(r)
        lv = np.repeat(st.live_p, cl)
        av = np.repeat(st.att_p, ca)
        at = np.repeat(st.names[st.att_code], ca)
        th = select_thresholds(lv, av, attack_types=at)
        assert res["values"]["eer"][i] == th.eer
        assert res["values"]["threshold:acer_left"][i] == th.acer_left
        assert res["values"]["threshold:balance"][i] == th.balance
    lo, hi = res["eer"]
    assert lo <= np.median(res["values"]["eer"]) <= hi
    assert res["engine"] == "exact" and "presentations" in res["resampling"]
    again = bootstrap(live, attack, attack_types=types, reps=25, seed=5, engine="exact")
    assert again["eer"] == res["eer"] and again["thresholds"] == res["thresholds"]


def test_bootstrap_resamples_whole_videos(rng):
    # every video holds 5 identical frames: a replicate's scores come in runs of 5
    vids_l = np.repeat(np.arange(12), 5)
    vids_a = np.repeat(np.arange(12, 24), 5)
    live = np.repeat(rng.normal(0.6, 0.2, 12), 5)
    attack = np.repeat(rng.normal(0.4, 0.2, 12), 5)
    st = Strata(live, attack, None, vids_l, vids_a)
    cl, ca = st.draw(np.random.default_rng(0))
    assert (np.bincount(np.repeat(np.arange(60) // 5, cl), minlength=12) % 5 == 0).all()
    res = bootstrap(live, attack, live_units=vids_l, attack_units=vids_a, reps=50)
    assert "videos" in res["resampling"]
    with pytest.raises(ValueError, match="length mismatch"):
        bootstrap(live, attack, live_units=vids_l[:3], reps=5)
