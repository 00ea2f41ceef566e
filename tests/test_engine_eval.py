"""Engine: scoring, sharding, thresholds from files, prediction (no-face, errors)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from engine_support import IMAGE, WIDTHS, tiny_data

from fasfast.engine import checkpoint as ck


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tiny_data(tmp_path_factory)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """An untrained tiny EulerNet checkpoint with a stored dev threshold."""
    from fasfast.engine import TrainConfig
    from fasfast.models import EulerNet, EulerNetConfig

    torch.manual_seed(0)
    m = EulerNet(EulerNetConfig.preset("tiny", image_size=IMAGE, widths=WIDTHS))
    path = tmp_path_factory.mktemp("evalck") / "m.pt"
    ck.save_checkpoint(
        path,
        {
            "kind": "eulernet",
            "model_config": m.config.to_dict(),
            "model": m.state_dict(),
            "epoch": 1,
            "train_config": TrainConfig(image_size=IMAGE, widths=WIDTHS).to_dict(),
            "best_metrics": {"dev_threshold": 0.123, "epoch": 1},
        },
    )
    return path


def test_shards_cover_every_item_once():
    from fasfast.engine.distributed import shard_indices

    for n in (0, 1, 7, 10):
        for world in (1, 2, 3):
            parts = [shard_indices(n, r, world) for r in range(world)]
            flat = sorted(i for p in parts for i in p)
            assert flat == list(range(n))


def test_threshold_metrics_against_brute_force(rng):
    from fasfast.engine.results import threshold_metrics

    live = rng.normal(0.7, 0.15, 40)
    attack = rng.normal(0.4, 0.15, 60)
    rows = [(f"l{i}", f"l{i}", 1, "live", float(s)) for i, s in enumerate(live)]
    rows += [
        (f"a{i}", f"a{i}", 0, "print" if i % 2 else "replay", float(s))
        for i, s in enumerate(attack)
    ]
    m = threshold_metrics(rows, "balance")
    t = m["threshold"]
    bpcer = np.mean(live < t)
    apcer = max(np.mean(attack[1::2] >= t), np.mean(attack[0::2] >= t))  # max over types
    assert m["bpcer"] == pytest.approx(bpcer) and m["apcer"] == pytest.approx(apcer)
    assert m["acer"] == pytest.approx((apcer + bpcer) / 2)
    one_class = threshold_metrics(rows[:5], "acer_point")
    assert np.isnan(one_class["acer"])


def test_score_split_and_predict_agree(root, ckpt, tmp_path):
    """predict() on two videos gives the mean of their sequence scores from score_split()."""
    from fasfast.data import oulu_npu
    from fasfast.engine.evaluate import score_split
    from fasfast.engine.predict import predict, write_predictions

    model, meta = ck.load_model(ckpt)
    sc = score_split(
        model,
        meta,
        dataset="oulu",
        data_root=root,
        protocol="1",
        split="test",
        workers=0,
        progress=False,
    )
    samples = oulu_npu(root, "1", "test")[:2]
    preds = predict([s.path for s in samples], ckpt, threshold=0.5, workers=0, progress=False)
    by_video = {r[0]: r[4] for r in sc.video}
    for s, p in zip(samples, preds):
        assert p.input == s.path and p.kind == "video"
        assert p.score == pytest.approx(by_video[s.video_id], abs=1e-5)
        assert p.decision == ("live" if p.score >= 0.5 else "attack")
        assert p.units == 2 and p.skipped_no_face == 0
    # the stored dev threshold is the default
    preds2 = predict([samples[0].path], ckpt, workers=0, progress=False)
    assert preds2[0].threshold == pytest.approx(0.123) and "stored" in preds2[0].note
    out = write_predictions(tmp_path / "p.csv", preds)
    assert out.read_text().splitlines()[0].startswith("input,kind,decision,score")


def test_predict_reports_no_face_and_errors(ckpt, tmp_path):
    """Frames without a face are not guessed; undecodable inputs are reported."""
    import cv2

    from fasfast.engine.predict import predict

    frames = tmp_path / "webcam"
    frames.mkdir()
    g = np.random.default_rng(0)
    for i in range(6):  # textured noise: no face for dlib to find
        img = (g.random((80, 80, 3)) * 255).astype(np.uint8)
        cv2.imwrite(str(frames / f"{i:04d}.png"), img)
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"this is not a video" * 10)
    preds = predict([str(frames), str(bad)], ckpt, threshold=0.5, workers=0, progress=False)
    by = {p.input: p for p in preds}
    assert by[str(frames)].kind == "frames" and by[str(frames)].decision == "no-face"
    assert by[str(frames)].score is None and by[str(frames)].skipped_no_face >= 1
    assert by[str(bad)].decision == "error" and by[str(bad)].score is None
    with pytest.raises(FileNotFoundError, match="input not found"):
        predict([str(tmp_path / "missing.mp4")], ckpt, workers=0, progress=False)


def test_threshold_from_files(tmp_path):
    from fasfast.engine.predict import threshold_from_file

    (tmp_path / "summary.json").write_text(
        json.dumps({"thresholds": {"balance": 0.31, "acer": 0.4}})
    )
    assert threshold_from_file(tmp_path, "balance") == 0.31
    # a file written before the rename ("acer"), read by the current and the former name
    assert threshold_from_file(tmp_path / "summary.json", "acer_point") == 0.4
    with pytest.warns(DeprecationWarning, match="'acer' is deprecated"):
        assert threshold_from_file(tmp_path / "summary.json", "acer") == 0.4
    (tmp_path / "t7.json").write_text(json.dumps([{"key": "cross", "threshold": 0.2}]))
    assert threshold_from_file(tmp_path / "t7.json", "cross") == 0.2
    with pytest.raises(ValueError, match="no 'balance' threshold; it has: cross"):
        threshold_from_file(tmp_path / "t7.json", "balance")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="holds no thresholds"):
        threshold_from_file(tmp_path / "x.json")


def test_threshold_source_is_checked(tmp_path):
    """A threshold belongs to one model's score scale: a report made for another model
    config or another epoch is named, one that records no checkpoint is said to be
    unchecked, and the same model (its checkpoint moved) passes silently."""
    from fasfast.engine.predict import threshold_source_warning

    meta = {"model_config": {"preset": "tiny", "image_size": 32, "sizes": (1, 2)}, "epoch": 3}
    report = {
        "thresholds": {"balance": 0.3},
        "checkpoint": "runs/a/best.pt",
        "model_config": {"preset": "tiny", "image_size": 32, "sizes": [1, 2]},  # JSON lists
        "epoch": 3,
    }
    p = tmp_path / "summary.json"
    p.write_text(json.dumps(report))
    assert threshold_source_warning(tmp_path, "moved/best.pt", meta) is None
    p.write_text(json.dumps({**report, "model_config": {"model_name": "convnextv2_atto"}}))
    why = threshold_source_warning(p, "runs/b/best.pt", meta)
    assert "chosen for runs/a/best.pt (another model config), not for runs/b/best.pt" in why
    p.write_text(json.dumps({**report, "epoch": 2}))
    assert "epoch 2, this checkpoint is epoch 3" in threshold_source_warning(p, "b.pt", meta)
    p.write_text(json.dumps({"thresholds": {"balance": 0.3}}))  # an analyze report
    assert "records no checkpoint" in threshold_source_warning(p, "b.pt", meta)


def test_predict_cli(root, ckpt, tmp_path, capsys):
    from fasfast.cli import main
    from fasfast.data import oulu_npu

    video = oulu_npu(root, "1", "test")[0].path
    (tmp_path / "summary.json").write_text(json.dumps({"thresholds": {"balance": 0.0}}))
    with pytest.warns(UserWarning, match="records no checkpoint"):
        rc = main(
            [
                "predict",
                video,
                "-c",
                str(ckpt),
                "--threshold-from",
                str(tmp_path),
                "--workers",
                "0",
                "--no-progress",
                "-o",
                str(tmp_path / "out.json"),
            ]
        )
    assert rc == 0
    text = capsys.readouterr().out
    assert "live" in text and "balance threshold from" in text
    assert json.loads((tmp_path / "out.json").read_text())[0]["decision"] == "live"


def test_evaluate_select_only(root, ckpt, tmp_path):
    from fasfast.engine import evaluate

    s = evaluate(
        ckpt,
        root,
        "1",
        "dev",
        None,
        tmp_path / "ev",
        workers=0,
        progress=False,
        verbose=False,
        level="sequence",
    )
    assert s["apply_split"] is None and s["level"] == "sequence"
    assert all("dev" in r and "None" not in r for r in s["table7"])
    assert (tmp_path / "ev" / "report" / "report.json").is_file()


def _copy_tree(root, dst):
    import shutil

    shutil.copytree(root, dst)
    return dst


def test_eval_goes_on_over_bad_files_and_counts_them(root, ckpt, tmp_path, capsys):
    """A corrupt video and a malformed landmark file in the evaluated split: one line
    each naming the file, the others scored, a count at the end; exit 2 only when no
    file of a split could be read."""
    from fasfast.cli import main
    from fasfast.data import oulu_npu

    tree = _copy_tree(root, tmp_path / "tree")
    dev = oulu_npu(tree, "1", "dev")
    from pathlib import Path

    Path(dev[0].path).write_bytes(b"RIFF garbage" * 30)
    Path(dev[1].path).with_suffix(".landmarks.npy").write_bytes(b"not numpy")
    args = [
        "eval",
        str(ckpt),
        "--data-root",
        str(tree),
        "--apply-split",
        "none",
        "--workers",
        "0",
        "--no-progress",
        "--out",
        str(tmp_path / "ev"),
    ]
    assert main(args) == 0
    cap = capsys.readouterr()
    for bad in (dev[0].path, str(Path(dev[1].path).with_suffix(".landmarks.npy"))):
        lines = [x for x in cap.err.splitlines() if bad in x]
        assert len(lines) == 1 and lines[0].startswith("fasfast eval: warning: "), cap.err
    # (issue 15: "left out", never replaced; the count line names what happened to them)
    assert "left out 2 video(s) that could not be read" in cap.out
    assert f"dev: left out 2 of {len(dev)} videos" in cap.out
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert sorted(summary["skipped_files"]) == sorted([dev[0].path, dev[1].path])
    assert summary["counts"]["dev"]["videos"] == len(dev) - 2
    assert summary["counts"]["dev"]["left_out"] == 2
    for s in dev:  # nothing readable at all
        Path(s.path).write_bytes(b"RIFF garbage" * 30)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fasfast eval: error: nothing could be scored")


def test_predict_command_tracks_faces_in_the_background(ckpt, tmp_path):
    """``fasfast predict`` tracks the faces in a process forked before torch is imported;
    its scores equal those of :func:`predict` without it. With a cache every frame of the
    video is tracked (not only the windows' frames): the crops, hence scores, differ
    a little."""
    import subprocess
    import sys

    pytest.importorskip("skimage.data")
    from fasfast.data.clips import astronaut_clip
    from fasfast.engine.predict import predict

    video = astronaut_clip(tmp_path / "astro.avi", seconds=1.6, fps=25.0, size=(480, 270))
    out = tmp_path / "p.json"
    cmd = [
        sys.executable,
        "-m",
        "fasfast",
        "predict",
        str(video),
        "-c",
        str(ckpt),
        "-o",
        str(out),
        "--no-progress",
        "--workers",
        "1",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    got = json.loads(out.read_text())[0]
    ref = predict([str(video)], ckpt, workers=0, progress=False)[0]
    cached = predict([str(video)], ckpt, workers=0, progress=False, cache_dir=tmp_path / "c")[0]
    assert got["units"] == ref.units == cached.units > 0
    assert got["score"] == pytest.approx(ref.score, abs=1e-6)
    assert cached.score == pytest.approx(ref.score, abs=0.02)
    # two trackers, each on its half of the windows (a cold detection at the second half)
    done = subprocess.run(cmd[:-1] + ["2"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    two = json.loads(out.read_text())[0]
    assert two["units"] == ref.units and two["score"] == pytest.approx(ref.score, abs=0.02)


def test_eval_on_a_data_root_without_videos(ckpt, tmp_path, capsys):
    from fasfast.cli import main

    (tmp_path / "Dev_files").mkdir()
    (tmp_path / "Test_files").mkdir()
    assert (
        main(
            [
                "eval",
                str(ckpt),
                "--data-root",
                str(tmp_path),
                "--no-progress",
                "--workers",
                "0",
                "--out",
                str(tmp_path / "ev"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fasfast eval: error: ")
    assert str(tmp_path) in err[0] and "no samples" in err[0]
    assert main(["eval", str(ckpt), "--data-root", str(tmp_path / "nowhere"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not found" in err[0] and "nowhere" in err[0]


@pytest.mark.parametrize("below", [True, False])
def test_evaluation_warns_when_the_model_is_below_chance(tmp_path, below):
    """A model that ranks attacks above bona fide presentations on the select split (a few
    steps of training, inverted labels) gets one warning; a model above chance none."""
    import warnings

    import numpy as np

    from fasfast.engine.evaluate import report_from_scores
    from fasfast.engine.scoring import Scores

    rng = np.random.default_rng(2)
    live, attack = rng.normal(0.7, 0.1, 30), rng.normal(0.3, 0.1, 60)
    if below:
        live, attack = attack[:30], live
    rows = [(f"l{i}", f"l{i}", 1, "live", float(v)) for i, v in enumerate(live)]
    rows += [(f"a{i}", f"a{i}", 0, "print", float(v)) for i, v in enumerate(attack)]
    scored = {"dev": Scores(video=rows, kinds=("video",))}
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        report_from_scores(scored, "dev", None, tmp_path, level="video", verbose=False)
    hits = [w for w in got if "below chance" in str(w.message)]
    assert len(hits) == int(below), [str(w.message) for w in got]


def test_predict_warns_once_when_a_temporal_model_scores_still_images(ckpt, tmp_path):
    """EulerNet (4-frame windows) on an image file repeats it over the window, a still face
    without motion cues: one warning line for all such inputs (as a too-short clip gets
    one); a clip of more than one frame is not counted. A frame classifier (a per-frame
    model) scores images as they are: no such line."""
    import warnings

    import cv2

    from fasfast.data.video import DataWarning
    from fasfast.engine.predict import predict
    from fasfast.models import ClassifierConfig, build_classifier

    g = np.random.default_rng(1)
    clip, shots = tmp_path / "clip", tmp_path / "shots"
    clip.mkdir(), shots.mkdir()
    for folder, n in ((clip, 6), (shots, 3)):
        for i in range(n):
            img = (g.random((40, 40, 3)) * 255).astype(np.uint8)
            cv2.imwrite(str(folder / f"{i:04d}.png"), img)
    photo = shots / "0000.png"

    def still_lines(path, inputs, **kw):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            predict(inputs, path, threshold=0.5, workers=0, progress=False, **kw)
        return [str(w.message) for w in seen if "still image" in str(w.message)]

    (line,) = still_lines(ckpt, [str(photo), str(clip)])
    assert line.startswith(f"1 of 2 inputs are still images (one frame), e.g. {photo}: ")
    assert "repeats the image 4 times" in line and "no motion cue" in line
    with pytest.warns(DataWarning, match="3 of 3 inputs are still images"):
        predict([str(shots)], ckpt, per_image=True, threshold=0.5, workers=0, progress=False)
    assert still_lines(ckpt, [str(clip)]) == []

    torch.manual_seed(0)
    m = build_classifier(ClassifierConfig(image_size=32, drop_path_rate=0.0)).eval()
    cls = tmp_path / "c.pt"
    ck.save_checkpoint(
        cls,
        {"kind": "classifier", "model_config": m.config.to_dict(), "model": m.state_dict()},
    )
    assert still_lines(cls, [str(photo)]) == []
