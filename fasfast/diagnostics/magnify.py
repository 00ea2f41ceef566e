"""Eulerian video magnification (Wu et al., SIGGRAPH 2012), Laplacian-pyramid variant.

Each frame is converted to YIQ and split into a Laplacian pyramid (``cv2.pyrDown`` /
``cv2.pyrUp``). Every pyramid level is band-passed over time, amplified, collapsed and
added back to the frame:

* temporal filter ``"iir"`` (the method's default for motion): the difference of two
  first-order (exponential) low-pass filters with -3 dB cut-offs ``fh`` and ``fl``,
  initialised with the first frame (so the first output frame equals the input);
  ``"ideal"``: an ideal FFT band-pass over the whole clip (gain exactly 1 in
  ``[fl, fh]``, 0 elsewhere; needs all frames in memory).
* amplification: ``alpha`` per level, attenuated for fine levels by the spatial
  wavelength rule of the paper (``(1 + alpha) delta < lambda / 8``): the representative
  wavelength of the coarsest level (the low-pass residual) is ``lambda = sqrt(H^2 + W^2) / 3``
  and halves at each finer level; with ``delta = lambda_c / 8 / (1 + alpha)`` a level gets
  ``min(alpha, exaggeration * (lambda / (8 delta) - 1))`` (clamped at 0; ``exaggeration = 2``
  as in the authors' code; ``lambda_c <= 0`` disables the rule). As in the authors' reference code, the finest band and the low-pass
  residual are not amplified (``zero_extremes=True``).
* ``chroma_attenuation`` scales the amplified I and Q (colour) channels.

For small motions ``I(x, t) = f(x - d(t))`` the output is ``f(x - (d + alpha BP(d))(t))``
with ``BP`` the temporal band-pass: a displacement inside the pass band is magnified by
``1 + alpha`` (``"ideal"``) or ``|1 + alpha H(f)|`` (``"iir"``, ``H`` its frequency response).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "MagnifyConfig",
    "magnify_video",
    "lowpass_coefficient",
    "bandpass_coefficients",
    "level_alphas",
    "build_laplacian_pyramid",
    "collapse_laplacian_pyramid",
    "rgb_to_yiq",
    "yiq_to_rgb",
]

_RGB2YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)
_YIQ2RGB = np.linalg.inv(_RGB2YIQ)


@dataclass
class MagnifyConfig:
    """Settings of :func:`magnify_video` (see the module docstring)."""

    alpha: float = 10.0
    fl: float = 0.4
    fh: float = 3.0
    levels: int = 4
    lambda_c: float = 16.0
    chroma_attenuation: float = 0.1
    temporal: str = "iir"
    zero_extremes: bool = True
    exaggeration: float = 2.0


def rgb_to_yiq(x: np.ndarray) -> np.ndarray:
    """RGB ``[..., 3]`` -> NTSC YIQ ``[..., 3]`` (same float dtype)."""
    return (x @ _RGB2YIQ.T.astype(x.dtype)).astype(x.dtype, copy=False)


def yiq_to_rgb(x: np.ndarray) -> np.ndarray:
    """NTSC YIQ ``[..., 3]`` -> RGB ``[..., 3]`` (same float dtype)."""
    return (x @ _YIQ2RGB.T.astype(x.dtype)).astype(x.dtype, copy=False)


def lowpass_coefficient(fc: float, fps: float) -> float:
    """Weight ``r`` of the first-order low-pass ``y[n] = y[n-1] + r (x[n] - y[n-1])``.

    Chosen so that ``|H(e^{j w_c})| = 1/sqrt(2)`` exactly at ``w_c = 2 pi fc / fps``
    (``H(z) = r / (1 - (1 - r) z^-1)``).
    """
    if not 0 < fc < fps / 2:
        raise ValueError(f"cut-off {fc} Hz must lie in (0, fps/2 = {fps / 2}) Hz")
    c = math.cos(2 * math.pi * fc / fps)
    p = (2 - c) - math.sqrt((2 - c) ** 2 - 1)  # pole 1 - r, root of p^2 - (4 - 2c) p + 1
    return 1.0 - p


def bandpass_coefficients(fl: float, fh: float, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """``(b, a)`` of the band-pass ``LP_fh - LP_fl`` (``scipy.signal.lfilter`` form)."""
    rh, rl = lowpass_coefficient(fh, fps), lowpass_coefficient(fl, fps)
    ph, pl = 1 - rh, 1 - rl
    b = np.array([rh - rl, -(rh * pl - rl * ph)])
    a = np.array([1.0, -(ph + pl), ph * pl])
    return b, a


def level_alphas(
    shape: tuple[int, int],
    levels: int,
    alpha: float,
    lambda_c: float,
    zero_extremes: bool = True,
    exaggeration: float = 2.0,
) -> list[float]:
    """Amplification of each pyramid level (finest first, residual last): ``levels + 1`` values."""
    h, w = shape
    lam_coarsest = math.sqrt(h * h + w * w) / 3.0
    out = []
    for lev in range(levels + 1):
        lam = lam_coarsest / 2.0 ** (levels - lev)
        if zero_extremes and (lev == 0 or lev == levels):
            a = 0.0
        elif lambda_c <= 0:
            a = float(alpha)
        else:
            delta = lambda_c / 8.0 / (1.0 + alpha)
            a = float(min(alpha, max(0.0, exaggeration * (lam / delta / 8.0 - 1.0))))
        out.append(a)
    return out


def _max_levels(h: int, w: int) -> int:
    n = 0
    while min(h, w) >= 8 and n < 16:
        h, w = (h + 1) // 2, (w + 1) // 2
        n += 1
    return max(n, 1)


def build_laplacian_pyramid(img: np.ndarray, levels: int) -> list[np.ndarray]:
    """Laplacian pyramid of ``img [H, W, C]`` float: ``levels`` band-pass images + residual."""
    pyr = []
    cur = img
    for _ in range(levels):
        down = cv2.pyrDown(cur)
        up = cv2.pyrUp(down, dstsize=(cur.shape[1], cur.shape[0]))
        pyr.append(cur - up.reshape(cur.shape))
        cur = down.reshape(down.shape[0], down.shape[1], -1)
    pyr.append(cur)
    return pyr


def collapse_laplacian_pyramid(pyr: list[np.ndarray]) -> np.ndarray:
    """Inverse of :func:`build_laplacian_pyramid` (exact up to rounding)."""
    cur = pyr[-1]
    for band in reversed(pyr[:-1]):
        up = cv2.pyrUp(cur, dstsize=(band.shape[1], band.shape[0]))
        cur = band + up.reshape(band.shape)
    return cur


def _check(frames: np.ndarray, fps: float, fl: float, fh: float, temporal: str) -> None:
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"frames must be a numpy array, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape [F, H, W, 3], got {tuple(frames.shape)}")
    if frames.shape[0] < 2:
        raise ValueError(f"need at least 2 frames, got {frames.shape[0]}")
    if frames.dtype != np.uint8 and not np.issubdtype(frames.dtype, np.floating):
        raise TypeError(f"frames must be uint8 or float, got dtype {frames.dtype}")
    if np.issubdtype(frames.dtype, np.floating) and not np.isfinite(frames).all():
        raise ValueError("frames contain NaN or inf")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not 0 < fl < fh < fps / 2:
        raise ValueError(
            f"need 0 < fl < fh < fps/2, got fl={fl}, fh={fh}, fps={fps} (Nyquist {fps / 2})"
        )
    if temporal not in ("iir", "ideal"):
        raise ValueError(f"temporal must be 'iir' or 'ideal', got {temporal!r}")


def magnify_video(
    frames: np.ndarray,
    fps: float,
    alpha: float = 10.0,
    fl: float = 0.4,
    fh: float = 3.0,
    levels: int = 4,
    lambda_c: float = 16.0,
    chroma_attenuation: float = 0.1,
    *,
    temporal: str = "iir",
    zero_extremes: bool = True,
    exaggeration: float = 2.0,
    progress: bool = False,
) -> np.ndarray:
    """Magnify the temporal variations of a clip.

    Args:
        frames: ``[F, H, W, 3]`` RGB, uint8 (0..255) or float (nominally 0..1).
        fps: frame rate in Hz; ``fl`` / ``fh`` are the pass band in Hz.
        alpha: amplification; ``levels``: number of band-pass pyramid levels (clamped to
            what the frame size allows); ``lambda_c``: cut-off wavelength in pixels.
    Returns:
        ``[F, H, W, 3]`` of the input's dtype (uint8 output is clipped and rounded;
        float output is not clipped).
    """
    _check(frames, fps, fl, fh, temporal)
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    f_count, h, w, _ = frames.shape
    levels = min(int(levels), _max_levels(h, w))
    is_u8 = frames.dtype == np.uint8
    work = np.float32 if (is_u8 or frames.dtype != np.float64) else np.float64
    scale = 1.0 / 255.0 if is_u8 else 1.0
    alphas = level_alphas((h, w), levels, alpha, lambda_c, zero_extremes, exaggeration)
    chroma = np.array([1.0, chroma_attenuation, chroma_attenuation], dtype=work)

    def yiq(i: int) -> np.ndarray:
        return rgb_to_yiq(frames[i].astype(work) * work(scale))

    def finish(i: int, yiq_frame: np.ndarray, bands: list[np.ndarray]) -> np.ndarray:
        amp = [b * work(a) for b, a in zip(bands, alphas)]
        delta = collapse_laplacian_pyramid(amp) * chroma
        rgb = yiq_to_rgb(yiq_frame + delta)
        if is_u8:
            return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
        return rgb.astype(frames.dtype, copy=False)

    out = np.empty_like(frames)
    it = range(f_count)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="magnify", unit="frame")
    if temporal == "iir":
        rh, rl = work(lowpass_coefficient(fh, fps)), work(lowpass_coefficient(fl, fps))
        lp_h = lp_l = None
        for i in it:
            y = yiq(i)
            pyr = build_laplacian_pyramid(y, levels)
            if lp_h is None:
                lp_h = [p.copy() for p in pyr]
                lp_l = [p.copy() for p in pyr]
            else:
                for k, p in enumerate(pyr):
                    lp_h[k] += rh * (p - lp_h[k])
                    lp_l[k] += rl * (p - lp_l[k])
            bands = [a - b for a, b in zip(lp_h, lp_l)]
            out[i] = finish(i, y, bands)
        return out

    # ideal FFT band-pass: all frames' pyramids in memory, one FFT per level.
    ys = [yiq(i) for i in range(f_count)]
    stacks = [np.stack(lv) for lv in zip(*(build_laplacian_pyramid(y, levels) for y in ys))]
    freqs = np.fft.rfftfreq(f_count, d=1.0 / fps)
    keep = ((freqs >= fl) & (freqs <= fh)).astype(work)
    filtered = []
    for s in stacks:
        spec = np.fft.rfft(s, axis=0)
        spec *= keep.reshape(-1, 1, 1, 1)
        filtered.append(np.fft.irfft(spec, n=f_count, axis=0).astype(work))
    for i in it:
        out[i] = finish(i, ys[i], [f[i] for f in filtered])
    return out


def side_by_side(a: np.ndarray, b: np.ndarray, labels: tuple[str, str] = ("input", "magnified")):
    """Concatenate two ``[F, H, W, 3]`` uint8 clips horizontally, with a caption on each."""
    if a.shape != b.shape:
        raise ValueError(f"clips differ in shape: {a.shape} vs {b.shape}")
    out = np.concatenate([a, b], axis=2).copy()
    h, w = a.shape[1:3]
    fs = max(0.3, h / 400)
    for f in out:
        for k, text in enumerate(labels):
            cv2.putText(
                f,
                text,
                (4 + k * w, int(14 * fs / 0.4)),
                cv2.FONT_HERSHEY_SIMPLEX,
                fs,
                (255, 255, 0),
                1,
                cv2.LINE_AA,
            )
    return out
