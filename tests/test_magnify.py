"""Eulerian video magnification: measured motion gain, filters, pyramid, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from fasfast.diagnostics.magnify import (
    bandpass_coefficients,
    build_laplacian_pyramid,
    collapse_laplacian_pyramid,
    level_alphas,
    lowpass_coefficient,
    magnify_video,
)

FPS = 30.0
SIZE = 64
WAVES = ((24.0, 0.15, 0.3), (32.0, 0.10, 1.1))  # (wavelength px, amplitude, phase) along x


def _pattern(x, shift):
    v = 0.5 + 0 * x
    for lam, amp, ph in WAVES:
        v = v + amp * np.cos(2 * np.pi * (x - shift) / lam + ph)
    return v


def _gradient(x):
    g = 0 * x
    for lam, amp, ph in WAVES:
        g = g - amp * 2 * np.pi / lam * np.sin(2 * np.pi * x / lam + ph)
    return g


def _clip(d):
    """Gray clip [F, S, S, 3] float64 translated along x by d[t] (analytically, no resampling)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    x = x + 0.2 * y  # a slanted pattern, still periodic-free in y, smooth
    frames = np.stack([_pattern(x, s) for s in d])
    return np.repeat(frames[..., None], 3, axis=-1), x


def _measure(out, x):
    """Least-squares displacement: out - f ~= -d * f_x (small-motion linearisation)."""
    base = _pattern(x, 0.0)
    g = _gradient(x)
    diff = out[..., 0] - base  # gray stays gray: Y only
    return -(diff * g).sum(axis=(1, 2)) / (g * g).sum()


def test_displacement_measurement_is_accurate():
    d = 0.3 * np.sin(np.linspace(0, 4 * np.pi, 20))
    clip, x = _clip(d)
    np.testing.assert_allclose(_measure(clip, x), d, atol=3e-3)


@pytest.mark.parametrize("alpha", [5.0, 10.0])
def test_ideal_bandpass_magnifies_motion_by_one_plus_alpha(alpha):
    f_count, f0 = 60, 1.0  # 2 full cycles: the FFT bin sits at exactly 1 Hz
    t = np.arange(f_count) / FPS
    d = 0.04 * np.sin(2 * np.pi * f0 * t)
    clip, x = _clip(d)
    out = magnify_video(
        clip,
        FPS,
        alpha=alpha,
        fl=0.4,
        fh=3.0,
        levels=4,
        lambda_c=0,
        chroma_attenuation=0.1,
        temporal="ideal",
        zero_extremes=False,
    )
    assert out.dtype == np.float64 and out.shape == clip.shape
    d_out = _measure(out, x)
    gain = np.dot(d_out, d) / np.dot(d, d)
    assert gain == pytest.approx(1 + alpha, rel=0.01)
    np.testing.assert_allclose(d_out, (1 + alpha) * d, atol=0.01 * (1 + alpha) * 0.04)


def test_ideal_bandpass_rejects_out_of_band_motion():
    f_count = 60
    t = np.arange(f_count) / FPS
    d = 0.05 * np.sin(2 * np.pi * 6.0 * t)  # 6 Hz, above fh
    clip, x = _clip(d)
    out = magnify_video(
        clip, FPS, alpha=10, fl=0.4, fh=3.0, lambda_c=0, temporal="ideal", zero_extremes=False
    )
    np.testing.assert_allclose(_measure(out, x), d, atol=2e-3)


def test_iir_magnified_motion_matches_scipy_filter():
    f_count, f0, alpha, fl, fh = 90, 1.2, 10.0, 0.4, 3.0
    t = np.arange(f_count) / FPS
    d = 0.03 * np.sin(2 * np.pi * f0 * t + 0.7)
    clip, x = _clip(d)
    out = magnify_video(
        clip,
        FPS,
        alpha=alpha,
        fl=fl,
        fh=fh,
        levels=4,
        lambda_c=0,
        temporal="iir",
        zero_extremes=False,
    )
    d_out = _measure(out, x)
    # Oracle: the two first-order low-passes run by scipy (state starts at the first frame).
    rh, rl = lowpass_coefficient(fh, FPS), lowpass_coefficient(fl, FPS)
    dd = d - d[0]
    bp = signal.lfilter([rh], [1, rh - 1], dd) - signal.lfilter([rl], [1, rl - 1], dd)
    expected = d + alpha * bp
    np.testing.assert_allclose(d_out, expected, atol=0.01 * np.abs(expected).max())
    # steady state: amplitude gain |1 + alpha H(f0)| from the band-pass frequency response
    b, a = bandpass_coefficients(fl, fh, FPS)
    _, h = signal.freqz(b, a, worN=[2 * np.pi * f0 / FPS])
    tail = slice(45, None)
    gain = np.sqrt((d_out[tail] ** 2).mean() / (d[tail] ** 2).mean())
    assert gain == pytest.approx(abs(1 + alpha * h[0]), rel=0.03)
    assert gain > 5


@pytest.mark.parametrize("fc", [0.4, 3.0, 7.5])
def test_lowpass_coefficient_gives_minus_3db_at_cutoff(fc):
    r = lowpass_coefficient(fc, FPS)
    _, h = signal.freqz([r], [1, r - 1], worN=[2 * np.pi * fc / FPS])
    assert abs(h[0]) == pytest.approx(1 / np.sqrt(2), rel=1e-9)


def test_bandpass_coefficients_equal_difference_of_lowpasses(rng):
    x = rng.normal(size=200)
    b, a = bandpass_coefficients(0.5, 4.0, FPS)
    rh, rl = lowpass_coefficient(4.0, FPS), lowpass_coefficient(0.5, FPS)
    ref = signal.lfilter([rh], [1, rh - 1], x) - signal.lfilter([rl], [1, rl - 1], x)
    np.testing.assert_allclose(signal.lfilter(b, a, x), ref, atol=1e-12)


def test_level_alphas_follow_wavelength_rule():
    # 120x160 frame: lambda0 = 200/3; delta = 16/8/11
    # 120x160 frame: the residual's wavelength is 200/3, halving per finer level
    got = level_alphas((120, 160), 4, alpha=10, lambda_c=16, zero_extremes=False, exaggeration=1)
    lam, delta = 200 / 3, 16 / 8 / 11
    raw = [lam / 2 ** (4 - k) / delta / 8 - 1 for k in range(5)]
    ref = [min(10, max(0, r)) for r in raw]
    np.testing.assert_allclose(got, ref)
    assert ref[-1] == 10 and 0 < ref[0] < ref[1] < 10  # the fine levels are attenuated
    got2 = level_alphas((120, 160), 4, alpha=10, lambda_c=16, zero_extremes=False)
    np.testing.assert_allclose(got2, [min(10, max(0, 2 * r)) for r in raw])
    z = level_alphas((120, 160), 4, alpha=10, lambda_c=16)
    assert z[0] == 0 and z[-1] == 0 and z[1:-1] == list(got2[1:-1])
    assert level_alphas((64, 64), 3, alpha=7, lambda_c=0, zero_extremes=False) == [7.0] * 4


def test_default_settings_magnify_less_than_uniform(rng):
    t = np.arange(60) / FPS
    d = 0.03 * np.sin(2 * np.pi * 1.0 * t)
    clip, x = _clip(d)
    out = magnify_video(clip, FPS, alpha=10, temporal="ideal")
    gain = np.dot(_measure(out, x), d) / np.dot(d, d)
    assert 1.2 < gain < 11


def test_pyramid_collapse_is_exact(rng):
    img = rng.random((37, 50, 3))
    pyr = build_laplacian_pyramid(img, 3)
    assert [p.shape[:2] for p in pyr] == [(37, 50), (19, 25), (10, 13), (5, 7)]
    np.testing.assert_allclose(collapse_laplacian_pyramid(pyr), img, atol=1e-12)


def test_alpha_zero_is_identity_uint8(rng):
    clip = rng.integers(0, 256, size=(6, 32, 40, 3), dtype=np.uint8)
    out = magnify_video(clip, FPS, alpha=0.0)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, clip)


def test_first_frame_unchanged_iir(rng):
    clip = rng.random((5, 32, 32, 3)).astype(np.float32)
    out = magnify_video(clip, FPS, alpha=20)
    np.testing.assert_allclose(out[0], clip[0], atol=1e-5)
    assert not np.allclose(out[1:], clip[1:], atol=1e-3)


def test_bad_inputs_raise():
    good = np.zeros((4, 16, 16, 3), np.float32) + 0.5
    with pytest.raises(ValueError, match=r"shape \[F, H, W, 3\]"):
        magnify_video(good[..., 0], FPS)
    with pytest.raises(ValueError, match="at least 2 frames"):
        magnify_video(good[:1], FPS)
    with pytest.raises(ValueError, match="fl < fh"):
        magnify_video(good, FPS, fl=3.0, fh=1.0)
    with pytest.raises(ValueError, match="Nyquist"):
        magnify_video(good, FPS, fh=20.0)
    bad = good.copy()
    bad[1, 2, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        magnify_video(bad, FPS)
    with pytest.raises(TypeError, match="dtype"):
        magnify_video(good.astype(np.int32), FPS)
    with pytest.raises(ValueError, match="temporal"):
        magnify_video(good, FPS, temporal="butter")
