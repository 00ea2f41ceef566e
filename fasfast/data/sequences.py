"""Frame sampling: sequences of ``length`` frames taken ``interval`` frames apart.

A window spans ``(length - 1) * interval + 1`` frames. :func:`sample_sequences` tiles a
video with consecutive, non-overlapping windows from frame 0 (the frames left over at
the end, fewer than one span, are not used): 30 frames, length 4, interval 3 ->
``[0,3,6,9], [10,13,16,19], [20,23,26,29]``.

A video shorter than one span gives ONE window whose indices are clamped to the last
frame (5 frames -> ``[0, 3, 4, 4]``): the sequence repeats its last frame, so every
video yields at least one sequence of the expected length.
"""

from __future__ import annotations

import numpy as np


def _check(num_frames: int, length: int, interval: int) -> int:
    if int(length) < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    if int(interval) < 1:
        raise ValueError(f"interval must be >= 1, got {interval}")
    if int(num_frames) < 1:
        raise ValueError(f"a video needs at least one frame, got num_frames={num_frames}")
    return (int(length) - 1) * int(interval) + 1


def window_span(length: int = 4, interval: int = 3) -> int:
    """Frames covered by one window."""
    return (int(length) - 1) * int(interval) + 1


def sample_sequences(num_frames: int, length: int = 4, interval: int = 3) -> list[list[int]]:
    """Non-overlapping windows of frame indices covering the video from frame 0."""
    span = _check(num_frames, length, interval)
    if num_frames < span:
        return [[min(i * interval, num_frames - 1) for i in range(length)]]
    return [
        [s + i * interval for i in range(length)] for s in range(0, num_frames - span + 1, span)
    ]


def random_sequence(num_frames: int, length: int = 4, interval: int = 3, rng=None) -> list[int]:
    """One window starting at a uniformly random frame (clamped when the video is short)."""
    span = _check(num_frames, length, interval)
    rng = np.random.default_rng(rng)
    start = int(rng.integers(0, num_frames - span + 1)) if num_frames >= span else 0
    return [min(start + i * interval, num_frames - 1) for i in range(length)]
