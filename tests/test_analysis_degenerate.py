"""A bootstrap whose resampling unit leaves a single unit in a class takes no variance from
that class: it warns in one line naming the class and the unit, and its intervals are
marked degenerate in the JSON and printed as ``[degenerate]``, never as an exact ``[x, x]``."""

import json

import numpy as np
import pytest

from fasfast.analysis import ScoreSet, threshold_table, write_scores
from fasfast.analysis.bootstrap import bootstrap
from fasfast.analysis.intervals import (
    DegenerateIntervalWarning,
    fixed_threshold_bootstrap,
    one_unit_classes,
)
from fasfast.analysis.table import format_table
from fasfast.cli import main


def _one_live_video(rng, frames=12, attack_videos=6):
    """Live: one video of ``frames`` frames; attacks: ``attack_videos`` print videos."""
    n_att = attack_videos * frames
    lab = np.r_[np.ones(frames, int), np.zeros(n_att, int)]
    s = np.r_[rng.normal(0.7, 0.1, frames), rng.normal(0.45, 0.1, n_att)]
    types = np.where(lab == 1, "live", "print")
    videos = ["live_v0"] * frames + [f"print_v{i // frames}" for i in range(n_att)]
    return ScoreSet([f"f{i}" for i in range(lab.size)], lab, s, types, videos)


def test_one_unit_classes_names_class_and_unit():
    notes = one_unit_classes({"live": ["v1", "v1"], "print": ["a", "b"], "replay": []}, "video")
    assert notes == ["class 'live' has one video ('v1')"]
    assert one_unit_classes({"print": [7]}, "presentation") == [
        "class 'print' has one presentation"
    ]


def test_bootstrap_with_one_unit_warns_and_marks(rng):
    ss = _one_live_video(rng)
    lab = ss.labels
    with pytest.warns(DegenerateIntervalWarning, match=r"class 'live' has one video \('live_v0'\)"):
        b = bootstrap(
            ss.scores[lab == 1],
            ss.scores[lab == 0],
            live_units=np.asarray(ss.videos)[lab == 1],
            attack_units=np.asarray(ss.videos)[lab == 0],
            reps=50,
            unit="video",
        )
    assert b["degenerate"] == ["class 'live' has one video ('live_v0')"]
    # enough units everywhere: no warning, nothing marked
    import warnings

    live = rng.normal(0.7, 0.1, 40)
    att = rng.normal(0.4, 0.1, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateIntervalWarning)
        assert bootstrap(live, att, reps=20)["degenerate"] == []


def test_fixed_threshold_bootstrap_marks_single_unit_classes():
    one = fixed_threshold_bootstrap(
        (10, 2, (np.array([10.0]), np.array([2.0]))), {"p": (8, 1)}, "max"
    )
    assert one["degenerate"] == ["class 'live' has one video/subject"]
    lo, hi = one["acer"]
    assert lo <= hi
    many = fixed_threshold_bootstrap((10, 2), {"p": (8, 1)}, "max")
    assert many["degenerate"] == []
    single = fixed_threshold_bootstrap((10, 2), {"p": (1, 1)}, "max")
    assert single["degenerate"] == ["class 'p' has one presentation"]


def test_table_prints_degenerate_not_a_point_interval(rng):
    ss = _one_live_video(rng)
    with pytest.warns(DegenerateIntervalWarning, match="class 'live' has one video"):
        rows = threshold_table(ss, ci=0.95, bootstrap=50)
    m = rows[0]["select"]
    assert m.ci["degenerate"] and "live" in m.ci["degenerate"][0]
    text = format_table(rows)
    assert "[degenerate]" in text
    # the Clopper-Pearson rates keep their intervals
    assert m.ci["bpcer"][0] <= m.bpcer <= m.ci["bpcer"][1]


def test_cli_warns_once_and_report_marks(tmp_path, rng, capsys):
    p = write_scores(tmp_path / "one.csv", _one_live_video(rng))
    out = tmp_path / "rep"
    with pytest.warns(DegenerateIntervalWarning) as rec:
        rc = main(["analyze", str(p), "--out", str(out), "--no-plots", "--bootstrap", "40"])
    assert rc == 0
    cap = capsys.readouterr()
    # one text from one place: Python's default filter shows it once
    texts = {(str(w.message), w.filename, w.lineno) for w in rec}
    assert len(texts) == 1 and "class 'live' has one video ('live_v0')" in texts.pop()[0]
    assert "[degenerate]" in cap.out
    rep = json.loads((out / "report.json").read_text())
    sel = rep["splits"]["select_on"]
    assert sel["bootstrap"]["degenerate"] == ["class 'live' has one video ('live_v0')"]
    assert sel["intervals"]["degenerate"] == sel["bootstrap"]["degenerate"]
    assert rep["table"][0]["select"]["ci"]["degenerate"]
    md = (out / "report.md").read_text()
    assert "[degenerate]" in md and "Degenerate (no interval printed)" in md
