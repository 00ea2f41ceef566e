"""Score files (csv, bob.pad, path lists) and the ``fasfast analyze`` command."""

import json

import numpy as np
import pytest

from fasfast.analysis import ScoreFileError, ScoreSet, read_scores, write_scores
from fasfast.cli import main


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def _scoreset(rng, n=80, shift=0.0):
    lab = np.r_[np.ones(n // 2, int), np.zeros(n - n // 2, int)]
    types = np.where(lab == 1, "live", np.where(np.arange(n) % 2, "print", "replay"))
    s = np.where(lab == 1, rng.normal(0.7, 0.1, n), rng.normal(0.3, 0.1, n)) + shift
    return ScoreSet([f"s{i}" for i in range(n)], lab, s, types, [f"v{i // 2}" for i in range(n)])


def test_csv_roundtrip_exact(tmp_path, rng):
    ss = _scoreset(rng)
    p = write_scores(tmp_path / "a.csv", ss)
    assert p.read_text().splitlines()[0] == "id,video,label,attack_type,score"
    back = read_scores(p)
    np.testing.assert_array_equal(back.scores, ss.scores)  # repr round-trips exactly
    np.testing.assert_array_equal(back.labels, ss.labels)
    np.testing.assert_array_equal(back.attack_types, ss.attack_types)
    np.testing.assert_array_equal(back.videos, ss.videos)


def test_csv_numeric_labels_polarity(tmp_path):
    p = _write(tmp_path, "n.csv", "path,label,score\na,1,0.9\nb,0,0.1\nc,0,0.3\n")
    assert read_scores(p).labels.tolist() == [1, 0, 0]
    assert read_scores(p, label_live_value="0").labels.tolist() == [0, 1, 1]
    assert read_scores(p).ids.tolist() == ["a", "b", "c"]
    assert read_scores(p).attack_types.tolist() == ["live", "attack", "attack"]


def test_bob_format(tmp_path):
    text = ("claimed_id,test_label,is_bonafide,attack_type,score\n"
            "1,x/real.mp4,True,,0.8\n2,x/p.mp4,False,print,0.2\n3,x/r.mp4,False,replay,0.4\n")
    ss = read_scores(_write(tmp_path, "b.csv", text))
    assert ss.labels.tolist() == [1, 0, 0]
    assert ss.attack_types.tolist() == ["live", "print", "replay"]
    assert ss.ids.tolist() == ["x/real.mp4", "x/p.mp4", "x/r.mp4"]


def test_path_score_list(tmp_path):
    scores = _write(tmp_path, "s.txt", "a.png 0.9\nb.png 0.2\n# comment\nc.png 0.4\n")
    labels = _write(tmp_path, "l.txt", "a.png 1\nb.png 0 print\nc.png 0 replay\n")
    ss = read_scores(scores, labels=labels)
    assert ss.labels.tolist() == [1, 0, 0] and ss.scores.tolist() == [0.9, 0.2, 0.4]
    assert ss.attack_types.tolist() == ["live", "print", "replay"]
    with pytest.raises(ScoreFileError, match=r"s\.txt:1: 'path score' list needs a labels"):
        read_scores(scores)
    bad_labels = _write(tmp_path, "l2.txt", "a.png 1\n")
    with pytest.raises(ScoreFileError, match=r"s\.txt:2: 'b.png' has no label"):
        read_scores(scores, labels=bad_labels)


@pytest.mark.parametrize(
    "text, match",
    [
        ("id,label,score\na,live,0.5\nb,attack,nan\n", r"bad\.csv:3: score 'nan' is not finite"),
        ("id,label,score\na,live,0.5\nb,attack,abc\n", r"bad\.csv:3: score 'abc' is not a num"),
        ("id,label,score\na,live,0.5\n\nb,maybe,0.1\n", r"bad\.csv:4: unknown label 'maybe'"),
        ("id,label,score\na,live,0.5,7\n", r"bad\.csv:2: expected 3 fields, got 4"),
        ("id,label,value\na,live,0.5\n", r"bad\.csv:1: header lacks column\(s\) score"),
        ("id,label,score\n", r"bad\.csv:1: no score rows"),
        ("", r"bad\.csv:1: file is empty"),
        ("id,label,score\na,2,0.5\n", r"bad\.csv:2: numeric label '2' must be 0 or 1"),
    ],
)
def test_malformed_files(tmp_path, text, match):
    p = _write(tmp_path, "bad.csv", text)
    with pytest.raises(ScoreFileError, match=match):
        read_scores(p, format="csv" if text else "auto")


def test_missing_file(tmp_path):
    with pytest.raises(ScoreFileError, match="score file not found"):
        read_scores(tmp_path / "nope.csv")


def test_cli_end_to_end(tmp_path, rng, capsys):
    dev = write_scores(tmp_path / "dev.csv", _scoreset(rng))
    test = write_scores(tmp_path / "test.csv", _scoreset(rng, shift=0.05))
    out = tmp_path / "rep"
    rc = main(["analyze", str(test), "--select-on", str(dev), "--out", str(out), "--no-plots"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Balance point" in text and "test APCER%" in text
    rep = json.loads((out / "report.json").read_text())
    assert rep["splits"]["select_on"]["name"] == "dev"
    assert rep["splits"]["apply_to"]["name"] == "test"
    assert {r["key"] for r in rep["table"]} >= {"fake_border", "balance", "acer_left"}
    assert (out / "report.md").read_text().startswith("# ")


def test_cli_higher_is_attack(tmp_path, rng, capsys):
    ss = _scoreset(rng)
    flipped = ScoreSet(ss.ids, ss.labels, 1.0 - ss.scores, ss.attack_types, ss.videos)
    p = write_scores(tmp_path / "f.csv", flipped)
    assert main(["analyze", str(p), "--higher-is-attack", "--out", str(tmp_path / "r"),
                 "--no-plots"]) == 0
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert rep["rule"] == "live iff score <= threshold"
    assert rep["thresholds"]["fake_border"] == float(flipped.attack.min())


@pytest.mark.parametrize(
    "text, match",
    [
        ("id,label,score\na,live,0.5\nb,attack,nan\n", "bad.csv:3: score 'nan'"),
        ("id,label,score\na,live,0.5\nb,live,0.7\n", "only one class present (2 live, 0 attack)"),
        ("id;label;score\n", "bad.csv:1: cannot tell the format"),
    ],
)
def test_cli_bad_file_exit_2(tmp_path, capsys, text, match):
    p = _write(tmp_path, "bad.csv", text)
    assert main(["analyze", str(p), "--out", str(tmp_path / "o"), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert match in err


def test_cli_missing_file_exit_2(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv:0: score file not found" in capsys.readouterr().err
