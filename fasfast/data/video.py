"""Reading frames: video files (OpenCV), image folders, single images and HySpeFAS
``.mat`` cubes, as RGB uint8, in one front-to-back pass.

:meth:`VideoReader.frames` is the one frame source of the package (the crop-cache fill,
``fasfast label``, ``predict``, ``explain``, ``magnify`` and the datasets all read through
it). It opens a video once and walks it front to back: a frame that is not wanted is
skipped with ``grab()`` (demuxed and decoded, no colour conversion, no copy), a wanted one
is ``retrieve()``-d and converted to RGB. Reading any set of indices therefore decodes at
most ``max(indices) + 1`` frames, O(n) for a whole video (the old per-index reopen cost
n(n+1)/2 decodes).

Truncated videos: a file whose header promises more frames than it holds (a cut download,
a damaged MJPG) gives, for every index past its last decodable frame, that last decodable
frame. Each such file is reported once per process with a :class:`TruncatedVideoWarning`
naming the file, the frames promised and the frames decoded; :attr:`VideoReader.decoded`
holds the count once a pass has reached the end. Finding the last decodable frame of such
a file costs one extra pass, only for truncated files.

Images: a folder of images is a video whose frames are its image files in *natural* order
(:func:`frame_files`: digit runs compare as numbers, so ``f_2.png`` comes before ``f_10.png``;
hidden and side files such as macOS ``._*`` and ``.DS_Store``, ``Thumbs.db`` and files
without an image extension are ignored), a single image is a one-frame video, a HySpeFAS ``.mat`` is a one-frame video read through
its PNG preview (else its 30 bands mapped to RGB). Images with an alpha channel (dropped)
or 16 bits per channel (scaled to 8 bits, ``round(x / 257)``) are converted and reported
once with a :class:`DataWarning`. Unreadable input raises :class:`VideoReadError` naming
the file. FFmpeg's own log lines are silenced (``OPENCV_FFMPEG_LOGLEVEL=-8`` unless the
variable is set): fasfast reports each problem once, on one line naming the file.

One file of about 490 lines on purpose: every input kind is read through the one reader and
its one way of reporting a problem (and :func:`write_video` is the inverse of the reader).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

VIDEO_EXTS = (".avi", ".mp4", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# FFmpeg's own lines ("overread", "slice pointer chain broken") would break the one-line
# reports; OpenCV reads this when it first opens a video. Set it yourself to see them.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
# OpenCV's own warnings ("[ WARN:0@0.01] global cap.cpp ... can't be used to capture by
# name") likewise: the error we raise names the file.
if "OPENCV_LOG_LEVEL" not in os.environ:
    os.environ["OPENCV_LOG_LEVEL"] = "ERROR"
    if "cv2" in sys.modules:  # imported before us: it may have read the variable already
        sys.modules["cv2"].utils.logging.setLogLevel(
            sys.modules["cv2"].utils.logging.LOG_LEVEL_ERROR
        )


class VideoReadError(RuntimeError):
    """A video, image folder or image could not be read."""


class DataWarning(UserWarning):
    """A file was read with a correction (alpha dropped, 16 bits scaled, frames repeated)."""


class TruncatedVideoWarning(DataWarning):
    """A video holds fewer decodable frames than its header promises."""


_REPORTED: set[tuple[str, str]] = set()


def _report_once(path, what: str, message: str, category=DataWarning) -> None:
    key = (str(path), what)
    if key not in _REPORTED:
        _REPORTED.add(key)
        warnings.warn(message, category, stacklevel=3)


def _to_rgb8(img: np.ndarray, path) -> np.ndarray:
    """An OpenCV ``IMREAD_UNCHANGED`` image (BGR order) -> RGB uint8 ``[H, W, 3]``."""
    import cv2

    notes = []
    if img.dtype == np.uint16:
        img = np.round(img.astype(np.float32) / 257.0).astype(np.uint8)
        notes.append("16 bits per channel, scaled to 8")
    elif img.dtype != np.uint8:
        raise VideoReadError(
            f"cannot use image {path}: {img.dtype} pixels are not supported "
            "(convert it to 8-bit RGB)"
        )
    if img.ndim == 3 and img.shape[2] in (2, 4):
        img = img[..., :-1]
        notes.append("alpha channel dropped")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    else:
        raise VideoReadError(f"cannot use image {path}: shape {img.shape} is not an image")
    if notes:
        _report_once(path, "convert", f"{path}: {', '.join(notes)}")
    return img


def read_image(path) -> np.ndarray:
    """RGB ``uint8 [H, W, 3]`` of an image file. Alpha is dropped and 16-bit images are
    scaled to 8 bits (both reported once); an unreadable file raises
    :class:`VideoReadError` naming it."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"image not found: {path}")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise VideoReadError(f"cannot decode image {path} (corrupt or unsupported format)")
    return _to_rgb8(img, path)


# Files that are never frames though they may carry an image extension: hidden files
# (macOS AppleDouble "._name", ".DS_Store", editors' ".name.swp") and OS thumbnail caches.
_SIDE_FILES = {"thumbs.db", "desktop.ini", "ehthumbs.db"}


def is_frame_file(path) -> bool:
    """True for an image file that can be a frame of an image folder: an image extension
    (:data:`IMAGE_EXTS`), not hidden (no leading ``.``: macOS ``._*`` side files,
    ``.DS_Store``), not an OS side file (``Thumbs.db``, ``desktop.ini``)."""
    name = Path(path).name
    return (
        not name.startswith(".")
        and name.lower() not in _SIDE_FILES
        and Path(name).suffix.lower() in IMAGE_EXTS
    )


def natural_key(name: str) -> tuple:
    """Sort key that orders digit runs by value: ``f_2`` < ``f_10`` (plain name order
    gives ``f_1, f_10, f_11, ..., f_2``). Case-insensitive, ties broken by the name."""
    parts = re.split(r"(\d+)", name)
    return tuple(int(t) if k % 2 else t.lower() for k, t in enumerate(parts)), name


def frame_files(folder) -> list[Path]:
    """The frames of an image folder in time order: the files :func:`is_frame_file` accepts,
    sorted by :func:`natural_key` of their names (``0001.png`` ... and ``f_1.png, f_2.png,
    ..., f_10.png`` both come out in frame order)."""
    folder = Path(folder)
    files = [p for p in folder.iterdir() if is_frame_file(p) and p.is_file()]
    return sorted(files, key=lambda p: natural_key(p.name))


def _read_mat(path: Path) -> np.ndarray:
    try:
        arr = load_hyperspectral(path, prefer="png")
    except (OSError, ValueError, KeyError) as e:
        raise VideoReadError(f"cannot read HySpeFAS sample {path}: {e}") from e
    return arr if arr.dtype == np.uint8 else hyperspectral_to_rgb(arr)


def hyperspectral_to_rgb(cube: np.ndarray) -> np.ndarray:
    """30-band cube [H,W,C] -> RGB uint8 for display/crops: the mean of the last, middle and
    first thirds of the bands as R, G, B, scaled by the cube's 99.5th percentile."""
    c = cube.shape[2]
    thirds = np.array_split(np.arange(c), 3)
    rgb = np.stack(
        [cube[..., thirds[2]].mean(2), cube[..., thirds[1]].mean(2), cube[..., thirds[0]].mean(2)],
        axis=2,
    )
    hi = np.percentile(rgb, 99.5) or 1.0
    return np.clip(rgb / hi * 255, 0, 255).astype(np.uint8)


def load_hyperspectral(path, key: str = "var", prefer: str = "mat") -> np.ndarray:
    """Read a HySpeFAS sample: ``.mat`` -> ``float32 [H, W, 30]`` (``key``); ``.png`` ->
    ``uint8 [H, W, 3]`` RGB. ``prefer="png"`` reads the preview beside a ``.mat`` if any."""
    path = Path(path)
    if prefer == "png" and path.suffix == ".mat" and path.with_suffix(".png").exists():
        path = path.with_suffix(".png")
    if not path.exists():
        raise FileNotFoundError(f"HySpeFAS file not found: {path}")
    if path.suffix.lower() != ".mat":
        return read_image(path)
    try:
        from scipy.io import loadmat

        mat = loadmat(str(path))
        if key not in mat:
            raise KeyError(
                f"{path} has no variable {key!r} (has {sorted(k for k in mat if not k.startswith('__'))})"
            )
        arr = np.asarray(mat[key])
    except NotImplementedError:  # MATLAB v7.3 = HDF5
        import h5py

        with h5py.File(path, "r") as f:
            if key not in f:
                raise KeyError(f"{path} has no variable {key!r} (has {list(f.keys())})") from None
            arr = np.asarray(f[key]).T  # HDF5 stores MATLAB arrays transposed
    except ValueError as e:
        raise ValueError(f"cannot read .mat file {path}: {e}") from e
    if arr.ndim != 3:
        raise ValueError(f"{path}:{key} must be H x W x C, got shape {arr.shape}")
    return arr.astype(np.float32)


# FFmpeg decoding threads per opened video; None: FFmpeg's own choice (about one per core,
# e.g. the frame threads of an FFV1 decoder). See decode_threads().
_DECODE_THREADS: int | None = None


def set_decode_threads(n: int | None) -> int | None:
    """Open videos from now on with ``n`` FFmpeg decoding threads (OpenCV's
    ``CAP_PROP_N_THREADS``; None: FFmpeg's choice) in this process; returns the old value.
    A worker process of ``fasfast prepare`` or ``predict`` sets 1, so that it is one core:
    FFmpeg's frame threads would otherwise take a second one."""
    global _DECODE_THREADS
    old, _DECODE_THREADS = _DECODE_THREADS, n
    return old


@contextlib.contextmanager
def decode_threads(n: int | None):
    """:func:`set_decode_threads` for the block only."""
    old = set_decode_threads(n)
    try:
        yield
    finally:
        set_decode_threads(old)


def _open(path: Path):
    import cv2

    # FFmpeg alone when OpenCV has it: the fall-back parsers print to stderr on bad files
    ffmpeg = cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG)
    if ffmpeg and _DECODE_THREADS is not None:
        cap = cv2.VideoCapture(
            str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, int(_DECODE_THREADS)]
        )
    elif ffmpeg:
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    else:
        cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoReadError(f"cannot open video {path} (corrupt or unsupported format)")
    return cap


class VideoReader:
    """Frames of a video file, image folder, image or ``.mat`` sample.

    ``num_frames`` (the header's count for a video), ``fps`` (0 for images),
    ``frames(indices)`` (sequential), ``read(indices)`` (any order),
    ``decoded`` (decodable frames, known after a pass reached the end of a video),
    ``frame_names`` (an image folder's file names in frame order, else None).

    Frame order of an image folder: natural order of the file names (digit runs by value,
    ``f_1.png, f_2.png, ..., f_10.png``), see :func:`frame_files`; hidden files (``._*``,
    ``.DS_Store``), ``Thumbs.db`` and files without an image extension are not frames.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._files: list[Path] | None = None
        self._mat = False
        self.decoded: int | None = None
        self.skipped: list[str] = []
        self.fps = 0.0
        self.frame_names: list[str] | None = None
        if self.path.is_dir():
            self._files = frame_files(self.path)
            if not self._files:
                raise VideoReadError(f"image folder has no images: {self.path}")
            self.num_frames = len(self._files)
            self.frame_names = [f.name for f in self._files]
        elif self.path.suffix.lower() in IMAGE_EXTS or self.path.suffix.lower() == ".mat":
            png = self.path.with_suffix(".png")
            if not self.path.is_file() and not (self.path.suffix == ".mat" and png.is_file()):
                raise VideoReadError(f"image not found: {self.path}")
            self._files = [self.path]
            self._mat = self.path.suffix.lower() == ".mat"
            self.num_frames = 1
        else:
            self._probe()

    def _probe(self) -> None:
        import cv2

        if not self.path.is_file():
            raise VideoReadError(f"video not found: {self.path}")
        cap = _open(self.path)
        try:
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            if n <= 0:  # some containers do not store the count: decode to count
                while cap.grab():
                    n += 1
                self.decoded = n
        finally:
            cap.release()
        if n <= 0:
            raise VideoReadError(
                f"video has no decodable frames: {self.path} (empty, corrupt or unsupported codec)"
            )
        self.num_frames = n

    def __len__(self) -> int:
        return self.num_frames

    @property
    def is_video(self) -> bool:
        return self._files is None

    def _check(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_frames))
        out = sorted({int(i) for i in indices})
        if out and (out[0] < 0 or out[-1] >= self.num_frames):
            bad = out[0] if out[0] < 0 else out[-1]
            raise IndexError(f"frame {bad} out of range for {self.path} ({self.num_frames} frames)")
        return out

    def frames(
        self, indices=None, skip_unreadable: bool = False
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, RGB uint8 [H, W, 3])`` for the distinct ``indices`` (all frames
        when None) in increasing order, in one front-to-back pass (see the module doc).
        Frames past the real end of a truncated video repeat its last decodable frame
        (the same array object). ``skip_unreadable``: an image of a folder that cannot be
        read is reported (one :class:`DataWarning` line naming it), listed in
        ``self.skipped`` and left out instead of raising."""
        wanted = self._check(indices)
        if self._files is None:
            yield from self._video_frames(wanted)
            return
        for i in wanted:
            try:
                img = _read_mat(self._files[i]) if self._mat else read_image(self._files[i])
            except VideoReadError as e:
                if not skip_unreadable:
                    raise
                self.skipped.append(str(self._files[i]))
                warnings.warn(f"skipped: {e}", DataWarning, stacklevel=2)
                continue
            yield i, img

    def _video_frames(self, wanted: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        import cv2

        if not wanted:
            return
        cap = _open(self.path)
        pos = 0  # index of the frame the next grab() returns
        last = None  # (index, frame) of the last frame yielded
        end = None  # frames decodable, once the stream ran out
        try:
            for k, w in enumerate(wanted):
                while pos < w and cap.grab():
                    pos += 1
                ok = pos == w and cap.grab()
                bgr = cap.retrieve()[1] if ok else None
                if bgr is None:
                    end = pos
                    rest = wanted[k:]
                    break
                pos += 1
                last = (w, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                yield last
            else:
                if pos == self.num_frames:
                    self.decoded = self.num_frames
                return
        finally:
            cap.release()
        # the stream ended before the header's count: repeat the last decodable frame
        self.decoded = end
        if end == 0:
            raise VideoReadError(f"cannot decode any frame of video {self.path} (corrupt?)")
        _report_once(
            self.path,
            "truncated",
            f"{self.path}: truncated video: the header promises {self.num_frames} "
            f"frames, {end} are decodable (frames {end}..{self.num_frames - 1} cannot be "
            "read; eval and predict leave out what needs them, training repeats the last)",
            TruncatedVideoWarning,
        )
        if last is None or last[0] != end - 1:
            last = (end - 1, self._frame_at(end - 1))
        for w in rest:
            yield w, last[1]

    def _frame_at(self, index: int) -> np.ndarray:
        """One frame by a second front-to-back pass (the truncated-file case only)."""
        import cv2

        cap = _open(self.path)
        try:
            for _ in range(index):
                if not cap.grab():
                    break
            ok = cap.grab()
            bgr = cap.retrieve()[1] if ok else None
        finally:
            cap.release()
        if bgr is None:
            raise VideoReadError(f"video {self.path} changed while it was read")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def read(self, indices=None) -> list[np.ndarray]:
        """RGB ``uint8 [H, W, 3]`` frames at ``indices`` (any order, repeats allowed; all
        frames when None), from one pass of :meth:`frames`."""
        indices = list(range(self.num_frames)) if indices is None else [int(i) for i in indices]
        got = dict(self.frames(indices))
        return [got[i] for i in indices]

    @property
    def short(self) -> bool:
        """True when a pass found fewer decodable frames than the header promised."""
        return self.decoded is not None and self.decoded < self.num_frames


def prefetched(iterator, depth: int = 4):
    """Run ``iterator`` (e.g. :meth:`VideoReader.frames`) in a background thread, ``depth``
    items ahead, so decoding (OpenCV releases the GIL) overlaps the consumer's work.
    Exceptions are re-raised in the consumer; closing the generator stops the thread."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in iterator:
                if not put((None, item)):
                    return
            put((None, end))
        except BaseException as e:  # handed to the consumer
            put((e, None))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None and stop.is_set():
                close()

    t = threading.Thread(target=work, name="fasfast-frames", daemon=True)
    t.start()
    try:
        while True:
            err, item = q.get()
            if err is not None:
                raise err
            if item is end:
                return
            yield item
    finally:
        stop.set()
        t.join()


def read_frames(path, indices=None) -> list[np.ndarray]:
    """Shortcut for ``VideoReader(path).read(indices)``."""
    return VideoReader(path).read(indices)


# FOURCC of write_video by file suffix (lossless FFV1 where the container takes it)
VIDEO_CODECS = {".avi": "FFV1", ".mkv": "FFV1", ".mp4": "mp4v"}


def write_video(path, frames, fps: float = 15.0, codec: str | None = None) -> Path:
    """Write RGB ``uint8 [H, W, 3]`` frames (any iterable, e.g. a ``[F, H, W, 3]`` array;
    streamed) to a video at ``fps`` frames per second. ``codec``: an OpenCV FOURCC; None picks
    it by suffix (:data:`VIDEO_CODECS`: .avi / .mkv lossless FFV1, .mp4 mp4v). Errors:
    ValueError (no frames, a frame of another shape or dtype, an unknown suffix without a
    codec), VideoReadError (no writer for the codec). The one video writer of fasfast."""
    import cv2

    path = Path(path)
    if codec is None:
        codec = VIDEO_CODECS.get(path.suffix.lower())
        if codec is None:
            raise ValueError(
                f"{path}: unsupported video suffix {path.suffix!r} (use "
                f"{', '.join(VIDEO_CODECS)}, or name a codec)"
            )
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError("write_video needs at least one frame")
    if first.ndim != 3:
        raise ValueError(f"frames must be uint8 [H, W, 3], got {first.dtype} {first.shape}")
    h, w = first.shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), float(fps), (w, h))
    if not writer.isOpened():
        raise VideoReadError(f"cannot open a {codec!r} video writer for {path}")
    try:
        for f in itertools.chain([first], it):
            if f.shape != (h, w, 3) or f.dtype != np.uint8:
                raise ValueError(f"all frames must be uint8 {h}x{w}x3, got {f.dtype} {f.shape}")
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
