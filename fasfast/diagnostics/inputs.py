"""Face-cropped sequences of one video, as EulerNet sees them (for Grad-CAM)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

__all__ = ["video_sequences"]


def video_sequences(video: str | Path, image_size: int, length: int = 4, interval: int = 3,
                    max_windows: int = 4) -> tuple[torch.Tensor, list[int]]:
    """Non-overlapping windows of a video -> ``(x [W, T, 3, S, S] float in [0, 1], starts)``.

    The crops are those of :class:`fasfast.data.SequenceDataset` (the training crop: the
    landmark file beside the video, else tracked dlib detection), made in one front-to-back
    pass over the frames of the first ``max_windows`` windows.
    """
    video = Path(video)
    if not video.exists():
        raise FileNotFoundError(f"video not found: {video}")
    if max_windows < 1:
        raise ValueError(f"max_windows must be >= 1, got {max_windows}")
    from fasfast.data import Sample, SequenceDataset

    sample = Sample(str(video), 0, "unknown", video.stem, "test", {})
    ds = SequenceDataset([sample], length=length, interval=interval, image_size=image_size,
                         map_size=max(1, image_size // 8), train=False)
    wanted = ds.index[:max_windows]  # one pass over the frames of these windows only
    ds.source.plan[str(video)] = sorted({i for _, _, w in wanted for i in w})
    if len(ds) == 0:
        raise ValueError(f"{video} is too short for one window of {length} frames "
                         f"{interval} apart")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        items = [ds[i] for i in range(min(len(ds), max_windows))]
    failed = next((it["error"] for it in items if it.get("error")), None)
    for w in seen:  # the dataset's own "leaving out" line would repeat the error below
        if not (failed and str(w.message).startswith("leaving out unreadable sample")):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if failed:  # a frame that cannot be read: the error, never a black stand-in
        from fasfast.data.video import VideoReadError

        raise VideoReadError(failed)
    x = torch.stack([it["frames"] for it in items]).float()
    starts = [int(it.get("window", i)) for i, it in enumerate(items)]
    return x, starts
