"""Faces of one video in one pass: frames -> 68 landmarks -> square face crops.

The one pipeline behind every reader that turns frames into crops (the crop-cache fill of
train / eval / protocol and ``fasfast prepare``, ``label``, ``predict``, ``explain``, the
datasets): :meth:`VideoReader.frames <fasfast.data.video.VideoReader.frames>` (one front-to-
back pass), landmarks per frame, :class:`~fasfast.data.crop.FaceCropper` (margin, square,
frames without a face reuse the last face). Landmarks come, per frame, from

1. ``landmarks`` given by the caller (a landmark cache entry: ``float32 [N, 68, 2]`` frame
   pixels, NaN rows = no face; or a mapping ``{frame index: [68, 2] or None}`` from a
   background pass), else
2. the landmark file beside the video (``<stem>.landmarks.npy`` / ``.json``), else
3. dlib: :class:`~fasfast.labels.tracking.FaceTracker` with ``detect`` (default: tracked
   detection; ``DetectSettings(mode="exact")`` detects at full resolution on every frame).

Frames past the end of a given landmark array are detected. With ``crop=False`` (whole
images resized, e.g. HySpeFAS, already face crops) nothing is detected. A landmark file
that cannot be parsed raises :class:`LandmarkFileError` naming it (the caller skips it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from fasfast.data.crop import FaceCropper
from fasfast.data.video import VideoReader, prefetched
from fasfast.labels.landmarks import landmark_file_for, read_landmark_file
from fasfast.labels.tracking import DetectSettings


class LandmarkFileError(ValueError):
    """A landmark file beside a video is missing, unreadable or malformed."""


@dataclass
class FaceFrame:
    """One frame's result: ``index``; ``crop`` uint8 [S,S,3]; ``landmarks`` float32 [68,2]
    in crop pixels (the reused face when ``found`` is False); ``frame_landmarks`` float32
    [68,2] in frame pixels (NaN: no face in this frame); ``box`` float32 [4] (x0,y0,x1,y1)."""

    index: int
    crop: np.ndarray
    landmarks: np.ndarray
    frame_landmarks: np.ndarray
    found: bool
    box: np.ndarray


@dataclass
class VideoFaces:
    """All frames of :func:`video_faces`, sorted by ``indices`` (int64 [F]); ``crops`` uint8
    [F,S,S,3], ``landmarks`` / ``frame_landmarks`` float32 [F,68,2], ``found`` bool [F],
    ``boxes`` float32 [F,4]; ``stats`` of the pass (frames, detected, file, no_face,
    detections, cold, decoded, num_frames)."""

    indices: np.ndarray
    crops: np.ndarray
    landmarks: np.ndarray
    frame_landmarks: np.ndarray
    found: np.ndarray
    boxes: np.ndarray
    stats: dict


def file_landmarks(path, frame_names=None) -> np.ndarray | dict | None:
    """Landmarks of the file beside ``path`` (None when there is none): an array ``[F, 68,
    2]`` matched to frames by position, or, when the file names its frames and
    ``frame_names`` (an image folder's files in frame order) is given, a mapping ``{frame
    index: [68, 2]}`` matched by name (exact, else without the extension; frames the file
    does not name are detected). A file that cannot be parsed, or whose names match none of
    the frames, raises :class:`LandmarkFileError`."""
    f = landmark_file_for(path)
    if f is None:
        return None
    try:
        arr, names = read_landmark_file(f)
    except (ValueError, OSError, KeyError, TypeError) as e:
        raise LandmarkFileError(f"{f}: malformed landmark file ({e}); fix or delete it") from e
    if names is None or frame_names is None:
        return arr
    index = {n: i for i, n in enumerate(frame_names)}
    stems = {n.rsplit(".", 1)[0]: i for i, n in enumerate(frame_names)}
    out = {}
    for name, lm in zip(names, arr):
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        i = index.get(base, stems.get(base, stems.get(base.rsplit(".", 1)[0])))
        if i is not None:
            out[i] = lm
    if names and not out:
        raise LandmarkFileError(
            f"{f}: its frame names ({names[0]!r}, ...) match none of the "
            f"{len(frame_names)} frames of {path}; fix or delete it"
        )
    return out


def _resize_whole(frame: np.ndarray, lm, size: int):
    import cv2

    h, w = frame.shape[:2]
    img = frame if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=2)
    crop = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    s = np.array([size / w, size / h], np.float32)
    out = (lm * s).astype(np.float32) if lm is not None else np.full((68, 2), np.nan, np.float32)
    return crop, out, np.array([0, 0, w, h], np.float32)


def iter_faces(
    reader: VideoReader,
    indices=None,
    *,
    size: int = 256,
    margin: float = 1.3,
    crop: bool = True,
    detect: DetectSettings | None = None,
    detector=None,
    landmarks="file",
    stats: dict | None = None,
    skip_unreadable: bool = False,
    prefetch: int = 4,
) -> Iterator[FaceFrame]:
    """Yield a :class:`FaceFrame` for every distinct index (all frames when None), in one
    pass over ``reader``. Frames before the first face wait for it (at most 64 frames,
    see :class:`~fasfast.data.crop.FaceCropper`), so the order is not always increasing.

    ``landmarks``: "file" (the file beside the video, if any), None (always detect), an
    array ``[N, 68, 2]`` or a mapping ``{index: [68, 2] | None}`` (other frames: detected).
    ``stats`` (a dict) is updated with the counts of the pass. ``skip_unreadable``: see
    :meth:`VideoReader.frames`. ``prefetch``: frames decoded ahead in a background thread
    (0: none).
    """
    st = stats if stats is not None else {}
    for k in ("frames", "file", "detected", "no_face", "detections", "cold"):
        st.setdefault(k, 0)
    given = (
        file_landmarks(reader.path, reader.frame_names) if isinstance(landmarks, str) else landmarks
    )
    if given is not None and not isinstance(given, Mapping):
        arr = np.asarray(given, np.float32)
        given = {i: arr[i] for i in range(len(arr))}
    tracker = None
    cropper = FaceCropper(size, margin) if crop else None
    raw: dict[int, np.ndarray] = {}

    def landmarks_of(i, frame):
        nonlocal tracker
        if given is not None and i in given:
            st["file"] += 1
            lm = given[i]
            return lm if lm is not None and np.all(np.isfinite(lm)) else None
        if not crop:  # whole images (already face crops): landmarks only from a file
            return None
        if tracker is None:
            from fasfast.labels.tracking import FaceTracker

            tracker = FaceTracker(detect or DetectSettings(), detector)
        st["detected"] += 1
        return tracker(frame)

    def emit(items):
        for i, c, clm, found, box in items:
            st["no_face"] += int(not found)
            yield FaceFrame(i, c, clm, raw.pop(i), bool(found), box)

    frames = reader.frames(indices, skip_unreadable=skip_unreadable)
    for i, frame in prefetched(frames, prefetch) if prefetch > 0 else frames:
        st["frames"] += 1
        lm = landmarks_of(i, frame)
        if not crop:
            c, clm, box = _resize_whole(frame, lm, size)
            st["no_face"] += int(lm is None)
            yield FaceFrame(i, c, clm, _nan_or(lm), lm is not None, box)
            continue
        raw[i] = _nan_or(lm)
        yield from emit(cropper.add(i, frame, lm))
    if cropper is not None:
        yield from emit(cropper.finish())
    if tracker is not None:
        st["detections"] += tracker.stats["detections"]
        st["cold"] += tracker.stats["cold"]
    st["num_frames"] = reader.num_frames
    st["decoded"] = reader.decoded


def _nan_or(lm) -> np.ndarray:
    if lm is None:
        return np.full((68, 2), np.nan, np.float32)
    return np.asarray(lm, np.float32)


def video_faces(path_or_reader, indices=None, **kw) -> VideoFaces:
    """Collect :func:`iter_faces` of a video (path or :class:`VideoReader`), sorted."""
    reader = (
        path_or_reader if isinstance(path_or_reader, VideoReader) else VideoReader(path_or_reader)
    )
    stats: dict = {}
    items = sorted(iter_faces(reader, indices, stats=stats, **kw), key=lambda f: f.index)
    size = int(kw.get("size", 256))
    n = len(items)
    out = VideoFaces(
        indices=np.array([f.index for f in items], np.int64),
        crops=np.stack([f.crop for f in items]) if n else np.zeros((0, size, size, 3), np.uint8),
        landmarks=(
            np.stack([f.landmarks for f in items]) if n else np.zeros((0, 68, 2), np.float32)
        ),
        frame_landmarks=(
            np.stack([f.frame_landmarks for f in items]) if n else np.zeros((0, 68, 2), np.float32)
        ),
        found=np.array([f.found for f in items], bool),
        boxes=np.stack([f.box for f in items]) if n else np.zeros((0, 4), np.float32),
        stats=stats,
    )
    return out


def compute_entry(
    path_or_reader,
    indices=None,
    *,
    size: int,
    margin: float = 1.3,
    crop: bool = True,
    detect: DetectSettings | None = None,
    detector=None,
    landmarks="file",
    prefetch: int = 4,
) -> tuple[dict, dict]:
    """The cache entry of a video (``indices`` None: every frame) and the pass's stats:
    ``{"indices", "crops", "landmarks", "found", "boxes", "frame_landmarks", "num_frames",
    "decoded"}`` (see :mod:`fasfast.data.cache`)."""
    res = video_faces(
        path_or_reader,
        indices,
        size=size,
        margin=margin,
        crop=crop,
        detect=detect,
        detector=detector,
        landmarks=landmarks,
        prefetch=prefetch,
    )
    if not len(res.indices):
        raise ValueError(
            f"no frame of {getattr(path_or_reader, 'path', path_or_reader)} could be read"
        )
    n = res.stats["num_frames"]
    decoded = res.stats["decoded"]
    entry = {
        "indices": res.indices,
        "crops": res.crops,
        "landmarks": res.landmarks,
        "found": res.found,
        "boxes": res.boxes,
        "frame_landmarks": res.frame_landmarks,
        "num_frames": np.int64(n),
        "decoded": np.int64(n if decoded is None else decoded),
    }
    return entry, res.stats
