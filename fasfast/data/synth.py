"""Synthetic face anti-spoofing videos in an OULU-NPU-shaped tree.

The licensed data sets cannot be shipped, so tests, the demo and the benchmarks use
this generator. :func:`generate` writes::

    <out>/Train_files/1_1_01_1.avi            Phone_Session_User_File, lossless FFV1
    <out>/Train_files/1_1_01_1.landmarks.npy  float32 [F, 68, 2], frame pixels (exact)
    <out>/{Dev,Test}_files/...
    <out>/Protocols/Protocol_1/{Train,Dev,Test}.txt       "+1,1_1_01_1" (+1 live, -1 print,
    <out>/Protocols/Protocol_2/...                          -2 replay, -3 digital)
    <out>/Protocols/Protocol_{3,4}/{Train,Dev,Test}_k.txt  (k = held-out phone; phones >= 2)
    <out>/synth.json                           the settings and the file list

Files per (phone, session, user): 1 live, 2-3 print, 4-5 replay (as OULU-NPU) and
6 digital (an edited face; not in OULU-NPU, read back as attack type "digital").
Users are split over Train / Dev / Test in the ratio 3 : 1 : 2. Phones differ in noise,
colour response and sharpness; sessions in illumination (session 3 most).

Faces are drawn from a 68-point template deformed per subject (face shape, skin tone,
eyes, brows, nose, mouth, hair, background), so their landmarks are exact. With
``faces=FOLDER`` real photos are used instead (landmarks from the dlib detector,
rigid + smooth non-rigid warps of the photo; no blinks).

- live: non-rigid micro-motion (smooth per-landmark drift, expression), head sway,
  blinks, a faint ~1.2 Hz pulse in the red/green channels of the skin, fresh sensor
  noise every frame.
- print (files 2, 3): one still, printed (halftone screen, reduced contrast and
  saturation, paper tint and texture), moved rigidly as a whole with hand shake; its
  noise is printed in, so the same pattern every frame (plus weak fresh camera noise).
- replay (files 4, 5): a live clip shown on a screen at a lower frame rate (frames
  repeated: judder), screen gamma and tint, visible pixel grid, moire bands, glare,
  small rigid shake.

The halftone period and the screen's pixel pitch are relative to the frame size (3.5-5.5
px once the face is cropped to 64 px), so these texture cues survive the camera blur and
the crop resampling and do not depend on the face (skin tone, identity); global colour
differences (print gamut, screen gamma) are kept moderate so that they are not the only
cue.
- digital (file 6): a live clip whose inner face is replaced by another face rendered
  at low resolution, up-sampled and sharpened (halo), pasted with a feathered seam and
  a colour mismatch, without the pulse and with smoothed noise.

Artefact strengths are drawn per video, some weak, so the task is learnable but not
trivial. ``artefacts`` (the difficulty knob, default 1) scales every appearance cue of the
attacks toward none: the print's halftone, contrast / saturation loss, paper tint, texture
and printed-in noise; the screen's pixel grid, moire, glare, gamma and tint; the digital
edit's down-sampling, sharpening halo, colour mismatch and smoothed noise. The motion cues
(a print's rigid motion and fixed noise, a replay's judder) are kept, so at 0 the attacks
differ from live faces only in how they move. At 1 the bytes are those of the default;
values above 1 (up to 2) make the cues stronger. Everything is drawn from ``numpy.random.default_rng([seed, ...])``: the same
seed gives the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fasfast.labels.landmarks import template_68

ATTACK_FILES = {1: "live", 2: "print", 3: "print", 4: "replay", 5: "replay", 6: "digital"}
_PROTOCOL_LABEL = {"live": "+1", "print": "-1", "replay": "-2", "digital": "-3"}


# --------------------------------------------------------------------------- shapes
def _subject_shape(rng) -> np.ndarray:
    """A subject's face shape (unit frame), deformed from the mean face (:func:`template_68`)."""
    p = template_68()
    # jaw: squareness and chin length
    phi = np.pi * (1 - np.arange(17) / 16)
    e = rng.uniform(0.75, 1.15)
    c, s = np.cos(phi), np.sin(phi)
    p[0:17, 0] = np.sign(c) * np.abs(c) ** e
    p[0:17, 1] = -0.25 + rng.uniform(1.05, 1.3) * np.abs(s) ** (1 / e)
    p[17:27, 1] += rng.uniform(-0.06, 0.06)  # brow height
    p[17:27, 1] -= (p[17:27, 1] + 0.5) * rng.uniform(-0.5, 0.5)  # arch
    eye_dx, eye_s = rng.uniform(-0.05, 0.05), rng.uniform(0.85, 1.2)
    for a, sgn in ((36, -1), (42, 1)):
        cen = p[a:a + 6].mean(0)
        p[a:a + 6] = cen + (p[a:a + 6] - cen) * [eye_s, eye_s * rng.uniform(0.85, 1.2)]
        p[a:a + 6, 0] += sgn * eye_dx
    p[27:36, 1] = -0.42 + (p[27:36, 1] + 0.42) * rng.uniform(0.9, 1.12)  # nose length
    p[31:36, 0] *= rng.uniform(0.8, 1.25)  # nose width
    mc = p[48:68].mean(0)
    p[48:68] = mc + (p[48:68] - mc) * [rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.4)]
    p[48:68, 1] += rng.uniform(-0.05, 0.05)
    return p


# ----------------------------------------------------------------------- appearance
_SKIN = np.array([[236, 200, 175], [224, 172, 140], [198, 145, 110], [160, 110, 80],
                  [120, 80, 56], [92, 60, 42]], float) / 255


@dataclass
class _Appearance:
    shape: np.ndarray
    aspect: float
    skin: np.ndarray
    hair: np.ndarray
    iris: np.ndarray
    lips: np.ndarray
    brow: np.ndarray
    shirt: np.ndarray
    bg: tuple  # (colour a, colour b, angle, blob seed)
    brow_thick: float
    hair_len: float


def _appearance(rng) -> _Appearance:
    k = rng.uniform(0, len(_SKIN) - 1)
    lo = int(k)
    skin = _SKIN[lo] * (1 - (k - lo)) + _SKIN[min(lo + 1, len(_SKIN) - 1)] * (k - lo)
    skin = np.clip(skin * rng.uniform(0.95, 1.05, 3), 0, 1)
    hair = np.clip(rng.choice([[0.1, 0.07, 0.05], [0.3, 0.2, 0.1], [0.55, 0.4, 0.2],
                               [0.05, 0.05, 0.05], [0.6, 0.55, 0.5]]) * rng.uniform(0.8, 1.2), 0, 1)
    iris = rng.choice([[0.3, 0.2, 0.1], [0.2, 0.35, 0.55], [0.25, 0.4, 0.25], [0.1, 0.07, 0.05]])
    lips = np.clip(skin * [1.0, 0.65, 0.65] * rng.uniform(0.8, 1.0), 0, 1)
    return _Appearance(
        shape=_subject_shape(rng), aspect=rng.uniform(0.9, 1.08), skin=skin, hair=hair,
        iris=np.asarray(iris), lips=lips, brow=np.clip(hair * 0.8, 0, 1),
        shirt=rng.uniform(0.1, 0.9, 3),
        bg=(rng.uniform(0.2, 0.9, 3), rng.uniform(0.2, 0.9, 3), rng.uniform(0, np.pi),
            int(rng.integers(1 << 30))),
        brow_thick=rng.uniform(0.05, 0.09), hair_len=rng.uniform(0.0, 1.0),
    )


def _background(app: _Appearance, size: int) -> np.ndarray:
    import cv2

    ca, cb, ang, seed = app.bg
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    t = np.clip(0.5 + (xx - 0.5) * np.cos(ang) + (yy - 0.5) * np.sin(ang), 0, 1)[..., None]
    img = ca * (1 - t) + cb * t
    blobs = np.random.default_rng(seed).uniform(-1, 1, (6, 6, 3))
    img = img + 0.12 * cv2.resize(blobs, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(img, 0, 1).astype(np.float32)


@dataclass
class _Camera:
    noise: float
    colour: np.ndarray  # 3x3
    blur: float
    gain: float


@dataclass
class _Light:
    gain: float
    tint: np.ndarray
    grad: float
    angle: float


def _camera(rng) -> _Camera:
    return _Camera(noise=rng.uniform(1.5, 3.5) / 255,
                   colour=np.eye(3) + rng.uniform(-0.04, 0.04, (3, 3)),
                   blur=rng.uniform(0.4, 0.9), gain=rng.uniform(0.95, 1.05))


def _light(rng, session: int) -> _Light:
    strong = session >= 3
    return _Light(gain=rng.uniform(0.7, 0.85) if strong else rng.uniform(0.9, 1.1),
                  tint=1 + rng.uniform(-0.08, 0.08, 3) * (2 if strong else 1),
                  grad=rng.uniform(0.1, 0.35) if strong else rng.uniform(0.0, 0.15),
                  angle=rng.uniform(0, 2 * np.pi))


# ------------------------------------------------------------------------ rendering
def _pts(a, shift: int = 4) -> np.ndarray:
    return np.round(np.asarray(a) * (1 << shift) - 0.5 * (1 << shift)).astype(np.int32)


_SHIFT = 4


def _bbox(points, size: int, pad: float = 2.0) -> tuple[int, int, int, int]:
    p = np.asarray(points, float).reshape(-1, 2)
    x0 = int(max(0, np.floor(p[:, 0].min() - pad)))
    y0 = int(max(0, np.floor(p[:, 1].min() - pad)))
    x1 = int(min(size, np.ceil(p[:, 0].max() + pad)))
    y1 = int(min(size, np.ceil(p[:, 1].max() + pad)))
    return x0, y0, max(x0, x1), max(y0, y1)


def _poly_mask(size: int, polys, shift: int = _SHIFT) -> np.ndarray:
    """Anti-aliased coverage of polygons (pixels), float32 [S, S]."""
    import cv2

    m = np.zeros((size, size), np.uint8)
    cv2.fillPoly(m, [_pts(p, shift).reshape(-1, 1, 2) for p in polys], 255, cv2.LINE_AA, shift)
    return m.astype(np.float32) * np.float32(1 / 255)


def _local_mask(polys, box, lines=None, thickness=1, circles=()):
    """uint8 mask of the window ``box`` = (x0, y0, x1, y1) with polygons filled,
    polylines drawn and circles ((cx, cy), r) filled; coordinates in frame pixels."""
    import cv2

    x0, y0, x1, y1 = box
    m = np.zeros((max(0, y1 - y0), max(0, x1 - x0)), np.uint8)
    if m.size == 0:  # the shape lies outside the frame
        return m
    off = np.array([x0, y0], float)
    if polys:
        cv2.fillPoly(m, [_pts(np.asarray(p) - off).reshape(-1, 1, 2) for p in polys], 255,
                     cv2.LINE_AA, _SHIFT)
    if lines:
        cv2.polylines(m, [_pts(np.asarray(p) - off).reshape(-1, 1, 2) for p in lines], False, 255,
                      thickness, cv2.LINE_AA, _SHIFT)
    for c, r in circles:
        cv2.circle(m, tuple(int(v) for v in _pts(np.asarray(c) - off)), int(r * (1 << _SHIFT)),
                   255, -1, cv2.LINE_AA, _SHIFT)
    return m


def _blend(img: np.ndarray, box, mask_u8: np.ndarray, colour, alpha: float = 1.0) -> None:
    """In place: ``img = img * (1 - a) + colour * a`` on ``box``, a = mask * alpha."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return
    a = mask_u8.astype(np.float32)[..., None] * np.float32(alpha / 255)
    win = img[y0:y1, x0:x1]
    col = colour[y0:y1, x0:x1] if isinstance(colour, np.ndarray) and colour.ndim == 3 else colour
    win += (np.asarray(col, np.float32) - win) * a


def _head_outline(lm: np.ndarray, extra: float = 0.0) -> np.ndarray:
    """Jaw 0-16 then an arc over the forehead back to point 0 (pixels)."""
    left, right = lm[0], lm[16]
    mid = (left + right) / 2
    half = np.linalg.norm(right - left) / 2
    ex = (right - left) / (2 * half + 1e-9)
    ey = np.array([ex[1], -ex[0]])  # up (y down image): rotate -90
    if np.dot(ey, lm[8] - mid) > 0:
        ey = -ey
    ang = np.linspace(0, np.pi, 13)[1:-1]
    height = half * (0.95 + extra)
    arc = mid + np.outer(np.cos(ang), ex) * half * (1 + extra * 0.3) + np.outer(np.sin(ang), ey) * height
    return np.concatenate([lm[0:17], arc])


_GRIDS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (yy, xx), float32 [S, S] (cached)."""
    if size not in _GRIDS:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + np.float32(0.5)
        _GRIDS[size] = (yy, xx)
    return _GRIDS[size]


def _render(lm: np.ndarray, app: _Appearance, bg: np.ndarray, pulse: float = 0.0,
            skin_override: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw the face with landmarks ``lm`` [68, 2] (pixels) over ``bg`` [S, S, 3] float.

    Returns (image float32 [S,S,3] in [0,1], skin mask float32 [S,S]).
    """
    size = bg.shape[0]
    img = bg.copy()
    f32 = np.float32
    face_w = np.linalg.norm(lm[16] - lm[0])
    centre = lm[27:31].mean(0)
    skin = (app.skin if skin_override is None else skin_override).astype(f32)
    # hair (behind), shirt, neck
    hair_poly = _head_outline(lm, extra=0.25)
    hair_poly = np.concatenate([hair_poly[17:], lm[16:17] + [0, face_w * 0.3 * app.hair_len],
                                lm[0:1] + [0, face_w * 0.3 * app.hair_len]])
    b = _bbox(hair_poly, size)
    _blend(img, b, _local_mask([hair_poly], b), app.hair.astype(f32))
    shoulders = np.array([lm[6] + [-face_w * 0.3, face_w * 0.5], lm[10] + [face_w * 0.3, face_w * 0.5],
                          [lm[10][0] + face_w, size + 5.0], [lm[6][0] - face_w, size + 5.0]])
    b = _bbox(shoulders, size)
    _blend(img, b, _local_mask([shoulders], b), app.shirt.astype(f32))
    neck = np.array([lm[6] + [face_w * 0.05, 0], lm[10] - [face_w * 0.05, 0],
                     lm[10] + [-face_w * 0.02, face_w * 0.55], lm[6] + [face_w * 0.02, face_w * 0.55]])
    head = _head_outline(lm)
    b_skin = _bbox(np.concatenate([neck, head]), size)
    m_skin = _local_mask([neck, head], b_skin)
    m_head = _local_mask([head], b_skin)
    x0, y0, x1, y1 = b_skin
    yy, xx = _grid(size)
    r2 = ((xx[y0:y1, x0:x1] - centre[0]) ** 2 + (yy[y0:y1, x0:x1] - centre[1]) ** 2) / (
        0.75 * face_w) ** 2
    shade = f32(1.08) - f32(0.28) * np.minimum(r2, f32(1.5))
    shade = np.where(m_head > 0, shade, f32(0.8))[..., None]
    skin_img = np.zeros((size, size, 3), f32)
    skin_img[y0:y1, x0:x1] = skin * shade
    if pulse:
        skin_img[y0:y1, x0:x1] *= np.array([1 + pulse, 1 + 0.6 * pulse, 1.0], f32)
    _blend(img, b_skin, m_skin, skin_img)
    # fringe
    if app.hair_len > 0.5:
        fr = _head_outline(lm, extra=0.05)[17:]
        fr = np.concatenate([fr, [lm[24] + (lm[24] - lm[44]) * 0.8, lm[19] + (lm[19] - lm[37]) * 0.8]])
        b = _bbox(fr, size)
        _blend(img, b, _local_mask([fr], b), app.hair.astype(f32))
    # eyes: sclera, iris clipped to the eye, lids
    for a in (36, 42):
        eye = lm[a:a + 6]
        b = _bbox(eye, size)
        m_eye = _local_mask([eye], b)
        rad = 0.33 * np.linalg.norm(lm[a + 3] - lm[a])
        m_iris = _local_mask([], b, circles=[(eye.mean(0), rad)])
        m_iris = (m_iris.astype(np.uint16) * m_eye // 255).astype(np.uint8)
        _blend(img, b, m_eye, np.array([0.92, 0.9, 0.88], f32))
        _blend(img, b, m_iris, app.iris.astype(f32))
        _blend(img, b, _local_mask([], b, lines=[lm[a:a + 4]]), skin * f32(0.35), 0.6)
    th = max(1, int(round(face_w * app.brow_thick)))
    b = _bbox(lm[17:27], size, pad=th + 2)
    _blend(img, b, _local_mask([], b, lines=[lm[17:22], lm[22:27]], thickness=th),
           app.brow.astype(f32))
    nostril = max(1.0, face_w * 0.025)
    b = _bbox(lm[31:36], size, pad=nostril + 2)
    _blend(img, b, _local_mask([], b, lines=[lm[31:36]], circles=[(lm[32], nostril), (lm[34], nostril)]),
           skin * f32(0.35), 0.6)
    b = _bbox(lm[27:31], size, pad=4)
    hl = _local_mask([], b, lines=[lm[27:31]], thickness=max(1, int(face_w * 0.04)))
    img[b[1]:b[3], b[0]:b[2]] += hl.astype(f32)[..., None] * f32(0.06 / 255)
    # mouth
    b = _bbox(lm[48:60], size)
    _blend(img, b, _local_mask([lm[48:60]], b), app.lips.astype(f32))
    _blend(img, b, _local_mask([lm[60:68]], b), np.array([0.25, 0.08, 0.08], f32))
    full = np.zeros((size, size), f32)
    full[y0:y1, x0:x1] = m_skin * f32(1 / 255)
    np.clip(img, 0, 1, out=img)
    return img, full


def _capture(img: np.ndarray, cam: _Camera, light: _Light, rng, noise_scale: float = 1.0,
             fixed_noise: np.ndarray | None = None) -> np.ndarray:
    """Camera model: illumination, optics blur, colour response, noise -> uint8 RGB."""
    import cv2

    size = img.shape[0]
    yy, xx = _grid(size)
    key = (size, light.grad, light.angle, light.gain, cam.gain)
    if getattr(light, "_key", None) != key:
        g = 1 + light.grad * ((xx / size - 0.5) * np.cos(light.angle)
                              + (yy / size - 0.5) * np.sin(light.angle))
        light._field = (g * (light.gain * cam.gain)).astype(np.float32)[..., None] * \
            light.tint.astype(np.float32)
        light._key = key
    out = img * light._field
    out = cv2.GaussianBlur(out, (0, 0), cam.blur)
    out = cv2.transform(out, cam.colour.astype(np.float32))
    if noise_scale > 0:
        out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(cam.noise * noise_scale)
    if fixed_noise is not None:
        out += fixed_noise
    out *= 255
    out += 0.5
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


# ----------------------------------------------------------------------- motion
def _smooth(rng, n: int, fps: float, amp: float, fmin=0.2, fmax=1.5, k=3) -> np.ndarray:
    """Sum of ``k`` random sinusoids, ``[n]``, roughly of amplitude ``amp``."""
    t = np.arange(n) / fps
    f = rng.uniform(fmin, fmax, k)
    ph = rng.uniform(0, 2 * np.pi, k)
    a = rng.uniform(0.5, 1.0, k)
    return amp * (a[None] * np.sin(2 * np.pi * f[None] * t[:, None] + ph[None])).sum(1) / a.sum() * 1.5


def _rot(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


@dataclass
class _Placement:
    centre: np.ndarray
    half_width: float


def _live_landmarks(app: _Appearance, place: _Placement, n: int, fps: float, rng,
                    blinks: bool = True) -> np.ndarray:
    """Per-frame landmarks [n, 68, 2] of a live face: head sway, non-rigid drift, blinks."""
    unit = app.shape * [1.0, app.aspect]
    w = place.half_width
    theta = np.deg2rad(_smooth(rng, n, fps, rng.uniform(1.0, 3.0)))
    tx = _smooth(rng, n, fps, rng.uniform(0.5, 2.0))
    ty = _smooth(rng, n, fps, rng.uniform(0.5, 1.5))
    sc = 1 + _smooth(rng, n, fps, 0.01)
    yaw = _smooth(rng, n, fps, rng.uniform(0.01, 0.04))
    # non-rigid: smooth drift of each landmark group + expression (mouth, brows)
    groups = [range(0, 17), range(17, 27), range(27, 36), range(36, 48), range(48, 68)]
    nonrigid = np.zeros((n, 68, 2))
    for g in groups:
        g = list(g)
        for d in range(2):
            nonrigid[:, g, d] += _smooth(rng, n, fps, 0.012, 0.5, 3.0)[:, None]
        nonrigid[:, g, :] += rng.normal(0, 0.004, (n, len(g), 2)).cumsum(0) * 0.3
    mouth_open = np.clip(_smooth(rng, n, fps, 0.04, 0.3, 1.5), 0, None)
    nonrigid[:, 56:59, 1] += mouth_open[:, None]
    nonrigid[:, 65:68, 1] += mouth_open[:, None] * 1.2
    nonrigid[:, 17:27, 1] -= np.clip(_smooth(rng, n, fps, 0.03, 0.2, 1.0), 0, None)[:, None]
    shape = unit[None] + nonrigid
    if blinks:
        closure = np.zeros(n)
        t = rng.uniform(-0.3, 0.6) * n
        while t < n:
            prof = np.array([0.4, 0.9, 1.0, 0.6, 0.2])
            for j, v in enumerate(prof):
                k = int(round(t)) + j
                if 0 <= k < n:
                    closure[k] = max(closure[k], v)
            t += rng.uniform(1.5, 4.0) * fps
        for up, lo in ((37, 41), (38, 40), (43, 47), (44, 46)):
            shape[:, up] += (shape[:, lo] - shape[:, up]) * closure[:, None] * 0.92
    shape[:, :, 0] *= 1 + yaw[:, None] * np.sign(shape[:, :, 0])
    out = np.empty((n, 68, 2))
    for f in range(n):
        out[f] = place.centre + [tx[f], ty[f]] + (w * sc[f]) * shape[f] @ _rot(theta[f]).T
    return out


def _rigid_shake(rng, n: int, fps: float, rot_deg: float, shift: float, jitter: float,
                 centre: np.ndarray) -> np.ndarray:
    """Per-frame 2x3 affine matrices [n, 2, 3]: hand shake around ``centre``."""
    theta = np.deg2rad(_smooth(rng, n, fps, rot_deg, 0.5, 4.0))
    tx = _smooth(rng, n, fps, shift, 0.5, 4.0) + rng.normal(0, jitter, n)
    ty = _smooth(rng, n, fps, shift, 0.5, 4.0) + rng.normal(0, jitter, n)
    sc = 1 + _smooth(rng, n, fps, 0.008, 0.3, 2.0)
    mats = np.empty((n, 2, 3))
    for f in range(n):
        r = _rot(theta[f]) * sc[f]
        mats[f, :, :2] = r
        mats[f, :, 2] = centre - r @ centre + [tx[f], ty[f]]
    return mats


def _warp(img: np.ndarray, m: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Warp ``img`` by the 2x3 affine ``m`` over the background ``bg`` (float32)."""
    import cv2

    size = img.shape[0]
    rgba = np.concatenate([img, np.ones(img.shape[:2] + (1,), np.float32)], axis=2)
    w = cv2.warpAffine(rgba, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
    return w[..., :3] + bg * (1 - w[..., 3:])


def _apply(m: np.ndarray, lm: np.ndarray) -> np.ndarray:
    return lm @ m[:, :2].T + m[:, 2]


# ----------------------------------------------------------------------- videos
ARTEFACTS_MAX = 2.0


def _toward(value, neutral, strength: float):
    """``value`` moved toward ``neutral`` by the artefact strength: ``neutral + (value -
    neutral) * strength``; exactly ``value`` at strength 1 (same bytes as the default)."""
    if strength == 1.0:
        return value
    return neutral + (value - neutral) * strength


@dataclass
class _Ctx:
    app: _Appearance
    donor: _Appearance
    bg: np.ndarray
    place: _Placement
    cam: _Camera
    light: _Light
    n: int
    fps: float
    size: int
    photo: object = None  # _Photo when faces come from real photos
    donor_photo: object = None  # the face pasted by digital edits (another photo if any)
    artefacts: float = 1.0  # strength of the attacks' appearance cues (module docstring)


def _live_clip(ctx: _Ctx, rng, pulse_amp: float, n: int | None = None, fps: float | None = None,
               with_noise=True):
    """Float frames [n,S,S,3] (no camera) and landmarks [n,68,2] of a live face."""
    n = ctx.n if n is None else n
    fps = ctx.fps if fps is None else fps
    lms = _live_landmarks(ctx.app, ctx.place, n, fps, rng, blinks=ctx.photo is None)
    phase = rng.uniform(0, 2 * np.pi)
    hr = rng.uniform(1.0, 1.4)
    frames, masks = [], []
    for f in range(n):
        pulse = pulse_amp * np.sin(2 * np.pi * hr * f / fps + phase)
        if ctx.photo is not None:
            img, m = ctx.photo.render(lms[f], ctx.bg, pulse)
        else:
            img, m = _render(lms[f], ctx.app, ctx.bg, pulse)
        frames.append(img)
        masks.append(m)
    return frames, lms, masks


def _video_live(ctx: _Ctx, rng):
    frames, lms, _ = _live_clip(ctx, rng, rng.uniform(0.012, 0.03))
    return [_capture(f, ctx.cam, ctx.light, rng) for f in frames], lms


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
    amp = _toward(rng.uniform(0.08, 0.22), 0.0, strength)
    return (1 - amp * dots).astype(np.float32)


def _screen_grid(size: int, rng, strength: float = 1.0) -> np.ndarray:
    """Multiplicative pixel grid of a screen (RGB sub-pixel columns + rows), float32
    [S, S, 3] in (0, 1]. The pitch is relative to the frame (~3.5-5 px in a 64 px face
    crop) so it survives the camera blur and the crop resampling; strength drawn per video."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    pitch = size * rng.uniform(0.036, 0.05)
    grid_amp = _toward(rng.uniform(0.08, 0.2), 0.0, strength)
    sub = np.stack([np.cos(2 * np.pi * (xx / pitch - k / 3)) for k in range(3)], -1) * 0.5 + 0.5
    rows = (0.5 + 0.5 * np.cos(2 * np.pi * yy / pitch))[..., None]
    return (1 - grid_amp * (0.6 * sub + 0.4 * rows)).astype(np.float32)


def _video_print(ctx: _Ctx, rng, printer: int):
    import cv2

    size, k = ctx.size, ctx.artefacts
    still, lms, _ = _live_clip(ctx, rng, 0.0, n=1)
    photo_noise = _toward(rng.normal(0, 0.012, still[0].shape).astype(np.float32), 0.0, k)
    img = np.clip(still[0] + photo_noise, 0, 1)
    # printing: contrast / saturation loss, paper tint, halftone screen, paper texture
    contrast = _toward(rng.uniform(0.75, 0.95), 1.0, k)
    sat = _toward(rng.uniform(0.65, 0.9) if printer == 2 else rng.uniform(0.75, 0.95), 1.0, k)
    grey = img.mean(2, keepdims=True)
    img = grey + (img - grey) * sat
    img = img.mean() + (img - img.mean()) * contrast
    paper = _toward(rng.uniform(0.92, 1.0), 1.0, k)
    tint = _toward(np.array([0.05, 0.045, 0.03], np.float32) * rng.uniform(0.3, 1.0), 0.0, k)
    img = img * paper + tint
    img = img * _halftone(size, rng, printer, k)[..., None]
    texture = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0),
                               max(1.0, size / 90))
    img = img + _toward(rng.uniform(0.015, 0.03), 0.0, k) * texture[..., None]
    img = np.clip(img, 0, 1).astype(np.float32)
    mats = _rigid_shake(rng, ctx.n, ctx.fps, rng.uniform(0.4, 1.5), rng.uniform(0.8, 2.5),
                        rng.uniform(0.05, 0.3), ctx.place.centre)
    scale = rng.uniform(0.97, 1.08)  # printed a little larger / smaller than life
    c = ctx.place.centre
    s = np.array([[scale, 0, c[0] * (1 - scale)], [0, scale, c[1] * (1 - scale)]])
    frames, out_lm = [], []
    fresh = rng.uniform(0.2, 0.6)
    for f in range(ctx.n):
        m = mats[f].copy()
        m[:, :2] = mats[f, :, :2] @ s[:, :2]
        m[:, 2] = mats[f, :, :2] @ s[:, 2] + mats[f, :, 2]
        frames.append(_capture(_warp(img, m, ctx.bg), ctx.cam, ctx.light, rng, fresh))
        out_lm.append(_apply(m, lms[0]))
    return frames, np.stack(out_lm)


def _video_replay(ctx: _Ctx, rng, display: int):
    size = ctx.size
    src_fps = float(rng.choice([7.5, 10.0, 12.0]) if display == 2 else rng.choice([10.0, 12.5]))
    t = np.arange(ctx.n) / ctx.fps
    src_idx = np.floor(t * src_fps + rng.uniform(0, 1)).astype(int)
    src_idx -= src_idx[0]
    n_src = int(src_idx[-1]) + 1
    clip, lms, _ = _live_clip(ctx, rng, rng.uniform(0.0, 0.015), n=n_src, fps=src_fps)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    k = ctx.artefacts
    grid = _screen_grid(size, rng, k)
    gamma = _toward(rng.uniform(0.7, 0.85) if rng.uniform() < 0.5 else rng.uniform(1.15, 1.35),
                    1.0, k)
    tint = _toward(np.array([0.95, 1.0, 1.07], np.float32)
                   * rng.uniform(0.97, 1.03, 3).astype(np.float32), np.float32(1.0), k)
    moire_amp = _toward(rng.uniform(0.04, 0.1), 0.0, k)
    mf = rng.uniform(0.05, 0.12)
    mang = rng.uniform(0, np.pi)
    glare_c = rng.uniform(0.2, 0.8, 2) * size
    glare = (_toward(rng.uniform(0.02, 0.1), 0.0, k) * np.exp(-((xx - glare_c[0]) ** 2 + (yy - glare_c[1]) ** 2)
                                             / (2 * (0.2 * size) ** 2)))[..., None]
    mats = _rigid_shake(rng, ctx.n, ctx.fps, rng.uniform(0.2, 0.8), rng.uniform(0.3, 1.2),
                        rng.uniform(0.02, 0.15), ctx.place.centre)
    base = (2 * np.pi * mf * (xx * np.cos(mang) + yy * np.sin(mang))
            + 0.002 * ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) * mf)
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
        img = _warp(scr, m, ctx.bg) + glare
        frames.append(_capture(img, ctx.cam, ctx.light, rng))
        out_lm.append(_apply(m, lms[k]))
    return frames, np.stack(out_lm)


def _video_digital(ctx: _Ctx, rng):
    import cv2

    size, k = ctx.size, ctx.artefacts
    frames, lms, masks = _live_clip(ctx, rng, rng.uniform(0.012, 0.03))
    ds = _toward(float(rng.uniform(2.0, 4.0)), 1.0, k)
    small = max(8, int(round(size / ds)))
    sharpen = _toward(rng.uniform(0.6, 1.5), 0.0, k)
    mismatch = _toward(rng.uniform(0.9, 1.1, 3).astype(np.float32), np.float32(1.0), k)
    feather = rng.uniform(0.8, 2.0)
    out = []
    for f in range(ctx.n):
        lm = lms[f]
        # donor rendered at low resolution with the target's landmarks, no pulse
        if ctx.photo is not None:
            src = ctx.donor_photo or ctx.photo
            donor, _ = src.render(lm * (small / size), cv2.resize(ctx.bg, (small, small)),
                                  0.0, skin_shift=mismatch)
        else:
            donor, _ = _render(lm * (small / size), ctx.donor, cv2.resize(ctx.bg, (small, small)),
                               0.0, skin_override=np.clip(ctx.app.skin * mismatch, 0, 1))
        up = cv2.resize(donor, (size, size), interpolation=cv2.INTER_LINEAR)
        blur = cv2.GaussianBlur(up, (0, 0), 1.0)
        up = np.clip(up + sharpen * (up - blur), 0, 1)
        cen = lm[list(range(17, 68))].mean(0)
        region = cen + (np.concatenate([lm[1:16], lm[26:16:-1]]) - cen) * 0.92
        mask = _poly_mask(size, [region])
        mask = cv2.GaussianBlur(mask, (0, 0), feather)[..., None]
        noisy = frames[f] + rng.normal(0, ctx.cam.noise, frames[f].shape).astype(np.float32)
        img = noisy * (1 - mask) + up * mask
        out.append(_capture(img, ctx.cam, ctx.light, rng, noise_scale=_toward(0.35, 1.0, k)))
    return out, lms


# ----------------------------------------------------------------------- photos
class _Photo:
    """A real face photo as a subject: rendered by warping it to the wanted landmarks."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, app: _Appearance):
        self.image = image.astype(np.float32) / 255
        self.lm = landmarks.astype(np.float64)
        self.app = app

    def render(self, lm, bg, pulse, skin_shift=None):
        import cv2

        from fasfast.labels.landmarks import similarity_transform
        from fasfast.labels.maps import face_location_map

        size = bg.shape[0]
        m = similarity_transform(self.lm, lm)
        img = cv2.warpAffine(self.image, m.astype(np.float64), (size, size),
                             flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        skin = face_location_map(lm, size=size, crop_size=size, supersample=2)
        if pulse:
            img = img * (1 + skin[..., None] * np.array([pulse, 0.6 * pulse, 0], np.float32))
        if skin_shift is not None:
            img = img * (1 + skin[..., None] * (skin_shift - 1))
        return np.clip(img, 0, 1).astype(np.float32), skin


def _load_photos(folder) -> list[tuple[np.ndarray, np.ndarray]]:
    from fasfast.data.video import IMAGE_EXTS, read_image
    from fasfast.labels.landmarks import shared_detector

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--faces folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    det = shared_detector()
    out = []
    for p in files:
        img = read_image(p)
        lm = det.landmarks(img)
        if lm is not None:
            out.append((img, lm))
    if not out:
        raise ValueError(f"no image with a detectable face in {folder} ({len(files)} images)")
    return out


# ----------------------------------------------------------------------- tree
@dataclass
class SynthConfig:
    """Settings of :func:`generate` (written to ``synth.json``)."""

    subjects: int = 6
    seed: int = 0
    seconds: float = 2.0
    fps: float = 15.0
    size: int = 160
    phones: int = 1
    sessions: int = 3
    files: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    faces: str | None = None
    codec: str = "FFV1"
    artefacts: float = 1.0  # the difficulty knob: strength of the attacks' appearance cues


def split_users(subjects: int) -> dict[str, list[int]]:
    """Users 1..N over train / dev / test in the ratio 3 : 1 : 2 (each at least 1)."""
    if subjects < 3:
        raise ValueError(f"need at least 3 subjects (train, dev, test), got {subjects}")
    n_dev = max(1, int(round(subjects / 6)))
    n_test = max(1, int(round(subjects / 3)))
    n_train = subjects - n_dev - n_test
    users = list(range(1, subjects + 1))
    return {"train": users[:n_train], "dev": users[n_train:n_train + n_dev],
            "test": users[n_train + n_dev:]}


def render_video(cfg: SynthConfig, user: int, phone: int, session: int, file: int,
                 photos=None) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames (RGB uint8 [S,S,3]) and landmarks [F,68,2] of one synthetic video."""
    seed = int(cfg.seed)
    n = max(1, int(round(cfg.seconds * cfg.fps)))
    app = _appearance(np.random.default_rng([seed, user, 1]))
    donor_user = (user % cfg.subjects) + 1
    donor = _appearance(np.random.default_rng([seed, donor_user, 1, 7]))
    cam = _camera(np.random.default_rng([seed, phone, 2]))
    light = _light(np.random.default_rng([seed, user, session, 3]), session)
    rng = np.random.default_rng([seed, user, phone, session, file])
    size = int(cfg.size)
    place = _Placement(centre=np.array([0.5, 0.47]) * size + rng.uniform(-0.04, 0.04, 2) * size,
                       half_width=rng.uniform(0.21, 0.26) * size)
    photo = donor_photo = None
    if photos:
        img, lm = photos[(user - 1) % len(photos)]
        photo = _Photo(img, lm, app)
        img, lm = photos[user % len(photos)]
        donor_photo = _Photo(img, lm, donor)
    bg = _background(app, size)
    ctx = _Ctx(app, donor, bg, place, cam, light, n, float(cfg.fps), size, photo, donor_photo,
               float(cfg.artefacts))
    kind = ATTACK_FILES.get(file)
    if kind == "live":
        frames, lms = _video_live(ctx, rng)
    elif kind == "print":
        frames, lms = _video_print(ctx, rng, printer=file - 1)
    elif kind == "replay":
        frames, lms = _video_replay(ctx, rng, display=file - 3)
    elif kind == "digital":
        frames, lms = _video_digital(ctx, rng)
    else:
        raise ValueError(f"unknown file type {file}; expected one of {sorted(ATTACK_FILES)}")
    return frames, lms.astype(np.float32)


def generate(out_dir, subjects: int = 6, seed: int = 0, seconds: float = 2.0, fps: float = 15.0,
             size: int = 160, faces=None, progress: bool = True, phones: int = 1,
             sessions: int = 3, files=(1, 2, 3, 4, 5, 6), codec: str = "FFV1",
             artefacts: float = 1.0) -> Path:
    """Write a synthetic OULU-NPU-shaped data set to ``out_dir`` (see module doc) -> root.

    ``artefacts`` in [0, 2] is the difficulty knob: the strength of the attacks' appearance
    cues (1, the default: as drawn; lower: harder to tell from live faces; 0: only the
    motion cues are left). Raises ValueError on an out-of-range setting."""
    from fasfast.data.protocols import oulu_protocol_includes
    from fasfast.data.video import write_video
    from fasfast.labels.landmarks import save_landmarks

    cfg = SynthConfig(subjects=int(subjects), seed=int(seed), seconds=float(seconds),
                      fps=float(fps), size=int(size), phones=int(phones), sessions=int(sessions),
                      files=tuple(int(f) for f in files),
                      faces=None if faces is None else str(faces), codec=codec,
                      artefacts=float(artefacts))
    if not 0.0 <= cfg.artefacts <= ARTEFACTS_MAX:
        raise ValueError(f"artefacts must be between 0 and {ARTEFACTS_MAX:g} (1 = the default "
                         f"strength), got {artefacts}")
    if cfg.size < 32:
        raise ValueError(f"size must be >= 32, got {size}")
    if not (cfg.fps > 0 and cfg.seconds > 0) or cfg.fps * cfg.seconds < 1:
        raise ValueError(f"fps and seconds must be > 0 and give at least one frame, got fps "
                         f"{fps}, seconds {seconds}")
    if not 1 <= cfg.phones <= 9 or not 1 <= cfg.sessions <= 9:
        raise ValueError("phones and sessions must be between 1 and 9")
    bad = [f for f in cfg.files if f not in ATTACK_FILES]
    if bad or 1 not in cfg.files:
        raise ValueError(f"files must include 1 (live) and come from {sorted(ATTACK_FILES)}")
    users = split_users(cfg.subjects)
    photos = _load_photos(faces) if faces is not None else None
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(split, u, p, s, f) for split, us in users.items() for u in us
            for p in range(1, cfg.phones + 1) for s in range(1, cfg.sessions + 1)
            for f in cfg.files]
    try:
        from tqdm import tqdm

        it = tqdm(jobs, desc="synth", unit="video", disable=not progress)
    except ImportError:  # pragma: no cover
        it = jobs
    listing = {sp: [] for sp in users}
    for split, u, p, s, f in it:
        name = f"{p}_{s}_{u:02d}_{f}"
        frames, lms = render_video(cfg, u, p, s, f, photos)
        folder = root / f"{split.capitalize()}_files"
        write_video(folder / f"{name}.avi", frames, fps=cfg.fps, codec=cfg.codec)
        save_landmarks(folder / f"{name}.landmarks.npy", lms)
        listing[split].append((name, dict(phone=p, session=s, user=u, file=f)))
    # protocol files
    protocols = ["1", "2"]
    if cfg.phones >= 2:
        protocols += [f"3_{k}" for k in range(1, cfg.phones + 1)]
        if cfg.sessions >= 3:
            protocols += [f"4_{k}" for k in range(1, cfg.phones + 1)]
    for proto in protocols:
        major, _, fold = proto.partition("_")
        pdir = root / "Protocols" / f"Protocol_{major}"
        pdir.mkdir(parents=True, exist_ok=True)
        for split, items in listing.items():
            lines = [f"{_PROTOCOL_LABEL[ATTACK_FILES[info['file']]]},{name}"
                     for name, info in items if oulu_protocol_includes(proto, split, info)]
            fname = f"{split.capitalize()}{'_' + fold if fold else ''}.txt"
            (pdir / fname).write_text("\n".join(lines) + ("\n" if lines else ""))
    meta = asdict(cfg)
    meta.update(users=users, protocols=protocols, frames=max(1, int(round(cfg.seconds * cfg.fps))),
                attack_files={str(k): v for k, v in ATTACK_FILES.items()})
    (root / "synth.json").write_text(json.dumps(meta, indent=1))
    return root
