"""Face crops: the landmark box scaled by a margin, made square, resized.

The box of a frame is the bounding box of its 68 landmarks (from a landmark file or
the dlib detector), scaled about its centre by ``margin`` (default 1.3) and squared
(side = margin * max(width, height)). Parts outside the frame are filled by
replicating the border. A frame without a face reuses the last box and landmarks of the
video (counted in ``no_face``); frames before the first face use the first face found
later; a video without any face uses a centred square of 80 % of the frame's short side
with the mean face (``template_68``) fitted into it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def landmark_box(landmarks) -> tuple[float, float, float, float]:
    """Tight box (x0, y0, x1, y1) of ``[68, 2]`` landmarks."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return (
        float(lm[:, 0].min()),
        float(lm[:, 1].min()),
        float(lm[:, 0].max()),
        float(lm[:, 1].max()),
    )


def square_box(box, margin: float = 1.3) -> tuple[float, float, float, float]:
    """``box`` scaled by ``margin`` about its centre and made square."""
    if margin <= 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = margin * max(x1 - x0, y1 - y0, 1e-6) / 2
    return (cx - half, cy - half, cx + half, cy + half)


def crop_image(image: np.ndarray, box, size: int) -> np.ndarray:
    """Resample the square ``box`` of ``image`` [H,W,C] to ``size x size`` (border replicated)."""
    import cv2

    x0, y0, x1, y1 = box
    s = size / (x1 - x0)
    m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float64)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    if interp == cv2.INTER_AREA:  # warpAffine has no area filter: pre-shrink with resize
        f = max(1, int(1 / s))
        if f > 1:
            image = cv2.resize(
                image, (image.shape[1] // f, image.shape[0] // f), interpolation=cv2.INTER_AREA
            )
            m[:, :2] *= f
        interp = cv2.INTER_LINEAR
    return cv2.warpAffine(image, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def to_crop(landmarks, box, size: int) -> np.ndarray:
    """Frame-pixel landmarks -> crop pixels (``float32 [..., 68, 2]``)."""
    x0, y0, x1, y1 = box
    s = size / (x1 - x0)
    return ((np.asarray(landmarks, np.float64) - [x0, y0]) * s).astype(np.float32)


@dataclass
class CropResult:
    crops: np.ndarray  # uint8 [F, S, S, 3]
    landmarks: np.ndarray  # float32 [F, 68, 2], crop pixels
    found: np.ndarray  # bool [F]: a face was found in that frame
    boxes: np.ndarray  # float32 [F, 4]: the square boxes in frame pixels

    @property
    def no_face(self) -> int:
        return int((~self.found).sum())


def _fallback_landmarks(shape) -> np.ndarray:
    from fasfast.labels.landmarks import template_68

    h, w = shape[:2]
    side = 0.8 * min(h, w) / 1.3
    t = template_68()
    t = (t - t.min(0)) / (t.max(0) - t.min(0)).max()
    return (t * side + [w / 2 - side / 2, h / 2 - side / 2]).astype(np.float32)


def _valid(lm) -> np.ndarray | None:
    if lm is None:
        return None
    lm = np.asarray(lm, np.float64)
    return lm if lm.shape == (68, 2) and np.all(np.isfinite(lm)) else None


class FaceCropper:
    """Streaming form of :func:`crop_faces`: feed frames one by one with :meth:`add`,
    collect the crops it returns, call :meth:`finish` at the end.

    Same rule as :func:`crop_faces` with bounded memory: frames before the first face
    wait (at most ``max_pending`` of them) for the first face found later; past that
    limit, and for a video without any face, they get the fallback box (a centred
    square of 80 % of the short side with the mean face). Each returned item is
    ``(key, crop uint8 [S,S,3], crop landmarks float32 [68,2], found, box float32 [4])``.
    """

    def __init__(self, size: int = 256, margin: float = 1.3, max_pending: int | None = 64):
        self.size, self.margin = int(size), float(margin)
        self.max_pending = max_pending
        self._pending: list[tuple] = []
        self._last: np.ndarray | None = None

    def _one(self, key, frame, lm, found):
        box = square_box(landmark_box(lm), self.margin)
        img = frame if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=2)
        return (
            key,
            crop_image(img, box, self.size),
            to_crop(lm, box, self.size),
            found,
            np.asarray(box, np.float32),
        )

    def add(self, key, frame: np.ndarray, landmarks) -> list[tuple]:
        lm = _valid(landmarks)
        out = []
        if lm is not None:
            self._last = lm
            out = [self._one(k, f, lm, False) for k, f in self._pending]
            self._pending = []
        elif self._last is None:
            self._pending.append((key, frame))
            if self.max_pending is not None and len(self._pending) > self.max_pending:
                self._last = _fallback_landmarks(frame.shape)
                out = [self._one(k, f, self._last, False) for k, f in self._pending]
                self._pending = []
            return out
        out.append(self._one(key, frame, self._last, lm is not None))
        return out

    def finish(self) -> list[tuple]:
        """Crop the frames still waiting (a video without any face: the fallback box)."""
        out = [self._one(k, f, _fallback_landmarks(f.shape), False) for k, f in self._pending]
        self._pending = []
        return out


def crop_faces(frames, landmarks, size: int = 256, margin: float = 1.3) -> CropResult:
    """Crop a list of RGB frames given per-frame landmarks ``[F, 68, 2]`` (NaN / None =
    no face in that frame); see the module doc for frames without a face."""
    n = len(frames)
    landmarks = list(landmarks)
    if len(landmarks) != n:
        raise ValueError(f"{n} frames but {len(landmarks)} landmark sets")
    crops = np.empty((n, size, size, 3), np.uint8)
    out_lm = np.empty((n, 68, 2), np.float32)
    boxes = np.empty((n, 4), np.float32)
    found = np.zeros(n, bool)
    cropper = FaceCropper(size, margin, max_pending=None)
    done = []
    for i, (fr, lm) in enumerate(zip(frames, landmarks)):
        done += cropper.add(i, fr, lm)
    done += cropper.finish()
    for i, crop, lm, f, box in done:
        crops[i], out_lm[i], found[i], boxes[i] = crop, lm, f, box
    return CropResult(crops, out_lm, found, boxes)
