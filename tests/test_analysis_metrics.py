"""ISO metrics, ROC/DET/EER/AUC against sklearn, the threshold table and aggregation."""

from fractions import Fraction

import numpy as np
import pytest
from sklearn import metrics as skm

from fasfast.analysis import (
    ScoreSet,
    aggregate,
    analyze,
    auc,
    det_curve,
    eer,
    format_table,
    pad_metrics,
    roc_curve,
    select_thresholds,
    threshold_table,
)


def _data(rng, n=300, m=250, ties=False):
    live = rng.normal(0.65, 0.15, n)
    attack = rng.normal(0.4, 0.15, m)
    if ties:
        live, attack = np.round(live * 20) / 20, np.round(attack * 20) / 20
    return live, attack


@pytest.mark.parametrize("ties", [False, True])
def test_roc_auc_vs_sklearn(rng, ties):
    live, attack = _data(rng, ties=ties)
    y = np.r_[np.ones(live.size), np.zeros(attack.size)]
    s = np.r_[live, attack]
    fpr, tpr, thr = roc_curve(live, attack)
    f2, t2, th2 = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_array_equal(thr, th2)
    np.testing.assert_allclose(fpr, f2, rtol=0, atol=1e-15)
    np.testing.assert_allclose(tpr, t2, rtol=0, atol=1e-15)
    assert auc(live, attack) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    a, b, th3 = det_curve(live, attack)
    np.testing.assert_array_equal(th3, thr)
    np.testing.assert_allclose(a, fpr, atol=1e-15)
    np.testing.assert_allclose(b, 1 - tpr, atol=1e-15)


@pytest.mark.parametrize("seed", range(6))
def test_eer_vs_sklearn(seed):
    r = np.random.default_rng(seed)
    n, m = int(r.integers(5, 400)), int(r.integers(5, 400))
    live, attack = r.normal(0.6, 0.2, n), r.normal(0.4, 0.2, m)
    y = np.r_[np.ones(n), np.zeros(m)]
    fpr, tpr, _ = skm.roc_curve(y, np.r_[live, attack], drop_intermediate=False)
    fnr = 1 - tpr
    i = np.argmin(np.abs(fnr - fpr))
    sk_eer = (fpr[i] + fnr[i]) / 2
    assert abs(eer(live, attack) - sk_eer) <= max(1 / n, 1 / m) + 1e-12


def test_pad_metrics_hand_computed():
    scores = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.6, 0.55, 0.1])
    is_live = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    types = np.array(["live"] * 3 + ["print", "print", "replay", "replay", "replay"])
    m = pad_metrics(scores, is_live, 0.6, attack_type=types)
    # live rejected: 0.3 -> BPCER 1/3; print accepted: 0.7 -> 1/2; replay accepted: 0.6 -> 1/3
    assert m.bpcer == 1 / 3
    assert m.apcer_per_type == {"print": 0.5, "replay": 1 / 3}
    # ACER and HTER are the correctly rounded exact values (5/12 and 11/30)
    assert m.apcer == 0.5 and m.acer == float(Fraction(5, 12)) and m.worst_type == "print"
    assert m.fpr == 2 / 5 and m.tpr == 1 - 1 / 3 and m.hter == float(Fraction(11, 30))
    assert m.apcer_pooled == 2 / 5 and m.apcer_max == 0.5
    pooled = pad_metrics(scores, is_live, 0.6, attack_type=types, apcer="pooled")
    assert pooled.apcer == 2 / 5 and pooled.acer == m.hter
    assert m.counts["accepted_per_type"] == {"print": 1, "replay": 1}
    assert m.counts["live_rejected"] == 1
    flipped = pad_metrics(-scores, is_live, -0.6, attack_type=types, higher_is_live=False)
    assert flipped.apcer_per_type == m.apcer_per_type and flipped.bpcer == m.bpcer


def test_pad_metrics_bad_input():
    with pytest.raises(ValueError, match="length mismatch"):
        pad_metrics([0.1, 0.2], [1], 0.5)
    with pytest.raises(ValueError, match="only one class"):
        pad_metrics([0.1, 0.2], [1, 1], 0.5)
    with pytest.raises(ValueError, match="only one class present"):
        pad_metrics([0.1, np.nan], [1, 0], 0.5)  # the attack is a non-response
    with pytest.raises(ValueError, match="threshold is NaN"):
        pad_metrics([0.1, 0.2], [1, 0], np.nan)
    with pytest.raises(ValueError, match="length mismatch.*attack_type"):
        pad_metrics([0.1, 0.2], [1, 0], 0.5, attack_type=["a"])


def test_analyze_consistent(rng):
    live, attack = _data(rng, ties=True)
    r = analyze(live, attack)
    th = select_thresholds(live, attack)
    assert r["thresholds"] == th
    y = np.r_[np.ones(live.size), np.zeros(attack.size)]
    for name, t in th.table_dict().items():
        pm = pad_metrics(np.r_[live, attack], y, t)
        assert r["metrics"][name].apcer == pm.apcer and r["metrics"][name].bpcer == pm.bpcer
    assert r["metrics"]["acer_right"].acer == pytest.approx(th.min_acer, abs=1e-15)
    for c in ("mean", "median", "weighted_balance"):
        assert r["cross"][c] == select_thresholds(live, attack, center=c).cross


def _scoreset(rng, shift=0.0):
    n = 200
    lab = (rng.random(n) < 0.4).astype(int)
    types = np.where(lab == 1, "live", rng.choice(["print", "replay"], n))
    s = np.where(lab == 1, rng.normal(0.7, 0.1, n), rng.normal(0.35, 0.12, n)) + shift
    return ScoreSet(np.arange(n), lab, s, types, np.arange(n) // 2)


def test_threshold_table(rng):
    dev, test = _scoreset(rng), _scoreset(rng, 0.05)
    rows = threshold_table(dev, test)
    # chosen under the ISO APCER (worst species), the one the table prints
    att = dev.labels == 0
    th = select_thresholds(dev.live, dev.attack, attack_types=dev.attack_types[att])
    by = {r["key"]: r for r in rows}
    for k, v in th.table_dict().items():
        assert by[k]["threshold"] == v
        ref = pad_metrics(test.scores, test.labels, v, attack_type=test.attack_types)
        assert by[k]["apply"].apcer_per_type == ref.apcer_per_type
        assert by[k]["apply"].acer == ref.acer and by[k]["apply"].fpr == ref.fpr
    assert {"bpcer20", "bpcer100", "tpr@fpr1e-3"} <= set(by)
    term = format_table(rows)
    lines = term.splitlines()
    assert len({len(x) for x in lines}) == 1  # aligned columns
    assert lines[0].startswith("Method") and "Balance point" in term
    md = format_table(rows, "markdown")
    assert md.count("\n") == len(rows) + 1 and md.startswith("| Method")
    with pytest.raises(ValueError, match="unknown table style"):
        format_table(rows, "latex")


def test_aggregate_vs_loop(rng):
    ids = rng.integers(0, 7, 60).astype(str)
    s = rng.random(60)
    for how, fn in (("mean", np.mean), ("median", np.median), ("min", np.min), ("max", np.max)):
        u, a = aggregate(s, ids, how)
        assert list(u) == sorted(set(ids))
        want = [fn(s[ids == k]) for k in u]
        np.testing.assert_allclose(a, want, rtol=1e-15)
    with pytest.raises(ValueError, match="unknown aggregation 'mode'"):
        aggregate(s, ids, "mode")
    with pytest.raises(ValueError, match="length mismatch"):
        aggregate(s, ids[:-1])


def test_scoreset_aggregate_by_video(rng):
    vid_label = (rng.random(50) < 0.5).astype(int)
    videos = np.repeat(np.arange(50), 3)
    s = rng.random(150)
    ss = ScoreSet(np.arange(150), vid_label[videos], s, None, videos)
    v = ss.aggregate("median")
    assert len(v) == 50
    k = int(v.ids[3])
    assert v.scores[3] == np.median(s[videos == k]) and v.labels[3] == vid_label[k]
    assert v.attack_types[3] == ("live" if vid_label[k] else "attack")
    with pytest.raises(ValueError, match="different labels"):
        ScoreSet(["a", "b"], [1, 0], [0.1, 0.2], videos=["v", "v"]).aggregate()


def test_scoreset_validation():
    with pytest.raises(ValueError, match="length mismatch: 2 scores but 1 labels"):
        ScoreSet(["a", "b"], [1], [0.1, 0.2])
    with pytest.raises(ValueError, match="labels must be 1"):
        ScoreSet(["a"], [2], [0.1])
    with pytest.raises(ValueError, match="only one class"):
        ScoreSet(["a"], [1], [0.1]).check_two_classes()
