"""Augmentations: shapes, dtypes, per-sequence consistency, frequency content, flips."""

import numpy as np
import pytest

from fasfast.data.augment import (
    ClassSpecific,
    ColorJitter,
    Compose,
    Downsample,
    GaussianBlur,
    HorizontalFlip,
    make_mixup,
    preset,
)
from fasfast.labels import FLIP_68, face_location_map

ALL = [
    Downsample(),
    GaussianBlur(),
    ColorJitter(),
    HorizontalFlip(p=1.0),
    preset("p2.1"),
    preset("p2.2"),
    preset("ssi"),
    preset("p1"),
]


def _hf_energy(img):
    """Spectral energy above half the Nyquist frequency (grey, mean removed)."""
    g = np.asarray(img, np.float64).mean(-1)
    f = np.abs(np.fft.fft2(g - g.mean())) ** 2
    fy = np.abs(np.fft.fftfreq(g.shape[0]))[:, None]
    fx = np.abs(np.fft.fftfreq(g.shape[1]))[None, :]
    return f[(fy > 0.25) | (fx > 0.25)].sum()


@pytest.mark.parametrize("t", ALL, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_shapes_dtypes(t, dtype, rng):
    seq = rng.integers(0, 255, (3, 40, 48, 3)).astype(dtype)
    if dtype == np.float32:
        seq /= 255
    lm = rng.uniform(5, 35, (3, 68, 2))
    maps = rng.uniform(0, 1, (3, 8, 8)).astype(np.float32)
    out, olm, omap = t(seq, lm, maps, label=0, attack_type="print", rng=1)
    assert out.shape == seq.shape and out.dtype == seq.dtype
    assert olm.shape == (3, 68, 2) and omap.shape == (3, 8, 8)
    single = t(seq[0], rng=2)
    assert isinstance(single, np.ndarray) and single.shape == seq[0].shape
    assert single.dtype == seq.dtype


@pytest.mark.parametrize(
    "t",
    [Downsample((2, 4, 8)), GaussianBlur(), ColorJitter(), HorizontalFlip(0.5), preset("ssi")],
    ids=lambda t: type(t).__name__,
)
def test_same_parameters_for_every_frame(t, rng):
    frame = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    seq = np.stack([frame] * 4)
    for seed in range(5):
        out = t(seq, rng=seed, label=0, attack_type="print")
        for k in range(1, 4):
            np.testing.assert_array_equal(out[k], out[0])
        # and equal to the single-image result with the same draw
        np.testing.assert_array_equal(out[0], t(frame, rng=seed, label=0, attack_type="print"))


def test_blur_and_downsampling_remove_high_frequencies(rng):
    img = rng.uniform(0, 1, (64, 64, 3)).astype(np.float32)
    e0 = _hf_energy(img)
    blurred = GaussianBlur(sigma=(1.0, 1.0))(img, rng=0)
    assert _hf_energy(blurred) < 0.3 * e0
    for f in (2, 4, 8):
        down = Downsample((f,))(img, rng=0)
        # beyond the new Nyquist frequency (1 / 2f) almost nothing is left
        g = down.mean(-1) - down.mean()
        spec = np.abs(np.fft.fft2(g)) ** 2
        fr = np.abs(np.fft.fftfreq(64))
        high = (fr[:, None] > 0.75 / f) | (fr[None, :] > 0.75 / f)
        g0 = img.mean(-1) - img.mean()
        spec0 = np.abs(np.fft.fft2(g0)) ** 2
        assert spec[high].sum() < 0.1 * spec0[high].sum(), f
    # larger factors lose more
    e = [_hf_energy(Downsample((f,))(img, rng=0)) for f in (2, 4, 8)]
    assert e0 > e[0] > e[1] > e[2]
    # blur kernel is 5 wide x 9 high: a vertical impulse response reaches further
    imp = np.zeros((21, 21, 1), np.float32)
    imp[10, 10] = 1
    r = GaussianBlur(sigma=(2.0, 2.0))(imp, rng=0)[..., 0]
    assert r[10, 12] > 0 and r[10, 13] == 0 and r[6, 10] > 0 and r[5, 10] == 0


def test_flip_keeps_landmarks_on_the_face_and_maps_consistent():
    from fasfast.data.crop import crop_faces
    from fasfast.data.synth import SynthConfig, render_video

    frames, lms = render_video(SynthConfig(subjects=3, seconds=0.2, size=96), 1, 1, 1, 1)
    res = crop_faces(frames[:2], lms[:2], size=96)
    img, lm = res.crops, res.landmarks
    maps = np.stack([face_location_map(x, 16, crop_size=96) for x in lm])
    fimg, flm, fmaps = HorizontalFlip(p=1.0)(img, lm, maps, rng=0)
    # every mirrored landmark lands on the mirrored image content of its source point
    for j in (30, 36, 45, 48, 8, 0):
        k = int(FLIP_68[j])  # flipped landmark k comes from original landmark j
        x, y = lm[0, j]
        np.testing.assert_allclose(flm[0, k], [96 - x, y], atol=1e-4)
        np.testing.assert_array_equal(fimg[0, int(y), 95 - int(x)], img[0, int(y), int(x)])
        assert 0 <= flm[0, k, 0] <= 96
    # landmarks stay on the face: the flipped face polygon covers the flipped map
    assert fmaps[0][fmaps[0] > 0.99].size > 20
    # image-left eye stays image-left after the permutation
    assert flm[0, 36:42, 0].mean() < flm[0, 42:48, 0].mean()
    # the map of the flipped landmarks equals the flipped map
    for k in range(2):
        np.testing.assert_allclose(face_location_map(flm[k], 16, crop_size=96), fmaps[k], atol=0.07)
    # twice = identity
    back = HorizontalFlip(p=1.0)(fimg, flm, fmaps, rng=0)
    np.testing.assert_array_equal(back[0], img)
    np.testing.assert_allclose(back[1], lm, atol=1e-4)


def test_class_specific_presets(rng):
    img = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    cs = ClassSpecific({"live": Downsample((2,), p=1.0)})
    assert not np.array_equal(cs(img, label=1, rng=0), img)
    np.testing.assert_array_equal(cs(img, label=0, attack_type="print", rng=0), img)
    cs2 = ClassSpecific({"attack": Downsample((8,)), "digital": Compose([])})
    np.testing.assert_array_equal(cs2(img, label=0, attack_type="digital", rng=0), img)
    assert not np.array_equal(cs2(img, label=0, attack_type="replay", rng=0), img)
    # SSI: attacks down-sampled with probability 0.5 (over many draws)
    ssi = ClassSpecific({"attack": Downsample((2,), p=0.5)})
    changed = np.mean([not np.array_equal(ssi(img, label=0, rng=s), img) for s in range(400)])
    assert 0.4 < changed < 0.6
    with pytest.raises(ValueError, match="unknown augmentation preset"):
        preset("p9")
    with pytest.raises(ValueError, match="odd"):
        GaussianBlur(kernel=(4, 9))
    with pytest.raises(ValueError, match="images must be"):
        GaussianBlur()(np.zeros((4, 4)))


def test_make_mixup_cutmix_with_label_smoothing():
    import torch

    mix = make_mixup(cutmix_alpha=1.0, label_smoothing=0.1)
    torch.manual_seed(0)
    x = torch.stack([torch.zeros(3, 16, 16), torch.ones(3, 16, 16)] * 2)
    y = torch.tensor([0, 1, 0, 1])
    xm, ym = mix(x.clone(), y)
    assert ym.shape == (4, 2)
    torch.testing.assert_close(ym.sum(1), torch.ones(4))
    assert ym.min() >= 0.05 - 1e-6  # smoothing: never a hard 0
    frac_ones = xm[0].mean().item()  # sample 0 (zeros) got a patch of sample 3 (ones)
    assert 0.0 < frac_ones < 1.0
    assert ym[0, 1].item() == pytest.approx(0.05 + 0.9 * frac_ones, abs=1e-4)
