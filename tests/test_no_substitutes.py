"""Evaluation and prediction never substitute samples (issue 15, item 1): an unreadable
video is reported, left out, written as a NaN row (a non-response) and counted; the other
videos are scored exactly as without it."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_support import IMAGE, WIDTHS, read_csv, tiny_data

from fasfast.data.video import VideoReader


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tiny_data(tmp_path_factory)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from fasfast.engine import TrainConfig
    from fasfast.engine import checkpoint as ck
    from fasfast.models import EulerNet, EulerNetConfig

    torch.manual_seed(5)
    m = EulerNet(EulerNetConfig.preset("tiny", image_size=IMAGE, widths=WIDTHS))
    path = tmp_path_factory.mktemp("nosub") / "m.pt"
    ck.save_checkpoint(
        path,
        {
            "kind": "eulernet",
            "model_config": m.config.to_dict(),
            "model": m.state_dict(),
            "epoch": 1,
            "train_config": TrainConfig(image_size=IMAGE, widths=WIDTHS).to_dict(),
        },
    )
    return path


def _folder_set(root, dst: Path, split: str = "dev") -> Path:
    """Four frame-folder videos (2 live, 2 attack) cut from the synthetic set, listed in
    ``<split>.txt`` (a "list" data set); each folder's landmarks beside it."""
    import cv2

    from fasfast.data import oulu_npu

    samples = oulu_npu(root, "1", split)
    live = [s for s in samples if s.label == 1][:2]
    attack = [s for s in samples if s.label == 0][:2]
    lines = []
    for s in live + attack:
        folder = dst / s.video_id
        folder.mkdir(parents=True)
        for i, f in VideoReader(s.path).frames():
            cv2.imwrite(str(folder / f"{i:04d}.png"), f[..., ::-1])
        shutil.copy(s.path.rsplit(".", 1)[0] + ".landmarks.npy", str(folder) + ".landmarks.npy")
        lines.append(f"{s.video_id} {s.label} {s.attack_type}")
    (dst / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return dst


def _eval(ckpt, data, out):
    from fasfast.engine import evaluate

    return evaluate(
        ckpt, data, "x", "dev", None, out, dataset="list", workers=0, progress=False, verbose=True
    )


def test_eval_leaves_an_unreadable_video_out_and_substitutes_nothing(root, ckpt, tmp_path, capsys):
    """The issue's case: four frame-folder videos, one PNG of one video cut to 100 bytes.
    That video gets a NaN row at every level (a non-response), the others the very scores
    of the clean run (no neighbour scored twice), and summary.json, the report and the
    console say which video was left out and why."""
    data = _folder_set(root, tmp_path / "data")
    clean = _eval(ckpt, data, tmp_path / "clean")
    assert clean["counts"]["dev"]["left_out"] == 0 and clean["left_out"]["dev"] == []
    capsys.readouterr()

    victim = sorted(p for p in data.iterdir() if p.is_dir())[2]  # an attack video
    frame = sorted(victim.glob("*.png"))[3]  # a frame of the first window
    frame.write_bytes(frame.read_bytes()[:100])
    with pytest.warns(UserWarning, match=f"{victim.name}.*cannot decode image"):
        _eval(ckpt, data, tmp_path / "bad")
    out = capsys.readouterr().out

    for level in ("video", "sequence", "frame"):
        before = {r["id"]: r for r in read_csv(tmp_path / "clean" / "scores" / f"dev_{level}.csv")}
        after = read_csv(tmp_path / "bad" / "scores" / f"dev_{level}.csv")
        ids = [r["id"] for r in after]
        assert len(ids) == len(set(ids)), "a row was written twice"
        nan_rows = [r for r in after if math.isnan(float(r["score"]))]
        assert [(r["id"], r["video"], r["label"]) for r in nan_rows] == [
            (victim.name, victim.name, "attack")
        ], level
        kept = [r for r in after if r["video"] != victim.name]
        assert {r["id"] for r in kept} == {
            i for i, r in before.items() if r["video"] != victim.name
        }
        for r in kept:  # every other video scored as before: nothing stood in for it
            assert float(r["score"]) == pytest.approx(float(before[r["id"]]["score"]), abs=1e-7)

    summary = json.loads((tmp_path / "bad" / "summary.json").read_text())
    assert summary["counts"]["dev"]["videos"] == 3 and summary["counts"]["dev"]["left_out"] == 1
    (left,) = summary["left_out"]["dev"]
    assert left["path"] == str(victim) and left["label"] == 0
    assert str(frame.name) in left["reason"] and "cannot decode image" in left["reason"]
    nr = summary["non_responses"]["dev"]
    assert nr["attack"] == 1 and nr["attack_total"] == 2 and nr["live"] == 0
    species = dict(line.split()[::2] for line in (data / "dev.txt").read_text().splitlines())
    mine = species[victim.name]
    assert mine != "live"
    n_mine = list(species.values()).count(mine)
    assert nr["bpnrr"] == 0.0 and nr["apnrr"] == pytest.approx(1 / n_mine)
    assert nr["apnrr_by_species"][mine] == nr["apnrr"]
    assert "dev: left out 1 of 4 videos that could not be read" in out and str(victim) in out
    report = (tmp_path / "bad" / "report" / "report.md").read_text()
    assert "Videos left out (non-responses)" in report and str(victim) in report
    rj = json.loads((tmp_path / "bad" / "report" / "report.json").read_text())
    assert rj["left_out"]["dev"][0]["path"] == str(victim)
    # fasfast.analysis reads the NaN row back as a non-response: its APNRR / BPNRR equal
    # the summary's, and the table's error rates are those of the three videos with a score
    from fasfast.analysis import pad_metrics, read_scores

    ss = read_scores(tmp_path / "bad" / "scores" / "dev_video.csv")
    assert len(ss) == 4 and int(np.isnan(ss.scores).sum()) == 1
    m = pad_metrics(ss.scores, ss.labels == 1, 0.5, ss.attack_types)
    assert m.bpnrr == nr["bpnrr"] and m.apnrr == pytest.approx(nr["apnrr"])
    ok = ~np.isnan(ss.scores)
    m3 = pad_metrics(ss.scores[ok], ss.labels[ok] == 1, 0.5, ss.attack_types[ok])
    assert (m.apcer, m.bpcer) == (m3.apcer, m3.bpcer)
    t7 = json.loads((tmp_path / "bad" / "table7.json").read_text())
    assert all(row["dev"]["apnrr"] == pytest.approx(nr["apnrr"]) for row in t7)
    rj_text = (tmp_path / "bad" / "report" / "report.md").read_text()
    assert "Non-responses" in rj_text  # the analysis' own line


def test_eval_with_loader_workers_leaves_out_the_same_video(root, ckpt, tmp_path):
    """The failed item travels with the batch: with DataLoader workers (whose counters the
    main process never sees) the same video is left out."""
    from fasfast.engine import evaluate

    data = _folder_set(root, tmp_path / "data")
    victim = sorted(p for p in data.iterdir() if p.is_dir())[0]
    frame = sorted(victim.glob("*.png"))[0]
    frame.write_bytes(frame.read_bytes()[:100])
    s = evaluate(
        ckpt,
        data,
        "x",
        "dev",
        None,
        tmp_path / "ev",
        dataset="list",
        workers=1,
        progress=False,
        verbose=False,
    )
    assert [d["path"] for d in s["left_out"]["dev"]] == [str(victim)]
    assert s["non_responses"]["dev"]["bpnrr"] == 0.5


def test_predict_reports_a_damaged_frame_folder_as_an_error(root, ckpt, tmp_path):
    """predict: the damaged folder is an error with the reason; the good one is scored as on
    its own (its frames never stand in for the damaged one's)."""
    from fasfast.engine.predict import predict

    data = _folder_set(root, tmp_path / "data")
    good, victim = sorted(p for p in data.iterdir() if p.is_dir())[:2]
    alone = predict([str(good)], ckpt, threshold=0.5, workers=0, progress=False)[0]
    frame = sorted(victim.glob("*.png"))[3]
    frame.write_bytes(frame.read_bytes()[:100])
    with pytest.warns(UserWarning, match="cannot decode image"):
        preds = predict([str(victim), str(good)], ckpt, threshold=0.5, workers=0, progress=False)
    assert preds[0].decision == "error" and preds[0].score is None and preds[0].units == 0
    assert frame.name in preds[0].note
    assert preds[1].score == pytest.approx(alone.score, abs=1e-7)
    assert preds[1].units == alone.units


def test_training_counts_replaced_samples_per_epoch(root, tmp_path, capsys):
    """Training may replace an unreadable sample by the next one, but says so every epoch:
    the log.csv column ``skipped`` and one console line naming the file."""
    from engine_support import tiny_config

    from fasfast.engine import train

    data = _folder_set(root, tmp_path / "data", "train")
    _folder_set(root, data, "dev")
    victim = data / (data / "train.txt").read_text().split()[0]  # a training video
    for png in victim.glob("*.png"):  # every frame damaged: any window fails
        png.write_bytes(png.read_bytes()[:100])
    cfg = tiny_config(
        data, tmp_path / "run", dataset="list", epochs=2, batch_size=2, eval_every=100
    )
    with pytest.warns(UserWarning, match=f"skipping unreadable sample .*{victim.name}"):
        res = train(cfg)
    out = capsys.readouterr().out
    assert [r["skipped"] for r in res.history] == [1, 1]
    assert [r["skipped"] for r in read_csv(tmp_path / "run" / "log.csv")] == ["1", "1"]
    for epoch in (1, 2):
        line = f"epoch {epoch}: 1 training item(s) replaced by the next readable sample: "
        assert line + f"{victim} could not be read" in out


def test_eval_refuses_windows_past_a_truncated_videos_end(root, tmp_path):
    """A video cut short (its header promises more frames than it holds): training may use
    the repeated last frame the reader puts past the end, evaluation never scores it. The
    windows inside the decodable frames are scored; the others come back as failed items
    (so the scorer leaves the video out) with a reason naming the truncation."""
    import dataclasses
    import warnings

    from _video_files import truncate

    from fasfast.data import SequenceDataset, oulu_npu
    from fasfast.data.video import TruncatedVideoWarning

    sample = next(s for s in oulu_npu(root, "1", "dev") if s.label == 1)
    src = Path(sample.path)
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    for side in src.parent.glob(src.stem + ".landmarks.*"):
        shutil.copy(side, tmp_path / side.name)
    truncate(dst, 0.5)
    cut = dataclasses.replace(sample, path=str(dst))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedVideoWarning)
        promised = VideoReader(dst).num_frames
        ev = SequenceDataset([cut], image_size=IMAGE, map_size=IMAGE // 8, length=4, interval=1)
        items = [ev[i] for i in range(len(ev))]
        tr = SequenceDataset(
            [cut], image_size=IMAGE, map_size=IMAGE // 8, length=4, interval=1, train=True
        )
        trained = tr[len(tr) - 1]
    failed = [it for it in items if it["error"]]
    good = [it for it in items if not it["error"]]
    assert failed and good, [it["error"] for it in items]
    assert all("truncated video" in it["error"] and str(promised) in it["error"] for it in failed)
    assert trained["skipped"] == 0  # training reads to the end (the repeated frame)


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory):
    """A real-face video (40 frames of the astronaut clip, no landmark file: the
    face-tracking path) cut to half its bytes: 23 decodable frames, so of its four windows
    (4 frames 3 apart) the last two need frames past the end; and the uncut video."""
    pytest.importorskip("skimage.data")
    from _video_files import truncate

    from fasfast.data.clips import astronaut_clip

    d = tmp_path_factory.mktemp("cut")
    whole = astronaut_clip(d / "whole.avi", seconds=1.6, fps=25.0, size=(480, 270))
    cut = d / "cut.avi"
    shutil.copy(whole, cut)
    return truncate(cut, 0.5), whole


@pytest.mark.parametrize("workers", [1, 2])
def test_predict_tracking_path_refuses_windows_past_a_cut_videos_end(cut_clip, ckpt, workers):
    """The faces tracked in the background (what ``fasfast predict`` uses for a video
    without a landmark file) never make a truncated video's repeated frames scorable: the
    video is an ``error`` with the reason of the dataset's own pass, the same wording as
    with a landmark file; the uncut video beside it is scored as on its own."""
    import warnings

    from fasfast.data.background import BackgroundFaces
    from fasfast.engine.predict import predict

    cut, whole = map(str, cut_clip)
    kw = dict(threshold=0.5, workers=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        own = predict([cut], ckpt, **kw)[0]  # the dataset's own pass: refused
        bg = BackgroundFaces([cut, whole], length=4, interval=3, workers=workers, size=IMAGE)
        got = predict([cut, whole], ckpt, landmarks=bg, **kw)
        alone = predict([whole], ckpt, **kw)[0]
    assert own.decision == "error" and "needs frame" in own.note
    assert (got[0].decision, got[0].score, got[0].units) == ("error", None, 0)
    assert got[0].note == own.note
    assert "truncated video: the header promises 40 frames" in got[0].note
    assert got[1].decision in ("live", "attack") and got[1].units == alone.units == 4
    assert got[1].score == pytest.approx(alone.score, abs=1e-6)


def test_predict_command_gives_a_truncated_video_the_error_decision(cut_clip, ckpt):
    """``fasfast predict`` (its background face pass; torch not imported yet): the
    truncated video's row is ``error``, one line under the table says why, and the exit
    code follows predict's rule (2 only when no input could be processed)."""
    import subprocess
    import sys

    cut, whole = map(str, cut_clip)

    def run(*inputs):
        cmd = [sys.executable, "-m", "fasfast", "predict", *inputs, "-c", str(ckpt)]
        return subprocess.run(
            cmd + ["--threshold", "0.5", "--no-progress"],
            capture_output=True,
            text=True,
            timeout=300,
        )

    both = run(cut, whole)
    assert both.returncode == 0, both.stderr
    rows = {line.split()[-1]: line.split()[0] for line in both.stdout.splitlines()[1:3]}
    assert rows[cut] == "error" and rows[whole] in ("live", "attack"), both.stdout
    why = [line for line in both.stdout.splitlines() if line.startswith("error: ")]
    assert len(why) == 1 and why[0].startswith(f"error: {cut}: truncated video: "), why
    assert "needs frame" in why[0]
    alone = run(cut)
    assert alone.returncode == 2 and "no input could be processed" in alone.stderr
    assert "Traceback" not in both.stderr + alone.stderr
