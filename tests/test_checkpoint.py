"""Checkpoints: atomic writes, safe loading, clear errors, crash safety, RNG state."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from fasfast.engine import checkpoint as ck
from fasfast.models import EulerNet, EulerNetConfig


def _model(widths=(4, 6, 4)):
    torch.manual_seed(0)
    return EulerNet(EulerNetConfig.preset("tiny", image_size=16, widths=widths))


def _save(path, model, epoch=1):
    return ck.save_checkpoint(
        path,
        {
            "kind": "eulernet",
            "model_config": model.config.to_dict(),
            "model": model.state_dict(),
            "epoch": epoch,
        },
    )


def test_roundtrip_load_model(tmp_path):
    m = _model()
    _save(tmp_path / "a.pt", m, epoch=3)
    assert not (tmp_path / "a.pt.tmp").exists()
    m2, meta = ck.load_model(tmp_path / "a.pt")
    assert meta["epoch"] == 3 and "model" not in meta and not m2.training
    x = torch.rand(2, 4, 3, 16, 16)
    m.eval()
    with torch.no_grad():
        torch.testing.assert_close(m2(x), m(x), rtol=0, atol=0)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        ck.load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "x.pt.tmp").write_bytes(b"partial")
    with pytest.raises(FileNotFoundError, match="interrupted while saving"):
        ck.load_checkpoint(tmp_path / "x.pt")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.02])
def test_truncated_file(tmp_path, keep):
    p = _save(tmp_path / "t.pt", _model())
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ck.CheckpointError, match="truncated or corrupt"):
        ck.load_checkpoint(p)


def test_empty_file(tmp_path):
    (tmp_path / "e.pt").write_bytes(b"")
    with pytest.raises(ck.CheckpointError, match="empty"):
        ck.load_checkpoint(tmp_path / "e.pt")


def test_foreign_files(tmp_path):
    torch.save({"weight": torch.ones(2)}, tmp_path / "sd.pt")
    with pytest.raises(ck.CheckpointError, match="not a fasfast checkpoint"):
        ck.load_checkpoint(tmp_path / "sd.pt")
    torch.save({"obj": _Custom()}, tmp_path / "pickle.pt")
    with pytest.raises(ck.CheckpointError, match="weights_only"):
        ck.load_checkpoint(tmp_path / "pickle.pt")


class _Custom:
    pass


def test_checkpoint_from_another_model(tmp_path):
    _save(tmp_path / "small.pt", _model((4, 6, 4)))
    other = _model((4, 8, 4))
    state = ck.load_checkpoint(tmp_path / "small.pt")["model"]
    with pytest.raises(ck.CheckpointError, match="another model.*shape mismatch"):
        ck.load_state_into(other, state, "small.pt")
    no_fcam = EulerNet(
        EulerNetConfig.preset("tiny", image_size=16, widths=(4, 6, 4), use_fcam=False)
    )
    with pytest.raises(ck.CheckpointError, match="another model.*unexpected key"):
        ck.load_state_into(no_fcam, state, "small.pt")
    # a checkpoint whose stored config does not match its weights
    bad = ck.load_checkpoint(tmp_path / "small.pt")
    bad["model_config"]["widths"] = [4, 8, 4]
    ck.save_checkpoint(tmp_path / "bad.pt", bad)
    with pytest.raises(ck.CheckpointError, match="another model"):
        ck.load_model(tmp_path / "bad.pt")


def test_crash_between_tmp_write_and_rename_keeps_previous(tmp_path, monkeypatch):
    p = _save(tmp_path / "last.pt", _model(), epoch=1)

    def boom(src, dst):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(ck.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        _save(p, _model(), epoch=2)
    monkeypatch.undo()
    assert (tmp_path / "last.pt.tmp").exists()
    assert ck.load_checkpoint(p)["epoch"] == 1


_WRITER = r"""
import sys, torch
from fasfast.engine.checkpoint import save_checkpoint
path = sys.argv[1]
torch.manual_seed(0)
big = torch.randn(3_000_000)
for epoch in range(1, 10_000):
    save_checkpoint(path, {"kind": "eulernet", "model_config": {}, "model": {"w": big + epoch},
                           "epoch": epoch})
    print(epoch, flush=True)
"""


def test_killed_writer_leaves_last_complete_checkpoint(tmp_path):
    """SIGKILL a process that keeps rewriting its checkpoint: what is left under the real
    name is always a complete, readable checkpoint."""
    path = tmp_path / "last.pt"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "1"  # first checkpoint complete
        time.sleep(0.3 + random.random() * 0.4)  # now mid-way through a later write
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    ckpt = ck.load_checkpoint(path)
    assert ckpt["epoch"] >= 1
    torch.manual_seed(0)
    base = torch.randn(3_000_000)
    torch.testing.assert_close(ckpt["model"]["w"], base + ckpt["epoch"], rtol=0, atol=0)


def test_rng_state_roundtrip_and_weights_only(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    state = ck.rng_state()
    ck.save_checkpoint(
        tmp_path / "r.pt", {"kind": "eulernet", "model_config": {}, "model": {}, "rng": state}
    )
    want = (random.random(), np.random.rand(3), torch.rand(3))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    ck.set_rng_state(ck.load_checkpoint(tmp_path / "r.pt")["rng"])  # weights_only=True load
    got = (random.random(), np.random.rand(3), torch.rand(3))
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])
    torch.testing.assert_close(got[2], want[2], rtol=0, atol=0)


# ------------------------------------------------------------------ the one weights loader
# Files people in the field produce, built as their code builds them; each must load
# through every path that reads weights.
ATTO = "convnextv2_atto"
SIZE = 32  # ConvNeXt needs a multiple of 32; small for the CPU


def _timm_atto(num_classes=2, seed=0):
    from fasfast._compat import import_timm

    torch.manual_seed(seed)
    net = import_timm().create_model(ATTO, num_classes=num_classes)
    with torch.no_grad():  # distinct from any fresh init (biases start at zero)
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return net


@pytest.fixture(scope="module")
def weights_files(tmp_path_factory):
    """name -> (path, expected bare timm state dict) for the five kinds of file."""
    import argparse

    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("weights")
    net = _timm_atto()
    a = {k: v.clone() for k, v in net.state_dict().items()}
    b = {
        k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v.clone()
        for k, v in a.items()
    }  # the "EMA" weights: near a, not equal
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    net(torch.rand(2, 3, SIZE, SIZE)).sum().backward()
    opt.step()  # an optimizer state with tensors, as after training
    net.load_state_dict(a)
    files = {}
    # the public ConvNeXt-V2 code of Huang et al. 2024 (main_finetune.py / utils.save_model)
    args = argparse.Namespace(
        model=ATTO,
        input_size=SIZE,
        nb_classes=2,
        drop_path=0.1,
        batch_size=64,
        lr=None,
        blr=6.25e-4,
        output_dir="/tmp/out",
        device="cuda",
        seed=0,
        model_ema=False,
    )
    files["paper000"] = {
        "model": a,
        "optimizer": opt.state_dict(),
        "epoch": 42,
        "scaler": torch.amp.GradScaler("cuda", enabled=False).state_dict(),
        "args": args,
    }
    files["timm_state_dict"] = net.state_dict()  # torch.save(create_model(...).state_dict())
    files["ddp"] = torch.nn.DataParallel(net).state_dict()  # module.* keys
    # timm's train.py CheckpointSaver: arch, state_dict, state_dict_ema, args
    files["ema"] = {
        "epoch": 3,
        "arch": ATTO,
        "state_dict": a,
        "state_dict_ema": b,
        "args": argparse.Namespace(model=ATTO, img_size=SIZE, num_classes=2),
    }
    out = {}
    for name, obj in files.items():
        path = d / f"{name}.pth"
        torch.save(obj, path)
        out[name] = (path, a)
    save_file(a, str(d / "weights.safetensors"))
    out["safetensors"] = (d / "weights.safetensors", a)
    torch.save({"model_ema": b, "epoch": 1}, d / "ema_only.pth")
    out["ema_only"] = (d / "ema_only.pth", b)
    return out


KINDS = ["paper000", "timm_state_dict", "ddp", "ema", "safetensors", "ema_only"]


def _assert_weights(model, want):
    from fasfast.models.weights import unwrap

    got = unwrap(model).backbone.state_dict()
    assert set(got) == set(want)
    for k in want:
        assert torch.equal(got[k], want[k]), k


def test_safe_globals_are_scoped(weights_files):
    import argparse

    from fasfast.models.weights import read_weights

    wf = read_weights(weights_files["paper000"][0])
    assert isinstance(wf.raw["args"], argparse.Namespace) and wf.raw["args"].model == ATTO
    assert wf.container == "'model' entry" and set(wf.entries) == {
        "optimizer",
        "epoch",
        "scaler",
        "args",
    }
    assert argparse.Namespace not in torch.serialization.get_safe_globals()
    with pytest.raises(Exception, match="Unsupported global"):  # torch itself, outside us
        torch.load(weights_files["paper000"][0], weights_only=True)


@pytest.mark.parametrize("kind", KINDS)
def test_classifier_init_loads_every_kind(weights_files, kind):
    import warnings

    from fasfast.models import ClassifierConfig, build_classifier

    path, want = weights_files[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete load warns about nothing
        m = build_classifier(ClassifierConfig(image_size=SIZE, init=str(path)))
    _assert_weights(m, want)
    assert m.init_report.complete and len(m.init_report.loaded) == 140


@pytest.mark.parametrize("kind", KINDS)
def test_load_model_and_train_init_load_every_kind(weights_files, kind, capsys):
    from fasfast.engine import TrainConfig
    from fasfast.engine.training import setup_model

    path, want = weights_files[kind]
    model, meta = ck.load_model(path, image_size=SIZE)
    _assert_weights(model, want)
    assert not model.training and meta["kind"] == "classifier"
    assert meta["model_config"]["model_name"] == ATTO and meta["model_config"]["image_size"] == SIZE
    net, _, _ = setup_model(TrainConfig(model=ATTO, image_size=SIZE, init=str(path)).resolved())
    _assert_weights(net, want)
    assert f"init: loaded 140 of 140 tensors from {path}" in capsys.readouterr().out


def test_entry_selects_ema_weights(weights_files):
    from fasfast.models.weights import read_weights

    path, a = weights_files["ema"]
    b = weights_files["ema_only"][1]
    model, _ = ck.load_model(path, entry="state_dict_ema")
    _assert_weights(model, b)
    assert "state_dict_ema" in read_weights(path).entries  # reported as not used by default


def test_load_model_infers_plain_files(weights_files):
    """Model name and size come from --model, the file's args, or the tensors (with a warning
    saying what was guessed)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Huang et al.'s args name the model and the size
        _, meta = ck.load_model(weights_files["paper000"][0])
    assert meta["epoch"] == 42 and meta["model_config"]["image_size"] == SIZE
    with pytest.warns(
        UserWarning,
        match=r"built convnextv2_atto \(from the tensors\), 2 classes, "
        r"image size 224 \(from timm's default\)",
    ):
        _, meta = ck.load_model(weights_files["timm_state_dict"][0])
    assert meta["model_config"]["image_size"] == 224
    with pytest.raises(ck.CheckpointError, match="unknown timm model 'resnet_nope'"):
        ck.load_model(weights_files["timm_state_dict"][0], model="resnet_nope")
    with pytest.raises(ck.CheckpointError, match=r"another model.*pass --model NAME"):
        ck.load_model(weights_files["timm_state_dict"][0], model="convnextv2_femto")


def test_imagenet_head_skipped_when_finetuning_fatal_when_exact(tmp_path):
    """A 1000-class head: reported and skipped by init, refused by load_model and resume."""
    from fasfast.models import ClassifierConfig, build_classifier

    net = _timm_atto(num_classes=1000)
    path = tmp_path / "imagenet.pth"
    torch.save(net.state_dict(), path)
    with pytest.warns(
        UserWarning,
        match=r"loaded 138 of 140 .*skipped 2: backbone.head.fc.weight "
        r"\(shape \[1000, 320\] in the file, \[2, 320\] in the model\)",
    ):
        m = build_classifier(ClassifierConfig(image_size=SIZE, init=str(path)))
    assert torch.equal(m.backbone.stem[0].weight, net.stem[0].weight)
    assert m.backbone.head.fc.weight.shape == (2, 320)
    with pytest.raises(ck.CheckpointError, match="1000-class head.*fine-tune it first"):
        ck.load_model(path)
    with pytest.raises(
        ck.CheckpointError,
        match=r"another model.*shape mismatch.*head.fc.weight: "
        r"file \[1000, 320\] vs model \[2, 320\]",
    ):
        ck.load_state_into(m, net.state_dict(), path)  # resume is exact


def test_resume_from_plain_files_loads_exactly_and_starts_afresh(
    weights_files, tmp_path, monkeypatch
):
    """--resume with a file that is not a fasfast checkpoint (issue 14: the two files load
    through resume too): exact weights, a fresh start (another program's optimizer / epoch
    unused) said in one warning; a 1000-class head is fatal on resume (skipped by --init)."""
    import argparse
    from types import SimpleNamespace

    from fasfast.engine import training
    from fasfast.models import ClassifierConfig, build_classifier

    started = []
    monkeypatch.setattr(training, "start_afresh", started.append)

    def run():
        model = build_classifier(ClassifierConfig(image_size=SIZE))
        return SimpleNamespace(model=model, cfg=None, info=SimpleNamespace(is_main=True))

    for kind in ("paper000", "timm_state_dict", "safetensors"):
        path, want = weights_files[kind]
        r = run()
        with pytest.warns(
            UserWarning,
            match=rf"resume: .*{path.name} is not a fasfast checkpoint .*: its 140 tensors are "
            "loaded exactly.*training starts at epoch 1 with a fresh optimizer",
        ):
            training.resume(r, path)
        _assert_weights(r.model, want)
        assert started[-1] is r
    net = _timm_atto(num_classes=1000)
    torch.save(
        {"model": net.state_dict(), "args": argparse.Namespace(model=ATTO)}, tmp_path / "a.pth"
    )
    with pytest.raises(
        ck.CheckpointError,
        match=r"cannot resume: .*a.pth was saved from another model.*head.fc.weight: "
        r"file \[1000, 320\] vs model \[2, 320\].*use --init",
    ):
        training.resume(run(), tmp_path / "a.pth")
    assert len(started) == 3


def test_finetune_refuses_another_architecture(tmp_path):
    from fasfast.engine import TrainConfig
    from fasfast.engine.training import setup_model

    torch.save(_model().state_dict(), tmp_path / "eulernet.pth")
    with pytest.raises(
        ck.CheckpointError,
        match=r"fits only 0 of the \d+ weights of this "
        "convnextv2_atto model.*another architecture",
    ):
        setup_model(
            TrainConfig(model=ATTO, image_size=SIZE, init=str(tmp_path / "eulernet.pth")).resolved()
        )


def test_eulernet_plain_state_dicts(tmp_path):
    """Bare and DDP-prefixed EulerNet state dicts: init, exact load with the architecture read
    from the tensors, and an init with another FCAM setting skips what does not fit."""
    m = _model()
    torch.save(m.state_dict(), tmp_path / "bare.pt")
    torch.save({"model": torch.nn.DataParallel(m).state_dict()}, tmp_path / "ddp.pt")
    for name in ("bare.pt", "ddp.pt"):
        with pytest.warns(UserWarning, match=r"widths \[4, 6, 4\].*pass --model"):
            got, meta = ck.load_model(tmp_path / name, image_size=16)
        assert meta["kind"] == "eulernet" and meta["model_config"]["widths"] == [4, 6, 4]
        for k, v in m.state_dict().items():
            assert torch.equal(got.state_dict()[k], v), k
    no_fcam = EulerNet(
        EulerNetConfig.preset("tiny", image_size=16, widths=(4, 6, 4), use_fcam=False)
    )
    report = ck.load_init_weights(no_fcam, tmp_path / "ddp.pt")
    assert len(report.loaded) == len(no_fcam.state_dict()) and len(report.skipped) == 12
    assert all(why == "not in this model" for why in report.skipped.values())


def test_refused_pickle_runs_no_code(tmp_path):
    """An object whose unpickling would run code is refused before it runs; so is a Namespace
    holding one."""
    import argparse

    marker = tmp_path / "ran"
    torch.save({"model": {"w": torch.ones(1)}, "evil": _Evil(str(marker))}, tmp_path / "e.pt")
    torch.save(
        {"model": {"w": torch.ones(1)}, "args": argparse.Namespace(x=_Evil(str(marker)))},
        tmp_path / "ns.pt",
    )
    for name in ("e.pt", "ns.pt"):
        with pytest.raises(
            ck.CheckpointError,
            match=r"pickled Python object \(io.open\).*"
            "weights_only=True refuses arbitrary pickles",
        ):
            ck.load_model(tmp_path / name)
    assert not marker.exists()


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_mismatch_reporter_is_shared():
    from fasfast.models import weights

    assert ck.describe_mismatch is weights.describe_mismatch
    own = {"a": torch.zeros(2), "b": torch.zeros(3), "c": torch.zeros(1)}
    mm = weights.describe_mismatch(
        own, {"a": torch.zeros(2), "b": torch.zeros(4), "d": torch.zeros(1)}
    )
    assert mm.missing == ["c"] and mm.unexpected == ["d"] and mm.shapes == [("b", (4,), (3,))]
    assert mm.describe() == (
        "1 shape mismatch(es) (b: file [4] vs model [3]); 1 missing key(s) "
        "(c); 1 unexpected key(s) (d)"
    )


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from engine_support import tiny_data

    return tiny_data(tmp_path_factory)


@pytest.mark.parametrize("kind", KINDS)
def test_every_command_loads_every_kind(weights_files, data_root, kind, tmp_path, capsys):
    """fasfast train --init, predict, explain (Grad-CAM of the classifier's stages), and for
    the two files of issue 14 (Huang et al. 2024's checkpoint, a plain timm state dict) eval
    and export too, with each kind of file. (eval
    and export reach the loader through the same load_model that the test above checks with
    every kind; the full sweep costs about 25 s a file.)"""
    from fasfast.cli import main
    from fasfast.data import oulu_npu

    path = str(weights_files[kind][0])
    video = oulu_npu(data_root, "1", "test")[0].path
    quick = ["--workers", "0", "--no-progress"]
    assert (
        main(
            [
                "train",
                "--model",
                ATTO,
                "--init",
                path,
                "--root",
                str(data_root),
                "--protocol",
                "1",
                "--epochs",
                "1",
                "--image-size",
                str(SIZE),
                "--batch-size",
                "4",
                "--limit",
                "4",
                "--max-steps",
                "1",
                "--out",
                str(tmp_path / "run"),
                *quick,
            ]
        )
        == 0
    )
    assert f"init: loaded 140 of 140 tensors from {path}" in capsys.readouterr().out
    size = ["--image-size", str(SIZE)]
    assert main(["predict", video, "-c", path, *size, *quick]) == 0
    assert "score" in capsys.readouterr().out
    assert main(["explain", path, video, "--out", str(tmp_path / "cam"), *size]) == 0
    assert "Traceback" not in capsys.readouterr().err
    cam = json.loads((tmp_path / "cam" / "gradcam.json").read_text())
    assert cam["models"][0]["config"]["model_name"] == ATTO and len(cam["frames"][0]) == 1
    assert (tmp_path / "cam" / "gradcam.png").is_file()
    assert (tmp_path / "cam" / "model0" / "window0" / "frame0_backbone.stages.3.png").is_file()
    if kind not in ("paper000", "timm_state_dict"):
        return
    assert (
        main(
            [
                "eval",
                path,
                "--root",
                str(data_root),
                "--protocol",
                "1",
                "--limit",
                "2",
                "--apply-split",
                "none",
                "--out",
                str(tmp_path / "ev"),
                *size,
                *quick,
            ]
        )
        == 0
    )
    assert (tmp_path / "ev" / "summary.json").is_file()
    pytest.importorskip("onnxruntime")
    assert main(["export", path, "--out", str(tmp_path / "m.onnx"), *size]) == 0
    assert "checked with onnxruntime" in capsys.readouterr().out


def test_explain_takes_a_plain_eulernet_state_dict(data_root, tmp_path, capsys):
    from fasfast.cli import main
    from fasfast.data import oulu_npu

    torch.save({"model": torch.nn.DataParallel(_model()).state_dict()}, tmp_path / "e.pt")
    video = oulu_npu(data_root, "1", "test")[0].path
    assert (
        main(
            [
                "explain",
                str(tmp_path / "e.pt"),
                video,
                "--out",
                str(tmp_path / "cam"),
                "--model",
                "eulernet:tiny",
                "--image-size",
                "16",
            ]
        )
        == 0
    )
    assert (tmp_path / "cam" / "gradcam.png").is_file()
