"""The bad-input table (issue 14): every row is an input people get wrong, the exception type
(or CLI exit code) it must end in, and a fragment of the message. Nothing may crash (an
unexpected exception type, a traceback, exit code 1) and nothing may pass silently.

Rows marked ``OK`` are odd but valid inputs: their check function asserts the right result
(e.g. a NaN propagates to exactly the outputs it reaches; an RGBA PNG is read as RGB).

Zero-frame and truncated videos and ``fasfast prepare`` (issue 12), and NaN / inf scores,
repeated ids and non-UTF-8 score files (issue 14.3), have rows here too.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from fasfast import ops
from fasfast.analysis import pad_metrics, read_scores, select_thresholds
from fasfast.analysis.io import ScoreFileError, ScoreFileWarning
from fasfast.cli import main
from fasfast.data import oulu_npu, parse_oulu_name, path_label_list, uniattack
from fasfast.data.video import TruncatedVideoWarning, VideoReader, VideoReadError, read_image
from fasfast.engine import checkpoint as ck
from fasfast.labels import face_location_map, load_landmarks, make_label_map
from fasfast.models import ClassifierConfig, EulerNet, EulerNetConfig, build_classifier

OK = "ok"  # the row's input is valid: its function checks the result itself


@dataclass
class Row:
    area: str
    what: str
    run: Callable[[Path], Any] | list[str]  # f(files_dir) or a CLI argv ("{d}" = files dir)
    expect: type[BaseException] | int | str  # exception type, exit code, or OK
    fragment: str = ""


B = torch.tensor([1.0, -1.0, 0.0])
A = torch.tensor([-0.5, 0.0])


def _z(*shape, **kw):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0), **kw)


def _eulernet(**kw):
    return EulerNet(EulerNetConfig.preset("tiny", image_size=16, widths=(4, 6, 4), **kw)).eval()


def _nan_propagates_in_time(_):
    """DIIRF is causal along T: a NaN at (n, t0, h, w) reaches t >= t0 of that pixel only."""
    z = _z(2, 5, 3, 3)
    z[1, 2, 0, 1] = float("nan")
    y = ops.diirf(z, B, A)
    want = torch.zeros_like(z, dtype=torch.bool)
    want[1, 2:, 0, 1] = True
    assert torch.equal(torch.isnan(y), want)


def _nan_propagates_in_space(_):
    hi, lo = _z(1, 2, 4, 4), _z(1, 2, 2, 2)
    lo[0, 1, 0, 0] = float("nan")
    out = ops.upsample_sub(hi, lo, "nearest")
    want = torch.zeros_like(hi, dtype=torch.bool)
    want[0, 1, :2, :2] = True  # nearest: one low-res pixel covers a 2x2 block
    assert torch.equal(torch.isnan(out), want)


def _astronaut():
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()  # a real face photo, RGB uint8 512x512


def _detector():
    from fasfast.labels import shared_detector

    return shared_detector()


def _grey_face_found(_):
    import cv2

    grey = cv2.cvtColor(_astronaut(), cv2.COLOR_RGB2GRAY)
    lm = _detector().landmarks(grey)
    assert lm is not None and lm.shape == (68, 2)
    ref = _detector().landmarks(_astronaut())
    assert np.abs(lm - ref).max() < 10  # the same face, within a few pixels


def _tiny_has_no_face(_):
    import cv2

    assert _detector().landmarks(cv2.resize(_astronaut(), (12, 12))) is None


def _noise_has_no_face(_):
    noise = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    assert _detector().landmarks(noise) is None


def _png_reads_as_rgb(name, check):
    def run(d):
        img = read_image(d / name)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        check(img)

    return run


def _write_png(d: Path, name: str, img: np.ndarray) -> None:
    import cv2

    assert cv2.imwrite(str(d / name), img)


def _save(obj, name):
    def run(d):
        torch.save(obj, d / name)
        return ck.load_model(d / name)

    return run


def _fasfast_ckpt(**changes):
    def run(d):
        m = _eulernet()
        state = {"kind": "eulernet", "model_config": m.config.to_dict(), "model": m.state_dict()}
        state.update(changes)
        state = {k: v for k, v in state.items() if v is not None}
        ck.save_checkpoint(d / "ck.pt", state)
        if "version" in changes:  # save_checkpoint writes version 1 first; replace it
            raw = torch.load(d / "ck.pt", weights_only=True)
            raw["version"] = changes["version"]
            torch.save(raw, d / "ck.pt")
        return ck.load_model(d / "ck.pt")

    return run


def _imagenet_head(d):
    from fasfast._compat import import_timm

    torch.save(
        import_timm().create_model("convnextv2_atto", num_classes=1000).state_dict(), d / "in1k.pth"
    )
    return ck.load_model(d / "in1k.pth")


def _truncated_safetensors(d):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(1000)}, str(d / "w.safetensors"))
    data = (d / "w.safetensors").read_bytes()
    (d / "w.safetensors").write_bytes(data[: len(data) // 2])
    return ck.load_model(d / "w.safetensors")


def _namespace_checkpoint_ok(d):
    m = _eulernet()
    torch.save(
        {
            "model": m.state_dict(),
            "epoch": 3,
            "optimizer": {"state": {}},
            "args": argparse.Namespace(model="eulernet", input_size=16),
        },
        d / "ns.pth",
    )
    got, meta = ck.load_model(d / "ns.pth", model="eulernet:tiny", image_size=16)
    assert meta["epoch"] == 3
    for k, v in m.state_dict().items():
        assert torch.equal(got.state_dict()[k], v), k


def _plain_files_load(d):
    """The other files of the issue's checkpoint case load exactly: a bare state dict, one
    with DataParallel / DDP ``module.`` prefixes and a safetensors file (any name)."""
    from safetensors.torch import save_file

    m = _eulernet()
    torch.save(m.state_dict(), d / "bare.pth")
    torch.save(torch.nn.DataParallel(m).state_dict(), d / "ddp.pth")
    save_file(m.state_dict(), str(d / "weights.bin"))
    for name in ("bare.pth", "ddp.pth", "weights.bin"):
        got, meta = ck.load_model(d / name, model="eulernet:tiny", image_size=16)
        assert meta["kind"] == "eulernet", name
        for k, v in m.state_dict().items():
            assert torch.equal(got.state_dict()[k], v), (name, k)


def _nan_rows_are_nonresponses(d):
    """bob's pipeline writes ``nan`` for samples it failed on: ISO non-responses (APNRR and
    BPNRR), left out of APCER and BPCER, never an error and never a silent score."""
    s = read_scores(d / "nan.csv")
    m = pad_metrics(s.scores, s.labels, 0.5, attack_type=s.attack_types)
    assert m.bpnrr == 0.5 and m.apnrr_per_type == {"print": 0.5, "replay": 0.0}
    assert m.apnrr == 0.5  # ISO: the worst PAI species, as for the APCER
    assert (m.bpcer, m.apcer) == (0.0, 0.0)  # the responses only: 1 live, 2 attacks


def _infinite_scores_are_scores(d):
    s = read_scores(d / "inf.csv")
    m = pad_metrics(s.scores, s.labels, 0.5)
    assert m.bpcer == 0.0 and m.apcer == 0.0 and m.bpnrr == 0.0 and m.apnrr == 0.0


def _repeated_ids_warn(d):
    with pytest.warns(ScoreFileWarning, match="dup.csv: 1 id.s. appear on several rows"):
        s = read_scores(d / "dup.csv")
    assert len(s) == 3


def _truncated_video_reads_to_its_end(d):
    """Header 40 frames, about 13 decodable: past-the-end indices get the last decodable
    frame, reported once with the counts (never an error, never silent)."""
    r = VideoReader(d / "cut.avi")
    with pytest.warns(TruncatedVideoWarning, match="cut.avi"):
        frames = r.read([0, 39])
    assert len(frames) == 2 and frames[1].shape == frames[0].shape


ROWS = [
    # ------------------------------------------------------------------------- ops
    Row(
        "ops",
        "diirf z of rank 3",
        lambda d: ops.diirf(_z(2, 4, 8), B, A),
        ValueError,
        "z must have rank 4 [N, T, H, W] or rank 5",
    ),
    Row(
        "ops",
        "diirf integer z",
        lambda d: ops.diirf(torch.ones(1, 4, 2, 2, dtype=torch.int32), B, A),
        TypeError,
        "z must be a floating-point tensor, got torch.int32",
    ),
    Row(
        "ops",
        "diirf coefficients on another device",
        lambda d: ops.diirf(_z(1, 4, 2, 2), B.to("meta"), A),
        TypeError,
        "b is on meta but z is on cpu: mixed devices",
    ),
    Row(
        "ops",
        "diirf 4 b coefficients",
        lambda d: ops.diirf(_z(1, 4, 2, 2), torch.ones(4), A),
        ValueError,
        "b must hold exactly 3 coefficients",
    ),
    Row(
        "ops",
        "diirf float64 z, float32 coefficients",
        lambda d: ops.diirf(_z(1, 4, 2, 2, dtype=torch.float64), B, A),
        TypeError,
        "coefficient dtype torch.float32 does not match z dtype torch.float64",
    ),
    Row(
        "ops", "diirf T = 0", lambda d: ops.diirf(_z(1, 0, 2, 2), B, A), ValueError, "T = 0 frames"
    ),
    Row(
        "ops",
        "diirf a list, not a tensor",
        lambda d: ops.diirf([[1.0]], B, A),
        TypeError,
        "z must be a torch.Tensor, got list",
    ),
    Row("ops", "diirf NaN input", _nan_propagates_in_time, OK),
    Row(
        "ops",
        "fcam_gate T of x and z differ",
        lambda d: ops.fcam_gate(_z(2, 4, 3, 8, 8), _z(2, 3, 8, 8), B, A),
        ValueError,
        "T of x (4) and z (3) differ",
    ),
    Row(
        "ops",
        "fcam_gate H, W of x and z differ",
        lambda d: ops.fcam_gate(_z(2, 4, 3, 8, 8), _z(2, 4, 8, 7), B, A),
        ValueError,
        "must agree in N, H and W",
    ),
    Row(
        "ops",
        "fcam_gate x float64, z float32",
        lambda d: ops.fcam_gate(_z(1, 4, 3, 2, 2, dtype=torch.float64), _z(1, 4, 2, 2), B, A),
        TypeError,
        "x and z must share a dtype",
    ),
    Row(
        "ops",
        "fcam_gate z on another device",
        lambda d: ops.fcam_gate(_z(1, 4, 3, 2, 2), _z(1, 4, 2, 2).to("meta"), B, A),
        TypeError,
        "x is on cpu but z is on meta: mixed devices",
    ),
    Row(
        "ops",
        "upsample_sub channel counts differ",
        lambda d: ops.upsample_sub(_z(1, 4, 8, 8), _z(1, 3, 4, 4)),
        ValueError,
        "channel counts differ: hi has 4, lo has 3",
    ),
    Row(
        "ops",
        "upsample_sub hi not twice lo",
        lambda d: ops.upsample_sub(_z(1, 4, 8, 8), _z(1, 4, 3, 4)),
        ValueError,
        "must be exactly twice lo's [3, 4]",
    ),
    Row(
        "ops",
        "upsample_sub unknown mode",
        lambda d: ops.upsample_sub(_z(1, 4, 8, 8), _z(1, 4, 4, 4), "cubic"),
        ValueError,
        "mode must be one of ('nearest', 'bilinear'), got 'cubic'",
    ),
    Row("ops", "upsample_sub NaN input", _nan_propagates_in_space, OK),
    Row(
        "ops", "pool_concat empty list", lambda d: ops.pool_concat([]), ValueError, "non-empty list"
    ),
    Row(
        "ops",
        "pool_concat sizes not integer multiples",
        lambda d: ops.pool_concat([_z(1, 2, 8, 8), _z(1, 2, 3, 3)]),
        ValueError,
        "is not the same integer multiple of the smallest size 3x3",
    ),
    Row(
        "ops",
        "pool_concat batch sizes differ",
        lambda d: ops.pool_concat([_z(1, 2, 8, 8), _z(2, 2, 4, 4)]),
        ValueError,
        "batch sizes differ",
    ),
    Row(
        "ops",
        "pool_concat integer tensor",
        lambda d: ops.pool_concat([torch.ones(1, 2, 8, 8, dtype=torch.int64)]),
        TypeError,
        "must be floating-point, got torch.int64",
    ),
    # ---------------------------------------------------------------------- models
    Row(
        "models",
        "EulerNet 3 frames, built for 4",
        lambda d: _eulernet()(torch.rand(1, 3, 3, 16, 16)),
        ValueError,
        "built for T=4 frames per sequence (config.frames), got T=3",
    ),
    Row(
        "models",
        "EulerNet 32x32 images, built for 16x16",
        lambda d: _eulernet()(torch.rand(1, 4, 3, 32, 32)),
        ValueError,
        "built for 16x16 images (config.image_size), got 32x32",
    ),
    Row(
        "models",
        "EulerNet grey frames",
        lambda d: _eulernet()(torch.rand(1, 4, 1, 16, 16)),
        ValueError,
        "3 colour channels (RGB) in dim 2, got 1",
    ),
    Row(
        "models",
        "EulerNet uint8 frames",
        lambda d: _eulernet()(torch.zeros(1, 4, 3, 16, 16, dtype=torch.uint8)),
        TypeError,
        "convert uint8 images with x.float() / 255",
    ),
    Row(
        "models",
        "EulerNet a rank-4 batch of images",
        lambda d: _eulernet()(torch.rand(4, 3, 16, 16)),
        ValueError,
        "expects rank 5 input",
    ),
    Row(
        "models",
        "EulerNet empty batch",
        lambda d: _eulernet()(torch.rand(0, 4, 3, 16, 16)),
        ValueError,
        "empty batch (B = 0)",
    ),
    Row(
        "models",
        "EulerNet NaN input with check_finite",
        lambda d: _eulernet(check_finite=True)(torch.full((1, 4, 3, 16, 16), float("nan"))),
        ValueError,
        "input holds NaN or inf",
    ),
    Row(
        "models",
        "EulerNet numpy input",
        lambda d: _eulernet()(np.zeros((1, 4, 3, 16, 16), np.float32)),
        TypeError,
        "expects a torch.Tensor",
    ),
    Row(
        "models",
        "EulerNetConfig image_size not a multiple of 8",
        lambda d: EulerNetConfig(image_size=30),
        ValueError,
        "positive multiple of 8",
    ),
    Row(
        "models",
        "unknown EulerNet preset",
        lambda d: EulerNetConfig.preset("C9"),
        ValueError,
        "unknown EulerNet preset 'C9'",
    ),
    Row(
        "models",
        "classifier with 1 class",
        lambda d: ClassifierConfig(num_classes=1),
        ValueError,
        "num_classes must be >= 2",
    ),
    Row(
        "models",
        "unknown timm model",
        lambda d: build_classifier(ClassifierConfig(model_name="convnextv9_atto")),
        ValueError,
        "unknown timm model 'convnextv9_atto'",
    ),
    Row(
        "models",
        "classifier 31x31 image (below the backbone's 32x down-sampling)",
        lambda d: build_classifier(ClassifierConfig(image_size=32)).eval()(
            torch.rand(1, 3, 31, 31)
        ),
        ValueError,
        "at least 32x32",
    ),
    Row(
        "models",
        "classifier one image without batch dim",
        lambda d: build_classifier(ClassifierConfig(image_size=32))(torch.rand(3, 32, 32)),
        ValueError,
        "expects [B, 3, H, W]",
    ),
    # ------------------------------------------------------------------------ data
    Row(
        "data",
        "missing OULU-NPU root",
        lambda d: oulu_npu(d / "nope", "1", "train"),
        FileNotFoundError,
        "OULU-NPU root not found",
    ),
    Row(
        "data",
        "unknown OULU-NPU protocol",
        lambda d: oulu_npu(d, "7", "train"),
        ValueError,
        "unknown OULU-NPU protocol '7'",
    ),
    Row(
        "data",
        "unknown split",
        lambda d: oulu_npu(d / "empty_split", "1", "holdout"),
        ValueError,
        "unknown split 'holdout'",
    ),
    Row(
        "data",
        "unknown UniAttackData protocol",
        lambda d: uniattack(d, "p9", "train"),
        ValueError,
        "unknown UniAttackData protocol 'p9'",
    ),
    Row(
        "data",
        "OULU-NPU root without split folders",
        lambda d: oulu_npu(d / "faces", "1"),
        FileNotFoundError,
        "split folder not found",
    ),
    Row(
        "data",
        "empty split (train)",
        ["train", "--data-root", "{d}/empty_split", "--out", "{d}/o", "--no-progress"],
        2,
        "split 'train' under {d}/empty_split has no samples",
    ),
    Row(
        "data",
        "empty split (eval)",
        [
            "eval",
            "{d}/good.pt",
            "--data-root",
            "{d}/empty_split",
            "--out",
            "{d}/o",
            "--no-progress",
        ],
        2,
        "split 'dev' under {d}/empty_split has no samples",
    ),
    Row(
        "data",
        "list file naming missing paths",
        lambda d: path_label_list(d / "list.txt"),
        FileNotFoundError,
        "file listed in",
    ),
    Row(
        "data",
        "list file with a word for a label",
        lambda d: path_label_list(d / "badlab.txt"),
        ValueError,
        "badlab.txt:1: bad label 'one'",
    ),
    Row(
        "data",
        "zero-frame video (header only)",
        lambda d: VideoReader(d / "zero.avi"),
        VideoReadError,
        "no decodable frames",
    ),
    Row("data", "truncated video", _truncated_video_reads_to_its_end, OK),
    Row(
        "data",
        "prepare: shard spec 0/0",
        ["prepare", "--data-root", "{d}/empty_split", "--cache-dir", "{d}/c", "--shard", "0/0"],
        2,
        "0/0",
    ),
    Row(
        "data",
        "prepare: data root without videos",
        ["prepare", "--data-root", "{d}/empty_split", "--cache-dir", "{d}/c"],
        2,
        "empty_split",
    ),
    Row(
        "data",
        "corrupt video",
        lambda d: VideoReader(d / "bad.avi"),
        VideoReadError,
        "cannot open video",
    ),
    Row(
        "data",
        "image folder without images",
        lambda d: VideoReader(d / "empty_split"),
        VideoReadError,
        "image folder has no images",
    ),
    Row(
        "data",
        "corrupt image",
        lambda d: read_image(d / "faces" / "a.png"),
        VideoReadError,
        "cannot decode image",
    ),
    Row(
        "data",
        "not an OULU-NPU file name",
        lambda d: parse_oulu_name("clip_01"),
        ValueError,
        "not an OULU-NPU name",
    ),
    # ---------------------------------------------------------------------- labels
    Row(
        "labels",
        "RGBA image to the detector",
        lambda d: _detector().landmarks(np.zeros((64, 64, 4), np.uint8)),
        ValueError,
        "image must have shape [H, W, 3] or [H, W], got (64, 64, 4)",
    ),
    Row(
        "labels",
        "16-bit image to the detector",
        lambda d: _detector().landmarks(np.zeros((64, 64, 3), np.uint16)),
        TypeError,
        "image must be uint8, got uint16",
    ),
    Row(
        "labels",
        "float image to the detector",
        lambda d: _detector().landmarks(np.zeros((64, 64, 3), np.float32)),
        TypeError,
        "image must be uint8, got float32",
    ),
    Row("labels", "grey face photo", _grey_face_found, OK),
    Row("labels", "tiny image (12x12): no face, not a guess", _tiny_has_no_face, OK),
    Row("labels", "noise: no face", _noise_has_no_face, OK),
    Row(
        "labels",
        "RGBA PNG file",
        _png_reads_as_rgb(
            "rgba.png", lambda img: np.testing.assert_array_equal(img[0, 0], [10, 20, 30])
        ),
        OK,
    ),
    Row(
        "labels",
        "16-bit PNG file",
        _png_reads_as_rgb(
            "u16.png", lambda img: np.testing.assert_array_equal(img[0, 0], [255, 128, 0])
        ),
        OK,
    ),
    Row(
        "labels",
        "grey PNG file",
        _png_reads_as_rgb(
            "grey.png", lambda img: np.testing.assert_array_equal(img[0, 0], [77, 77, 77])
        ),
        OK,
    ),
    Row(
        "labels",
        "landmarks with NaN",
        lambda d: face_location_map(np.full((68, 2), np.nan)),
        ValueError,
        "landmarks contain NaN or inf",
    ),
    Row(
        "labels",
        "5 landmarks for a 68-point map",
        lambda d: face_location_map(np.zeros((5, 2))),
        ValueError,
        "[..., 68, 2], got (5, 2)",
    ),
    Row(
        "labels",
        "unknown label map kind",
        lambda d: make_label_map("heat", np.zeros((68, 2))),
        ValueError,
        "unknown label kind 'heat'",
    ),
    Row(
        "labels",
        "corrupt landmark JSON",
        lambda d: load_landmarks(d / "lm.json"),
        ValueError,
        "cannot read landmark file",
    ),
    Row(
        "labels",
        "landmark file of another shape",
        lambda d: load_landmarks(d / "lm.npy"),
        ValueError,
        "holds shape (3, 5, 2), expected [F, 68, 2]",
    ),
    # -------------------------------------------------------------------- analysis
    Row(
        "analysis",
        "one class only (file)",
        lambda d: read_scores(d / "one.csv").check_two_classes("one.csv"),
        ValueError,
        "only one class present (2 live, 0 attack)",
    ),
    Row(
        "analysis",
        "one class only (CLI)",
        ["analyze", "{d}/one.csv", "--out", "{d}/o"],
        2,
        "only one class present",
    ),
    Row(
        "analysis",
        "one class only (API)",
        lambda d: pad_metrics([0.1, 0.2], [1, 1], 0.5),
        ValueError,
        "only one class present",
    ),
    Row(
        "analysis",
        "empty file",
        lambda d: read_scores(d / "empty.csv"),
        ScoreFileError,
        "empty.csv:1: file is empty",
    ),
    Row(
        "analysis",
        "header only",
        lambda d: read_scores(d / "hdr.csv"),
        ScoreFileError,
        "no score rows after the header",
    ),
    Row(
        "analysis",
        "text in the score column",
        lambda d: read_scores(d / "text.csv"),
        ScoreFileError,
        "text.csv:3: score 'high' is not a number",
    ),
    Row(
        "analysis",
        "unknown label",
        lambda d: read_scores(d / "lab.csv"),
        ScoreFileError,
        "lab.csv:2: unknown label 'maybe'",
    ),
    Row(
        "analysis",
        "row with a missing field",
        lambda d: read_scores(d / "fields.csv"),
        ScoreFileError,
        "fields.csv:2: expected 3 fields, got 2",
    ),
    Row(
        "analysis",
        "no label column",
        lambda d: read_scores(d / "nolabel.csv"),
        ScoreFileError,
        "header lacks column(s) label",
    ),
    Row(
        "analysis",
        "empty live scores",
        lambda d: select_thresholds([], [0.1, 0.2]),
        ValueError,
        "live scores is empty",
    ),
    Row(
        "analysis",
        "strings for scores",
        lambda d: select_thresholds(["a"], [0.1]),
        TypeError,
        "must be a real numeric array",
    ),
    Row(
        "analysis",
        "label 2 (not 0/1) to pad_metrics",
        lambda d: pad_metrics([0.1, 0.9, 0.5], [0, 2, 1], 0.5),
        ValueError,
        "is_live must hold booleans or 0/1 (1 = bona fide), got 2 at index 1",
    ),
    Row(
        "analysis",
        "scores and labels of other lengths",
        lambda d: pad_metrics([0.1, 0.2], [1], 0.5),
        ValueError,
        "length mismatch",
    ),
    Row(
        "analysis",
        "NaN scores (bob's failed samples) are non-responses",
        _nan_rows_are_nonresponses,
        OK,
    ),
    Row(
        "analysis",
        "NaN scores with --nan-policy error (CLI)",
        ["analyze", "{d}/nan.csv", "--out", "{d}/o", "--nan-policy", "error"],
        2,
        "is a non-response (NaN) and --nan-policy error refuses it",
    ),
    Row("analysis", "infinite scores are valid scores", _infinite_scores_are_scores, OK),
    Row("analysis", "repeated ids warn", _repeated_ids_warn, OK),
    Row(
        "analysis",
        "score file not in UTF-8",
        lambda d: read_scores(d / "latin.csv"),
        ScoreFileError,
        "latin.csv: not UTF-8 text (byte 0xff",
    ),
    # ----------------------------------------------------------------- checkpoints
    Row(
        "checkpoints",
        "missing file",
        lambda d: ck.load_model(d / "nope.pt"),
        FileNotFoundError,
        "checkpoint not found",
    ),
    Row(
        "checkpoints",
        "empty file",
        lambda d: ck.load_model(d / "empty.csv"),
        ck.CheckpointError,
        "is empty (0 bytes)",
    ),
    Row(
        "checkpoints",
        "a folder",
        lambda d: ck.load_model(d / "faces"),
        ck.CheckpointError,
        "is a folder, not a weights file",
    ),
    Row(
        "checkpoints",
        "truncated (first 100 bytes)",
        lambda d: ck.load_model(d / "trunc.pt"),
        ck.CheckpointError,
        "truncated or corrupt",
    ),
    Row(
        "checkpoints",
        "text, not weights",
        lambda d: ck.load_model(d / "one.csv"),
        ck.CheckpointError,
        "is not a PyTorch (.pt / .pth) or safetensors weights file",
    ),
    Row(
        "checkpoints",
        "pickled class (code on load)",
        _save({"model": {}, "obj": argparse.ArgumentParser}, "cls.pt"),
        ck.CheckpointError,
        "pickled Python object (argparse.ArgumentParser)",
    ),
    Row(
        "checkpoints",
        "a whole tensor, not a state dict",
        _save(torch.ones(3), "t.pt"),
        ck.CheckpointError,
        "holds a Tensor, not a state dict",
    ),
    Row(
        "checkpoints",
        "a dict without tensors",
        _save({"epoch": 3, "lr": 0.1}, "nt.pt"),
        ck.CheckpointError,
        "holds no state dict",
    ),
    Row("checkpoints", "paper-000 style with argparse.Namespace", _namespace_checkpoint_ok, OK),
    Row(
        "checkpoints",
        "fasfast checkpoint from a newer fasfast",
        _fasfast_ckpt(version=99),
        ck.CheckpointError,
        "newer than this fasfast understands",
    ),
    Row(
        "checkpoints",
        "fasfast checkpoint without kind",
        _fasfast_ckpt(kind=None),
        ck.CheckpointError,
        "lacks the 'kind' entry",
    ),
    Row(
        "checkpoints",
        "config and weights disagree",
        _fasfast_ckpt(
            model_config=EulerNetConfig.preset("tiny", image_size=16, widths=(4, 8, 4)).to_dict()
        ),
        ck.CheckpointError,
        "saved from another model",
    ),
    Row(
        "checkpoints",
        "ImageNet 1000-class head for scoring",
        _imagenet_head,
        ck.CheckpointError,
        "1000-class head",
    ),
    Row(
        "checkpoints",
        "truncated safetensors",
        _truncated_safetensors,
        ck.CheckpointError,
        "truncated or corrupt",
    ),
    Row(
        "checkpoints",
        "plain state dict given to resume",
        lambda d: ck.load_checkpoint(d / "plain.pt"),
        ck.CheckpointError,
        "only fasfast checkpoints can be resumed",
    ),
    Row(
        "checkpoints",
        "EulerNet weights as a classifier's --init",
        [
            "train",
            "--model",
            "convnextv2_atto",
            "--image-size",
            "32",
            "--init",
            "{d}/plain.pt",
            "--data-root",
            "{d}/empty_split",
            "--out",
            "{d}/o",
            "--no-progress",
        ],
        2,
        "fits only 0 of the",
    ),
    Row(
        "checkpoints",
        "eval of a truncated checkpoint",
        ["eval", "{d}/trunc.pt", "--data-root", "{d}"],
        2,
        "truncated or corrupt",
    ),
    Row("checkpoints", "bare, DDP-prefixed and safetensors state dicts", _plain_files_load, OK),
    Row(
        "checkpoints",
        "export of a truncated checkpoint",
        ["export", "{d}/trunc.pt"],
        2,
        "truncated or corrupt",
    ),
    Row(
        "checkpoints",
        "predict with a missing checkpoint",
        ["predict", "{d}/bad.avi", "-c", "{d}/nope.pt"],
        2,
        "checkpoint not found: {d}/nope.pt",
    ),
    # ----------------------------------------------------------------- CLI options
    Row(
        "cli",
        "train --batch-size 0",
        ["train", "--data-root", "{d}", "--batch-size", "0"],
        2,
        "batch_size must be >= 1, got 0",
    ),
    Row(
        "cli",
        "train --image-size 30",
        ["train", "--data-root", "{d}", "--image-size", "30"],
        2,
        "--image-size 30 is not a multiple of 8, the stride of EulerNet",
    ),
    Row(
        "cli",
        "train --downsample nonsense",
        ["train", "--data-root", "{d}", "--downsample", "nonsense"],
        2,
        "--downsample 'nonsense': expected CLASS:F1,F2",
    ),
    Row(
        "cli",
        "train --widths a,b,c (argparse)",
        ["train", "--data-root", "{d}", "--widths", "a,b,c"],
        2,
        "argument --widths: expected integers",
    ),
    Row(
        "cli",
        "train --protocol 9",
        ["train", "--data-root", "{d}", "--protocol", "9"],
        2,
        "unknown OULU-NPU protocol '9'",
    ),
    Row(
        "cli",
        "eval --level bogus (argparse)",
        ["eval", "{d}/good.pt", "--data-root", "{d}", "--level", "bogus"],
        2,
        "argument --level: invalid choice: 'bogus'",
    ),
    Row(
        "cli",
        "explain --device gpu0",
        ["explain", "{d}/good.pt", "{d}/clip.avi", "--out", "{d}/o", "--device", "gpu0"],
        2,
        "unknown device 'gpu0'",
    ),
    Row(
        "cli",
        "export --opset 3",
        ["export", "{d}/good.pt", "--opset", "3"],
        2,
        "opset 3 is outside",
    ),
    Row("cli", "export --atol 0", ["export", "{d}/good.pt", "--atol", "0"], 2, "atol must be > 0"),
    Row(
        "cli",
        "synth --fps 0",
        ["synth", "--out", "{d}/s", "--fps", "0"],
        2,
        "fps and seconds must be > 0",
    ),
    Row(
        "cli",
        "synth --seconds -1",
        ["synth", "--out", "{d}/s", "--seconds", "-1"],
        2,
        "fps and seconds must be > 0",
    ),
    Row(
        "cli",
        "synth --subjects 2",
        ["synth", "--out", "{d}/s", "--subjects", "2"],
        2,
        "need at least 3 subjects",
    ),
    Row(
        "cli",
        "magnify --fl above --fh",
        ["magnify", "{d}/clip.avi", "--out", "{d}/m.avi", "--fl", "5", "--fh", "1"],
        2,
        "need 0 < fl < fh < fps/2",
    ),
    Row(
        "cli",
        "label --size 0",
        ["label", "{d}/clip.avi", "--out", "{d}/o", "--size", "0"],
        2,
        "--size must be >= 8",
    ),
    Row(
        "cli",
        "demo --image-size 30 (fails before generating data)",
        ["demo", "--out", "{d}/demo", "--image-size", "30", "--no-progress"],
        2,
        "image_size must be a positive multiple of 8",
    ),
    Row(
        "cli",
        "reproduce ablation --presets C9",
        ["reproduce", "ablation", "--tiny", "--presets", "C9", "--out", "{d}/r"],
        2,
        "unknown preset(s) ['C9']",
    ),
    Row(
        "cli",
        "analyze --format bogus (argparse)",
        ["analyze", "{d}/one.csv", "--format", "x"],
        2,
        "argument --format: invalid choice",
    ),
    Row(
        "cli",
        "predict --batch-size 0 (named, exit 2)",
        ["predict", "{d}/bad.avi", "-c", "{d}/good.pt", "--batch-size", "0"],
        2,
        "argument --batch-size: expected an integer >= 1, got 0",
    ),
    Row(
        "cli",
        "predict -j -1 (named, exit 2)",
        ["predict", "{d}/bad.avi", "-c", "{d}/good.pt", "-j", "-1"],
        2,
        "argument --workers/-j: expected an integer >= 0, got -1",
    ),
    Row(
        "cli",
        "eval --batch-size 0 (named, exit 2)",
        ["eval", "{d}/good.pt", "--batch-size", "0"],
        2,
        "argument --batch-size: expected an integer >= 1, got 0",
    ),
    Row(
        "cli",
        "analyze --seed -1 (named, exit 2)",
        ["analyze", "{d}/one.csv", "--seed", "-1"],
        2,
        "argument --seed: expected an integer >= 0, got -1",
    ),
    Row(
        "cli",
        "analyze --ci 2 (named, exit 2)",
        ["analyze", "{d}/one.csv", "--ci", "2"],
        2,
        "argument --ci: expected a confidence level in (0, 1)",
    ),
    Row(
        "cli",
        "analyze --ci -0.5 (named, exit 2)",
        ["analyze", "{d}/one.csv", "--ci", "-0.5"],
        2,
        "argument --ci: expected a confidence level in (0, 1)",
    ),
    Row(
        "cli",
        "analyze --bootstrap -5 (named, exit 2)",
        ["analyze", "{d}/one.csv", "--bootstrap", "-5"],
        2,
        "argument --bootstrap: expected an integer >= 0, got -5",
    ),
    Row(
        "cli",
        "train --image-size 0 (named, exit 2)",
        ["train", "--data-root", "{d}", "--image-size", "0"],
        2,
        "--image-size must be a positive integer",
    ),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The bad (and odd) files the rows read."""
    import cv2

    d = tmp_path_factory.mktemp("bad_input")
    garbage = b"garbage\x00\x01 this is not what the name says" * 4
    (d / "faces").mkdir()
    (d / "faces" / "a.png").write_bytes(garbage)
    (d / "bad.avi").write_bytes(garbage)
    for split in ("Train_files", "Dev_files", "Test_files"):
        (d / "empty_split" / split).mkdir(parents=True)
    (d / "list.txt").write_text("a.avi 1\nb.avi 0\n")
    (d / "badlab.txt").write_text("a.avi one\n")
    (d / "lm.json").write_text("{bad")
    np.save(d / "lm.npy", np.zeros((3, 5, 2)))
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = (30, 20, 10)  # BGR on disk = RGB (10, 20, 30)
    rgba[..., 3] = 128
    _write_png(d, "rgba.png", rgba)
    _write_png(d, "u16.png", np.full((8, 8, 3), (0, 32896, 65535), np.uint16))  # BGR
    _write_png(d, "grey.png", np.full((8, 8), 77, np.uint8))
    writer = cv2.VideoWriter(str(d / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (32, 32))
    for i in range(8):
        writer.write(np.full((32, 32, 3), 10 * i, np.uint8))
    writer.release()
    scores = {
        "one.csv": "id,label,score\na,live,0.9\nb,live,0.8\n",
        "empty.csv": "",
        "hdr.csv": "id,label,score\n",
        "text.csv": "id,label,score\na,live,0.9\nb,attack,high\n",
        "lab.csv": "id,label,score\na,maybe,0.9\n",
        "fields.csv": "id,label,score\na,live\n",
        "nolabel.csv": "id,score\na,0.9\n",
    }
    scores.update(
        {
            "nan.csv": "id,label,attack_type,score\na,live,,0.9\nb,live,,nan\nc,attack,print,0.1\n"
            "d,attack,print,nan\ne,attack,replay,0.2\n",
            "inf.csv": "id,label,score\na,live,inf\nb,live,0.8\nc,attack,-inf\nd,attack,0.2\n",
            "dup.csv": "id,label,score\na,live,0.9\na,live,0.8\nc,attack,0.1\n",
        }
    )
    for name, text in scores.items():
        (d / name).write_text(text)
    (d / "latin.csv").write_bytes(b"id,label,score\n\xff\xfe,live,0.9\nc,attack,0.1\n")
    writer = cv2.VideoWriter(str(d / "v40.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(40):
        writer.write(np.full((48, 64, 3), 10 + 4 * i, np.uint8))
    writer.release()
    data = (d / "v40.avi").read_bytes()
    (d / "cut.avi").write_bytes(data[: int(len(data) * 0.55)])
    cv2.VideoWriter(str(d / "zero.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48)).release()
    m = _eulernet()
    ck.save_checkpoint(
        d / "good.pt",
        {
            "kind": "eulernet",
            "model_config": m.config.to_dict(),
            "model": m.state_dict(),
            "epoch": 1,
        },
    )
    (d / "trunc.pt").write_bytes((d / "good.pt").read_bytes()[:100])
    torch.save(m.state_dict(), d / "plain.pt")
    return d


def test_table_is_big_enough():
    assert len(ROWS) >= 40
    assert {r.area for r in ROWS} == {
        "ops",
        "models",
        "data",
        "labels",
        "analysis",
        "checkpoints",
        "cli",
    }
    assert all(r.fragment for r in ROWS if r.expect is not OK)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.area}: {r.what}" for r in ROWS])
def test_bad_input(row, files, capsys, monkeypatch):
    if row.expect is OK:
        row.run(files)
        return
    if isinstance(row.expect, int):  # a CLI row: one line on stderr, that exit code
        monkeypatch.chdir(files)
        argv = [a.format(d=files) for a in row.run]
        usage = False
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse's own usage errors: usage lines, then the error
            rc, usage = e.code, True
        err = capsys.readouterr().err
        assert rc == row.expect, err
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert usage or len(lines) == 1, err
        last = lines[-1]
        assert last.startswith(f"fasfast {argv[0]}") and ": error: " in last, err
        assert row.fragment.format(d=files) in last
        return
    with pytest.raises(row.expect) as info:
        row.run(files)
    assert type(info.value) is row.expect or issubclass(type(info.value), row.expect)
    assert row.fragment in str(info.value)
