"""``fasfast reproduce`` end to end (tiny budget), its pieces, and the explain / magnify CLIs."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest

from fasfast.cli import main
from fasfast.reproduce.report import get_budget, md_table

TYPES = {"live", "print", "replay", "digital"}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from fasfast.data.synth import generate

    b = get_budget("tiny")
    root = tmp_path_factory.mktemp("synth") / "data"
    generate(
        root, subjects=b.subjects, seconds=b.seconds, fps=b.fps, size=b.synth_size, progress=False
    )
    return root


@pytest.fixture(scope="module")
def thresholds_run(data_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("thr")
    out, work = base / "out", base / "work"
    rc = main(
        [
            "reproduce",
            "thresholds",
            "--tiny",
            "--data",
            str(data_root),
            "--out",
            str(out),
            "--work",
            str(work),
            "--no-progress",
        ]
    )
    assert rc == 0
    return out, work


def _png_ok(path):
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert float(img[..., :3].std()) > 0.01  # not a blank canvas


def _tables(md: str) -> list[list[list[str]]]:
    """Markdown tables of a report -> list of rows of cells (header included)."""
    tables, cur = [], []
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                cur.append(cells)
        elif cur:
            tables.append(cur)
            cur = []
    if cur:
        tables.append(cur)
    for t in tables:
        assert len({len(r) for r in t}) == 1, t  # well-formed: every row as wide as the header
    return tables


def _check_claims(md: str, res: dict) -> None:
    """The report's claims table and results.json: per claim the difference, the interval,
    the test and a verdict that follows the rule; a smoke budget says it decides nothing."""
    from fasfast.reproduce.verdicts import MIN_UNITS, verdict

    assert "Verdict rule" in md and "decides nothing" in md
    table = next(t for t in _tables(md) if t[0][0] == "Claim")
    col = table[0].index("Verdict")
    assert table[0][col - 2 : col + 1] == ["Difference [95% CI]", "Test", "Verdict"]
    verdicts = [r[col].strip("*") for r in table[1:]]
    assert set(verdicts) <= {"agrees", "disagrees", "inconclusive"}
    assert verdicts == [c["verdict"] for c in res["claims"]]
    for c in res["claims"]:
        assert {"difference", "interval", "test", "verdict"} <= set(c)
        for cmp in c["comparisons"]:
            lo, hi = (float(v) for v in cmp["interval"])
            few = cmp["min_units"] is not None and cmp["min_units"] < MIN_UNITS
            expected = "inconclusive" if few else verdict((lo, hi), cmp["direction"])
            assert cmp["verdict"] == expected
            assert math.isnan(lo) or lo <= hi


# --------------------------------------------------------------------------- end to end
def test_ablation_tiny_end_to_end(data_root, tmp_path):
    out = tmp_path / "ablation"
    rc = main(
        [
            "reproduce",
            "ablation",
            "--tiny",
            "--data",
            str(data_root),
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
            "--presets",
            "C4,baseline",
            "--no-progress",
        ]
    )
    assert rc == 0
    md = (out / "REPORT.md").read_text()
    assert "Table I" in md and "![curves](curves.png)" in md and "Agreement with the paper" in md
    tables = _tables(md)
    table1 = next(t for t in tables if t[0][0] == "Tag")
    assert [r[0] for r in table1[1:]] == ["Compare 4", "Baseline"]
    for r in table1[1:]:
        dev, test = float(r[4]), float(r[5])
        assert 0 <= dev <= 100 and 0 <= test <= 100
    _check_claims(md, json.loads((out / "results.json").read_text()))
    _png_ok(out / "curves.png")
    res = json.loads((out / "results.json").read_text())
    assert set(res["results"]) == {"C4", "baseline"}
    fcam = next(c for c in res["claims"] if c["claim"].startswith("FCAM"))
    cmp = fcam["comparisons"][0]
    assert cmp["a"] == "baseline" and cmp["b"] == "C4" and cmp["direction"] == "< 0"
    assert fcam["difference"] == pytest.approx(cmp["acer_a"] - cmp["acer_b"])
    for v in res["results"].values():
        assert 0 <= v["test_acer"] <= 1 and len(v["best_epoch"]) == 1
    assert (out / "table1.md").read_text().startswith("| Tag |")


def test_augmentation_tiny_end_to_end(data_root, tmp_path):
    out = tmp_path / "aug"
    rc = main(
        [
            "reproduce",
            "augmentation",
            "--tiny",
            "--data",
            str(data_root),
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
            "--protocols",
            "p2.2",
            "--variants",
            "orig,extend",
            "--no-progress",
        ]
    )
    assert rc == 0
    md = (out / "REPORT.md").read_text()
    tables = _tables(md)
    rnd = [t for t in tables if t[0][:5] == ["Class", "Variant", "Radius", "Normalize", "Density"]]
    assert len(rnd) == 2  # train and test of p2.2
    for t in rnd:
        assert {r[0] for r in t[1:]} == {
            "Live Face",
            "All Fake Face",
            "Phys Fake Face",
            "Adv/Digital Fake Face",
        }
        for r in t[1:]:
            radius, density = float(r[2]), float(r[4])
            assert radius >= 0 and density >= 0
    res = json.loads((out / "results.json").read_text())
    st = res["stats"]["p2.2 orig"]["train"]
    # the radius / density in the report follow the analysis definitions of the saved stats
    assert st["Live Face"]["n"] > 0 and st["Adv/Digital Fake Face"]["n"] > 0
    claims = {c["claim"]: c["verdict"] for c in res["claims"]}
    assert claims["Down-sampling widens the data domain (larger Radius)"] == "inconclusive"
    _check_claims(md, res)
    _png_ok(out / "table1_grid.png")
    _png_ok(out / "table2_grid.png")


def test_augmentation_generates_its_own_data_with_recapture(tmp_path):
    """Without --data the study generates its synthetic set; ``--recapture`` (the budget's
    cls_recapture) reaches the generator and the report's data line, and the other studies'
    budgets are left without it."""
    out, work = tmp_path / "aug", tmp_path / "work"
    args = ["reproduce", "augmentation", "--tiny", "--out", str(out), "--work", str(work)]
    args += ["--protocols", "p2.2", "--variants", "orig", "--no-progress", "--seeds", "1"]
    assert main([*args, "--recapture", "1.5"]) == 0
    assert json.loads((work / "data" / "synth.json").read_text())["recapture"] == 1.5
    assert "media detail loss 1.5 (`fasfast synth --recapture`)" in (out / "REPORT.md").read_text()
    assert get_budget("tiny").recapture == 0.0


def test_thresholds_tiny_end_to_end(thresholds_run):
    from fasfast.analysis import read_scores

    out, _ = thresholds_run
    md = (out / "REPORT.md").read_text()
    table = next(t for t in _tables(md) if t[0][0] == "Method")
    assert [r[0] for r in table[1:]] == [
        "Fake border",
        "Live border",
        "Cross point",
        "Balance point",
        "ACER point",
        "Acer-left point",
        "Acer-right point",
    ]
    _png_ok(out / "fig7.png")
    train = read_scores(out / "scores_train.csv")
    dev = read_scores(out / "scores_dev.csv")
    res = json.loads((out / "results.json").read_text())
    _check_claims(md, res)
    th = res["thresholds"]
    assert th["fake_border"] == pytest.approx(train.attack.max())
    assert th["live_border"] == pytest.approx(train.live.min())
    for row in res["rows"]:  # brute-force rates at every threshold
        t = float(row["threshold"])  # "inf" / "-inf" are strings in JSON
        for ss, name in ((train, "train"), (dev, "dev")):
            fpr = np.mean(ss.attack >= t)
            tpr = np.mean(ss.live >= t)
            assert row[name]["fpr"] == pytest.approx(fpr)
            assert row[name]["tpr"] == pytest.approx(tpr)
            assert row[name]["acer"] == pytest.approx((fpr + 1 - tpr) / 2)


def test_thresholds_with_given_checkpoint(thresholds_run, data_root, tmp_path):
    _, work = thresholds_run
    ckpt = work / "model_seed0" / "best.pt"
    rc = main(
        [
            "reproduce",
            "thresholds",
            "--tiny",
            "--checkpoint",
            str(ckpt),
            "--data",
            str(data_root),
            "--out",
            str(tmp_path / "o"),
            "--level",
            "video",
            "--no-progress",
        ]
    )
    assert rc == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["level"] == "video" and res["checkpoint"] == str(ckpt)


def test_explain_cli_writes_overlays(thresholds_run, data_root, tmp_path):
    import cv2

    _, work = thresholds_run
    ckpt = work / "model_seed0" / "best.pt"
    video = sorted((data_root / "Test_files").glob("*_1.avi"))[0]
    out = tmp_path / "explain"
    rc = main(["explain", str(ckpt), str(video), "--out", str(out), "--compare", str(ckpt)])
    assert rc == 0
    _png_ok(out / "gradcam.png")
    pngs = sorted((out / "model0").rglob("*.png"))
    assert len(pngs) == 4 * 5  # 4 frames x (4 layers + predicted map)
    size = get_budget("tiny").image_size
    assert cv2.imread(str(pngs[0])).shape == (size, size, 3)
    summary = json.loads((out / "gradcam.json").read_text())
    s0, s1 = summary["models"][0]["scores"], summary["models"][1]["scores"]
    assert s0 == pytest.approx(s1) and 0 <= s0[0] <= 1


def test_magnify_cli(tmp_path):
    from fasfast.diagnostics.video import read_video, write_video

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:64]
    frames = []
    for t in range(20):
        d = 0.3 * np.sin(2 * np.pi * 1.0 * t / 15)
        img = 128 + 60 * np.sin(2 * np.pi * (x - d) / 16) + rng.normal(0, 1, x.shape)
        frames.append(np.repeat(np.clip(img, 0, 255)[..., None], 3, -1).astype(np.uint8))
    src = write_video(tmp_path / "in.avi", np.stack(frames), 15)
    rc = main(
        [
            "magnify",
            str(src),
            "--out",
            str(tmp_path / "out.avi"),
            "--alpha",
            "20",
            "--side-by-side",
            str(tmp_path / "sbs.avi"),
        ]
    )
    assert rc == 0
    out, fps = read_video(tmp_path / "out.avi")
    assert out.shape == (20, 48, 64, 3) and fps == pytest.approx(15)
    sbs, _ = read_video(tmp_path / "sbs.avi")
    assert sbs.shape == (20, 48, 128, 3)
    inp, _ = read_video(src)
    assert np.abs(out.astype(float) - inp).mean() > 0.5  # something was amplified
    assert main(["magnify", str(tmp_path / "missing.avi"), "--out", str(tmp_path / "x.avi")]) == 2


def test_magnify_a_truncated_video_reads_its_decodable_frames_only(tmp_path, capsys):
    """A video cut short: read_video (what magnify reads) gives the decodable frames, the
    same as the uncut file's first ones, never the repeated last frame past the end; one
    warning line says so, and magnify writes that many frames."""
    import shutil
    import warnings

    import cv2
    from _video_files import frame_number, truncate, write_numbered

    from fasfast.data.video import TruncatedVideoWarning, VideoReader
    from fasfast.diagnostics.video import read_video

    whole = write_numbered(tmp_path / "whole.avi", 30)
    cut = tmp_path / "cut.avi"
    shutil.copy(whole, cut)
    truncate(cut, 0.5)
    ref, _ = read_video(whole)
    with pytest.warns(TruncatedVideoWarning) as seen:
        got, _ = read_video(cut)
    cap = cv2.VideoCapture(str(cut))  # the decodable frames, counted by OpenCV itself
    decodable = 0
    while cap.read()[0]:
        decodable += 1
    cap.release()
    assert 0 < decodable < 30 and len(got) == decodable
    assert [frame_number(f) for f in got] == list(range(decodable))
    np.testing.assert_array_equal(got, ref[:decodable])
    (line,) = [str(w.message) for w in seen]
    assert line == (
        f"{cut}: truncated video: the header promises 30 frames, {decodable} are "
        "decodable; only those are read"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedVideoWarning)
        assert main(["magnify", str(cut), "--out", str(tmp_path / "m.avi")]) == 0
    assert f"wrote {tmp_path / 'm.avi'} ({decodable} frames" in capsys.readouterr().out
    assert VideoReader(tmp_path / "m.avi").num_frames == decodable


# --------------------------------------------------------------------------- pieces
def test_write_lists_cross_domain_protocols(data_root, tmp_path):
    from fasfast.data import path_label_list
    from fasfast.reproduce.augmentation import write_lists

    write_lists(data_root, tmp_path)
    want = {
        ("p2.1", "train"): {"live", "digital"},
        ("p2.1", "dev"): {"live", "digital"},
        ("p2.1", "test"): {"live", "print", "replay"},
        ("p2.2", "train"): {"live", "print", "replay"},
        ("p2.2", "dev"): {"live", "print", "replay"},
        ("p2.2", "test"): {"live", "digital"},
        ("all", "test"): TYPES,
    }
    for (proto, split), types in want.items():
        samples = path_label_list(tmp_path / f"{proto}_{split}.txt", split=split)
        assert {s.attack_type for s in samples} == types, (proto, split)
        assert all((s.label == 1) == (s.attack_type == "live") for s in samples)
    capped = tmp_path / "capped"
    counts = write_lists(data_root, capped, per_type=1)
    assert all(n == 1 for n in counts["all_train"].values())


def test_threshold_transfer_against_brute_force(rng):
    from fasfast.analysis import ScoreSet
    from fasfast.reproduce.thresholds import threshold_transfer

    def ss(n_live, n_att, mu_l, mu_a):
        s = np.concatenate([rng.normal(mu_l, 0.1, n_live), rng.normal(mu_a, 0.1, n_att)])
        lab = np.r_[np.ones(n_live, int), np.zeros(n_att, int)]
        return ScoreSet(np.arange(s.size).astype(str), lab, s)

    train, dev = ss(40, 60, 0.8, 0.2), ss(30, 50, 0.7, 0.3)
    th, rows = threshold_transfer(train, dev)
    # issue 16: the fake border is applied just above the largest attack score (it must
    # reject the attack it is taken from under "score >= t")
    assert th["fake_border"] == np.nextafter(train.attack.max(), np.inf)
    assert th["live_border"] == train.live.min()
    for r in rows:
        fpr = (dev.attack >= r["threshold"]).mean()
        assert r["dev"]["fpr"] == pytest.approx(fpr)
    with pytest.raises(ValueError, match="only one class"):
        threshold_transfer(train.subset(train.labels == 1), dev)


def test_kendall_tau_matches_scipy():
    from scipy.stats import kendalltau

    from fasfast.reproduce.ablation import PAPER_LATE_ORDER, _kendall_tau

    ours = ["C1", "C2", "C4", "baseline", "C3", "C5"]
    ref = kendalltau([ours.index(p) for p in PAPER_LATE_ORDER], range(6)).statistic
    assert _kendall_tau(ours, list(PAPER_LATE_ORDER)) == pytest.approx(ref)
    assert _kendall_tau(list(PAPER_LATE_ORDER), list(PAPER_LATE_ORDER)) == 1.0


# ------------------------------------------------------------------ the verdict rule
def test_verdict_rule_on_intervals():
    from fasfast.reproduce.verdicts import all_of, verdict

    assert verdict((-0.3, -0.1), "< 0") == "agrees"
    assert verdict((0.1, 0.3), "< 0") == "disagrees"
    assert verdict((-0.1, 0.2), "< 0") == "inconclusive"
    assert verdict((-0.2, 0.0), "< 0") == "inconclusive"  # touching zero does not exclude it
    assert verdict((0.0, 0.0), "< 0") == "inconclusive"
    assert verdict((0.1, 0.3), "> 0") == "agrees" and verdict((-0.3, -0.1), "> 0") == "disagrees"
    assert verdict((0.1, 0.3), "!= 0") == verdict((-0.3, -0.1), "!= 0") == "agrees"
    assert verdict((-0.3, 0.1), "!= 0") == "inconclusive"
    assert verdict((math.nan, math.nan)) == "inconclusive"
    assert all_of(["agrees", "agrees"]) == "agrees"
    assert all_of(["agrees", "inconclusive"]) == "inconclusive"
    assert all_of(["agrees", "disagrees", "inconclusive"]) == "disagrees"
    assert all_of([]) == "inconclusive"
    with pytest.raises(ValueError, match="direction"):
        verdict((0, 1), "<")


def test_min_units_makes_a_comparison_inconclusive():
    from fasfast.reproduce.verdicts import MIN_UNITS, Comparison, min_units

    def cmp(units, interval=(-0.3, -0.1)):
        return Comparison("a", "b", -0.2, interval, "paired bootstrap", min_units=units)

    assert cmp(MIN_UNITS).outcome == "agrees" and cmp(None).outcome == "agrees"
    assert cmp(MIN_UNITS - 1).outcome == "inconclusive"
    assert cmp(MIN_UNITS - 1).as_dict()["verdict"] == "inconclusive"
    assert cmp(MIN_UNITS, (0.1, 0.3)).outcome == "disagrees"
    assert cmp(1, (0.1, 0.3)).outcome == "inconclusive"
    # the fewest distinct units of any stratum, against a brute-force count
    strata = ["live"] * 5 + ["print"] * 6
    units = ["u1", "u1", "u2", "u3", "u4", "u1", "u2", "u2", "u5", "u5", "u5"]
    brute = min(len({u for u, s in zip(units, strata) if s == k}) for k in set(strata))
    assert min_units(strata, units) == brute == 3


def _video_set(rng, shift_live, shift_att, n_subjects=8, phones=2, noise=0.15):
    """Video-level ScoreSet of an OULU-NPU-shaped test split: per subject and phone one live,
    two print, two replay and one digital video (scores: live ~ 0.5 + shift_live)."""
    from fasfast.analysis import ScoreSet

    ids, labels, types, scores = [], [], [], []
    for u in range(1, n_subjects + 1):
        for ph in range(1, phones + 1):
            for f, t in (
                (1, "live"),
                (2, "print"),
                (3, "print"),
                (4, "replay"),
                (5, "replay"),
                (6, "digital"),
            ):
                ids.append(f"{ph}_3_{u:02d}_{f}")
                labels.append(int(t == "live"))
                types.append(t)
                mu = 0.5 + (shift_live if t == "live" else shift_att)
                scores.append(mu + rng.normal(0, noise))
    return ScoreSet(ids, labels, scores, types, videos=ids)


def _runs(rng, separation, seeds=3, dev_subjects=4, test_subjects=8):
    """Per seed the ``sets`` of one preset whose live / attack scores are ``separation``
    apart, at the midpoint threshold."""
    out = []
    for _ in range(seeds):
        test = _video_set(rng, separation / 2, -separation / 2, n_subjects=test_subjects)
        dev = _video_set(rng, separation / 2, -separation / 2, n_subjects=dev_subjects)
        out.append(
            {"test": test, "dev": dev, "threshold": 0.5, "last_dev": dev, "last_threshold": 0.5}
        )
    return out


def test_ablation_verdicts_on_constructed_scores(rng):
    """A clear effect agrees, a reversed one disagrees, noise (the same recipe) is
    inconclusive; the composite claims follow their comparisons."""
    from fasfast.reproduce.ablation import PRESETS, _claims, compare_presets

    good, bad = _runs(rng, 0.6), _runs(rng, 0.05)
    runs = {"baseline": good, "C4": bad, "C3": _runs(rng, 0.6), "C5": bad, "C1": bad, "C2": bad}
    test, late = compare_presets(runs, reps=500)
    assert test["C4"].outcome == "agrees" and test["C4"].interval[1] < 0
    assert test["C3"].outcome == "inconclusive"  # the same recipe: noise
    lo, hi = test["C3"].interval
    assert lo < 0 < hi
    rev = compare_presets({"baseline": bad, "C4": good}, reps=500)[0]
    assert rev["C4"].outcome == "disagrees" and rev["C4"].interval[0] > 0
    # a clear effect on too few test subjects: the bootstrap cannot show the spread
    few = compare_presets(
        {"baseline": _runs(rng, 0.6, test_subjects=3), "C4": _runs(rng, 0.05, test_subjects=3)},
        reps=200,
    )[0]["C4"]
    assert few.interval[1] < 0 and few.min_units == 3 and few.outcome == "inconclusive"
    c = test["C4"]
    assert c.min_units == 8
    assert c.difference == pytest.approx(c.extra["acer_a"] - c.extra["acer_b"])
    assert np.mean(c.per_seed) == pytest.approx(c.difference)  # equal-sized seeds pool to a mean
    assert len(c.extra["delong"]) == 3 and all(d["difference"] > 0 for d in c.extra["delong"])
    claims = {cl.claim: cl for cl in _claims(test, late)}
    assert claims["FCAM lowers the ACER (baseline vs C4)"].outcome == "agrees"
    assert claims["The residual pyramid lowers the ACER (baseline vs C3)"].outcome == "inconclusive"
    lowest = claims[
        "The baseline (location map + FCAM + residual pyramid) has the lowest test ACER"
    ]
    assert lowest.outcome == "inconclusive" and "vs C3" in lowest.shown  # C3 ties the baseline
    # the Fig. 7 order: C2 > C1 > C4 > C3 > C5 > baseline (late dev ACER ~45, 35, 25, 15, 8
    # and 2%) as constructed
    sep = dict(C2=0.03, C1=0.12, C4=0.21, C3=0.32, C5=0.43, baseline=0.65)
    ordered = {p: _runs(rng, sep[p], dev_subjects=40) for p in PRESETS}
    cl = _claims(*compare_presets(ordered, reps=300))[-1]
    assert cl.claim.startswith("Late-training") and cl.outcome == "agrees"
    assert len(cl.comparisons) == 5
    flipped = {p: ordered[q] for p, q in zip(PRESETS, reversed(PRESETS))}
    assert _claims(*compare_presets(flipped, reps=300))[-1].outcome == "disagrees"


def _split_set(rng, mu_live, mu_att, subjects, noise=0.1):
    from fasfast.analysis import ScoreSet

    ids, labels, types, scores, vids = [], [], [], [], []
    for u in subjects:
        for f, t in ((1, "live"), (2, "print"), (4, "replay"), (6, "digital")):
            for w in range(3):  # three windows per video
                vid = f"1_1_{u:02d}_{f}"
                ids.append(f"{vid}#{w}")
                vids.append(vid)
                labels.append(int(t == "live"))
                types.append(t)
                scores.append((mu_live if t == "live" else mu_att) + rng.normal(0, noise))
    return ScoreSet(ids, labels, scores, types, videos=vids)


def test_threshold_verdicts_on_constructed_scores(rng):
    from fasfast.reproduce.thresholds import compare_thresholds, threshold_transfer

    def seeds(dev_shift, train_gap=0.5, dev_gap=0.5):
        sets, thresholds_ = [], []
        for _ in range(3):
            train = _split_set(rng, 0.5 + train_gap / 2, 0.5 - train_gap / 2, range(1, 13))
            dev = _split_set(
                rng, 0.5 + dev_gap / 2 + dev_shift, 0.5 - dev_gap / 2 + dev_shift, range(13, 21)
            )
            sets.append({"train": train, "dev": dev})
            thresholds_.append(threshold_transfer(train, dev)[0])
        return sets, thresholds_

    # dev shifted far down: every train threshold rejects the dev live faces -> the ACER
    # point is clearly worse on dev than on train
    c = compare_thresholds(*seeds(-0.45), reps=300)["acer_drift"]
    assert c.outcome == "agrees" and c.interval[0] > 0
    # the same distribution: the drift is noise
    c = compare_thresholds(*seeds(0.0), reps=300)["acer_drift"]
    assert c.outcome == "inconclusive"
    assert c.interval[0] < 0 < c.interval[1]
    # reversed: train overlapping (ACER well above 0), dev separated -> dev is better
    c = compare_thresholds(*seeds(0.0, train_gap=0.1, dev_gap=0.9), reps=300)["acer_drift"]
    assert c.outcome == "disagrees" and c.interval[1] < 0
    # the same reversal seen on too few dev subjects: inconclusive whatever the interval
    sets, thresholds_ = seeds(0.0, train_gap=0.1, dev_gap=0.9)
    few = [
        dict(
            s,
            dev=s["dev"].subset(
                np.isin(
                    s["dev"].videos,
                    [v for v in s["dev"].videos if "_13_" in v or "_14_" in v or "_15_" in v],
                )
            ),
        )
        for s in sets
    ]
    c = compare_thresholds(few, thresholds_, reps=300)["acer_drift"]
    assert c.min_units == 3 and c.outcome == "inconclusive"


def test_augmentation_verdicts_on_constructed_scores(rng):
    """Radius claim: a 'down' model whose train scores spread twice as wide agrees, half as
    wide disagrees, the same spread is inconclusive."""
    from fasfast.reproduce.augmentation import _claims, compare_variants, off_one

    base = {split: _split_set(rng, 0.7, 0.3, range(1, 9)) for split in ("train", "dev", "test")}

    def model(spread):
        out = {}
        for split, ss in base.items():
            mu = np.where(ss.labels == 1, 0.7, 0.3)
            out[split] = dataclasses.replace(
                ss, scores=mu + spread * (ss.scores - mu) + rng.normal(0, 0.01, len(ss))
            )
        return out

    def verdicts(down_spread):
        scores = {}
        for p in ("p2.1", "p2.2"):
            scores[(p, "orig")] = [model(1.0) for _ in range(2)]
            scores[(p, "down")] = [model(down_spread) for _ in range(2)]
        cmp = compare_variants(scores, unit="subject", reps=200)
        return {cl.claim: cl.outcome for cl in _claims(cmp)}, cmp

    key = "Down-sampling widens the data domain (larger Radius)"
    got, cmp = verdicts(2.0)
    assert got[key] == "agrees"
    assert got["The down-sampled class itself gets a larger Radius"] == "agrees"
    assert len(cmp["domains"]["radius"].extra["cells"]) == 4
    assert verdicts(0.5)[0][key] == "disagrees"
    assert verdicts(1.0)[0][key] == "inconclusive"
    assert got["Gaussian blur makes the domains more cohesive (lower Density)"] == "inconclusive"
    assert (
        off_one(1.0) == 0
        and off_one(math.inf) == 1
        and off_one(3.0) == pytest.approx(off_one(1 / 3))
    )


def test_budgets_and_md_table():
    from fasfast.engine import TrainConfig

    assert get_budget("quick", epochs=3).epochs == 3
    for name in ("tiny", "quick", "standard", "full"):  # every budget's classifier is valid
        b = get_budget(name)
        TrainConfig(model=b.cls_model, image_size=b.cls_image_size).validate()
    with pytest.raises(ValueError, match="unknown budget"):
        get_budget("huge")
    with pytest.raises(ValueError, match="unknown budget field"):
        get_budget("tiny", nope=1)
    t = md_table(["a", "b"], [["x", 1.5], ["y|z", math.nan]])
    assert t.splitlines() == ["| a | b |", "|---|---:|", "| x | 1.50000 |", "| y\\|z | nan |"]


def test_cli_errors(tmp_path, capsys):
    assert main(["reproduce"]) == 2
    assert "choose an experiment" in capsys.readouterr().err
    assert main(["reproduce", "ablation", "--tiny", "--presets", "C9", "--out", str(tmp_path)]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert (
        main(["reproduce", "thresholds", "--tiny", "--checkpoint", "x.pt", "--out", str(tmp_path)])
        == 2
    )
    assert "needs --data" in capsys.readouterr().err
    assert (
        main(
            [
                "reproduce",
                "ablation",
                "--tiny",
                "--data",
                str(tmp_path / "nope"),
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "data root not found" in capsys.readouterr().err
    assert main(["reproduce", "ablation", "--tiny", "--threads", "-1", "--out", str(tmp_path)]) == 2
    assert "--threads must be >= 0" in capsys.readouterr().err
