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
    exact = sum(
        binom.pmf(k, n, p)
        for k in range(n + 1)
        if clopper_pearson(k, n)[0] <= p <= clopper_pearson(k, n)[1]
    )
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
    iv = fixed_threshold_bootstrap(
        (30, 10, (sizes, errs)), {"attack": (30, 0, (sizes, 0 * errs))}, "max", 500, seed=1
    )
    assert "videos" in iv["resampling"]
    lo, hi = iv["acer"]
    assert lo == 0.0 and hi >= 1 / 3 - 1e-12


def test_metrics_from_counts_takes_nonresponses_without_scores():
    """The entry point for callers that count unreadable videos as non-responses."""
    m = metrics_from_counts(
        0.5,
        live=(18, 2),
        species={"print": (9, 1), "replay": (10, 0)},
        nr_live=2,
        nr_species={"print": 1, "mask": 4},
        ci=0.95,
        bootstrap=200,
    )
    assert m.bpnrr == 2 / 20 and m.apnrr_per_type == {"print": 0.1, "replay": 0.0, "mask": 1.0}
    assert m.apnrr == 1.0 and m.n_attack_nr == 5 and m.n_live_nr == 2
    assert m.apcer_per_type["mask"] != m.apcer_per_type["mask"]  # no response: no APCER
    assert m.apcer == 1 / 9 and m.worst_type == "print" and m.bpcer == 2 / 18
    lo, hi = m.ci["bpnrr"]
    assert (lo, hi) == clopper_pearson(2, 20)
    assert m.ci["acer"][0] <= m.acer <= m.ci["acer"][1]
    # the same through pad_metrics: NaN scores plus counts passed in
    s = np.r_[
        np.full(16, 0.9), 0.1, 0.1, np.nan, np.nan, np.full(8, 0.1), 0.9, np.nan, np.full(10, 0.1)
    ]
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
    res = bootstrap(live, attack, attack_types=types, reps=25, seed=5, values=True, engine="exact")
    st = Strata(live, attack, types)
    r = np.random.default_rng(5)
    for i in range(25):
        cl, cas = st.draw(r)
        lv = np.repeat(st.live_p, cl)
        av = np.concatenate([np.repeat(p, c) for p, c in zip(st.parts, cas)])
        at = np.concatenate([np.full(c.sum(), nm) for nm, c in zip(st.names, cas)])
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
    cl, _ = st.draw(np.random.default_rng(0))
    assert (np.bincount(np.repeat(np.arange(60) // 5, cl), minlength=12) % 5 == 0).all()
    res = bootstrap(live, attack, live_units=vids_l, attack_units=vids_a, reps=50)
    assert "videos" in res["resampling"]
    with pytest.raises(ValueError, match="length mismatch"):
        bootstrap(live, attack, live_units=vids_l[:3], reps=5)


# --------------------------------------------------------------------------- binned engine
def _given(st, reps, seed):
    """The exact engine's draws, per presentation in the binned layout's order."""
    r = np.random.default_rng(seed)
    rows, draws = [], []
    for _ in range(reps):
        cl, cas = st.draw(r)
        draws.append((cl, cas))
        rows.append(np.concatenate([cl] + cas))
    return np.array(rows), draws


@pytest.mark.parametrize("bins", [1, 3, 7, 64])
@pytest.mark.parametrize(
    "config",
    [
        dict(),
        dict(apcer="pooled"),
        dict(eer_rule="fvc2000"),
        dict(placement="high"),
        dict(placement="low"),
        dict(placement="midpoint"),
        dict(border="midpoint"),
    ],
)
def test_binned_engine_is_exact_on_the_same_resamples(bins, config):
    """Given the same per-presentation draws, the binned kernel (blocks resolved only where a
    decision falls) returns exactly what the full analysis of the resample returns."""
    from fasfast.analysis._boot_binned import binned_bootstrap
    from fasfast.analysis.conventions import Conventions
    from fasfast.analysis.metrics import TARGETS
    from fasfast.analysis.thresholds import target_point

    rng = np.random.default_rng(bins * 31 + len(config))
    conv = Conventions(**config)
    for kind in ("ties", "overlap"):
        n, m = int(rng.integers(20, 70)), int(rng.integers(20, 70))
        live, attack = rng.normal(0.6, 0.2, n), rng.normal(0.45, 0.2, m)
        if kind == "ties":
            live, attack = np.round(live * 16) / 16, np.round(attack * 16) / 16
        types = rng.choice(["p", "r", "m"], m)
        st = Strata(live, attack, types)
        given, draws = _given(st, 12, 3)
        res = binned_bootstrap(st, conv, 12, 0, bins, True, given=given)
        for i, (cl, ca) in enumerate(draws):
            c = st.classes(cl, ca)
            from fasfast.analysis.thresholds import thresholds_from_classes

            th = thresholds_from_classes(c, "balance", "paper", conv)
            for k in (
                "fake_border",
                "live_border",
                "acer_point",
                "acer_left",
                "acer_mid",
                "acer_right",
            ):
                assert res[f"threshold:{k}"][i] == getattr(th, k), (kind, config, bins, k)
            if conv.eer_rule != "rocch":
                assert res["eer"][i] == th.eer, (kind, config, bins)
            assert res["min_acer"][i] == th.min_acer, (kind, config, bins)
            for key, _, tkind, rate in TARGETS:
                op = target_point(c, tkind, rate, conv.apcer, conv.placement, conv.border)
                assert res[f"threshold:{key}"][i] == op.threshold, (kind, config, bins, key)
        # one bin per distinct score: no pair inside a bin is left to its mean, AUC exact
        fine = binned_bootstrap(st, conv, 12, 0, 10**6, False, given=given)
        for i, (cl, ca) in enumerate(draws):
            assert fine["auc"][i] == pytest.approx(st.classes(cl, ca).auc(), abs=1e-12)


def test_binned_engine_float32_and_higher_is_attack(rng):
    from fasfast.analysis._boot_binned import binned_bootstrap
    from fasfast.analysis.conventions import Conventions
    from fasfast.analysis.thresholds import thresholds_from_classes

    live = rng.normal(0.3, 0.2, 50).astype(np.float32)
    attack = rng.normal(0.6, 0.2, 60).astype(np.float32)
    st = Strata(live, attack, None, higher_is_live=False)
    given, draws = _given(st, 8, 1)
    res = binned_bootstrap(st, Conventions(), 8, 0, 5, True, given=given)
    for i, (cl, ca) in enumerate(draws):
        th = thresholds_from_classes(st.classes(cl, ca), "balance", "paper", Conventions())
        for k in ("fake_border", "acer_point", "acer_left", "acer_mid", "acer_right"):
            assert res[f"threshold:{k}"][i] == getattr(th, k), k


def test_binned_engine_auc_and_eer_coverage():
    """AUC and EER of two Gaussian classes (true values known), 2,000 seeded draws, the
    binned engine (64 bins: every decision resolved to single presentations, the AUC's
    within-bin pairs at their conditional mean) with 200 replicates each."""
    from fasfast.analysis.bootstrap import bootstrap

    rng = np.random.default_rng(99)
    mu, sd, n = 1.2, 1.0, 150
    true_auc = norm.cdf(mu / (sd * np.sqrt(2)))
    true_eer = norm.sf(mu / 2)
    hits_auc = hits_eer = 0
    for i in range(DRAWS):
        live, attack = rng.normal(mu, sd, n), rng.normal(0, sd, n)
        r = bootstrap(live, attack, reps=200, seed=i, engine="binned", targets=False, bins=64)
        hits_auc += r["auc"][0] <= true_auc <= r["auc"][1]
        hits_eer += r["eer"][0] <= true_eer <= r["eer"][1]
    assert 0.93 <= hits_auc / DRAWS <= 0.97, hits_auc / DRAWS
    assert 0.93 <= hits_eer / DRAWS <= 0.97, hits_eer / DRAWS


@pytest.mark.parametrize("bins", [1, 3, 7, 64])
@pytest.mark.parametrize("config", [dict(), dict(eer_rule="fvc2000"), dict(border="midpoint")])
def test_binned_engine_one_attack_stratum_is_exact(bins, config):
    """Without PAI species (one attack stratum, pooled: the least-ACER scan visits only the
    resampled bona fide scores), with ties across the classes and inside them."""
    from fasfast.analysis._boot_binned import binned_bootstrap
    from fasfast.analysis.conventions import Conventions
    from fasfast.analysis.thresholds import thresholds_from_classes

    rng = np.random.default_rng(bins * 7 + len(config))
    conv = Conventions(**config)
    for kind in ("ties", "overlap", "separated"):
        n, m = int(rng.integers(15, 60)), int(rng.integers(15, 60))
        shift = 0.5 if kind == "separated" else 0.1
        live, attack = rng.normal(0.5 + shift, 0.2, n), rng.normal(0.5 - shift, 0.2, m)
        if kind == "ties":
            live, attack = np.round(live * 8) / 8, np.round(attack * 8) / 8
        st = Strata(live, attack)
        given, draws = _given(st, 16, 5)
        res = binned_bootstrap(st, conv, 16, 0, bins, False, given=given)
        for i, (cl, ca) in enumerate(draws):
            th = thresholds_from_classes(st.classes(cl, ca), "balance", "paper", conv)
            assert res["min_acer"][i] == th.min_acer, (kind, bins)
            assert res["eer"][i] == th.eer, (kind, bins)
            for k in ("acer_left", "acer_mid", "acer_right", "acer_point", "fake_border"):
                assert res[f"threshold:{k}"][i] == getattr(th, k), (kind, bins, k)
