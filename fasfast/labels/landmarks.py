"""68-point face landmarks: dlib detector wrapper and landmark files.

The 68-point scheme (iBUG 300-W, the one dlib's predictor and most tools use), with
"left"/"right" as seen in the image:

========  =======================================
indices   part
========  =======================================
0-16      jaw line, image-left ear to image-right ear (8 = chin)
17-21     image-left eyebrow (outer -> inner)
22-26     image-right eyebrow (inner -> outer)
27-30     nose bridge (30 = nose tip)
31-35     nose bottom (nostrils, 33 = centre)
36-41     image-left eye (36 outer corner, 39 inner corner)
42-47     image-right eye (42 inner corner, 45 outer corner)
48-59     outer lip contour (48 / 54 mouth corners)
60-67     inner lip contour
========  =======================================

Landmarks from other schemes, converted to 68 points (see :func:`to_68`):

- 5-point (dlib / face_recognition ``shape_predictor_5``: eye corners 0-1 (image-right
  eye), 2-3 (image-left eye), 4 nose bottom) and 5-point (MTCNN / RetinaFace /
  InsightFace: left eye centre, right eye centre, nose tip, left mouth corner, right
  mouth corner): too few points for a face contour; :func:`to_68` fits the mean 68-point
  shape (:func:`template_68`) to them with a similarity transform (least squares).
- 98-point WFLW: jaw 0-32 (every second point -> 68 jaw 0-16), brows 33-41 / 42-50,
  nose 51-59 (-> 27-35), eyes 60-75 (8 per eye -> the 6 corner/lid points), mouth
  76-95 (-> 48-67). The table :data:`WFLW98_TO_68` is that subset.
- 106-point (JD / InsightFace 2d106) and others: fit the template with a similarity
  transform to any corresponding subset via ``to_68(points, src_idx, dst_idx)``.

Landmark files hold one ``[68, 2]`` array (x, y in pixels of the frame) per frame:
``.npy`` (``float32 [F, 68, 2]``) or ``.json``
(``{"scheme": "68", "frames": [[[x, y], ...68], ...F]}``, ``null`` for a frame without a
face; the ``.npy`` writes NaN for those). Rows are matched to frames by position, unless a
``.json`` names its frames: ``{"names": ["f_1.png", ...], "frames": [...]}`` or
``{"frames": {"f_1.png": [[x, y], ...], ...}}``; then the rows of an image folder are matched
to its frame files by name (:func:`read_landmark_file`).
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Jaw 0-16 then the brows from the image-right end back (26..17): the face contour.
FACE_CONTOUR = tuple(range(0, 17)) + tuple(range(26, 16, -1))

# Index permutation that maps the landmarks of a face to those of its mirror image.
FLIP_68 = np.array(
    list(range(16, -1, -1))  # jaw
    + list(range(26, 21, -1))  # brows 17-21 <- 26-22
    + list(range(21, 16, -1))  # brows 22-26 <- 21-17
    + [27, 28, 29, 30]  # nose bridge
    + [35, 34, 33, 32, 31]  # nose bottom
    + [45, 44, 43, 42, 47, 46]  # eye 36-41 <- 45..42, 47, 46
    + [39, 38, 37, 36, 41, 40]  # eye 42-47 <- 39..36, 41, 40
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lips
    + [64, 63, 62, 61, 60, 67, 66, 65],  # inner lips
    dtype=np.int64,
)

# WFLW 98-point indices that give the 68-point landmarks (same order as 0..67).
WFLW98_TO_68 = np.array(
    list(range(0, 33, 2))  # jaw
    + [33, 34, 35, 36, 37]  # image-left brow (upper contour)
    + [42, 43, 44, 45, 46]  # image-right brow (upper contour)
    + [51, 52, 53, 54, 55, 56, 57, 58, 59]  # nose
    + [60, 61, 63, 64, 65, 67]  # image-left eye
    + [68, 69, 71, 72, 73, 75]  # image-right eye
    + list(range(76, 96)),  # mouth
    dtype=np.int64,
)


def check_landmarks(lm, name: str = "landmarks") -> np.ndarray:
    """``lm`` as a float64 array of shape ``[..., 68, 2]``; a ValueError naming ``name`` and
    the shape otherwise."""
    arr = np.asarray(lm, dtype=np.float64)
    if arr.shape[-2:] != (68, 2):
        raise ValueError(f"{name} must have shape [..., 68, 2], got {tuple(arr.shape)}")
    return arr


def template_68() -> np.ndarray:
    """A mean frontal 68-point face in a unit frame, float64 ``[68, 2]``: jaw x in [-1, 1],
    chin y about 1, y down. The shape the crops are fitted to (:mod:`fasfast.data.crop`), the
    5-point conversions use (:func:`to_68`) and the synthetic faces are deformed from."""
    pts = np.zeros((68, 2))
    phi = np.pi * (1 - np.arange(17) / 16)
    pts[0:17, 0] = np.cos(phi)
    pts[0:17, 1] = -0.25 + 1.2 * np.sin(phi)
    i = np.arange(5)
    arch = 0.12 * np.sin(np.pi * (i + 0.5) / 5)
    pts[17:22] = np.stack([np.linspace(-0.82, -0.18, 5), -0.5 - arch], 1)
    pts[22:27] = np.stack([np.linspace(0.18, 0.82, 5), -0.5 - arch[::-1]], 1)
    pts[27:31] = np.stack([np.zeros(4), np.linspace(-0.42, 0.17, 4)], 1)
    pts[31:36] = np.stack([[-0.22, -0.11, 0, 0.11, 0.22], [0.25, 0.29, 0.31, 0.29, 0.25]], 1)
    for start, cx in ((36, -0.42), (42, 0.42)):  # eyes: outer corner first on the left
        ew, eh, cy = 0.17, 0.075, -0.22
        e = np.array(
            [
                [-ew, 0],
                [-ew / 3, -eh],
                [ew / 3, -eh],
                [ew, 0],
                [ew / 3, 0.9 * eh],
                [-ew / 3, 0.9 * eh],
            ]
        )
        pts[start : start + 6] = e + [cx, cy]
    mw = 0.36
    outer = [
        (-1, 0),
        (-0.6, -0.09),
        (-0.25, -0.13),
        (0, -0.11),
        (0.25, -0.13),
        (0.6, -0.09),
        (1, 0),
        (0.6, 0.1),
        (0.25, 0.15),
        (0, 0.16),
        (-0.25, 0.15),
        (-0.6, 0.1),
    ]
    inner = [
        (-0.85, 0),
        (-0.3, -0.03),
        (0, -0.03),
        (0.3, -0.03),
        (0.85, 0),
        (0.3, 0.03),
        (0, 0.03),
        (-0.3, 0.03),
    ]
    pts[48:60] = [(x * mw, 0.58 + y) for x, y in outer]
    pts[60:68] = [(x * mw, 0.58 + y) for x, y in inner]
    return pts


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform taking ``src`` onto ``dst`` (both float ``[K, 2]``,
    K >= 2): the 2x3 matrix ``[s R | t]`` minimising ``sum |s R src_k + t - dst_k|^2``
    (closed form: the centred points as complex numbers, ``s e^{i theta}`` their least-squares
    ratio; no reflection). Degenerate ``src`` (all points equal) gives scale 0 instead of a
    division by zero."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    a = (s * d).sum() / max((s**2).sum(), 1e-12)
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / max((s**2).sum(), 1e-12)
    rot = np.array([[a, -b], [b, a]])
    return np.concatenate([rot, (md - rot @ ms)[:, None]], axis=1)


_FIVE_POINT = {
    # scheme -> 68-point indices (or pairs to average) the 5 points correspond to
    "dlib5": [(45,), (42,), (36,), (39,), (33,)],
    "mtcnn5": [(36, 39), (42, 45), (30,), (48,), (54,)],
}


def to_68(points, scheme: str = "wflw98", src_idx=None, dst_idx=None) -> np.ndarray:
    """Convert landmarks of another scheme to 68 points. ``points`` [K, 2] -> ``[68, 2]``.

    ``scheme``: ``"wflw98"`` (subset :data:`WFLW98_TO_68`), ``"dlib5"`` / ``"mtcnn5"``
    (template fitted by a similarity transform), or ``"fit"`` with explicit
    ``src_idx`` (indices into ``points``) and ``dst_idx`` (68-point indices).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must have shape [K, 2], got {tuple(pts.shape)}")
    if scheme == "wflw98":
        if pts.shape[0] != 98:
            raise ValueError(f"wflw98 needs 98 points, got {pts.shape[0]}")
        return pts[WFLW98_TO_68].copy()
    tmpl = template_68()
    if scheme in _FIVE_POINT:
        if pts.shape[0] != 5:
            raise ValueError(f"{scheme} needs 5 points, got {pts.shape[0]}")
        src = np.stack([tmpl[list(ix)].mean(0) for ix in _FIVE_POINT[scheme]])
        dst = pts
    elif scheme == "fit":
        if src_idx is None or dst_idx is None or len(src_idx) != len(dst_idx) or len(src_idx) < 2:
            raise ValueError("scheme='fit' needs src_idx and dst_idx of equal length >= 2")
        src, dst = tmpl[np.asarray(dst_idx)], pts[np.asarray(src_idx)]
    else:
        raise ValueError(f"unknown landmark scheme {scheme!r} (wflw98, dlib5, mtcnn5, fit)")
    m = similarity_transform(src, dst)
    return tmpl @ m[:, :2].T + m[:, 2]


def save_landmarks(path, landmarks) -> Path:
    """Write per-frame landmarks ``[F, 68, 2]`` (NaN rows = no face) to ``.npy`` or ``.json``."""
    path = Path(path)
    arr = check_landmarks(landmarks)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"landmarks must have shape [F, 68, 2], got {tuple(arr.shape)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, arr.astype(np.float32))
    elif path.suffix == ".json":
        frames = [
            None
            if not np.all(np.isfinite(f))
            else [[round(float(x), 3), round(float(y), 3)] for x, y in f]
            for f in arr
        ]
        path.write_text(json.dumps({"scheme": "68", "frames": frames}))
    else:
        raise ValueError(f"landmark file must end in .npy or .json: {path}")
    return path


def load_landmarks(path) -> np.ndarray:
    """Read a landmark file written by :func:`save_landmarks` -> ``float32 [F, 68, 2]``.

    Frames without a face are NaN. A ``.json`` may also be a bare list of frames. Rows come
    in the file's order (frame names, when the file has them, are dropped: see
    :func:`read_landmark_file`).
    """
    return read_landmark_file(path)[0]


def read_landmark_file(path) -> tuple[np.ndarray, list[str] | None]:
    """``(landmarks float32 [F, 68, 2], names)`` of a landmark file; ``names`` (length F) when
    a ``.json`` names its frames (``"names": [...]`` beside ``"frames"``, or ``"frames"`` a
    mapping name -> points), else None. Raises ValueError for a malformed file."""
    path = Path(path)
    names = None
    if not path.is_file():
        raise FileNotFoundError(f"landmark file not found: {path}")
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise ValueError(f"cannot read landmark file {path}: {e}") from e
    elif path.suffix == ".json":
        try:
            obj = json.loads(path.read_text())
        except (ValueError, OSError) as e:
            raise ValueError(f"cannot read landmark file {path}: {e}") from e
        frames = obj["frames"] if isinstance(obj, dict) else obj
        if isinstance(frames, dict):
            names, frames = [str(k) for k in frames], list(frames.values())
        elif isinstance(obj, dict) and obj.get("names") is not None:
            names = [str(k) for k in obj["names"]]
            if len(names) != len(frames):
                raise ValueError(
                    f"landmark file {path} names {len(names)} frames but holds {len(frames)}"
                )
        arr = (
            np.stack(
                [np.full((68, 2), np.nan) if f is None else np.asarray(f, float) for f in frames]
            )
            if len(frames)
            else np.zeros((0, 68, 2))
        )
    else:
        raise ValueError(f"landmark file must end in .npy or .json: {path}")
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (68, 2):
        raise ValueError(f"landmark file {path} holds shape {arr.shape}, expected [F, 68, 2]")
    return arr, names


def landmark_file_for(video_path) -> Path | None:
    """The landmark file beside a video, if any: ``<stem>.landmarks.{npy,json}`` or
    ``<name>.landmarks.{npy,json}``."""
    p = Path(video_path)
    base = p.parent / p.name if p.is_dir() else p
    for cand in (
        p.with_suffix(".landmarks.npy") if not p.is_dir() else base / "landmarks.npy",
        p.with_suffix(".landmarks.json") if not p.is_dir() else base / "landmarks.json",
        Path(str(p) + ".landmarks.npy"),
        Path(str(p) + ".landmarks.json"),
    ):
        if cand.is_file():
            return cand
    return None


def predictor_path() -> Path:
    """Path of the 68-point shape predictor shipped by ``face-recognition-models``.

    Found with ``importlib.util.find_spec`` so the package (which imports the removed
    ``pkg_resources``) is never imported. ``FASFAST_SHAPE_PREDICTOR`` overrides it.
    """
    env = os.environ.get("FASFAST_SHAPE_PREDICTOR")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the 68-point landmark model needs the 'face-recognition-models' package "
            "(pip install face-recognition-models) or FASFAST_SHAPE_PREDICTOR=<.dat file>"
        )
    return Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"


@dataclass
class Face:
    """One detected face: ``box`` (x0, y0, x1, y1) pixels, detector ``score``,
    ``landmarks`` float32 ``[68, 2]`` (x, y pixels)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


class LandmarkDetector:
    """dlib HOG frontal face detector + 68-point shape predictor.

    ``upsample``: times the image is up-sampled before detection (finds smaller faces,
    4x slower each); ``min_score``: detections scoring below are dropped (dlib's raw
    SVM score; 0.3 drops most false positives and keeps real frontal faces).
    """

    def __init__(self, upsample: int = 1, min_score: float = 0.3, predictor: str | None = None):
        try:
            import dlib
        except ImportError as e:  # pragma: no cover - dlib-bin is a dependency
            raise RuntimeError("LandmarkDetector needs dlib (pip install dlib-bin)") from e
        path = Path(predictor) if predictor else predictor_path()
        if not path.is_file():
            raise FileNotFoundError(f"68-point shape predictor not found: {path}")
        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(path))
        self.upsample = int(upsample)
        self.min_score = float(min_score)

    def __getstate__(self):  # dlib objects do not pickle: rebuild in the worker
        return {"upsample": self.upsample, "min_score": self.min_score}

    def __setstate__(self, state):
        self.__init__(upsample=state["upsample"], min_score=state["min_score"])

    def detect(self, image, upsample: int | None = None) -> list[Face]:
        """Faces in an RGB ``uint8 [H, W, 3]`` (or grey ``[H, W]``) image, largest first
        (``upsample``: this call's up-sampling, default the detector's)."""
        img = np.asarray(image)
        if img.dtype != np.uint8:
            raise TypeError(f"image must be uint8, got {img.dtype}")
        if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
            raise ValueError(f"image must have shape [H, W, 3] or [H, W], got {img.shape}")
        img = np.ascontiguousarray(img)
        up = self.upsample if upsample is None else int(upsample)
        rects, scores, _ = self.detector.run(img, up, 0.0)
        faces = []
        for r, s in zip(rects, scores):
            if s < self.min_score:
                continue
            shape = self.predictor(img, r)
            lm = np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], np.float32)
            faces.append(
                Face(
                    (float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1)),
                    float(s),
                    lm,
                )
            )
        faces.sort(key=lambda f: -f.area)
        return faces

    def landmarks(self, image) -> np.ndarray | None:
        """Landmarks ``[68, 2]`` of the largest face, or None."""
        faces = self.detect(image)
        return faces[0].landmarks if faces else None


_SHARED: dict[tuple, LandmarkDetector] = {}


def shared_detector(upsample: int = 1, min_score: float = 0.3) -> LandmarkDetector:
    """A process-wide :class:`LandmarkDetector` (loading dlib's models takes ~1-2 s)."""
    key = (int(upsample), float(min_score))
    if key not in _SHARED:
        _SHARED[key] = LandmarkDetector(upsample=upsample, min_score=min_score)
    return _SHARED[key]
