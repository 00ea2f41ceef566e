"""Reading frames: video files (OpenCV), image folders and single images, as RGB uint8.

:class:`VideoReader` decodes only what is needed: frames before a wanted index are
skipped with ``grab()`` (no colour conversion), wanted ones are ``retrieve()``-d. A
folder of images is a video whose frames are its image files in name order; a single
image is a one-frame video. Unreadable input raises :class:`VideoReadError` naming the
file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fasfast.data.protocols import IMAGE_EXTS


class VideoReadError(RuntimeError):
    """A video, image folder or image could not be read."""


def read_image(path) -> np.ndarray:
    """RGB ``uint8 [H, W, 3]`` of an image file (clear error when unreadable)."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"image not found: {path}")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise VideoReadError(f"cannot decode image {path} (corrupt or unsupported format)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())


class VideoReader:
    """Frames of a video file, image folder or image. ``num_frames``, ``fps``, ``read(ix)``."""

    def __init__(self, path):
        import cv2

        self.path = Path(path)
        self._files: list[Path] | None = None
        if self.path.is_dir():
            self._files = _image_files(self.path)
            if not self._files:
                raise VideoReadError(f"image folder has no images: {self.path}")
            self.num_frames, self.fps = len(self._files), 0.0
        elif self.path.suffix.lower() in IMAGE_EXTS:
            if not self.path.is_file():
                raise VideoReadError(f"image not found: {self.path}")
            self._files = [self.path]
            self.num_frames, self.fps = 1, 0.0
        else:
            if not self.path.is_file():
                raise VideoReadError(f"video not found: {self.path}")
            cap = cv2.VideoCapture(str(self.path))
            try:
                if not cap.isOpened():
                    raise VideoReadError(f"cannot open video {self.path} (corrupt or unsupported)")
                n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
                self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
                if n <= 0:  # some containers do not store the count: decode to count
                    n = 0
                    while cap.grab():
                        n += 1
                if n <= 0:
                    raise VideoReadError(f"video has no decodable frames: {self.path}")
                self.num_frames = n
            finally:
                cap.release()

    def __len__(self) -> int:
        return self.num_frames

    def read(self, indices=None) -> list[np.ndarray]:
        """RGB ``uint8 [H, W, 3]`` frames at ``indices`` (any order, repeats allowed; all
        frames when None). Indices past the real end of a video whose header over-counts
        get its last decodable frame; a video with no decodable frame raises."""
        import cv2

        if indices is None:
            indices = range(self.num_frames)
        indices = [int(i) for i in indices]
        for i in indices:
            if i < 0 or i >= self.num_frames:
                raise IndexError(f"frame {i} out of range for {self.path} ({self.num_frames} frames)")
        if self._files is not None:
            return [read_image(self._files[i]) for i in indices]
        wanted = sorted(set(indices))
        got: dict[int, np.ndarray] = {}
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise VideoReadError(f"cannot open video {self.path} (corrupt or unsupported)")
        try:
            pos, last = 0, None
            for w in wanted:
                ok = True
                while pos < w and ok:
                    ok = cap.grab()
                    pos += 1
                if ok:
                    ok = cap.grab()
                    pos += 1
                frame = None
                if ok:
                    ok, frame = cap.retrieve()
                if not ok or frame is None:
                    break
                last = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                got[w] = last
            if last is None:
                raise VideoReadError(f"cannot decode frames of video {self.path} (corrupt?)")
            for w in wanted:  # header promised more frames than the stream has
                if w not in got:
                    got[w] = last
                    self.short = True
        finally:
            cap.release()
        return [got[i] for i in indices]

    short = False


def read_frames(path, indices=None) -> list[np.ndarray]:
    """Shortcut for ``VideoReader(path).read(indices)``."""
    return VideoReader(path).read(indices)


def write_video(path, frames, fps: float = 15.0, codec: str = "FFV1") -> Path:
    """Write RGB ``uint8 [H, W, 3]`` frames to a video (default lossless FFV1 in .avi)."""
    import cv2

    frames = list(frames)
    if not frames:
        raise ValueError("write_video needs at least one frame")
    h, w = frames[0].shape[:2]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), float(fps), (w, h))
    if not writer.isOpened():
        raise VideoReadError(f"cannot open a {codec!r} video writer for {path}")
    try:
        for f in frames:
            if f.shape[:2] != (h, w) or f.dtype != np.uint8:
                raise ValueError(f"all frames must be uint8 {h}x{w}x3, got {f.dtype} {f.shape}")
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
