"""The synthetic face: a 68-point template deformed per subject, its appearance,
rendering to an image, and its motion (landmark drift, blinks, head sway, rigid
shake).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fasfast.labels.landmarks import template_68


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
        cen = p[a : a + 6].mean(0)
        p[a : a + 6] = cen + (p[a : a + 6] - cen) * [eye_s, eye_s * rng.uniform(0.85, 1.2)]
        p[a : a + 6, 0] += sgn * eye_dx
    p[27:36, 1] = -0.42 + (p[27:36, 1] + 0.42) * rng.uniform(0.9, 1.12)  # nose length
    p[31:36, 0] *= rng.uniform(0.8, 1.25)  # nose width
    mc = p[48:68].mean(0)
    p[48:68] = mc + (p[48:68] - mc) * [rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.4)]
    p[48:68, 1] += rng.uniform(-0.05, 0.05)
    return p


_SKIN = (
    np.array(
        [
            [236, 200, 175],
            [224, 172, 140],
            [198, 145, 110],
            [160, 110, 80],
            [120, 80, 56],
            [92, 60, 42],
        ],
        float,
    )
    / 255
)


@dataclass
class Appearance:
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


def sample_appearance(rng) -> Appearance:
    k = rng.uniform(0, len(_SKIN) - 1)
    lo = int(k)
    skin = _SKIN[lo] * (1 - (k - lo)) + _SKIN[min(lo + 1, len(_SKIN) - 1)] * (k - lo)
    skin = np.clip(skin * rng.uniform(0.95, 1.05, 3), 0, 1)
    hair = np.clip(
        rng.choice(
            [
                [0.1, 0.07, 0.05],
                [0.3, 0.2, 0.1],
                [0.55, 0.4, 0.2],
                [0.05, 0.05, 0.05],
                [0.6, 0.55, 0.5],
            ]
        )
        * rng.uniform(0.8, 1.2),
        0,
        1,
    )
    iris = rng.choice([[0.3, 0.2, 0.1], [0.2, 0.35, 0.55], [0.25, 0.4, 0.25], [0.1, 0.07, 0.05]])
    lips = np.clip(skin * [1.0, 0.65, 0.65] * rng.uniform(0.8, 1.0), 0, 1)
    return Appearance(
        shape=_subject_shape(rng),
        aspect=rng.uniform(0.9, 1.08),
        skin=skin,
        hair=hair,
        iris=np.asarray(iris),
        lips=lips,
        brow=np.clip(hair * 0.8, 0, 1),
        shirt=rng.uniform(0.1, 0.9, 3),
        bg=(
            rng.uniform(0.2, 0.9, 3),
            rng.uniform(0.2, 0.9, 3),
            rng.uniform(0, np.pi),
            int(rng.integers(1 << 30)),
        ),
        brow_thick=rng.uniform(0.05, 0.09),
        hair_len=rng.uniform(0.0, 1.0),
    )


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


def poly_mask(size: int, polys, shift: int = _SHIFT) -> np.ndarray:
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
        cv2.fillPoly(
            m,
            [_pts(np.asarray(p) - off).reshape(-1, 1, 2) for p in polys],
            255,
            cv2.LINE_AA,
            _SHIFT,
        )
    if lines:
        cv2.polylines(
            m,
            [_pts(np.asarray(p) - off).reshape(-1, 1, 2) for p in lines],
            False,
            255,
            thickness,
            cv2.LINE_AA,
            _SHIFT,
        )
    for c, r in circles:
        cv2.circle(
            m,
            tuple(int(v) for v in _pts(np.asarray(c) - off)),
            int(r * (1 << _SHIFT)),
            255,
            -1,
            cv2.LINE_AA,
            _SHIFT,
        )
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
    arc = (
        mid
        + np.outer(np.cos(ang), ex) * half * (1 + extra * 0.3)
        + np.outer(np.sin(ang), ey) * height
    )
    return np.concatenate([lm[0:17], arc])


_GRIDS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (yy, xx), float32 [S, S] (cached)."""
    if size not in _GRIDS:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + np.float32(0.5)
        _GRIDS[size] = (yy, xx)
    return _GRIDS[size]


def render_face(
    lm: np.ndarray,
    app: Appearance,
    bg: np.ndarray,
    pulse: float = 0.0,
    skin_override: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the face with landmarks ``lm`` [68, 2] (pixels) over ``bg`` [S, S, 3] float.

    Returns (image float32 [S,S,3] in [0,1], skin mask float32 [S,S]), drawn back to front.
    """
    size = bg.shape[0]
    img = bg.copy()
    face_w = np.linalg.norm(lm[16] - lm[0])
    skin = (app.skin if skin_override is None else skin_override).astype(np.float32)
    _draw_hair_and_shoulders(img, lm, app, face_w)
    b_skin, m_skin = _draw_skin(img, lm, skin, face_w, pulse)
    if app.hair_len > 0.5:
        _draw_fringe(img, lm, app)
    _draw_eyes(img, lm, app, skin)
    _draw_brows_and_nose(img, lm, app, skin, face_w)
    _draw_mouth(img, lm, app)
    x0, y0, x1, y1 = b_skin
    full = np.zeros((size, size), np.float32)
    full[y0:y1, x0:x1] = m_skin * np.float32(1 / 255)
    np.clip(img, 0, 1, out=img)
    return img, full


def _draw_hair_and_shoulders(img: np.ndarray, lm: np.ndarray, app: Appearance, face_w) -> None:
    """The hair behind the head and the shirt's shoulders."""
    size = img.shape[0]
    f32 = np.float32
    hair_poly = _head_outline(lm, extra=0.25)
    hair_poly = np.concatenate(
        [
            hair_poly[17:],
            lm[16:17] + [0, face_w * 0.3 * app.hair_len],
            lm[0:1] + [0, face_w * 0.3 * app.hair_len],
        ]
    )
    b = _bbox(hair_poly, size)
    _blend(img, b, _local_mask([hair_poly], b), app.hair.astype(f32))
    shoulders = np.array(
        [
            lm[6] + [-face_w * 0.3, face_w * 0.5],
            lm[10] + [face_w * 0.3, face_w * 0.5],
            [lm[10][0] + face_w, size + 5.0],
            [lm[6][0] - face_w, size + 5.0],
        ]
    )
    b = _bbox(shoulders, size)
    _blend(img, b, _local_mask([shoulders], b), app.shirt.astype(f32))


def _draw_skin(img: np.ndarray, lm: np.ndarray, skin: np.ndarray, face_w, pulse: float):
    """Neck and head in ``skin``, shaded from the nose out; returns (box, uint8 mask in it)."""
    size = img.shape[0]
    f32 = np.float32
    centre = lm[27:31].mean(0)
    neck = np.array(
        [
            lm[6] + [face_w * 0.05, 0],
            lm[10] - [face_w * 0.05, 0],
            lm[10] + [-face_w * 0.02, face_w * 0.55],
            lm[6] + [face_w * 0.02, face_w * 0.55],
        ]
    )
    head = _head_outline(lm)
    b_skin = _bbox(np.concatenate([neck, head]), size)
    m_skin = _local_mask([neck, head], b_skin)
    m_head = _local_mask([head], b_skin)
    x0, y0, x1, y1 = b_skin
    yy, xx = pixel_grid(size)
    r2 = ((xx[y0:y1, x0:x1] - centre[0]) ** 2 + (yy[y0:y1, x0:x1] - centre[1]) ** 2) / (
        0.75 * face_w
    ) ** 2
    shade = f32(1.08) - f32(0.28) * np.minimum(r2, f32(1.5))
    shade = np.where(m_head > 0, shade, f32(0.8))[..., None]
    skin_img = np.zeros((size, size, 3), f32)
    skin_img[y0:y1, x0:x1] = skin * shade
    if pulse:
        skin_img[y0:y1, x0:x1] *= np.array([1 + pulse, 1 + 0.6 * pulse, 1.0], f32)
    _blend(img, b_skin, m_skin, skin_img)
    return b_skin, m_skin


def _draw_fringe(img: np.ndarray, lm: np.ndarray, app: Appearance) -> None:
    """Hair over the forehead (long hair only)."""
    fr = _head_outline(lm, extra=0.05)[17:]
    fr = np.concatenate([fr, [lm[24] + (lm[24] - lm[44]) * 0.8, lm[19] + (lm[19] - lm[37]) * 0.8]])
    b = _bbox(fr, img.shape[0])
    _blend(img, b, _local_mask([fr], b), app.hair.astype(np.float32))


def _draw_eyes(img: np.ndarray, lm: np.ndarray, app: Appearance, skin: np.ndarray) -> None:
    """Each eye: sclera, the iris clipped to the eye, the upper lid."""
    f32 = np.float32
    for a in (36, 42):
        eye = lm[a : a + 6]
        b = _bbox(eye, img.shape[0])
        m_eye = _local_mask([eye], b)
        rad = 0.33 * np.linalg.norm(lm[a + 3] - lm[a])
        m_iris = _local_mask([], b, circles=[(eye.mean(0), rad)])
        m_iris = (m_iris.astype(np.uint16) * m_eye // 255).astype(np.uint8)
        _blend(img, b, m_eye, np.array([0.92, 0.9, 0.88], f32))
        _blend(img, b, m_iris, app.iris.astype(f32))
        _blend(img, b, _local_mask([], b, lines=[lm[a : a + 4]]), skin * f32(0.35), 0.6)


def _draw_brows_and_nose(img, lm: np.ndarray, app: Appearance, skin: np.ndarray, face_w):
    """The brows, the nostrils and the highlight along the nose bridge."""
    size = img.shape[0]
    f32 = np.float32
    th = max(1, int(round(face_w * app.brow_thick)))
    b = _bbox(lm[17:27], size, pad=th + 2)
    _blend(
        img, b, _local_mask([], b, lines=[lm[17:22], lm[22:27]], thickness=th), app.brow.astype(f32)
    )
    nostril = max(1.0, face_w * 0.025)
    b = _bbox(lm[31:36], size, pad=nostril + 2)
    _blend(
        img,
        b,
        _local_mask([], b, lines=[lm[31:36]], circles=[(lm[32], nostril), (lm[34], nostril)]),
        skin * f32(0.35),
        0.6,
    )
    b = _bbox(lm[27:31], size, pad=4)
    hl = _local_mask([], b, lines=[lm[27:31]], thickness=max(1, int(face_w * 0.04)))
    img[b[1] : b[3], b[0] : b[2]] += hl.astype(f32)[..., None] * f32(0.06 / 255)


def _draw_mouth(img: np.ndarray, lm: np.ndarray, app: Appearance) -> None:
    """Lips and the dark inner mouth."""
    b = _bbox(lm[48:60], img.shape[0])
    _blend(img, b, _local_mask([lm[48:60]], b), app.lips.astype(np.float32))
    _blend(img, b, _local_mask([lm[60:68]], b), np.array([0.25, 0.08, 0.08], np.float32))


def _smooth(rng, n: int, fps: float, amp: float, fmin=0.2, fmax=1.5, k=3) -> np.ndarray:
    """Sum of ``k`` random sinusoids, ``[n]``, roughly of amplitude ``amp``."""
    t = np.arange(n) / fps
    f = rng.uniform(fmin, fmax, k)
    ph = rng.uniform(0, 2 * np.pi, k)
    a = rng.uniform(0.5, 1.0, k)
    return (
        amp * (a[None] * np.sin(2 * np.pi * f[None] * t[:, None] + ph[None])).sum(1) / a.sum() * 1.5
    )


def _rot(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


@dataclass
class Placement:
    centre: np.ndarray
    half_width: float


def live_landmarks(
    app: Appearance, place: Placement, n: int, fps: float, rng, blinks: bool = True
) -> np.ndarray:
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


def rigid_shake(
    rng, n: int, fps: float, rot_deg: float, shift: float, jitter: float, centre: np.ndarray
) -> np.ndarray:
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


def warp_frame(img: np.ndarray, m: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Warp ``img`` by the 2x3 affine ``m`` over the background ``bg`` (float32)."""
    import cv2

    size = img.shape[0]
    rgba = np.concatenate([img, np.ones(img.shape[:2] + (1,), np.float32)], axis=2)
    w = cv2.warpAffine(rgba, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
    return w[..., :3] + bg * (1 - w[..., 3:])


def apply_affine(m: np.ndarray, lm: np.ndarray) -> np.ndarray:
    return lm @ m[:, :2].T + m[:, 2]
