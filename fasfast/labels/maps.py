"""Label maps for pixel-wise supervision (EulerNet paper, section II.B).

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076

Coordinates: landmarks are pixels of a crop (x right, y down, pixel ``k`` covering
``[k, k+1)``), the crop being ``crop_size`` pixels square (or the region ``box``
= (x0, y0, x1, y1) of the landmark frame). A map of ``size`` pixels covers the same
region, so a landmark at ``x`` lands at ``(x - x0) * size / (x1 - x0)`` map pixels.

- :func:`face_location_map`: the closed polygon jaw 0-16 then brows 26..17, filled with
  1 (live) or 0 (attack). Each map pixel holds the fraction of its area inside the
  polygon, computed by rasterising the polygon (``cv2.fillPoly``, sub-pixel vertices)
  on a grid ``supersample`` times finer and averaging blocks: 1 inside, 0 outside,
  fractional on the border (the paper's "gradient information of the face edges").
- :func:`binary_mask`: all ones (live) / all zeros (attack).
- :func:`pseudo_depth`: no PRNet here. A smooth depth-like surface inside the same
  polygon: ``0.7 * dome + 0.3 * nose``, where ``dome = sqrt(d / max d)`` with ``d`` the
  Euclidean distance to the polygon's border (a distance-transform ellipsoid: 0 on the
  border, rising steeply then flattening, like a face seen head-on) and ``nose`` a
  Gaussian bump at the nose tip (landmark 30) whose width is 1/6 of the face width;
  multiplied by the coverage map and scaled so its maximum is 1. Zeros for attacks.
"""

from __future__ import annotations

import numpy as np

from fasfast.labels.landmarks import FACE_CONTOUR, check_landmarks

KINDS = ("location", "binary", "depth")


def _to_map(landmarks, size: int, crop_size=None, box=None) -> np.ndarray:
    lm = check_landmarks(landmarks)
    if lm.ndim != 2:
        raise ValueError(f"landmarks must have shape [68, 2], got {tuple(lm.shape)}")
    if not np.all(np.isfinite(lm)):
        raise ValueError("landmarks contain NaN or inf")
    if int(size) < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if box is not None:
        x0, y0, x1, y1 = (float(v) for v in box)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"box must have x1 > x0 and y1 > y0, got {box}")
    else:
        cs = float(size if crop_size is None else crop_size)
        if cs <= 0:
            raise ValueError(f"crop_size must be > 0, got {crop_size}")
        x0, y0, x1, y1 = 0.0, 0.0, cs, cs
    out = np.empty_like(lm)
    out[:, 0] = (lm[:, 0] - x0) * size / (x1 - x0)
    out[:, 1] = (lm[:, 1] - y0) * size / (y1 - y0)
    return out


def _coverage(poly_map: np.ndarray, size: int, supersample: int) -> np.ndarray:
    """Area fraction of each of ``size x size`` map pixels inside the polygon (map coords)."""
    import cv2

    ss = int(supersample)
    shift = 8
    # fine pixel k covers [k, k+1) of the fine grid; cv2 puts pixel k's centre at k.
    pts = (poly_map * ss - 0.5) * (1 << shift)
    pts = np.round(pts).astype(np.int32).reshape(-1, 1, 2)
    fine = np.zeros((size * ss, size * ss), np.uint8)
    cv2.fillPoly(fine, [pts], 1, lineType=cv2.LINE_8, shift=shift)
    return fine.reshape(size, ss, size, ss).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)


def face_location_map(
    landmarks, size: int = 32, live: bool = True, crop_size=None, box=None, supersample: int = 8
) -> np.ndarray:
    """Face location map ``float32 [size, size]``: polygon coverage (live) or zeros (attack).

    ``landmarks`` ``[68, 2]`` in crop pixels; ``crop_size`` the crop's side (default:
    ``size``, i.e. landmarks already in map pixels) or ``box`` the covered region.
    """
    pm = _to_map(landmarks, size, crop_size, box)
    if not live:
        return np.zeros((size, size), np.float32)
    return _coverage(pm[list(FACE_CONTOUR)], size, supersample)


def binary_mask(size: int = 32, live: bool = True) -> np.ndarray:
    """All ones (live) or zeros (attack), ``float32 [size, size]``."""
    if int(size) < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    return np.full((size, size), 1.0 if live else 0.0, np.float32)


def pseudo_depth(
    landmarks, size: int = 32, live: bool = True, crop_size=None, box=None, supersample: int = 4
) -> np.ndarray:
    """Pseudo depth map ``float32 [size, size]`` in [0, 1] (see module doc); zeros for attacks."""
    import cv2

    pm = _to_map(landmarks, size, crop_size, box)
    if not live:
        return np.zeros((size, size), np.float32)
    cover = _coverage(pm[list(FACE_CONTOUR)], size, supersample)
    if cover.max() <= 0:
        return cover
    inside = (cover > 0).astype(np.uint8)
    inside = np.pad(inside, 1)  # distance to the map edge counts as border too
    d = cv2.distanceTransform(inside, cv2.DIST_L2, 5)[1:-1, 1:-1].astype(np.float64)
    dome = np.sqrt(d / max(d.max(), 1e-9))
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    width = np.ptp(pm[0:17, 0]) or 1.0
    sigma = max(width / 6.0, 0.5)
    nx, ny = pm[30]
    nose = np.exp(-((xx - nx) ** 2 + (yy - ny) ** 2) / (2 * sigma**2))
    depth = (0.7 * dome + 0.3 * nose) * cover
    return (depth / max(depth.max(), 1e-9)).astype(np.float32)


def make_label_map(
    kind: str, landmarks=None, size: int = 32, live: bool = True, crop_size=None, box=None
) -> np.ndarray:
    """Label map of ``kind`` in {"location", "binary", "depth"} -> ``float32 [size, size]``."""
    if kind == "location":
        return face_location_map(landmarks, size, live, crop_size=crop_size, box=box)
    if kind == "binary":
        return binary_mask(size, live)
    if kind == "depth":
        return pseudo_depth(landmarks, size, live, crop_size=crop_size, box=box)
    raise ValueError(f"unknown label kind {kind!r}; expected one of {KINDS}")
