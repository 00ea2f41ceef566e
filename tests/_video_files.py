"""Test media: small videos with known frames, truncated and broken files, and a counter
of OpenCV's decode calls. Not a test module."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def numbered_frames(n: int, size=(48, 64)) -> list[np.ndarray]:
    """``n`` RGB frames whose mean grey level encodes their index (``10 + 4 * i``)."""
    h, w = size
    out = []
    for i in range(n):
        f = np.full((h, w, 3), 10 + 4 * i, np.uint8)
        f[:, : w // 4, 0] = 255 - 4 * i  # some colour so the RGB order matters
        out.append(f)
    return out


def frame_number(frame: np.ndarray) -> int:
    """Inverse of :func:`numbered_frames` (robust to MJPG's loss)."""
    h, w = frame.shape[:2]
    return int(round((float(frame[:, w // 2 :, 1].mean()) - 10) / 4))


def write_numbered(path, n: int, codec: str = "MJPG") -> Path:
    from fasfast.data.video import write_video

    return write_video(path, numbered_frames(n), fps=10.0, codec=codec)


def truncate(path, keep: float) -> Path:
    """Cut ``path`` to ``keep`` of its bytes (a damaged download: header intact)."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * keep)])
    return Path(path)


class CountingCapture:
    """Wraps ``cv2.VideoCapture`` and counts opens, grabs and retrieves (class-wide)."""

    opens = grabs = retrieves = reads = 0

    def __init__(self, *args, **kw):
        import cv2

        type(self).opens += 1
        self._cap = self._real(*args, **kw) if hasattr(self, "_real") else cv2.VideoCapture(*args)

    @classmethod
    def reset(cls):
        cls.opens = cls.grabs = cls.retrieves = cls.reads = 0

    def grab(self):
        type(self).grabs += 1
        return self._cap.grab()

    def retrieve(self, *a):
        type(self).retrieves += 1
        return self._cap.retrieve(*a)

    def read(self, *a):
        type(self).reads += 1
        return self._cap.read(*a)

    def __getattr__(self, name):
        return getattr(self._cap, name)


def count_decodes(monkeypatch):
    """Install :class:`CountingCapture` in place of ``cv2.VideoCapture``; returns the class."""
    import cv2

    real = cv2.VideoCapture

    class Counter(CountingCapture):
        _real = staticmethod(real)

    Counter.reset()
    monkeypatch.setattr(cv2, "VideoCapture", Counter)
    return Counter
