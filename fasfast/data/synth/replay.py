"""Replay attacks (OULU-NPU files 4, 5): a live clip on a screen at a lower frame rate
(judder), gamma and tint, pixel grid, moire, glare, small rigid shake.
"""

from __future__ import annotations

import numpy as np

from fasfast.data.synth.capture import capture_frame
from fasfast.data.synth.face import apply_affine, rigid_shake, warp_frame
from fasfast.data.synth.live import Context, live_clip, source_loss, toward


def _screen_grid(size: int, rng, strength: float = 1.0) -> np.ndarray:
    """Multiplicative pixel grid of a screen (RGB sub-pixel columns + rows), float32
    [S, S, 3] in (0, 1]. The pitch is relative to the frame (~3.5-5 px in a 64 px face
    crop) so it survives the camera blur and the crop resampling; strength drawn per video."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    pitch = size * rng.uniform(0.036, 0.05)
    grid_amp = toward(rng.uniform(0.08, 0.2), 0.0, strength)
    sub = np.stack([np.cos(2 * np.pi * (xx / pitch - k / 3)) for k in range(3)], -1) * 0.5 + 0.5
    rows = (0.5 + 0.5 * np.cos(2 * np.pi * yy / pitch))[..., None]
    return (1 - grid_amp * (0.6 * sub + 0.4 * rows)).astype(np.float32)


def video_replay(ctx: Context, rng, display: int):
    size = ctx.size
    src_fps = float(rng.choice([7.5, 10.0, 12.0]) if display == 2 else rng.choice([10.0, 12.5]))
    t = np.arange(ctx.n) / ctx.fps
    src_idx = np.floor(t * src_fps + rng.uniform(0, 1)).astype(int)
    src_idx -= src_idx[0]
    n_src = int(src_idx[-1]) + 1
    clip, lms, _ = live_clip(ctx, rng, rng.uniform(0.0, 0.015), n=n_src, fps=src_fps)
    lose = source_loss(ctx)
    clip = [lose(c) for c in clip]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    k = ctx.artefacts
    grid = _screen_grid(size, rng, k)
    gamma = toward(
        rng.uniform(0.7, 0.85) if rng.uniform() < 0.5 else rng.uniform(1.15, 1.35), 1.0, k
    )
    tint = toward(
        np.array([0.95, 1.0, 1.07], np.float32) * rng.uniform(0.97, 1.03, 3).astype(np.float32),
        np.float32(1.0),
        k,
    )
    moire_amp = toward(rng.uniform(0.04, 0.1), 0.0, k)
    mf = rng.uniform(0.05, 0.12)
    mang = rng.uniform(0, np.pi)
    glare_c = rng.uniform(0.2, 0.8, 2) * size
    glare = (
        toward(rng.uniform(0.02, 0.1), 0.0, k)
        * np.exp(-((xx - glare_c[0]) ** 2 + (yy - glare_c[1]) ** 2) / (2 * (0.2 * size) ** 2))
    )[..., None]
    mats = rigid_shake(
        rng,
        ctx.n,
        ctx.fps,
        rng.uniform(0.2, 0.8),
        rng.uniform(0.3, 1.2),
        rng.uniform(0.02, 0.15),
        ctx.place.centre,
    )
    base = (
        2 * np.pi * mf * (xx * np.cos(mang) + yy * np.sin(mang))
        + 0.002 * ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) * mf
    )
    cos_b, sin_b = np.cos(base).astype(np.float32), np.sin(base).astype(np.float32)
    grid = (grid * tint).astype(np.float32)
    glare = glare.astype(np.float32)
    screens: dict[int, np.ndarray] = {}
    frames, out_lm = [], []
    for f in range(ctx.n):
        k = int(src_idx[f])
        if k not in screens:
            screens = {k: np.power(np.clip(clip[k], 0, 1), np.float32(gamma)) * grid}
        m = mats[f]
        # moire bands move with the screen (phase follows the displacement)
        ph = 2 * np.pi * mf * (m[0, 2] * np.cos(mang) + m[1, 2] * np.sin(mang)) * 3
        band = cos_b * np.float32(np.cos(ph)) - sin_b * np.float32(np.sin(ph))
        scr = screens[k] * (1 + np.float32(moire_amp) * band)[..., None]
        img = warp_frame(scr, m, ctx.bg) + glare
        frames.append(capture_frame(img, ctx.cam, ctx.light, rng))
        out_lm.append(apply_affine(m, lms[k]))
    return frames, np.stack(out_lm)
