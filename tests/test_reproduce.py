"""``fasfast reproduce`` end to end (tiny budget), its pieces, and the explain / magnify CLIs."""

from __future__ import annotations

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
    generate(root, subjects=b.subjects, seconds=b.seconds, fps=b.fps, size=b.synth_size,
             progress=False)
    return root


@pytest.fixture(scope="module")
def thresholds_run(data_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("thr")
    out, work = base / "out", base / "work"
    rc = main(["reproduce", "thresholds", "--tiny", "--data", str(data_root), "--out", str(out),
               "--work", str(work), "--no-progress"])
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


# --------------------------------------------------------------------------- end to end
def test_ablation_tiny_end_to_end(data_root, tmp_path):
    out = tmp_path / "abl"
    rc = main(["reproduce", "ablation", "--tiny", "--data", str(data_root), "--out", str(out),
               "--work", str(tmp_path / "work"), "--presets", "C4,baseline", "--no-progress"])
    assert rc == 0
    md = (out / "REPORT.md").read_text()
    assert "Table I" in md and "![curves](curves.png)" in md and "Agreement with the paper" in md
    tables = _tables(md)
    table1 = next(t for t in tables if t[0][0] == "Tag")
    assert [r[0] for r in table1[1:]] == ["Compare 4", "Baseline"]
    for r in table1[1:]:
        dev, test = float(r[4]), float(r[5])
        assert 0 <= dev <= 100 and 0 <= test <= 100
    claims = next(t for t in tables if t[0][0] == "Claim")
    assert {r[2].strip("*") for r in claims[1:]} <= {"agrees", "disagrees", "inconclusive"}
    _png_ok(out / "curves.png")
    res = json.loads((out / "results.json").read_text())
    assert set(res["results"]) == {"C4", "baseline"}
    for v in res["results"].values():
        assert 0 <= v["test_acer"] <= 1 and len(v["best_epoch"]) == 1
    assert (out / "table1.md").read_text().startswith("| Tag |")


def test_augmentation_tiny_end_to_end(data_root, tmp_path):
    out = tmp_path / "aug"
    rc = main(["reproduce", "augmentation", "--tiny", "--data", str(data_root), "--out",
               str(out), "--work", str(tmp_path / "work"), "--protocols", "p2.2",
               "--variants", "orig,extend", "--no-progress"])
    assert rc == 0
    md = (out / "REPORT.md").read_text()
    tables = _tables(md)
    rnd = [t for t in tables if t[0][:5] == ["Class", "Variant", "Radius", "Normalize", "Density"]]
    assert len(rnd) == 2  # train and test of p2.2
    for t in rnd:
        assert {r[0] for r in t[1:]} == {"Live Face", "All Fake Face", "Phys Fake Face",
                                         "Adv/Digital Fake Face"}
        for r in t[1:]:
            radius, density = float(r[2]), float(r[4])
            assert radius >= 0 and density >= 0
    res = json.loads((out / "results.json").read_text())
    st = res["stats"]["p2.2 orig"]["train"]
    # the radius / density in the report follow the analysis definitions of the saved stats
    assert st["Live Face"]["n"] > 0 and st["Adv/Digital Fake Face"]["n"] > 0
    claims = {c["claim"]: c["outcome"] for c in res["claims"]}
    assert claims["Down-sampling widens the data domain (larger Radius)"] == "inconclusive"
    _png_ok(out / "table1_grid.png")
    _png_ok(out / "table2_grid.png")


def test_thresholds_tiny_end_to_end(thresholds_run):
    from fasfast.analysis import read_scores

    out, _ = thresholds_run
    md = (out / "REPORT.md").read_text()
    table = next(t for t in _tables(md) if t[0][0] == "Method")
    assert [r[0] for r in table[1:]] == ["Fake border", "Live border", "Cross point",
                                         "Balance point", "ACER point", "Acer-left point",
                                         "Acer-right point"]
    _png_ok(out / "fig7.png")
    train = read_scores(out / "scores_train.csv")
    dev = read_scores(out / "scores_dev.csv")
    res = json.loads((out / "results.json").read_text())
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
    ckpt = work / "model" / "best.pt"
    rc = main(["reproduce", "thresholds", "--tiny", "--checkpoint", str(ckpt), "--data",
               str(data_root), "--out", str(tmp_path / "o"), "--level", "video",
               "--no-progress"])
    assert rc == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["level"] == "video" and res["checkpoint"] == str(ckpt)


def test_explain_cli_writes_overlays(thresholds_run, data_root, tmp_path):
    import cv2

    _, work = thresholds_run
    ckpt = work / "model" / "best.pt"
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
    rc = main(["magnify", str(src), "--out", str(tmp_path / "out.avi"), "--alpha", "20",
               "--side-by-side", str(tmp_path / "sbs.avi")])
    assert rc == 0
    out, fps = read_video(tmp_path / "out.avi")
    assert out.shape == (20, 48, 64, 3) and fps == pytest.approx(15)
    sbs, _ = read_video(tmp_path / "sbs.avi")
    assert sbs.shape == (20, 48, 128, 3)
    inp, _ = read_video(src)
    assert np.abs(out.astype(float) - inp).mean() > 0.5  # something was amplified
    assert main(["magnify", str(tmp_path / "missing.avi"), "--out", str(tmp_path / "x.avi")]) == 2


# --------------------------------------------------------------------------- pieces
def test_write_lists_cross_domain_protocols(data_root, tmp_path):
    from fasfast.data import path_label_list
    from fasfast.reproduce.augmentation import write_lists

    write_lists(data_root, tmp_path)
    want = {
        ("p2.1", "train"): {"live", "digital"}, ("p2.1", "dev"): {"live", "digital"},
        ("p2.1", "test"): {"live", "print", "replay"},
        ("p2.2", "train"): {"live", "print", "replay"}, ("p2.2", "dev"): {"live", "print", "replay"},
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


def _summ(test):
    return {p: {"test_acer": v, "dev_acer": v} for p, v in test.items()}


def test_ablation_claims_logic():
    from fasfast.reproduce.ablation import _claims

    good = {"C1": 0.05, "C2": 0.06, "C3": 0.04, "C4": 0.045, "C5": 0.03, "baseline": 0.01}
    late = {"C2": 0.6, "C1": 0.5, "C4": 0.4, "C3": 0.3, "C5": 0.2, "baseline": 0.1}
    cl = _claims(_summ(good), late)
    assert [c.outcome for c in cl] == ["agrees"] * len(cl)
    bad = dict(good, baseline=0.2)
    cl = _claims(_summ(bad), {k: -v for k, v in late.items()})
    assert [c.outcome for c in cl] == ["disagrees"] * len(cl)
    tied = {p: 0.0 for p in good}
    cl = _claims(_summ(tied), {p: 0.0 for p in good})
    assert [c.outcome for c in cl] == ["inconclusive"] * len(cl)


def test_augmentation_claims_logic():
    from fasfast.reproduce.augmentation import CLASSES, _claims

    def stats(r, n, d):
        return {"train": {c: {"radius": r, "normalize": n, "density": d} for c in CLASSES}}

    s = {("p2.1", "orig"): stats(0.1, 1.0, 0.5), ("p2.1", "down"): stats(0.2, 5.0, 0.5),
         ("p2.1", "blur"): stats(0.1, 1.0, 0.2), ("p2.1", "extend"): stats(0.2, 5.0, 0.3)}
    a = {("p2.1", "orig"): {"test_acer": 0.3}, ("p2.1", "extend"): {"test_acer": 0.1}}
    assert [c.outcome for c in _claims(s, a)] == ["agrees"] * 6
    s2 = {("p2.1", "orig"): stats(0.2, 5.0, 0.2), ("p2.1", "down"): stats(0.1, 1.0, 0.2),
          ("p2.1", "blur"): stats(0.2, 5.0, 0.5), ("p2.1", "extend"): stats(0.1, 1.0, 0.5)}
    a2 = {("p2.1", "orig"): {"test_acer": 0.1}, ("p2.1", "extend"): {"test_acer": 0.3}}
    assert [c.outcome for c in _claims(s2, a2)] == ["disagrees"] * 6


def test_budgets_and_md_table():
    assert get_budget("quick", epochs=3).epochs == 3
    with pytest.raises(ValueError, match="unknown budget"):
        get_budget("huge")
    with pytest.raises(ValueError, match="unknown budget field"):
        get_budget("tiny", nope=1)
    t = md_table(["a", "b"], [["x", 1.5], ["y|z", math.nan]])
    assert t.splitlines() == ["| a | b |", "|---|---:|", "| x | 1.50000 |", "| y\\|z | nan |"]


def test_cli_errors(tmp_path, capsys):
    assert main(["reproduce"]) == 2
    assert "choose an experiment" in capsys.readouterr().err
    assert main(["reproduce", "ablation", "--tiny", "--presets", "C9", "--out",
                 str(tmp_path)]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main(["reproduce", "thresholds", "--tiny", "--checkpoint", "x.pt", "--out",
                 str(tmp_path)]) == 2
    assert "needs --data" in capsys.readouterr().err
    assert main(["reproduce", "ablation", "--tiny", "--data", str(tmp_path / "nope"),
                 "--out", str(tmp_path)]) == 2
    assert "data root not found" in capsys.readouterr().err
