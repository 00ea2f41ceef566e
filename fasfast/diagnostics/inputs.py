"""Face-cropped sequences of one video, as EulerNet sees them (for Grad-CAM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["video_sequences"]


def video_sequences(video: str | Path, image_size: int, length: int = 4, interval: int = 3,
                    max_windows: int = 4) -> tuple[torch.Tensor, list[int]]:
    """Non-overlapping windows of a video -> ``(x [W, T, 3, S, S] float in [0, 1], starts)``.

    Uses :class:`fasfast.data.SequenceDataset` (the training crop: landmark file beside the
    video, else the dlib detector) when it is available; otherwise crops with
    :mod:`fasfast.data.crop` from the landmark file / detector directly.
    """
    video = Path(video)
    if not video.exists():
        raise FileNotFoundError(f"video not found: {video}")
    if max_windows < 1:
        raise ValueError(f"max_windows must be >= 1, got {max_windows}")
    try:
        from fasfast.data import Sample, SequenceDataset
    except ImportError:
        return _direct(video, image_size, length, interval, max_windows)
    sample = Sample(str(video), 0, "unknown", video.stem, "test", {})
    ds = SequenceDataset([sample], length=length, interval=interval, image_size=image_size,
                         map_size=max(1, image_size // 8), train=False)
    if len(ds) == 0:
        raise ValueError(f"{video} is too short for one window of {length} frames "
                         f"{interval} apart")
    items = [ds[i] for i in range(min(len(ds), max_windows))]
    x = torch.stack([it["frames"] for it in items]).float()
    starts = [int(it.get("window", i)) for i, it in enumerate(items)]
    return x, starts


def _direct(video: Path, image_size: int, length: int, interval: int, max_windows: int):
    from fasfast.data.crop import crop_image, landmark_box, square_box
    from fasfast.data.sequences import sample_sequences
    from fasfast.diagnostics.video import read_video
    from fasfast.labels.landmarks import LandmarkDetector, landmark_file_for, load_landmarks

    frames, _ = read_video(video)
    windows = sample_sequences(len(frames), length, interval)[:max_windows]
    if not windows:
        raise ValueError(f"{video} has {len(frames)} frames: too short for one window")
    lm_file = landmark_file_for(video)
    lms = load_landmarks(lm_file) if lm_file is not None else None
    det = None if lms is not None else LandmarkDetector()
    out = []
    box = None
    for w in windows:
        seq = []
        for i in w:
            lm = lms[i] if lms is not None else det.landmarks(frames[i])
            if lm is not None:
                box = square_box(landmark_box(lm), 1.3)
            if box is None:
                h, wd = frames[i].shape[:2]
                s = 0.8 * min(h, wd)
                box = ((wd - s) / 2, (h - s) / 2, (wd + s) / 2, (h + s) / 2)
            seq.append(crop_image(frames[i], box, image_size))
        out.append(np.stack(seq))
    x = torch.from_numpy(np.stack(out)).float().div(255.0).permute(0, 1, 4, 2, 3).contiguous()
    return x, [w[0] for w in windows]
