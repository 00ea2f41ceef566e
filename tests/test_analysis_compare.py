"""Paired tests between two systems: DeLong vs a brute-force O(N^2) estimate, McNemar vs
scipy.stats.binomtest, the paired bootstrap vs direct resampling, and the several-systems
report and CLI."""

import json

import numpy as np
import pytest
from scipy.stats import binomtest, norm

from fasfast.analysis import (
    ScoreSet,
    align,
    delong,
    mcnemar,
    paired_bootstrap,
    paired_bootstrap_acer,
    paired_tests,
    write_scores,
)
from fasfast.cli import main


def _psi(x, y):
    return (x > y) + 0.5 * (x == y)


def _delong_brute(a, b, y):
    """DeLong 1988 straight from the definitions: psi over every (live, attack) pair."""
    out = []
    for s in (a, b):
        live, att = s[y == 1], s[y == 0]
        p = _psi(live[:, None], att[None, :]).astype(float)
        out.append((p.mean(axis=1), p.mean(axis=0), p.mean()))
    (v10a, v01a, auc_a), (v10b, v01b, auc_b) = out
    n, m = v10a.size, v01a.size

    def cov(u, v):
        return ((u - u.mean()) * (v - v.mean())).sum() / (u.size - 1)

    var = (cov(v10a, v10a) + cov(v10b, v10b) - 2 * cov(v10a, v10b)) / n + (
        cov(v01a, v01a) + cov(v01b, v01b) - 2 * cov(v01a, v01b)
    ) / m
    return auc_a, auc_b, var


@pytest.mark.parametrize("ties", [False, True])
def test_delong_vs_brute_force(ties):
    rng = np.random.default_rng(3 + ties)
    for _ in range(15):
        n, m = (int(v) for v in rng.integers(3, 40, 2))
        y = np.r_[np.ones(n, int), np.zeros(m, int)]
        truth = np.r_[rng.normal(0.6, 0.2, n), rng.normal(0.4, 0.2, m)]
        a = truth + rng.normal(0, 0.1, n + m)
        b = truth + rng.normal(0, 0.2, n + m)
        if ties:
            a, b = np.round(a * 8) / 8, np.round(b * 8) / 8
        got = delong(a, b, y)
        auc_a, auc_b, var = _delong_brute(a, b, y)
        assert got["auc_a"] == pytest.approx(auc_a, abs=1e-13)
        assert got["auc_b"] == pytest.approx(auc_b, abs=1e-13)
        assert got["se"] == pytest.approx(np.sqrt(var), rel=1e-9, abs=1e-15)
        if var > 0:
            z = (auc_a - auc_b) / np.sqrt(var)
            assert got["z"] == pytest.approx(z, rel=1e-9)
            assert got["pvalue"] == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9)
            lo, hi = got["interval"]
            assert lo == pytest.approx(auc_a - auc_b - norm.ppf(0.975) * np.sqrt(var), rel=1e-9)
            assert hi > lo


def test_delong_higher_is_attack_and_identical_systems(rng):
    y = np.r_[np.ones(30, int), np.zeros(25, int)]
    a = np.r_[rng.normal(0.7, 0.2, 30), rng.normal(0.4, 0.2, 25)]
    b = a + rng.normal(0, 0.1, 55)
    d1 = delong(a, b, y)
    d2 = delong(-a, -b, y, higher_is_live=False)
    assert d1["difference"] == pytest.approx(d2["difference"]) and d1["se"] == pytest.approx(
        d2["se"]
    )
    same = delong(a, a, y)
    assert same["difference"] == 0 and same["pvalue"] == 1.0


def test_mcnemar_vs_binomtest(rng):
    for _ in range(30):
        n = int(rng.integers(5, 80))
        y = (rng.random(n) < 0.5).astype(int)
        a, b = rng.random(n), rng.random(n)
        ta, tb = rng.random(), rng.random()
        got = mcnemar(a, b, y, ta, tb)
        ea = np.where(y == 1, a < ta, a >= ta)
        eb = np.where(y == 1, b < tb, b >= tb)
        bb, cc = int((ea & ~eb).sum()), int((~ea & eb).sum())
        assert (got["b"], got["c"]) == (bb, cc)
        want = binomtest(bb, bb + cc, 0.5).pvalue if bb + cc else 1.0
        assert got["pvalue"] == pytest.approx(want, rel=1e-12)
        live = got["per_class"]["bona fide"]
        bl = int((ea & ~eb & (y == 1)).sum())
        cl = int((~ea & eb & (y == 1)).sum())
        assert (live["b"], live["c"]) == (bl, cl)
        if bl + cl:
            assert live["pvalue"] == pytest.approx(binomtest(bl, bl + cl, 0.5).pvalue)


def test_paired_bootstrap_matches_direct_resampling(rng):
    n, m = 60, 80
    y = np.r_[np.ones(n, int), np.zeros(m, int)]
    types = np.r_[np.full(n, "live"), np.where(np.arange(m) % 2, "print", "replay")]
    truth = np.r_[rng.normal(0.6, 0.2, n), rng.normal(0.4, 0.2, m)]
    a = truth + rng.normal(0, 0.1, n + m)
    b = truth + rng.normal(0, 0.15, n + m)
    ta, tb = 0.5, 0.52
    res = paired_bootstrap_acer(a, b, y, ta, tb, attack_types=types, reps=4000, seed=1)

    def acer(s, t, idx):
        yy, ss, tt = y[idx], s[idx], types[idx]
        bp = (ss[yy == 1] < t).mean()
        ap = max((ss[tt == k] >= t).mean() for k in ("print", "replay"))
        return (ap + bp) / 2

    full = np.arange(n + m)
    assert res["acer_a"] == pytest.approx(acer(a, ta, full))
    assert res["difference"] == pytest.approx(acer(a, ta, full) - acer(b, tb, full))
    # direct stratified resampling of presentations: the same distribution of the difference
    r2 = np.random.default_rng(9)
    strata = [np.flatnonzero(types == k) for k in ("live", "print", "replay")]
    d = []
    for _ in range(4000):
        idx = np.concatenate([r2.choice(s, s.size) for s in strata])
        d.append(acer(a, ta, idx) - acer(b, tb, idx))
    lo, hi = res["interval"]
    assert lo == pytest.approx(np.quantile(d, 0.025), abs=0.012)
    assert hi == pytest.approx(np.quantile(d, 0.975), abs=0.012)
    same = paired_bootstrap_acer(a, a, y, ta, ta, attack_types=types, reps=200)
    assert same["difference"] == 0 and same["interval"] == (0.0, 0.0) and same["pvalue"] == 1.0


def test_align_and_paired_tests_on_scoresets(rng):
    n = 90
    lab = (np.arange(n) < 40).astype(int)
    types = np.where(lab == 1, "live", np.where(np.arange(n) % 2, "print", "replay"))
    truth = np.where(lab == 1, rng.normal(0.65, 0.15, n), rng.normal(0.4, 0.15, n))
    ids = np.array([f"s{i}" for i in range(n)])
    a = ScoreSet(ids, lab, truth + rng.normal(0, 0.05, n), types)
    perm = rng.permutation(n)[:80]  # B scored a shuffled subset
    bsc = truth + rng.normal(0, 0.1, n)
    bsc[perm[0]] = np.nan  # a non-response in B: left out of the paired tests
    b = ScoreSet(ids[perm], lab[perm], bsc[perm], types[perm])
    ia, ib = align(a.ids, b.ids)
    assert (a.ids[ia] == b.ids[ib]).all() and ia.size == 80
    res = paired_tests(a, b, 0.5, 0.5, reps=300)
    assert res["n_paired"] == 80 and res["n_responses"] == 79
    sa, sb = a.scores[ia], b.scores[ib]
    ok = ~np.isnan(sb)
    want = delong(sa[ok], sb[ok], a.labels[ia][ok])
    assert res["delong"]["difference"] == want["difference"]
    with pytest.raises(ValueError, match="repeats id"):
        align(["x", "x"], ["x"])
    with pytest.raises(ValueError, match="share no sample id"):
        align(["x"], ["y"])


def _system(rng, noise, shift=0.0, n=120):
    lab = (np.arange(n) < 50).astype(int)
    types = np.where(lab == 1, "live", np.where(np.arange(n) % 2, "print", "replay"))
    base = np.where(lab == 1, 0.7, 0.35) + shift
    s = base + rng.normal(0, noise, n)
    return ScoreSet([f"v{i}" for i in range(n)], lab, s, types)


def test_cli_several_systems(tmp_path, rng, capsys):
    files = {}
    for name, noise in (("A", 0.1), ("B", 0.2)):
        for split, shift in (("dev", 0.0), ("test", 0.03)):
            files[name, split] = write_scores(
                tmp_path / f"{name}_{split}.csv", _system(rng, noise, shift)
            )
    out = tmp_path / "cmp"
    rc = main(
        [
            "analyze",
            str(files["A", "test"]),
            str(files["B", "test"]),
            "--select-on",
            str(files["A", "dev"]),
            str(files["B", "dev"]),
            "--names",
            "resnet",
            "vit",
            "--out",
            str(out),
            "--bootstrap",
            "100",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "== resnet" in text and "== vit" in text and "paired resnet vs vit" in text
    rep = json.loads((out / "report.json").read_text())
    assert [s["name"] for s in rep["systems"]] == ["resnet", "vit"]
    assert len(rep["comparison"]) == 4  # 2 systems x (dev, test)
    p = rep["paired"][0]
    assert p["split"] == "apply_to" and p["n_paired"] == 120
    assert {"mcnemar", "delong", "acer_difference"} <= set(p)
    plots = rep["plots"]
    assert "roc_det_systems" in plots and "domain_grid_systems" in plots
    assert (out / plots["domain_grid_systems"][0]).is_file()
    html = (out / "report.html").read_text()
    assert "Paired tests" in html and "Comparison" in html
    bad = main(
        [
            "analyze",
            str(files["A", "test"]),
            str(files["B", "test"]),
            "--names",
            "x",
            "--out",
            str(tmp_path / "o"),
            "--no-plots",
        ]
    )
    assert bad == 2 and "--names takes one value per SCORES file (2), got 1" in (
        capsys.readouterr().err
    )


def test_per_presentation_thresholds_pool_models(rng):
    """Two models' scores of the same presentations pooled into one test, each at its own
    threshold, give what the scores shifted by their threshold give at threshold 0."""
    n, m = 40, 70
    y = np.r_[np.ones(n, int), np.zeros(m, int)]
    types = np.r_[np.full(n, "live"), np.where(np.arange(m) % 3, "print", "replay")]
    videos = np.array([f"v{i // 2}" for i in range(n + m)])
    seeds = [
        (rng.normal(0.6, 0.2, n + m), rng.normal(0.55, 0.2, n + m), 0.45, 0.5),
        (rng.normal(0.7, 0.2, n + m), rng.normal(0.5, 0.2, n + m), 0.62, 0.41),
    ]
    a = np.concatenate([s[0] for s in seeds])
    b = np.concatenate([s[1] for s in seeds])
    ta = np.concatenate([np.full(n + m, s[2]) for s in seeds])
    tb = np.concatenate([np.full(n + m, s[3]) for s in seeds])
    yy, tt, vv = np.tile(y, 2), np.tile(types, 2), np.tile(videos, 2)
    got = paired_bootstrap_acer(
        a,
        b,
        yy,
        ta,
        tb,
        attack_types=tt,
        units=vv,
        apcer="pooled",
        reps=300,
        seed=4,
        return_draws=True,
    )
    ref = paired_bootstrap_acer(
        a - ta,
        b - tb,
        yy,
        0.0,
        0.0,
        attack_types=tt,
        units=vv,
        apcer="pooled",
        reps=300,
        seed=4,
        return_draws=True,
    )
    assert got["difference"] == ref["difference"] and got["interval"] == ref["interval"]
    np.testing.assert_array_equal(got["draws"]["acer_a"], ref["draws"]["acer_a"])
    # pooled APCER over equal-sized seeds: the pooled ACER is the mean of the seeds' ACERs
    per_seed = [((s[0][y == 0] >= s[2]).mean() + (s[0][y == 1] < s[2]).mean()) / 2 for s in seeds]
    assert got["acer_a"] == pytest.approx(np.mean(per_seed))
    d = got["draws"]["acer_a"] - got["draws"]["acer_b"]
    assert np.quantile(d, 0.025) == pytest.approx(got["interval"][0])
    mc = mcnemar(a, b, yy, ta, tb)
    ea = np.where(yy == 1, a < ta, a >= ta)
    eb = np.where(yy == 1, b < tb, b >= tb)
    assert (mc["b"], mc["c"]) == (int((ea & ~eb).sum()), int((~ea & eb).sum()))
    with pytest.raises(ValueError, match="3 thresholds"):
        mcnemar(a, b, yy, ta[:3], 0.5)


def test_paired_bootstrap_statistic_matches_the_acer_bootstrap(rng):
    n, m = 60, 80
    y = np.r_[np.ones(n, int), np.zeros(m, int)]
    types = np.r_[np.full(n, "live"), np.where(np.arange(m) % 2, "print", "replay")]
    truth = np.r_[rng.normal(0.6, 0.2, n), rng.normal(0.4, 0.2, m)]
    a = truth + rng.normal(0, 0.1, n + m)
    b = truth + rng.normal(0, 0.15, n + m)
    ta, tb = 0.5, 0.52

    def acer(s, t, idx):
        yy, ss, tt = y[idx], s[idx], types[idx]
        bp = (ss[yy == 1] < t).mean()
        ap = max((ss[tt == k] >= t).mean() for k in ("print", "replay"))
        return (ap + bp) / 2

    def diff(idx):
        return acer(a, ta, idx) - acer(b, tb, idx)

    got = paired_bootstrap(diff, types, reps=4000, seed=2)
    ref = paired_bootstrap_acer(a, b, y, ta, tb, attack_types=types, reps=4000, seed=1)
    assert got["difference"] == pytest.approx(ref["difference"])
    assert got["interval"][0] == pytest.approx(ref["interval"][0], abs=0.012)
    assert got["interval"][1] == pytest.approx(ref["interval"][1], abs=0.012)
    assert got["pvalue"] == pytest.approx(ref["pvalue"], abs=0.05)
    # one row per unit: the same draws as no units
    one = paired_bootstrap(diff, types, units=np.arange(n + m), reps=50, seed=3)
    assert one == dict(paired_bootstrap(diff, types, reps=50, seed=3), resampling=one["resampling"])
    with pytest.raises(ValueError, match="length mismatch"):
        paired_bootstrap(diff, types, units=np.arange(3))


def test_paired_bootstrap_resamples_whole_units_within_strata():
    strata = np.repeat(["live", "attack"], 12)
    units = np.repeat(np.arange(8), 3)  # 4 units of 3 rows per stratum
    seen = []

    def record(idx):
        seen.append(idx.copy())
        return float(idx.size)

    res = paired_bootstrap(record, strata, units=units, reps=40, seed=0)
    assert res["difference"] == 24 and res["interval"] == (24.0, 24.0)
    for idx in seen[:-1]:
        assert idx.size == 24 and (strata[idx] == "live").sum() == 12
        u, c = np.unique(units[idx], return_counts=True)
        assert (c % 3 == 0).all()  # every drawn unit comes with all of its rows
        for k in u:
            rows = idx[units[idx] == k]
            assert set(rows) == set(np.flatnonzero(units == k))
    assert any(len(np.unique(units[i])) < 8 for i in seen[:-1])  # it does resample


def test_paired_bootstrap_vector_statistic_is_each_component(rng):
    strata = np.repeat(["live", "print", "replay"], [20, 15, 15])
    x = rng.normal(0, 1, 50)
    units = np.arange(50) // 2

    def both(idx):
        return np.array([x[idx].mean(), np.median(x[idx])])

    vec = paired_bootstrap(both, strata, units, reps=300, seed=7)
    for k, f in enumerate((np.mean, np.median)):
        one = paired_bootstrap(lambda idx, f=f: f(x[idx]), strata, units, reps=300, seed=7)
        assert vec["difference"][k] == one["difference"]
        assert vec["interval"][k] == one["interval"] and vec["pvalue"][k] == one["pvalue"]
