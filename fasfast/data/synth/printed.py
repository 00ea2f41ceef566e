"""Print attacks (OULU-NPU files 2, 3): one still, printed (halftone, contrast and
saturation loss, paper tint and texture), moved rigidly with hand shake.
"""

from __future__ import annotations

import numpy as np

from fasfast.data.synth.capture import capture_frame
from fasfast.data.synth.face import apply_affine, rigid_shake, warp_frame
from fasfast.data.synth.live import Context, live_clip, source_loss, toward


def _halftone(size: int, rng, printer: int = 2, strength: float = 1.0) -> np.ndarray:
    """Multiplicative halftone screen of a print, float32 [S, S] in (0, 1].

    Its period is relative to the frame (the diagonal components ~3.5-5.5 px in a 64 px
    face crop), so it survives the camera blur and the crop resampling at any video size
    and is the same cue whatever the face; the strength is drawn per video (some weak)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = size * (rng.uniform(0.055, 0.065) if printer == 2 else rng.uniform(0.062, 0.075))
    ang = np.deg2rad(rng.uniform(10, 50))
    u = xx * np.cos(ang) + yy * np.sin(ang)
    v = -xx * np.sin(ang) + yy * np.cos(ang)
    dots = 0.5 + 0.5 * np.cos(2 * np.pi * u / period) * np.cos(2 * np.pi * v / period)
    amp = toward(rng.uniform(0.08, 0.22), 0.0, strength)
    return (1 - amp * dots).astype(np.float32)


def video_print(ctx: Context, rng, printer: int):
    import cv2

    size, k = ctx.size, ctx.artefacts
    still, lms, _ = live_clip(ctx, rng, 0.0, n=1)
    still = [source_loss(ctx)(still[0])]
    photo_noise = toward(rng.normal(0, 0.012, still[0].shape).astype(np.float32), 0.0, k)
    img = np.clip(still[0] + photo_noise, 0, 1)
    # printing: contrast / saturation loss, paper tint, halftone screen, paper texture
    contrast = toward(rng.uniform(0.75, 0.95), 1.0, k)
    sat = toward(rng.uniform(0.65, 0.9) if printer == 2 else rng.uniform(0.75, 0.95), 1.0, k)
    grey = img.mean(2, keepdims=True)
    img = grey + (img - grey) * sat
    img = img.mean() + (img - img.mean()) * contrast
    paper = toward(rng.uniform(0.92, 1.0), 1.0, k)
    tint = toward(np.array([0.05, 0.045, 0.03], np.float32) * rng.uniform(0.3, 1.0), 0.0, k)
    img = img * paper + tint
    img = img * _halftone(size, rng, printer, k)[..., None]
    texture = cv2.GaussianBlur(
        rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), max(1.0, size / 90)
    )
    img = img + toward(rng.uniform(0.015, 0.03), 0.0, k) * texture[..., None]
    img = np.clip(img, 0, 1).astype(np.float32)
    mats = rigid_shake(
        rng,
        ctx.n,
        ctx.fps,
        rng.uniform(0.4, 1.5),
        rng.uniform(0.8, 2.5),
        rng.uniform(0.05, 0.3),
        ctx.place.centre,
    )
    scale = rng.uniform(0.97, 1.08)  # printed a little larger / smaller than life
    c = ctx.place.centre
    s = np.array([[scale, 0, c[0] * (1 - scale)], [0, scale, c[1] * (1 - scale)]])
    frames, out_lm = [], []
    fresh = rng.uniform(0.2, 0.6)
    for f in range(ctx.n):
        m = mats[f].copy()
        m[:, :2] = mats[f, :, :2] @ s[:, :2]
        m[:, 2] = mats[f, :, :2] @ s[:, 2] + mats[f, :, 2]
        frames.append(capture_frame(warp_frame(img, m, ctx.bg), ctx.cam, ctx.light, rng, fresh))
        out_lm.append(apply_affine(m, lms[0]))
    return frames, np.stack(out_lm)
