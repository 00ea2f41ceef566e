"""Tracked face detection: dlib's detector now and then, its 68-point predictor every frame.

Running dlib's HOG face detector at full resolution on every frame (the *exact* path:
``LandmarkDetector``, upsample 1, the largest face) costs 135 ms per 720x528 frame, while
decoding the frame costs 1 ms and the 68-point shape predictor 0.9 ms. :class:`FaceTracker`
keeps the predictor on every frame at full resolution and runs the detector only

- on a down-scaled copy of the frame (long side ``detect_size`` pixels),
- every ``every``-th frame (upsample 0: re-anchors the box, picks up a larger face), and
- whenever tracking is lost (upsample 0, then 1 if that finds nothing, so faces down to
  40 pixels of the down-scaled copy are found): on the first frame, after a scene cut,
  when the face leaves the frame, and when the fitted landmarks no longer look like the
  face that was detected.

Between detections the predictor starts from the box of the previous frame's landmarks
(the detector's box, carried along by the landmarks' centre and size). The largest
detected face is taken, as on the exact path. Loss tests, all cheap (~0.1 ms a frame):

- scene cut: the colour histogram (8x8x8 bins of a ~64-pixel thumbnail) moves by more than
  ``cut`` in total variation from the previous frame;
- appearance: the normalised cross-correlation of a 32x32 grey patch of the inner face
  (landmarks 17-67, aligned by a similarity transform) with the same patch at the last
  detection falls below ``min_ncc``;
- the face leaves the frame: fewer than half of the 68 landmarks inside it.

A periodic detection that finds nothing keeps the track (the face may have turned past
what the HOG detector accepts while the appearance test still holds); a lost track with
nothing detected gives "no face" for that frame and a new detection on the next one.

Defaults chosen by measurement against the exact path on real video (2026-11-29,
``/tmp`` sweep recorded here; the speed of each path is in ``benchmarks/RESULTS.md``,
``benchmarks/data_path.py``): OpenCV's ``Megamind.avi`` (720x528, 270 frames, scene cuts,
two faces, a face turning away: the exact path finds a face on 232 frames) and the
astronaut clip of :mod:`fasfast.data.clips` (1280x720, 250 frames, a jump at 5 s; a face
on all 250), each also run from frame 3 on (another detection phase; two values). Distance:
mean over the 68 points in inter-ocular distances on the frames where both paths found a
face; "found": frames with a face, tracked minus exact (negative = faces lost).

==================================  ===========  ==========  ===========  ============
size px / every / NCC / backoff     Megamind     Megamind    Megamind     astronaut
                                    p90          > 15 %      found        p90
==================================  ===========  ==========  ===========  ============
480 / 6 / 0.5 / 3, cascade (dflt)   7.4, 7.5 %   3.9, 4.0 %  +27, +27     0.9, 0.9 %
480 / 6 / 0.5 / 3                   7.4, 7.8 %   3.5, 3.6 %  +17, +17     0.9, 0.9 %
480 / 6 / 0.5 / none                7.2, 7.7 %   3.5, 3.5 %  +22, +22     0.9, 0.9 %
480 / 4 / 0.5 / 3                   8.1, 6.1 %   4.8, 4.4 %  +18, +18     0.9, 0.9 %
480 / 8 / 0.5 / 3                   9.1, 9.4 %   5.3, 5.0 %  +17, +6      0.9, 0.9 %
480 / 8 / 0.5 / 7                   7.4, 8.0 %   4.7, 4.0 %  -9, -24      0.9, 0.9 %
480 / 12 / 0.5 / 11                 8.1, 7.4 %   5.0, 3.9 %  +2, -13      0.9, 0.9 %
480 / 6 / 0.4 / 5                   8.3, 8.2 %   4.8, 4.4 %  +20, +20     0.9, 0.9 %
480 / 6 / 0.6 / 5                   7.8, 7.8 %   3.1, 3.1 %  +13, +13     0.9, 0.9 %
640 / 6 / 0.5 / 5                   8.2, 8.3 %   5.3, 5.2 %  +18, +31     1.5, 1.1 %
640 / 4 / 0.5 / 3                   16.1, 10.7   10.8, 10.0  +31, +31     1.2, 1.1 %
640 / 8 / 0.5 / 7                   15.8, 12.6   10.3, 10.0  +31, +31     1.0, 1.0 %
480 / 6, no loss test               25.6, 12.5   14.7, 8.7   +37, +37     616, 568 %
640 / 10, no loss test              18.7, 244    13.4, 18.3  +37, +37     1.0, 1.1 %
==================================  ===========  ==========  ===========  ============

The median is 2.7-3.0 % (Megamind) and 0.7-0.8 % (astronaut) in every row. Most of
Megamind's frames above 15 % are frames where the exact path takes a second, smaller face
in the background (the largest face it detects) while the main face is turned past what
the HOG detector accepts and the tracker stays on it; a larger detection size finds that
second face more often and then holds on to it (640 px is worse than 480). Detecting more
often than every 6th frame buys nothing, less often loses quality; the appearance test
(NCC 0.5) and the cut test are what keep the 90th percentile down (without them the
tracker stays where the astronaut was after her jump: 616 %). Backing off the cold
detections while no face is found saves a fifth of them on Megamind (32 -> 23), but long
waits lose faces (a cap of 7 frames: 24 fewer faces than the exact path), hence at most
3 frames. Trying upsample 0 before 1 on a cold detection ("cascade") cut the detector's
CPU time on Megamind by a fifth (1.96 -> 1.53 s of 3.0 s for 270 frames) at the same
quality. Predicting the box from the last motion made Megamind worse (tried, dropped).
dlib's correlation tracker instead of the landmarks' box between detections (started on
each detection's box): the same quality (Megamind p90 6.9 / 7.9 %, > 15 % 3.9 / 6.5 %;
astronaut 1.0 %) for 15 % (Megamind) to 70 % (astronaut, 1280x720) more CPU time, so the
box comes from the landmarks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# eye corners of the 68-point scheme: the inter-ocular distance is |lm[36] - lm[45]|
EYE_CORNERS = (36, 45)
MODES = ("tracked", "exact")


@dataclass(frozen=True)
class DetectSettings:
    """How faces are found in the frames of a video (part of the crop-cache key).

    ``mode``: "tracked" (:class:`FaceTracker`) or "exact" (full-resolution detection,
    upsample 1, on every frame). ``detect_size``: long side in pixels of the down-scaled
    copy the detector sees (0 = full resolution). ``every``: re-detect every k-th frame.
    ``cut``: scene-cut threshold (total variation of colour histograms, 0..1; 0 = off).
    ``min_ncc``: appearance threshold (-1 = off). ``min_score``: detector score floor.
    ``upsample``: up-sampling of the exact path's detector and of a cold detection (the
    periodic one uses one less). ``backoff``: while a lost face is not found again, the
    cold detections skip 0, 1, 3, 7 ... frames between tries, at most ``backoff`` (0: try
    on every frame). ``cascade``: a cold detection tries one up-sampling less first (4x
    cheaper; enough for faces of 80 pixels and more in the down-scaled copy).
    """

    mode: str = "tracked"
    detect_size: int = 480
    every: int = 6
    cut: float = 0.1
    min_ncc: float = 0.5
    min_score: float = 0.3
    upsample: int = 1
    backoff: int = 3
    cascade: bool = True

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"detection mode must be one of {MODES}, got {self.mode!r}")
        if int(self.detect_size) < 0 or (0 < int(self.detect_size) < 80):
            raise ValueError(
                f"detect_size must be 0 (full resolution) or >= 80 pixels, got {self.detect_size}"
            )
        if not 0 <= int(self.upsample) <= 3:
            raise ValueError(f"upsample must be 0..3, got {self.upsample}")
        if int(self.backoff) < 0:
            raise ValueError(f"backoff must be >= 0 frames, got {self.backoff}")
        if int(self.every) < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")

    def key(self) -> dict:
        """The settings that change the landmarks (all of them in tracked mode)."""
        d = asdict(self)
        if self.mode == "exact":
            return {"mode": "exact", "min_score": self.min_score, "upsample": self.upsample}
        return d


def inter_ocular(landmarks) -> float:
    """Distance between the outer eye corners (landmarks 36 and 45) of ``[68, 2]``."""
    lm = np.asarray(landmarks, np.float64)
    return float(np.linalg.norm(lm[EYE_CORNERS[0]] - lm[EYE_CORNERS[1]]))


def similarity(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares similarity ``(R [2,2], t [2])`` with ``dst ~ src @ R.T + t``."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    ss = max(float((s**2).sum()), 1e-12)
    a = float((s * d).sum()) / ss
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / ss
    rot = np.array([[a, -b], [b, a]])
    return rot, md - rot @ ms


def _centre_scale(lm: np.ndarray) -> tuple[np.ndarray, float]:
    c = lm.mean(0)
    return c, max(float(np.sqrt(((lm - c) ** 2).sum(1).mean())), 1e-6)


class FaceTracker:
    """Landmarks of the frames of ONE video, fed in order: ``tracker(frame) -> [68, 2]
    float32 (frame pixels) or None``. Call :meth:`reset` before another video.

    ``detector``: a :class:`~fasfast.labels.landmarks.LandmarkDetector` (its dlib detector
    and shape predictor are used). ``stats`` counts frames, detections (cold and
    periodic), cuts and appearance losses.
    """

    def __init__(self, settings: DetectSettings | None = None, detector=None):
        from fasfast.labels.landmarks import shared_detector

        self.settings = settings or DetectSettings()
        s = self.settings
        self.det = detector or shared_detector(upsample=s.upsample, min_score=s.min_score)
        self.stats = {"frames": 0, "detections": 0, "cold": 0, "cuts": 0, "lost": 0}
        self.reset()

    def reset(self) -> None:
        """Forget the tracked face (next frame: a cold detection)."""
        self._lm = None  # landmarks of the previous frame (float32 [68, 2])
        self._rel = None  # detector box relative to the landmarks' centre and size
        self._since = 0  # frames since the last detection
        self._hist = None  # colour histogram of the previous frame
        self._shape = None  # frame shape of the previous frame
        self._ref = None  # inner-face landmarks at the last detection (patch frame)
        self._tmpl = None  # inner-face patch at the last detection
        self._fails = 0  # cold detections in a row that found nothing
        self._wait = 0  # frames to pass before the next cold detection

    # -- pieces
    def _fit(self, img, box) -> np.ndarray:
        import dlib

        r = dlib.rectangle(*(int(round(v)) for v in box))
        return np.array([(p.x, p.y) for p in self.det.predictor(img, r).parts()], np.float32)

    def _detect(self, img, upsample: int):
        """Largest face box (x0, y0, x1, y1) in frame pixels on the down-scaled copy."""
        import cv2

        self.stats["detections"] += 1
        h, w = img.shape[:2]
        size = int(self.settings.detect_size)
        s, small = 1.0, img
        if size and max(h, w) > size:
            s = size / max(h, w)
            small = cv2.resize(
                img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA
            )
        rects, scores, _ = self.det.detector.run(small, upsample, 0.0)
        best, area = None, -1.0
        for r, sc in zip(rects, scores):
            if sc < self.settings.min_score:
                continue
            box = (r.left() / s, r.top() / s, (r.right() + 1) / s - 1, (r.bottom() + 1) / s - 1)
            a = (box[2] - box[0]) * (box[3] - box[1])
            if a > area:
                best, area = box, a
        return best

    def _box_from(self, lm) -> tuple:
        c, sc = _centre_scale(lm.astype(np.float64))
        r = self._rel
        return (c[0] + r[0] * sc, c[1] + r[1] * sc, c[0] + r[2] * sc, c[1] + r[3] * sc)

    def _patch(self, img, lm) -> np.ndarray:
        import cv2

        src = lm[17:].astype(np.float64)
        rot, t = similarity(src, self._ref)
        c, sc = _centre_scale(self._ref)
        k = 14.0 / sc  # the inner face spans about 32 pixels
        m = np.concatenate([rot * k, (k * (t - c) + 16.0)[:, None]], axis=1)
        p = cv2.warpAffine(
            img, m, (32, 32), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        if p.ndim == 3:
            p = cv2.cvtColor(p, cv2.COLOR_RGB2GRAY)
        p = p.astype(np.float32)
        p -= p.mean()
        return p / max(float(np.sqrt((p * p).sum())), 1e-6)

    def _is_cut(self, img) -> bool:
        import cv2

        h, w = img.shape[:2]
        step = max(1, max(h, w) // 64)
        th = np.ascontiguousarray(img[::step, ::step])
        if th.ndim == 2:
            th = cv2.cvtColor(th, cv2.COLOR_GRAY2RGB)
        hist = cv2.calcHist([th], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3).ravel()
        hist /= max(float(hist.sum()), 1.0)
        prev, self._hist = self._hist, hist
        cut = prev is not None and 0.5 * float(np.abs(hist - prev).sum()) > self.settings.cut
        self.stats["cuts"] += int(cut)
        return cut

    def _looks_right(self, img, lm) -> bool:
        h, w = img.shape[:2]
        inside = ((lm[:, 0] >= 0) & (lm[:, 0] < w) & (lm[:, 1] >= 0) & (lm[:, 1] < h)).mean()
        if inside < 0.5:
            return False
        if self.settings.min_ncc <= -1:
            return True
        return float((self._patch(img, lm) * self._tmpl).sum()) >= self.settings.min_ncc

    def _accept(self, lm) -> np.ndarray:
        """Take ``lm`` as this frame's landmarks."""
        self._lm = lm
        return lm

    def _anchor(self, img, box) -> np.ndarray:
        """Landmarks from a detector box; remember the box and the appearance."""
        lm = self._fit(img, box)
        c, sc = _centre_scale(lm.astype(np.float64))
        self._rel = (
            (box[0] - c[0]) / sc,
            (box[1] - c[1]) / sc,
            (box[2] - c[0]) / sc,
            (box[3] - c[1]) / sc,
        )
        self._ref = lm[17:].astype(np.float64)
        self._tmpl = self._patch(img, lm)
        self._since = 0
        return lm

    # -- one frame
    def __call__(self, image) -> np.ndarray | None:
        img = np.ascontiguousarray(image)
        if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
            raise ValueError(
                f"frames must be uint8 [H, W, 3] or [H, W], got {img.dtype} {img.shape}"
            )
        self.stats["frames"] += 1
        if self.settings.mode == "exact":
            faces = self.det.detect(img, upsample=self.settings.upsample)
            return faces[0].landmarks if faces else None
        if img.shape != self._shape:  # first frame, or an image folder changing size
            self.reset()
            self._shape = img.shape
        cut = self.settings.cut > 0 and self._is_cut(img)
        if self._lm is not None and not cut:
            self._since += 1
            if self._since < self.settings.every:
                lm = self._fit(img, self._box_from(self._lm))
                if self._looks_right(img, lm):
                    return self._accept(lm)
                self._lm = None  # lost: a cold detection below
                self.stats["lost"] += 1
            else:  # periodic detection
                box = self._detect(img, max(0, self.settings.upsample - 1))
                if box is not None:
                    return self._accept(self._anchor(img, box))
                lm = self._fit(img, self._box_from(self._lm))
                self._since = 0
                if self._looks_right(img, lm):
                    return self._accept(lm)
                self._lm = None
                self.stats["lost"] += 1
        if self._wait > 0 and not cut:
            self._wait -= 1
            return None
        self.stats["cold"] += 1
        box = None
        if self.settings.cascade and self.settings.upsample > 0:  # large faces: 4x cheaper
            box = self._detect(img, self.settings.upsample - 1)
        if box is None:
            box = self._detect(img, self.settings.upsample)
        if box is None:
            self._fails += 1
            self._wait = min(2 ** (self._fails - 1) - 1, int(self.settings.backoff))
            self._lm = None
            return None
        self._fails = self._wait = 0
        self._lm = None
        return self._accept(self._anchor(img, box))


def make_tracker(settings: DetectSettings | None = None, detector=None):
    """A callable ``frame -> landmarks | None`` for ``settings`` (tracked or exact)."""
    return FaceTracker(settings, detector)
