"""Small video read / write helpers (OpenCV) used by the diagnostics commands."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["read_video", "write_video"]


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Decode a video file -> ``(frames [F, H, W, 3] uint8 RGB, fps)`` in one pass of
    :meth:`fasfast.data.video.VideoReader.frames` (a truncated file repeats its last
    decodable frame and is reported once). Errors: FileNotFoundError, ValueError."""
    from fasfast.data.video import VideoReader, VideoReadError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        reader = VideoReader(path)
        n = reader.num_frames if max_frames is None else min(reader.num_frames, int(max_frames))
        frames = [f for _, f in reader.frames(range(n))]
    except VideoReadError as e:
        raise ValueError(str(e)) from e
    if not frames:
        raise ValueError(f"no frames could be decoded from {path}")
    return np.stack(frames), reader.fps or 30.0


def write_video(path: str | Path, frames: np.ndarray, fps: float) -> Path:
    """Write ``frames [F, H, W, 3] uint8 RGB``; codec from the suffix (.avi MJPG, .mp4 mp4v)."""
    path = Path(path)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [F, H, W, 3], got {frames.dtype} {frames.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}.get(path.suffix.lower())
    if fourcc is None:
        raise ValueError(f"unsupported video suffix {path.suffix!r} (use .avi, .mp4 or .mkv)")
    h, w = frames.shape[1:3]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), (w, h))
    if not vw.isOpened():
        raise OSError(f"cannot open a video writer for {path}")
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()
    return path
