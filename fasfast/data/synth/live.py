"""Bona fide presentations, and the context every renderer shares (the subject, the
camera, the light, the artefact strength).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fasfast.data.synth.capture import Camera, Light, capture_frame
from fasfast.data.synth.face import Appearance, Placement, live_landmarks, render_face

ARTEFACTS_MAX = 2.0


def toward(value, neutral, strength: float):
    """``value`` moved toward ``neutral`` by the artefact strength: ``neutral + (value -
    neutral) * strength``; exactly ``value`` at strength 1 (same bytes as the default)."""
    if strength == 1.0:
        return value
    return neutral + (value - neutral) * strength


@dataclass
class Context:
    app: Appearance
    donor: Appearance
    bg: np.ndarray
    place: Placement
    cam: Camera
    light: Light
    n: int
    fps: float
    size: int
    photo: object = None  # Photo when faces come from real photos
    donor_photo: object = None  # the face pasted by digital edits (another photo if any)
    artefacts: float = 1.0  # strength of the attacks' appearance cues (module docstring)
    recapture: float = 0.0  # detail lost by the attacks' media (source_loss; 0 = none)
    source_rng: object = None  # draws of the source capture (apart: recapture 0 keeps bytes)


def live_clip(
    ctx: Context,
    rng,
    pulse_amp: float,
    n: int | None = None,
    fps: float | None = None,
    with_noise=True,
):
    """Float frames [n,S,S,3] (no camera) and landmarks [n,68,2] of a live face."""
    n = ctx.n if n is None else n
    fps = ctx.fps if fps is None else fps
    lms = live_landmarks(ctx.app, ctx.place, n, fps, rng, blinks=ctx.photo is None)
    phase = rng.uniform(0, 2 * np.pi)
    hr = rng.uniform(1.0, 1.4)
    frames, masks = [], []
    for f in range(n):
        pulse = pulse_amp * np.sin(2 * np.pi * hr * f / fps + phase)
        if ctx.photo is not None:
            img, m = ctx.photo.render(lms[f], ctx.bg, pulse)
        else:
            img, m = render_face(lms[f], ctx.app, ctx.bg, pulse)
        frames.append(img)
        masks.append(m)
    return frames, lms, masks


def source_loss(ctx: Context):
    """The detail an attack's media lost before it is presented: the image a print or a
    replay shows was itself captured (its camera's optics blur, sigma 0.4-0.9 px as a
    phone's) and resampled to the print's / screen's resolution, and a digital edit is
    re-encoded at a lower resolution, so their detail is low-passed twice, a live face's
    once (Huang et al. 2024, Sec. 3.2: recapture and resampling lose high-frequency
    detail, a cue shared by the PAI species). Returns a function float frame [S,S,3] ->
    the same after that blur and a down- / up-sampling by a factor drawn like the digital
    edit's donor (2-4x), moved toward 1x by ``ctx.recapture``; the identity (and no draw)
    at 0. The draws are per video (one call per video)."""
    import cv2

    if ctx.recapture <= 0.0:
        return lambda frame: frame
    rng = ctx.source_rng
    sigma = float(rng.uniform(0.4, 0.9))
    ds = toward(float(rng.uniform(2.0, 4.0)), 1.0, ctx.recapture)
    small = max(8, int(round(ctx.size / max(ds, 1.0))))
    size = ctx.size

    def lose(frame: np.ndarray) -> np.ndarray:
        g = cv2.GaussianBlur(frame, (0, 0), sigma)
        g = cv2.resize(g, (small, small), interpolation=cv2.INTER_AREA)
        return cv2.resize(g, (size, size), interpolation=cv2.INTER_LINEAR)

    return lose


def video_live(ctx: Context, rng):
    frames, lms, _ = live_clip(ctx, rng, rng.uniform(0.012, 0.03))
    return [capture_frame(f, ctx.cam, ctx.light, rng) for f in frames], lms
