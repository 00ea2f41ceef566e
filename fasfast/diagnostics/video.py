"""Whole-clip video reading for the diagnostics commands; writing is
:func:`fasfast.data.video.write_video` (re-exported here)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from fasfast.data.video import write_video

__all__ = ["read_video", "write_video"]


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Decode a video file -> ``(frames [F, H, W, 3] uint8 RGB, fps)`` in one pass of
    :meth:`fasfast.data.video.VideoReader.frames`. A truncated file (its header promises
    more frames than it holds) gives its decodable frames only, never the repeated last
    one the reader puts past the end, with one warning line (TruncatedVideoWarning).
    Errors: FileNotFoundError, ValueError."""
    from fasfast.data.video import TruncatedVideoWarning, VideoReader, VideoReadError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        reader = VideoReader(path)
        n = reader.num_frames if max_frames is None else min(reader.num_frames, int(max_frames))
        with warnings.catch_warnings():  # the reader's line is about eval and training
            warnings.simplefilter("ignore", TruncatedVideoWarning)
            frames = [f for _, f in reader.frames(range(n))]
    except VideoReadError as e:
        raise ValueError(str(e)) from e
    if reader.short:
        frames = frames[: reader.decoded]
        warnings.warn(
            f"{path}: truncated video: the header promises {reader.num_frames} frames, "
            f"{reader.decoded} are decodable; only those are read",
            TruncatedVideoWarning,
            stacklevel=2,
        )
    if not frames:
        raise ValueError(f"no frames could be decoded from {path}")
    return np.stack(frames), reader.fps or 30.0
