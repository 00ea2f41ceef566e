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


def video_live(ctx: Context, rng):
    frames, lms, _ = live_clip(ctx, rng, rng.uniform(0.012, 0.03))
    return [capture_frame(f, ctx.cam, ctx.light, rng) for f in frames], lms
