"""Settings validated where they are read (issue 15, item 5): CutMix with an odd batch,
colour-jitter strengths, down-sampling classes and factors, blur sigma, image size against
the model's stride, T and interval against the video length. Each refusal is one line
naming the setting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_support import tiny_config, tiny_data

from fasfast.data.augment import ColorJitter, Downsample, GaussianBlur, make_mixup
from fasfast.engine.config import TrainConfig, check_downsample_classes, parse_downsample


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tiny_data(tmp_path_factory)


# ------------------------------------------------------------------ CutMix, odd batches
def test_cutmix_mixes_an_odd_batch():
    """Batch of 3 (timm's Mixup asserts an even batch; the loop used to skip CutMix on
    every such batch): items 0 and 1 are CutMix-ed with each other, the box's share of
    pixels equals the partner's weight in the soft target; item 2 keeps its image and its
    smoothed one-hot target."""
    torch.manual_seed(0)
    np.random.seed(0)
    mix = make_mixup(cutmix_alpha=1.0, label_smoothing=0.1, num_classes=2)
    for _ in range(20):
        x = torch.stack([torch.full((3, 32, 32), float(v)) for v in (0.0, 1.0, 0.5)])
        y = torch.tensor([0, 1, 1])
        out, soft = mix(x.clone(), y)
        assert out.shape == x.shape and soft.shape == (3, 2)
        torch.testing.assert_close(soft.sum(1), torch.ones(3))
        torch.testing.assert_close(out[2], x[2])
        torch.testing.assert_close(soft[2], torch.tensor([0.05, 0.95]))
        # item 0 (all 0) received a box of item 1 (all 1): its share is the live weight
        share = float((out[0] == 1.0).float().mean())
        lam = 1.0 - share  # item 0's own share
        want0 = lam * torch.tensor([0.95, 0.05]) + (1 - lam) * torch.tensor([0.05, 0.95])
        torch.testing.assert_close(soft[0], want0, atol=1e-6, rtol=0)
        assert float((out[1] == 0.0).float().mean()) == pytest.approx(share)
    assert mix.stats["mixed"] == 40 and mix.stats["unmixed"] == 20
    one, soft1 = mix(torch.zeros(1, 3, 8, 8), torch.tensor([1]))
    torch.testing.assert_close(soft1, torch.tensor([[0.05, 0.95]]))


def test_training_step_applies_cutmix_to_a_batch_of_three():
    from fasfast.engine.loop import step_loss as _train_step_loss

    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    mix = make_mixup(cutmix_alpha=1.0, label_smoothing=0.0)
    batch = {"image": torch.rand(3, 3, 8, 8), "label": torch.tensor([0, 1, 0])}
    loss, _, _ = _train_step_loss(model, batch, "classifier", torch.device("cpu"), mix, 0.0)
    assert mix.stats == {"mixed": 2, "unmixed": 1}
    assert torch.isfinite(loss)


# ------------------------------------------------------------------ colour jitter
def _ramp() -> np.ndarray:
    """A colour ramp: luminance rises left to right, one hue (orange)."""
    t = np.linspace(0.1, 0.9, 64, dtype=np.float32)
    img = np.stack([t, 0.6 * t, 0.2 * t], axis=-1)
    return (np.broadcast_to(img, (16, 64, 3)) * 255).astype(np.uint8)


def test_colour_jitter_strength_above_one_is_clamped_as_torchvision():
    """--color-jitter 1.5: factors in [0, 2.5] (torchvision's ranges), so no crop comes
    out inverted and no hue is flipped (before: 11.8% inverted, 22% hue-flipped)."""
    j = ColorJitter(1.5, 1.5, 1.5, 0.15)
    rng = np.random.default_rng(0)
    draws = np.array([j.factors(rng) for _ in range(2000)])
    assert draws[:, :3].min() >= 0.0 and draws[:, :3].max() <= 2.5
    assert np.abs(draws[:, 3]).max() <= 0.15 * 2 * np.pi
    assert (draws[:, :3] < 0.1).mean() < 0.1  # uniform on [0, 2.5]
    tv = pytest.importorskip("torchvision.transforms")
    ref = tv.ColorJitter(1.5, 1.5, 1.5, 0.15)
    for ours, theirs in ((j.b, ref.brightness), (j.c, ref.contrast), (j.s, ref.saturation)):
        assert ColorJitter._range(ours) == pytest.approx(tuple(theirs))
    img = _ramp()
    chroma_in = img[..., 0].astype(np.float32) - img[..., 2]
    inverted = flipped = 0
    for k in range(300):
        out = j(img, rng=np.random.default_rng(k)).astype(np.float32)
        lum = out @ np.array([0.299, 0.587, 0.114], np.float32)
        inverted += float(np.diff(lum[8]).sum()) < -1.0  # the rising ramp now falls
        flipped += float(np.mean((out[..., 0] - out[..., 2]) * chroma_in)) < 0
    assert inverted == 0 and flipped == 0


@pytest.mark.parametrize(
    "kw,fragment",
    [
        ({"brightness": -0.2}, "colour jitter brightness must be a finite strength >= 0"),
        ({"saturation": float("nan")}, "colour jitter saturation"),
        ({"hue": 0.7}, "colour jitter hue must lie in [0, 0.5]"),
        ({"p": 1.5}, "colour jitter p must be a probability in [0, 1]"),
    ],
)
def test_colour_jitter_refusals(kw, fragment):
    with pytest.raises(ValueError) as e:
        ColorJitter(**kw)
    assert fragment in str(e.value) and "\n" not in str(e.value)


# ------------------------------------------------------------------ blur, down-sampling
@pytest.mark.parametrize("sigma", [(0.0, 1.0), (2.0, 1.0), -1.0, (0.1, float("inf")), "x"])
def test_blur_sigma_refusals(sigma):
    with pytest.raises(ValueError, match="blur sigma"):
        GaussianBlur(sigma=sigma)


def test_blur_sigma_single_value_and_range():
    assert GaussianBlur(sigma=1.5).sigma == (1.5, 1.5)
    img = _ramp()
    out = GaussianBlur(sigma=(1.0, 1.0), p=1.0)(img, rng=0)
    import cv2

    ref = cv2.GaussianBlur(img.astype(np.float32), (5, 9), 1.0, sigmaY=1.0)
    np.testing.assert_allclose(out, np.clip(np.rint(ref), 0, 255), atol=0)


@pytest.mark.parametrize("factors", [(0,), (2.5,), (), ("x",)])
def test_downsample_factor_refusals(factors):
    with pytest.raises(ValueError, match="down-sampling factors must be integers >= 1"):
        Downsample(factors)


@pytest.mark.parametrize(
    "spec,fragment",
    [
        ("live", "expected CLASS:F1,F2"),
        ("live:0", "factors must be integers >= 1"),
        ("live:2.5", "factors must be integers"),
        ("live:2;live:4", "class 'live' is given twice"),
        (":2", "a class name is missing"),
    ],
)
def test_downsample_spec_refusals(spec, fragment):
    with pytest.raises(ValueError) as e:
        parse_downsample(spec)
    assert fragment in str(e.value) and str(e.value).startswith("--downsample ")


def test_downsample_classes_against_the_training_set():
    types = {"live", "print", "replay"}
    check_downsample_classes("live:2;print:2,4;attack:2;all:2", types, 128)
    with pytest.raises(
        ValueError,
        match=r"class 'lvie' is none of live, attack, all and the "
        r"training set's PAI species \(print, replay\)",
    ):
        check_downsample_classes("lvie:2", types, 128)
    with pytest.raises(
        ValueError, match="factor 64 leaves 2 px of the 128 px crops; use factors up to 32"
    ):
        check_downsample_classes("attack:2,64", types, 128)


def test_train_refuses_a_downsample_class_the_data_lacks(root, tmp_path):
    from fasfast.engine import train

    with pytest.raises(ValueError, match="class 'lvie' is none of live, attack"):
        train(tiny_config(root, tmp_path / "r", downsample="lvie:2", max_steps=1, limit=4))
    assert not (tmp_path / "r" / "last.pt").exists()


# ------------------------------------------------------------------ config refusals
@pytest.mark.parametrize(
    "kw,fragment",
    [
        ({"color_jitter": -0.5}, "--color-jitter must be a strength >= 0"),
        ({"blur": 1.5}, "--blur is a probability in [0, 1], got 1.5"),
        ({"downsample_p": -0.1}, "--downsample-p is a probability in [0, 1]"),
        ({"image_size": 30}, "--image-size 30 is not a multiple of 8, the stride of EulerNet"),
        (
            {"model": "convnextv2_atto", "image_size": 100},
            "--image-size 100 is not a multiple of 32, the stride of convnextv2_atto (ConvNeXt "
            "down-samples 32x); use 96 or 128",
        ),
        ({"model": "convnextv2_atto", "image_size": 16}, "use 32"),
        ({"image_size": 0}, "--image-size must be a positive integer (a multiple of 8"),
        ({"seed": -1}, "--seed must be >= 0, got -1"),
        ({"workers": -1}, "--workers must be >= 0, got -1"),
        ({"eval_batch_size": -2}, "--eval-batch-size must be >= 0, got -2"),
        ({"time_limit": float("nan")}, "--time-limit must be >= 0, got nan"),
        ({"image_size": 64.0}, "--image-size must be a positive integer"),
        ({"model": "convnextv2_atto", "cutmix": -1.0}, "--cutmix (the CutMix alpha) must be >= 0"),
        ({"model": "convnextv2_atto", "label_smoothing": 1.0}, "--label-smoothing must lie in"),
        ({"cutmix": 1.0}, "--cutmix 1.0 is for the classifier"),
    ],
)
def test_config_refusals_are_one_line(kw, fragment):
    with pytest.raises(ValueError) as e:
        TrainConfig(**kw).resolved()
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_cli_refusal_is_one_line_exit_2(capsys, tmp_path):
    from fasfast.cli import main

    assert main(["train", "--data-root", str(tmp_path), "--color-jitter", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fasfast train: error: --color-jitter")


# ------------------------------------------------------------------ --config YAML types
@pytest.mark.parametrize(
    "line,key,want",
    [
        ("lr: 1e-3", "lr", 1e-3),  # YAML 1.1 (PyYAML): a string without a dot
        ('color_jitter: "0.4"', "color_jitter", 0.4),
        ("epochs: '3'", "epochs", 3),
        ("image_size: 64.0", "image_size", 64),
        ("widths: [4, 6.0, 4]", "widths", (4, 6, 4)),
        ("protocol: 1", "protocol", "1"),
        ("protocol: 3_2", "protocol", "3_2"),  # YAML 1.1 reads the number 32
        ("protocol: 01", "protocol", "01"),
        ("drop_path_rate: 0", "drop_path_rate", 0.0),
        ("resume: null", "resume", None),
    ],
)
def test_config_file_values_are_read_as_the_field_type(tmp_path, line, key, want):
    (tmp_path / "run.yaml").write_text(line + "\n")
    value = getattr(TrainConfig.from_yaml(tmp_path / "run.yaml"), key)
    assert value == want and type(value) is type(want)


def test_a_saved_config_reads_back_unchanged(tmp_path):
    """The checks take every value config.yaml holds (a run's own file, e.g. for --config)."""
    cfg = TrainConfig(
        widths=(4, 6, 4), image_size=64, lr=1e-3, use_fcam=False, protocol="3_2", extra={"a": 1}
    )
    cfg.save_yaml(tmp_path / "config.yaml")
    assert TrainConfig.from_yaml(tmp_path / "config.yaml") == cfg


@pytest.mark.parametrize(
    "line,fragment",
    [
        ("epochs: abc", "epochs: expected int, got 'abc'"),
        ("image_size: 64.5", "image_size: expected int, got 64.5"),
        ("epochs: true", "epochs: expected int, got True"),
        ("lr: fast", "lr: expected float, got 'fast'"),
        ("color_jitter: [0.4]", "color_jitter: expected float, got [0.4]"),
        ("hflip: 1", "hflip: expected bool, got 1"),
        ("widths: [4, a, 4]", "widths: expected a list of int, got [4, 'a', 4]"),
        ("model: {a: 1}", "model: expected str, got {'a': 1}"),
        ("epochs: null", "epochs: expected int, got None"),
    ],
)
def test_config_file_type_errors_are_one_line_exit_2(tmp_path, capsys, line, fragment):
    from fasfast.cli import main

    cfg = tmp_path / "run.yaml"
    cfg.write_text(line + "\n")
    assert main(["train", "--config", str(cfg), "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"fasfast train: error: {cfg}: {fragment}"]


# ------------------------------------------------------------------ T and interval
def test_interval_against_the_video_length(root):
    from fasfast.data import SequenceDataset, oulu_npu
    from fasfast.data.video import VideoReader

    samples = oulu_npu(root, "1", "dev")
    n = max(VideoReader(s.path).num_frames for s in samples)  # 21 frames
    with pytest.raises(ValueError) as e:
        SequenceDataset(samples, length=4, interval=30, image_size=32, map_size=4, train=True)
    msg = str(e.value)
    assert (
        msg.startswith(
            "--interval 30 with --length 4 needs 91 frames per window, but the "
            f"longest of the {len(samples)} videos has {n}"
        )
        and "\n" not in msg
    )
    # evaluating (predicting) short clips is allowed, with one warning line
    with pytest.warns(UserWarning, match=f"{len(samples)} of {len(samples)} videos are shorter"):
        SequenceDataset(samples, length=4, interval=30, image_size=32, map_size=4)
    # a window that fits: no warning; the longest span that fits is fine too
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SequenceDataset(samples, length=4, interval=(n - 1) // 3, image_size=32, map_size=4)


def test_some_short_videos_are_one_warning_line(root, tmp_path):
    import shutil

    import cv2

    from fasfast.data import Sample, SequenceDataset, oulu_npu
    from fasfast.data.video import VideoReader

    good = oulu_npu(root, "1", "dev")[:2]
    short = tmp_path / "short"
    short.mkdir()
    for i, f in VideoReader(good[0].path).frames(range(5)):
        cv2.imwrite(str(short / f"{i}.png"), f[..., ::-1])
    shutil.copy(good[0].path.rsplit(".", 1)[0] + ".landmarks.npy", str(short) + ".landmarks.npy")
    s = [*good, Sample(str(short), 1, "live", "short", "dev")]
    with pytest.warns(
        UserWarning,
        match=r"1 of 3 videos are shorter than one window of "
        r"--interval 3 with --length 4 \(10 frames\)",
    ):
        ds = SequenceDataset(s, length=4, interval=3, image_size=32, map_size=4)
    assert [w for si, _, w in ds.index if si == 2] == [[0, 3, 4, 4]]
