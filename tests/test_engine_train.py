"""Engine: training end to end, resume, config, schedules, the classifier recipe."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from engine_support import IMAGE, WIDTHS, read_csv, tiny_config, tiny_data

from fasfast.cli import main


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tiny_data(tmp_path_factory)


def test_train_eval_cli_end_to_end(root, tmp_path):
    """train 1 epoch + eval via the CLI; every output file exists and is well formed."""
    from fasfast.data import oulu_npu, sample_sequences
    from fasfast.data.video import VideoReader
    from fasfast.engine import load_model

    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "--root",
            str(root),
            "--protocol",
            "1",
            "--epochs",
            "1",
            "--image-size",
            str(IMAGE),
            "--widths",
            ",".join(map(str, WIDTHS)),
            "--batch-size",
            "4",
            "--workers",
            "0",
            "--out",
            str(out),
            "--no-progress",
            "--lr",
            "1e-3",
        ]
    )
    assert rc == 0
    for name in ("last.pt", "best.pt", "log.csv", "config.yaml"):
        assert (out / name).is_file(), name
    log = read_csv(out / "log.csv")
    assert len(log) == 1 and log[0]["epoch"] == "1"
    assert 0.0 <= float(log[0]["dev_acer"]) <= 1.0 and math.isfinite(float(log[0]["train_loss"]))
    model, meta = load_model(out / "best.pt")
    assert meta["kind"] == "eulernet" and meta["epoch"] == 1
    assert meta["model_config"]["image_size"] == IMAGE

    ev = tmp_path / "eval"
    assert (
        main(
            [
                "eval",
                str(out / "best.pt"),
                "--root",
                str(root),
                "--protocol",
                "1",
                "--out",
                str(ev),
                "--workers",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    for split in ("dev", "test"):
        samples = oulu_npu(root, "1", split)
        videos = read_csv(ev / "scores" / f"{split}_video.csv")
        assert sorted(r["video"] for r in videos) == sorted(s.video_id for s in samples)
        assert list(videos[0]) == ["id", "video", "label", "attack_type", "score"]
        truth = {s.video_id: ("live" if s.label == 1 else "attack") for s in samples}
        assert all(r["label"] == truth[r["video"]] for r in videos)
        seqs = read_csv(ev / "scores" / f"{split}_sequence.csv")
        n_seq = sum(len(sample_sequences(VideoReader(s.path).num_frames)) for s in samples)
        assert len(seqs) == n_seq and len({r["id"] for r in seqs}) == n_seq
        frames = read_csv(ev / "scores" / f"{split}_frame.csv")
        assert len(frames) == 4 * n_seq
        # video score = mean of its sequence scores; sequence = mean of its frame scores
        for v in videos:
            mine = [float(r["score"]) for r in seqs if r["video"] == v["video"]]
            assert float(v["score"]) == pytest.approx(np.mean(mine), abs=1e-9)
        for s in seqs[:3]:
            mine = [float(r["score"]) for r in frames if r["id"].startswith(s["id"] + "/")]
            assert len(mine) == 4 and float(s["score"]) == pytest.approx(np.mean(mine), abs=1e-6)
    # the sequence score equals model.score on the same item (independent recomputation)
    from fasfast.data import SequenceDataset

    samples = oulu_npu(root, "1", "dev")
    ds = SequenceDataset(samples, image_size=IMAGE, map_size=IMAGE // 8, train=False)
    item = ds[0]
    with torch.no_grad():
        direct = float(model.score(item["frames"][None]))
    seqs = {r["id"]: float(r["score"]) for r in read_csv(ev / "scores" / "dev_sequence.csv")}
    key = f"{item['video']}/w{item['window']}"
    assert seqs[key] == pytest.approx(direct, abs=1e-5)

    table = json.loads((ev / "table7.json").read_text())
    keys = {r["key"] for r in table}
    assert {"fake_border", "live_border", "cross", "balance", "acer_point"} <= keys
    for r in table:
        for split in ("dev", "test"):
            assert 0.0 <= r[split]["acer"] <= 1.0
    assert "| Method |" in (ev / "table7.md").read_text()
    report = json.loads((ev / "report" / "report.json").read_text())
    assert report["table"] and "thresholds" in report
    assert (ev / "report" / "report.html").stat().st_size > 1000
    assert (ev / "report" / "report.md").is_file()
    summary = json.loads((ev / "summary.json").read_text())
    assert summary["select_split"] == "dev" and summary["apply_split"] == "test"
    assert summary["counts"]["test"]["videos"] == len(oulu_npu(root, "1", "test"))


def test_resume_equals_uninterrupted(root, tmp_path):
    """2 epochs == 1 epoch, stop, resume 1 (same seed): same losses and weights."""
    from fasfast.engine import load_checkpoint, train

    kw = dict(epochs=2, hflip=True, color_jitter=0.1, limit=6)
    full = train(tiny_config(root, tmp_path / "full", **kw))
    train(tiny_config(root, tmp_path / "split", **{**kw, "epochs": 1}))
    resumed = train(tiny_config(root, tmp_path / "split", resume="auto", **kw))
    assert len(full.history) == len(resumed.history) == 2
    for a, b in zip(full.history, resumed.history):
        for key in ("train_loss", "dev_loss", "dev_acer", "lr", "step"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key
    wa = load_checkpoint(full.last_checkpoint)["model"]
    wb = load_checkpoint(resumed.last_checkpoint)["model"]
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-5)
    # and the run did change the weights (the comparison is not vacuous)
    first = load_checkpoint(tmp_path / "split" / "best.pt")
    assert first["epoch"] in (1, 2)
    assert load_checkpoint(resumed.last_checkpoint)["epoch"] == 2


def test_resume_with_another_model_is_refused(root, tmp_path):
    from fasfast.engine import CheckpointError, train

    train(tiny_config(root, tmp_path / "r", max_steps=1, limit=4))
    with pytest.raises(CheckpointError, match="cannot resume"):
        train(
            tiny_config(
                root,
                tmp_path / "r",
                widths=(8, 16, 8),
                resume="auto",
                epochs=2,
                max_steps=1,
                limit=4,
            )
        )


@pytest.mark.parametrize(
    "first", [True, False], ids=["compiled-then-reference", "reference-then-compiled"]
)
def test_resume_across_the_ops_switch(root, tmp_path, monkeypatch, first):
    """Compiled or reference ops (--fused / --no-fused) is the process's choice, not the
    model's: an epoch with one resumes with the other, each run uses the ops it asked for,
    nothing of the choice is stored, and the switch is restored after each run. A checkpoint
    of an older fasfast (with the retired model_config key "fused") resumes too."""
    from fasfast import ops
    from fasfast.engine import checkpoint as ck
    from fasfast.engine import train

    calls = []
    real = ops.reference.fcam_gate
    monkeypatch.setattr(ops.reference, "fcam_gate", lambda *a: calls.append(1) or real(*a))
    kw = dict(limit=4, max_steps=2)
    out = tmp_path / "r"
    train(tiny_config(root, out, fused=first, **kw))
    in_first, calls[:] = len(calls), []
    state = ck.load_checkpoint(out / "last.pt")
    assert "fused" not in state["model_config"] and "fused" not in state["train_config"]
    assert not ops.reference_enabled()
    if first:  # an older checkpoint: the key is dropped on resume (and by load_model)
        state["model_config"] = {**state["model_config"], "fused": True}
        ck.save_checkpoint(out / "last.pt", state)
        with pytest.warns(DeprecationWarning, match="'fused' key is ignored"):
            ck.load_model(out / "last.pt")
    resumed = train(tiny_config(root, out, fused=not first, resume="auto", epochs=2, **kw))
    assert (in_first > 0) is (not first) and (len(calls) > 0) is first
    assert [row["epoch"] for row in resumed.history] == [1, 2]
    assert all(math.isfinite(row["train_loss"]) for row in resumed.history)
    after = ck.load_checkpoint(resumed.last_checkpoint)
    assert after["epoch"] == 2 and not ops.reference_enabled()
    assert any(not torch.equal(after["model"][k], state["model"][k]) for k in state["model"])


def test_config_yaml_and_flags(tmp_path):
    import argparse

    from fasfast.engine.config import (
        TrainConfig,
        add_train_arguments,
        config_from_args,
        parse_downsample,
    )

    y = tmp_path / "run.yaml"
    y.write_text("epochs: 7\nlr: 0.01\nuse_fcam: false\nwidths: [4, 6, 4]\nprotocol: '3_2'\n")
    p = argparse.ArgumentParser()
    add_train_arguments(p)
    cfg = config_from_args(p.parse_args(["--config", str(y), "--lr", "0.5", "--use-fcam"]))
    assert cfg.epochs == 7 and cfg.lr == 0.5 and cfg.use_fcam is True
    assert cfg.widths == (4, 6, 4) and cfg.protocol == "3_2"
    r = cfg.resolved()
    assert r.optimizer == "lookahead_radam" and r.schedule == "constant"
    c = TrainConfig(model="convnextv2_atto").resolved()
    assert c.optimizer == "adamw" and c.schedule == "cosine" and c.cutmix > 0
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    y.write_text("epochz: 3\n")
    with pytest.raises(ValueError, match="unknown TrainConfig key.*epochz"):
        TrainConfig.from_yaml(y)
    with pytest.raises(ValueError, match="model must be"):
        TrainConfig(model="resnet50").resolved()
    with pytest.raises(FileNotFoundError, match="config file not found"):
        TrainConfig.from_yaml(tmp_path / "missing.yaml")
    assert parse_downsample("live:2;attack:2,4,8") == [("live", (2,)), ("attack", (2, 4, 8))]
    with pytest.raises(ValueError, match="CLASS:F1"):
        parse_downsample("live")


def test_missing_data_root_is_clear(tmp_path):
    from fasfast.engine import train

    with pytest.raises(FileNotFoundError, match="data root not found"):
        train(tiny_config(tmp_path / "nowhere", tmp_path / "out"))


def test_lr_schedule_closed_form():
    from fasfast.engine.schedule import LrLambda as _LrLambda

    f = _LrLambda("cosine", warmup=10, total=110, min_ratio=0.01)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    for step in (10, 35, 60, 85, 110):
        prog = (step - 10) / 100
        want = 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * prog))
        assert f(step) == pytest.approx(want)
    assert _LrLambda("constant", 0, 100)(57) == 1.0


def test_best_is_chosen_by_dev_acer_then_loss():
    from fasfast.engine.training import _better

    assert _better({"dev_acer": 0.1, "dev_loss": 1.0}, None)
    assert _better({"dev_acer": 0.1, "dev_loss": 1.0}, {"dev_acer": 0.2, "dev_loss": 0.1})
    assert not _better({"dev_acer": 0.3, "dev_loss": 0.0}, {"dev_acer": 0.2, "dev_loss": 0.1})
    assert _better({"dev_acer": 0.2, "dev_loss": 0.05}, {"dev_acer": 0.2, "dev_loss": 0.1})
    assert not _better({"dev_acer": float("nan")}, {"dev_acer": 0.2, "dev_loss": 0.1})


def test_classifier_recipe_runs(root, tmp_path):
    """ConvNeXt-V2 + AdamW/cosine + CutMix + label smoothing + blur + class-specific
    down-sampling: one short epoch, then frame/video score files."""
    from fasfast.engine import evaluate, train

    cfg = tiny_config(
        root,
        tmp_path / "clf",
        model="convnextv2_atto",
        image_size=32,
        batch_size=4,
        limit=4,
        max_steps=1,
        downsample="live:2",
        blur=0.5,
        drop_path_rate=0.0,
        widths=None,
    )
    res = train(cfg)
    assert res.history[0]["step"] == 1
    summary = evaluate(
        res.best_checkpoint,
        root,
        "1",
        out_dir=tmp_path / "ev",
        workers=0,
        limit=4,
        progress=False,
        verbose=False,
    )
    files = summary["score_files"]["dev"]
    assert set(files) == {"frame", "video"}
    assert len(read_csv(files["video"])) == 4
