"""Grad-CAM on EulerNet and on a frame classifier: shapes, non-constant maps, autograd oracles,
overlays, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fasfast.diagnostics.gradcam import (
    DEFAULT_LAYERS,
    GradCAM,
    comparison_figure,
    overlay,
    write_overlays,
)
from fasfast.models import EulerNet, EulerNetConfig

S = 32


def _model(preset="baseline"):
    torch.manual_seed(0)
    cfg = EulerNetConfig.preset(preset, image_size=S, widths=(8, 12, 8))
    return EulerNet(cfg).eval()


def _input(b=2):
    g = torch.Generator().manual_seed(3)
    return torch.rand(b, 4, 3, S, S, generator=g)


@pytest.mark.parametrize("preset", ["baseline", "C2"])  # C2: no FCAM, no pyramid
def test_maps_have_input_size_and_are_not_constant(preset):
    model, x = _model(preset), _input()
    res = GradCAM(model)(x)
    side = x.shape[-1] // 8  # EulerNet's map: image_size // 8
    assert res.map_size == (side, side)
    # The ReLU of Grad-CAM keeps the evidence FOR the target only: where a layer holds none
    # for "live", it holds evidence for "attack" (the opposite gradient), so one of the two
    # maps of every layer and frame carries spatial structure.
    opp = GradCAM(model, target="attack")(x)
    assert set(res.cams) == set(DEFAULT_LAYERS)
    informative = 0
    for name, cam in res.cams.items():
        assert cam.shape == (2, 4, S, S), name
        assert cam.min() >= 0 and cam.max() <= 1
        for b in range(2):
            for t in range(4):
                pair = (cam[b, t], opp.cams[name][b, t])
                best = max(pair, key=lambda c: c.std())
                assert best.std() > 1e-2, (name, b, t)  # not constant
                assert best.max() == pytest.approx(1.0) and best.min() == pytest.approx(0.0)
                informative += int(cam[b, t].std() > 1e-2)
                assert res.constant[name][b, t] == (cam[b, t].std() == 0)
    assert informative > 0
    assert res.native == {"fcam1": (16, 16), "fcam2": (8, 8), "fcam3": (4, 4), "pyramid": (4, 4)}
    assert res.pred.shape == (2, 4, S, S) and res.scores.shape == (2,)


def test_matches_autograd_oracle_without_hooks():
    model = _model()
    x = _input(1)
    res = GradCAM(model, layers=("fcam2",))(x)
    # Oracle: recompute the forward by hand and take the gradient of the score w.r.t. fcam2's output.
    xn = (x.reshape(4, 3, S, S) - model.mean) / model.std
    a1 = model.fcam1(model.stage1(model.stem(xn)))
    a2 = model.fcam2(model.stage2(a1))
    a3 = model.fcam3(model.stage3(a2))
    maps = torch.sigmoid(model.head(model.pyramid(a1, a2, a3)))
    (g,) = torch.autograd.grad(maps.mean(), a2)
    cam = torch.relu((g.mean(dim=(2, 3), keepdim=True) * a2).sum(1, keepdim=True))
    cam = (
        F.interpolate(cam, size=(S, S), mode="bilinear", align_corners=False)[:, 0]
        .detach()
        .double()
    )
    lo = cam.flatten(1).min(1).values.view(-1, 1, 1)
    hi = cam.flatten(1).max(1).values.view(-1, 1, 1)
    rng_ = (hi - lo).numpy()
    ref = np.where(rng_ > 0, (cam - lo).numpy() / np.where(rng_ > 0, rng_, 1), 0.0)
    assert (rng_ > 0).any()  # at least one informative frame is compared
    np.testing.assert_allclose(res.cams["fcam2"][0], ref, atol=1e-4)
    assert res.scores[0] == pytest.approx(float(maps.mean().detach()), rel=1e-5)


def _classifier(size=64):
    from fasfast.models import ClassifierConfig, build_classifier

    torch.manual_seed(0)
    clf = build_classifier(ClassifierConfig("convnextv2_atto", image_size=size)).eval()
    with torch.no_grad():  # away from the fresh init (zero biases, tiny layer scales)
        for prm in clf.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    return clf.double()


def test_frame_classifier_matches_autograd_oracle():
    """A ConvNeXt-V2 classifier's Grad-CAM (issue 14: explain takes classifier weights too):
    every backbone stage against the gradient of softmax(logits)[:, 1] taken by hand through
    timm's stem / stages / head, float64; 2 sequences of 2 frames folded into the batch."""
    from fasfast.diagnostics.gradcam import FrameClassifier, default_layers

    clf, size = _classifier(), 64
    model = FrameClassifier(clf)
    layers = default_layers(model)
    assert layers == tuple(f"backbone.stages.{i}" for i in range(4))
    assert [n for n, _ in model.named_children()] == ["backbone"]  # registered once
    x = torch.rand(2, 2, 3, size, size, generator=torch.Generator().manual_seed(5))
    res = GradCAM(model, layers)(x.double())
    bb = clf.backbone
    a = bb.stem((x.double().flatten(0, 1) - clf.mean) / clf.std)
    acts = []
    for stage in bb.stages:
        a = stage(a)
        acts.append(a)
    p = torch.softmax(bb.forward_head(bb.norm_pre(a)), dim=1)[:, 1]  # [4] frame scores
    grads = torch.autograd.grad(p.view(2, 2).mean(1).sum(), acts)
    for name, act, g in zip(layers, acts, grads):
        cam = torch.relu((g.mean(dim=(2, 3), keepdim=True) * act).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=(size, size), mode="bilinear", align_corners=False)[:, 0]
        cam = cam.detach()
        lo = cam.flatten(1).min(1).values.view(-1, 1, 1)
        span = cam.flatten(1).max(1).values.view(-1, 1, 1) - lo
        assert (span > 0).all(), name  # every map is informative here
        ref = ((cam - lo) / span).view(2, 2, size, size).numpy()
        np.testing.assert_allclose(res.cams[name], ref, atol=1e-5, err_msg=name)
        assert res.native[name] == tuple(act.shape[-2:])
    np.testing.assert_allclose(res.scores, p.view(2, 2).mean(1).detach().numpy(), rtol=1e-6)
    assert not model.training and not clf.backbone.training  # left in eval mode, as given
    assert res.pred.shape == (2, 2, size, size)
    assert res.map_size == (1, 1)  # the figure's last panel reads "frame score"
    with pytest.raises(ValueError, match=r"expects x \[B, T, 3, S, S\], got \[2, 3, 64, 64\]"):
        model(x[0].double())


def test_sequences_in_a_batch_are_independent():
    model = _model()
    x = _input(2)
    both = GradCAM(model)(x)
    one = GradCAM(model)(x[1:])
    for name in both.cams:
        np.testing.assert_allclose(both.cams[name][1], one.cams[name][0], atol=1e-4)


def test_model_left_in_its_mode_and_without_hooks():
    model = _model().train()
    GradCAM(model)(_input(1))
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())


def test_overlays_and_figure_are_written(tmp_path):
    model = _model()
    x = _input(1)
    res = GradCAM(model)(x)
    frames = x[0].permute(0, 2, 3, 1).numpy()
    paths = write_overlays(tmp_path / "ov", frames, res)
    assert len(paths) == 4 * (len(DEFAULT_LAYERS) + 1) and all(p.stat().st_size > 0 for p in paths)
    import cv2

    img = cv2.imread(str(paths[0]))
    assert img.shape == (S, S, 3)
    fig = comparison_figure(
        tmp_path / "fig8.png", frames[0], {"ours": (res, 0, 0), "again": (res, 0, 1)}
    )
    assert fig.stat().st_size > 1000


def test_overlay_blends_heat_over_frame(rng):
    frame = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    cam = rng.random((8, 8))
    out = overlay(frame, cam, weight=0.0)
    np.testing.assert_array_equal(out, frame)
    assert not np.array_equal(overlay(frame, cam, weight=0.5), frame)
    with pytest.raises(ValueError, match="differ in size"):
        overlay(frame, cam[:4])


def test_bad_layer_and_input_raise():
    model = _model()
    with pytest.raises(ValueError, match="no module"):
        GradCAM(model, layers=("stage9",))
    with pytest.raises(ValueError, match=r"\[B, T, 3, S, S\]"):
        GradCAM(model)(torch.rand(4, 3, S, S))


# ------------------------------------------------------------------ frames with content
def test_near_constant_frames_and_maps_are_flagged():
    """A black frame is flagged, and so are all its maps (their structure is the zero
    padding's); frames with content are not."""
    model, x = _model(), _input(1)
    x[0, 1] = 0.0  # a black frame
    res = GradCAM(model)(x)
    assert res.flat_frames.tolist() == [[False, True, False, False]]
    for name in res.cams:
        assert res.flat[name][0, 1], name
    assert (0, 1, ["frame", *res.cams]) in res.flags()
    assert all(k != 1 or names[0] == "frame" for _, k, names in res.flags())
    # a map much weaker than the layer's others is flagged as near-constant
    strict = GradCAM(model, flat_rel=0.999)(_input(1))
    assert any(strict.flat[n].any() for n in strict.flat)


@pytest.fixture(scope="module")
def black_then_face(tmp_path_factory):
    """12 black frames, then the astronaut (a real face): windows of 4 frames 3 apart
    span 10 frames, so windows 0 and 1 hold black frames and window 2 is the first with a
    face in every frame."""
    pytest.importorskip("skimage.data")
    from fasfast.data.clips import astronaut_frames
    from fasfast.data.video import write_video

    path = tmp_path_factory.mktemp("explain") / "black_then_face.avi"
    faces = list(astronaut_frames(seconds=1.2, fps=25.0, size=(640, 360)))
    black = [np.zeros_like(faces[0]) for _ in range(12)]
    return write_video(path, black + faces, fps=25.0, codec="MJPG")


@pytest.fixture(scope="module")
def explain_ckpt(tmp_path_factory):
    from fasfast.engine import checkpoint as ck

    model = _model("tiny")
    path = tmp_path_factory.mktemp("explain_ck") / "m.pt"
    ck.save_checkpoint(
        path,
        {
            "kind": "eulernet",
            "model_config": model.config.to_dict(),
            "model": model.state_dict(),
            "epoch": 1,
        },
    )
    return path


def test_explain_chooses_a_window_with_a_face(black_then_face, explain_ckpt, tmp_path, capsys):
    """The issue's case (a clip opening on black frames, as Megamind.avi): explain takes the
    first window with a face in every frame, not the black frame, and flags nothing."""
    import json
    import warnings

    from fasfast.cli import main

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert (
            main(
                [
                    "explain",
                    str(explain_ckpt),
                    str(black_then_face),
                    "--out",
                    str(tmp_path / "auto"),
                ]
            )
            == 0
        )
    cap = capsys.readouterr()
    summary = json.loads((tmp_path / "auto" / "gradcam.json").read_text())
    assert summary["windows"] == [2] and summary["frames"] == [[20, 23, 26, 29]]
    assert summary["no_face"] == [0] and summary["flat_frames"] == [[False] * 4]
    assert "first window with a face in every frame (windows 0..1 have" in cap.out
    assert not any("frame" in f["flat"] for f in summary["models"][0]["flat"])
    assert not any("blank or black" in str(w.message) or "no face" in str(w.message) for w in seen)


def test_explain_flags_a_black_window_the_user_chose(
    black_then_face, explain_ckpt, tmp_path, capsys
):
    import json
    import warnings

    from fasfast.cli import main

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert (
            main(
                [
                    "explain",
                    str(explain_ckpt),
                    str(black_then_face),
                    "--out",
                    str(tmp_path / "w0"),
                    "--window",
                    "0",
                ]
            )
            == 0
        )
    capsys.readouterr()
    summary = json.loads((tmp_path / "w0" / "gradcam.json").read_text())
    assert summary["windows"] == [0] and summary["flat_frames"] == [[True] * 4]
    flags = summary["models"][0]["flat"]
    assert [f["frame"] for f in flags] == [0, 3, 6, 9]
    assert all(f["flat"][0] == "frame" and len(f["flat"]) == 5 for f in flags)
    lines = [str(w.message) for w in seen if "near-constant" in str(w.message)]
    assert lines == [
        "window 0: frame(s) [0, 3, 6, 9] are near-constant (blank or black); "
        "their Grad-CAM maps mean nothing"
    ]
    assert (
        main(
            [
                "explain",
                str(explain_ckpt),
                str(black_then_face),
                "--out",
                str(tmp_path / "w9"),
                "--window",
                "99",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--window 99 is out of range" in err[0]


def test_explain_compare_takes_one_kind_of_model(black_then_face, explain_ckpt, tmp_path, capsys):
    """An EulerNet checkpoint compared with classifier weights: one error line, exit 2."""
    from fasfast.cli import main

    torch.save(_classifier(32).float().backbone.state_dict(), tmp_path / "atto.pt")
    argv = ["explain", str(explain_ckpt), str(black_then_face), "--out", str(tmp_path / "o")]
    assert main([*argv, "--compare", str(tmp_path / "atto.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fasfast explain: error: ")
    assert "atto.pt holds another kind of model than" in err[0] and "one kind" in err[0]
    atto = str(tmp_path / "atto.pt")
    cls = ["explain", atto, str(black_then_face), "--out", str(tmp_path / "c"), "--image-size"]
    assert main([*cls, "32", "--compare", atto]) == 0  # two classifier rows
    capsys.readouterr()
    rows = json.loads((tmp_path / "c" / "gradcam.json").read_text())["models"]
    assert len(rows) == 2 and rows[0]["scores"] == pytest.approx(rows[1]["scores"])


def test_explain_a_truncated_video_only_its_readable_windows(explain_ckpt, tmp_path, capsys):
    """A video cut short (40 frames promised, 23 decodable: windows 2 and 3 need frames
    past the end): explain chooses among the readable windows and says which were not
    explained; a window asked for past the end is one error line naming the video."""
    pytest.importorskip("skimage.data")
    import shutil
    import warnings

    from _video_files import truncate

    from fasfast.cli import main
    from fasfast.data.clips import astronaut_clip

    whole = astronaut_clip(tmp_path / "whole.avi", seconds=1.6, fps=25.0, size=(480, 270))
    cut = tmp_path / "cut.avi"
    shutil.copy(whole, cut)
    truncate(cut, 0.5)
    argv = ["explain", str(explain_ckpt), str(cut), "--out"]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert main([*argv, str(tmp_path / "all"), "--windows", "4"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "all" / "gradcam.json").read_text())
    assert summary["windows"] == [0, 1]
    assert "only 2 of the 4 windows can be read, 2 of them with a face in every frame" in out
    (note,) = [str(w.message) for w in seen if "not explained" in str(w.message)]
    assert note.startswith(f"2 window(s) [2, 3] of {cut} not explained, they cannot be read: ")
    assert "truncated video: the header promises 40 frames" in note
    assert main([*argv, str(tmp_path / "w3"), "--window", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"fasfast explain: error: {cut}: truncated video")


def test_explain_says_when_a_temporal_model_sees_a_still_image(explain_ckpt, tmp_path):
    """An image file shown to EulerNet is repeated over the window: one warning line says
    the temporal model sees no motion cue; a frame classifier (per frame) gets none."""
    pytest.importorskip("skimage.data")
    import warnings

    import cv2
    from skimage import data as skimage_data

    from fasfast.cli import main

    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), cv2.resize(skimage_data.astronaut(), (256, 256))[..., ::-1])
    torch.save(_classifier(32).float().backbone.state_dict(), tmp_path / "atto.pt")

    def still_lines(*argv):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            assert main(["explain", *argv]) == 0
        return [str(w.message) for w in seen if "still image" in str(w.message)]

    assert still_lines(str(explain_ckpt), str(photo), "--out", str(tmp_path / "e")) == [
        f"{photo} is a still image (one frame): each window repeats it 4 times, so the "
        "temporal model sees no motion cue"
    ]
    atto = [str(tmp_path / "atto.pt"), str(photo), "--out", str(tmp_path / "c")]
    assert still_lines(*atto, "--image-size", "32") == []
