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
    text = (
        "claimed_id,test_label,is_bonafide,attack_type,score\n"
        "1,x/real.mp4,True,,0.8\n2,x/p.mp4,False,print,0.2\n3,x/r.mp4,False,replay,0.4\n"
    )
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
    assert (
        main(["analyze", str(p), "--higher-is-attack", "--out", str(tmp_path / "r"), "--no-plots"])
        == 0
    )
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert rep["rule"] == "live iff score <= threshold"
    fb = float(flipped.attack.min())
    assert rep["thresholds"]["fake_border_score"] == fb  # the border, and applied just below
    assert rep["thresholds"]["fake_border"] == np.nextafter(fb, -1)


@pytest.mark.parametrize(
    "text, match",
    [
        (
            "id,label,score\na,live,0.5\nb,attack,nan\n",
            "only one class present (1 live, 0 attack; 1 non-responses)",
        ),
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
    assert "missing.csv: score file not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- non-responses
def _bob_rows(rng, n_live=30, n_attack=40, nan_live=2, nan_attack=(3, 1)):
    """(claimed_id, real_id / attack type, test_label, score, is_bonafide) rows with NaN
    scores where bob.pad failed on a sample."""
    rows = []
    for i in range(n_live):
        s = float("nan") if i < nan_live else float(rng.normal(0.7, 0.1))
        rows.append((f"{i % 7:03d}", f"{i % 7:03d}", f"live/v{i}", s, True))
    for i in range(n_attack):
        pai = "print" if i % 2 else "replay"
        k = nan_attack[0] if pai == "print" else nan_attack[1]
        s = float("nan") if i // 2 < k else float(rng.normal(0.3, 0.1))
        rows.append((f"{i % 7:03d}", pai, f"{pai}/v{i}", s, False))
    return rows


def _write_bob(tmp_path, rows, kind):
    p = tmp_path / f"scores-dev.{kind}"
    with open(p, "w", newline="") as f:
        if kind == "csv":  # bob.pad's CSV score writer: csv module, Python's str(float)
            import csv

            w = csv.writer(f)
            w.writerow(["claimed_id", "test_label", "is_bonafide", "attack_type", "score"])
            for cid, real, label, s, bona in rows:
                w.writerow([cid, label, bona, "" if bona else real, s])
        elif kind == "4col":  # pad_predicted_sample_to_score_line
            for cid, real, label, s, _ in rows:
                f.write(f"{cid} {real} {label} {s}\n")
        else:  # 5 columns: claimed_id model_label real_id test_label score
            for cid, real, label, s, _ in rows:
                f.write(f"{cid} {cid} {real} {label} {s}\n")
    return p


@pytest.mark.parametrize("kind", ["csv", "4col", "5col"])
def test_bob_files_with_nan_are_analysed(tmp_path, rng, capsys, kind):
    rows = _bob_rows(rng)
    p = _write_bob(tmp_path, rows, kind)
    assert "nan" in p.read_text()
    ss = read_scores(p)
    assert ss.nonresponse_counts() == {"live": 2, "print": 3, "replay": 1}
    assert set(ss.attack_types[ss.labels == 0]) == {"print", "replay"}
    assert ss.subjects is not None and ss.subjects[0] == "000"
    out = tmp_path / f"rep_{kind}"
    rc = main(["analyze", str(p), "--out", str(out), "--no-plots", "--bootstrap", "50"])
    assert rc == 0
    cap = capsys.readouterr()
    warn = [x for x in cap.err.splitlines() if "warning" in x]
    assert len(warn) == 1 and "2 bona fide, 4 attack" in warn[0]
    assert "APNRR%" in cap.out and "BPNRR%" in cap.out
    rep = json.loads((out / "report.json").read_text())
    nr = rep["splits"]["select_on"]["nonresponses"]
    assert nr["live"] == 2 and nr["per_type"] == {"print": 3, "replay": 1}
    assert nr["bpnrr"] == 2 / 30
    assert nr["apnrr_per_type"] == {"print": 3 / 20, "replay": 1 / 20}
    assert nr["apnrr"] == 3 / 20  # the worst species, as the ISO APCER
    row = rep["table"][0]["select"]
    assert row["n_live"] == 28 and row["n_attack"] == 36 and row["bpnrr"] == 2 / 30
    assert row["ci"]["bpnrr"][0] < 2 / 30 < row["ci"]["bpnrr"][1]
    html_text = (out / "report.html").read_text()
    assert "BPNRR" in html_text and "APNRR" in html_text
    boot = rep["splits"]["select_on"]["bootstrap"]
    assert "subjects" in boot["resampling"]  # bob's claimed_id: several per subject
    lo, hi = (float(v) for v in rep["splits"]["select_on"]["intervals"]["eer"])
    assert lo <= float(rep["splits"]["select_on"]["eer"]) <= hi
    assert rep["conventions"]["apcer"] == "max" and rep["conventions"]["nan_policy"] == (
        "nonresponse"
    )
    # the same analysis from Python: NaN rows are non-responses
    from fasfast.analysis import threshold_table

    t = threshold_table(ss, ci=None)
    assert t[0]["select"].n_attack_nr == 4 and t[0]["select"].apnrr_per_type["print"] == 0.15


def test_nan_policy_error(tmp_path, rng, capsys):
    p = _write_bob(tmp_path, _bob_rows(rng), "4col")
    with pytest.raises(ScoreFileError, match=r"scores-dev\.4col:1: score 'nan' is a non-resp"):
        read_scores(p, nan_policy="error")
    assert (
        main(
            ["analyze", str(p), "--nan-policy", "error", "--out", str(tmp_path / "o"), "--no-plots"]
        )
        == 2
    )
    assert "scores-dev.4col:1: score 'nan'" in capsys.readouterr().err


def test_infinite_scores_read_as_scores(tmp_path):
    p = _write(
        tmp_path, "inf.csv", "id,label,score\na,live,inf\nb,attack,-inf\nc,live,0.4\nd,attack,0.6\n"
    )
    ss = read_scores(p)
    assert ss.scores.tolist() == [np.inf, -np.inf, 0.4, 0.6]
    assert ss.nonresponse_counts() == {"live": 0}


def test_cli_conventions_reach_the_report(tmp_path, rng):
    p = write_scores(tmp_path / "s.csv", _scoreset(rng))
    out = tmp_path / "r"
    assert (
        main(
            [
                "analyze",
                str(p),
                "--apcer",
                "pooled",
                "--eer-rule",
                "fvc2000",
                "--placement",
                "high",
                "--border",
                "midpoint",
                "--out",
                str(out),
                "--no-plots",
                "--bootstrap",
                "20",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    rep = json.loads((out / "report.json").read_text())
    assert rep["conventions"] == {
        "apcer": "pooled",
        "eer_rule": "fvc2000",
        "placement": "high",
        "border": "midpoint",
        "nan_policy": "nonresponse",
    }
    assert rep["table"][0]["select"]["apcer_definition"] == "pooled"
    assert rep["splits"]["select_on"]["bootstrap"]["seed"] == 3
    assert any("FVC2000" in line for line in rep["conventions_text"])


@pytest.mark.parametrize("inverted", [True, False])
def test_analyze_warns_when_the_scores_rank_attacks_above_bona_fide(tmp_path, capsys, inverted):
    """Labels written 1 = attack (or scores where higher means attack) give an AUC near 0:
    one warning line naming the way out; a file of the right polarity gets none."""
    rng = np.random.default_rng(4)
    live, attack = rng.normal(0.8, 0.1, 60), rng.normal(0.2, 0.1, 60)
    if inverted:
        live, attack = attack, live
    p = tmp_path / "s.csv"
    rows = [f"l{i},1,{v:.5f}" for i, v in enumerate(live)]
    rows += [f"a{i},0,{v:.5f}" for i, v in enumerate(attack)]
    p.write_text("id,label,score\n" + "\n".join(rows) + "\n")
    assert main(["analyze", str(p), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    out, err = capsys.readouterr()
    assert ("--higher-is-attack" in err) is inverted, err
    assert "ACER point: where APCER and BPCER meet" in out  # the row's rule, under the table


@pytest.mark.parametrize("kind", ["4col", "5col", "csv", "csv-no-type"])
def test_bob_species_from_attack_paths(tmp_path, kind):
    """bob.pad files whose species column says only "attack": the PAI species is the
    directory after ``attack/`` in the sample path (fresh-user tryout)."""
    rows = [
        ("c1", "real/c1/v0", 0.9, True, ""),
        ("c2", "real/c2/v1", 0.8, True, ""),
        ("c1", "attack/print/c1/v2", 0.3, False, "attack/print/c1/v2"),
        ("c2", "attack/print/c2/v3", 0.2, False, "attack"),
        ("c1", "devel/attack/replay/c1_v4.avi", 0.4, False, "attack"),
        ("c2", "attack/c2_v5.avi", 0.1, False, "attack"),  # no species directory
    ]
    p = tmp_path / f"scores.{'csv' if kind.startswith('csv') else kind}"
    with open(p, "w", newline="") as f:
        if kind.startswith("csv"):
            import csv

            w = csv.writer(f)
            typed = kind == "csv"
            w.writerow(
                ["claimed_id", "test_label", "is_bonafide"] + ["attack_type"] * typed + ["score"]
            )
            for cid, path, s, bona, real in rows:
                w.writerow([cid, path, bona] + ([real or ""] * typed) + [s])
        else:
            for cid, path, s, bona, real in rows:
                rid = cid if bona else real
                mid = f"{cid} " if kind == "5col" else ""
                f.write(f"{cid} {mid}{rid} {path} {s}\n")
    ss = read_scores(p)
    got = list(ss.attack_types[ss.labels == 0])
    assert got == ["print", "print", "replay", "attack"], (kind, got)


def test_bob_species_column_with_species_is_kept(tmp_path):
    """Several species in the column: the column wins, paths are not read."""
    p = tmp_path / "scores.4col"
    p.write_text(
        "c1 c1 real/c1/v0 0.9\nc1 print attack/hand/c1_v1 0.3\nc2 replay attack/fixed/c2_v2 0.2\n"
    )
    ss = read_scores(p)
    assert list(ss.attack_types[ss.labels == 0]) == ["print", "replay"]
