"""Digital edits (file 6): the inner face replaced by another face rendered at low
resolution, up-sampled and sharpened, pasted with a feathered seam; with ``recapture`` > 0
the edited frame is re-encoded at a lower resolution.
"""

from __future__ import annotations

import numpy as np

from fasfast.data.synth.capture import capture_frame
from fasfast.data.synth.face import poly_mask, render_face
from fasfast.data.synth.live import Context, live_clip, source_loss, toward


def video_digital(ctx: Context, rng):
    import cv2

    size, k = ctx.size, ctx.artefacts
    frames, lms, masks = live_clip(ctx, rng, rng.uniform(0.012, 0.03))
    ds = toward(float(rng.uniform(2.0, 4.0)), 1.0, k)
    small = max(8, int(round(size / ds)))
    sharpen = toward(rng.uniform(0.6, 1.5), 0.0, k)
    mismatch = toward(rng.uniform(0.9, 1.1, 3).astype(np.float32), np.float32(1.0), k)
    feather = rng.uniform(0.8, 2.0)
    lose = source_loss(ctx)  # the edited video re-encoded at a lower resolution
    out = []
    for f in range(ctx.n):
        lm = lms[f]
        # donor rendered at low resolution with the target's landmarks, no pulse
        if ctx.photo is not None:
            src = ctx.donor_photo or ctx.photo
            donor, _ = src.render(
                lm * (small / size), cv2.resize(ctx.bg, (small, small)), 0.0, skin_shift=mismatch
            )
        else:
            donor, _ = render_face(
                lm * (small / size),
                ctx.donor,
                cv2.resize(ctx.bg, (small, small)),
                0.0,
                skin_override=np.clip(ctx.app.skin * mismatch, 0, 1),
            )
        up = cv2.resize(donor, (size, size), interpolation=cv2.INTER_LINEAR)
        blur = cv2.GaussianBlur(up, (0, 0), 1.0)
        up = np.clip(up + sharpen * (up - blur), 0, 1)
        cen = lm[list(range(17, 68))].mean(0)
        region = cen + (np.concatenate([lm[1:16], lm[26:16:-1]]) - cen) * 0.92
        mask = poly_mask(size, [region])
        mask = cv2.GaussianBlur(mask, (0, 0), feather)[..., None]
        noisy = frames[f] + rng.normal(0, ctx.cam.noise, frames[f].shape).astype(np.float32)
        img = lose(noisy * (1 - mask) + up * mask)
        out.append(capture_frame(img, ctx.cam, ctx.light, rng, noise_scale=toward(0.35, 1.0, k)))
    return out, lms
