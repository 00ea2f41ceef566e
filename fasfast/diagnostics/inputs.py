"""Face-cropped sequences of one video, as EulerNet sees them (for Grad-CAM).

:func:`choose_windows` picks the windows ``fasfast explain`` explains. A window is ``length``
frames ``interval`` apart; the video is tiled with non-overlapping windows from frame 0
(window ``k`` starts at frame ``k * ((length - 1) * interval + 1)``, see
:mod:`fasfast.data.sequences`). By default (``window="auto"``) the first windows in which a
face was found in every frame and no crop is near-constant are chosen, so a clip that opens
on black frames (OpenCV's ``Megamind.avi``) is explained where the face is; ``window=K``
takes window ``K`` and the ones after it, as asked.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

__all__ = ["ExplainWindows", "choose_windows", "video_sequences", "FLAT_STD"]

FLAT_STD = 2 / 255  # a crop whose pixels vary less than this (std, [0, 1] units) is blank


@dataclass
class ExplainWindows:
    """The windows to explain: ``x`` float32 ``[W, T, 3, S, S]`` in [0, 1]; ``windows``
    (window numbers), ``frame_index`` (video frame of every crop), ``no_face`` (frames of
    each window without a detected face), ``flat`` bool ``[W, T]`` (near-constant crops),
    ``total`` (windows in the video) and ``choice`` (one line: how they were chosen)."""

    x: torch.Tensor
    windows: list[int]
    frame_index: list[list[int]]
    no_face: list[int]
    flat: np.ndarray
    total: int
    choice: str
    notes: list[str] = field(default_factory=list)


def _dataset(video: Path, image_size: int, length: int, interval: int):
    from fasfast.data import Sample, SequenceDataset

    sample = Sample(str(video), 0, "unknown", video.stem, "test", {})
    return SequenceDataset(
        [sample],
        length=length,
        interval=interval,
        image_size=image_size,
        map_size=max(1, image_size // 8),
        train=False,
    )


def _read(ds, video: Path, idx: list[int], keep_failed: bool = False) -> list[dict]:
    """Items ``idx`` of ``ds`` from one front-to-back pass over their frames; a frame that
    cannot be read (or a window past a truncated video's last decodable frame) is a
    VideoReadError naming the video (never a black or repeated stand-in), reported once;
    with ``keep_failed`` such items come back with their ``error`` instead."""
    ds.source.plan[str(video)] = sorted({i for k in idx for i in ds.index[k][2]})
    ds.source._memo = None
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        items = [ds[k] for k in idx]
    failed = next((it["error"] for it in items if it.get("error")), None)
    for w in seen:  # the dataset's own "left out" line would repeat the error below
        if not (failed and str(w.message).startswith("left out unreadable sample")):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if failed and not keep_failed:
        from fasfast.data.video import VideoReadError

        raise VideoReadError(_named(video, failed))
    return items


def _named(video: Path, reason: str) -> str:
    """``reason`` with the video's path in front unless it names it already."""
    return reason if str(video) in reason else f"{video}: {reason}"


def _flat(frames: torch.Tensor, flat_std: float) -> np.ndarray:
    """[T] bool: crops whose pixel std is below ``flat_std``."""
    return (frames.float().flatten(1).std(dim=1) < flat_std).numpy()


def choose_windows(
    video: str | Path,
    image_size: int,
    length: int = 4,
    interval: int = 3,
    count: int = 1,
    window: int | str = "auto",
    flat_std: float = FLAT_STD,
) -> ExplainWindows:
    """The ``count`` windows of ``video`` to explain (module doc).

    ``window="auto"``: the first ``count`` windows whose every frame has a face and a crop
    that is not near-constant, scanned front to back in passes over growing groups of
    windows (4, 8, 16, ...; it stops as soon as enough are found); when the video has fewer,
    the remaining ones are those with the most such frames, and ``choice`` says so.
    ``window=K`` (an int): windows ``K, K+1, ...`` (a ValueError naming ``--window`` when K
    is out of range). Crops as in :class:`fasfast.data.SequenceDataset`.
    """
    video = Path(video)
    if not video.exists():
        raise FileNotFoundError(f"video not found: {video}")
    if count < 1:
        raise ValueError(f"--windows must be >= 1, got {count}")
    ds = _dataset(video, image_size, length, interval)
    total = len(ds)
    span = (length - 1) * interval + 1
    if window != "auto":
        try:
            k = int(window)
        except (TypeError, ValueError):
            raise ValueError(
                f"--window must be 'auto' or a window number, got {window!r}"
            ) from None
        if not 0 <= k < total:
            raise ValueError(
                f"--window {k} is out of range: {video} has {total} window(s) of "
                f"{length} frames {interval} apart (0..{total - 1}; window k "
                f"starts at frame k * {span})"
            )
        idx = list(range(k, min(total, k + count)))
        items = _read(ds, video, idx)
        choice = f"window {k} as asked (--window {k})"
        return _still(_result(items, total, choice, flat_std), ds, video, length)
    good, seen, failed = _scan(ds, video, count, flat_std)
    if len(good) == count:
        chosen = good
        skipped = int(good[0]["window"])
        choice = (
            "the first window with a face in every frame"
            if count == 1
            else f"the first {count} windows with a face in every frame"
        )
        if skipped:
            choice += f" (windows 0..{skipped - 1} have frames without a face or blank)"
    else:
        chosen, choice = _fewer(good, seen, failed, count, total, length, flat_std)
    out = _result(chosen, total, choice, flat_std)
    if failed:
        out.notes.append(
            f"{len(failed)} window(s) {[int(it['window']) for it in failed]} of {video} "
            f"not explained, they cannot be read: {failed[0]['error']}"
        )
    return _still(out, ds, video, length)


def _still(out: ExplainWindows, ds, video: Path, length: int) -> ExplainWindows:
    """``out`` with a note when a temporal model (``length`` > 1) is shown a still image
    (one frame): each window repeats it, a still face without motion cues."""
    if length > 1 and ds.num_frames[0] == 1:
        out.notes.append(
            f"{video} is a still image (one frame): each window repeats it {length} times, "
            "so the temporal model sees no motion cue"
        )
    return out


def _scan(ds, video: Path, count: int, flat_std: float):
    """Windows read front to back in growing groups (4, 8, 16, ...) until ``count`` have a
    face in every frame and no near-constant crop -> ``(good, seen, failed)``: those, every
    readable window read, and the windows that cannot be read (e.g. past a truncated
    video's end); VideoReadError naming the video when none could be read."""
    good: list[dict] = []
    seen: list[dict] = []
    failed: list[dict] = []
    start, step = 0, 4
    while start < len(ds) and len(good) < count:
        idx = list(range(start, min(len(ds), start + step)))
        for it in _read(ds, video, idx, keep_failed=True):
            if it["error"]:
                failed.append(it)
                continue
            seen.append(it)
            if int(it["no_face"]) == 0 and not _flat(it["frames"], flat_std).any():
                good.append(it)
                if len(good) == count:
                    break
        start, step = start + step, step * 2
    if not seen:  # no window could be read: the first one's reason
        from fasfast.data.video import VideoReadError

        raise VideoReadError(_named(video, failed[0]["error"]))
    return good, seen, failed


def _fewer(good, seen, failed, count: int, total: int, length: int, flat_std: float):
    """(chosen, choice) when fewer than ``count`` windows are good: the good ones and the
    readable ones with the most frames with a face and a crop that is not blank."""

    def quality(it):
        return (
            length - int(it["no_face"]) - int(_flat(it["frames"], flat_std).sum()),
            -int(it["window"]),
        )

    rest = sorted((it for it in seen if all(it is not g for g in good)), key=quality, reverse=True)
    chosen = sorted(good + rest[: count - len(good)], key=lambda it: int(it["window"]))
    choice = f"only {len(good)} of the {total} windows have a face in every frame"
    if failed:
        choice = (
            f"only {len(seen)} of the {total} windows can be read, {len(good)} of "
            "them with a face in every frame"
        )
    if len(chosen) > len(good):
        choice += "; the others chosen have the most frames with one"
    return chosen, choice


def _result(items: list[dict], total: int, choice: str, flat_std: float) -> ExplainWindows:
    x = torch.stack([it["frames"] for it in items]).float()
    flat = np.stack([_flat(it["frames"], flat_std) for it in items])
    out = ExplainWindows(
        x=x,
        windows=[int(it["window"]) for it in items],
        frame_index=[[int(i) for i in it["frame_index"]] for it in items],
        no_face=[int(it["no_face"]) for it in items],
        flat=flat,
        total=total,
        choice=choice,
    )
    for it, f in zip(items, flat):
        frames = [int(i) for i in it["frame_index"]]
        if int(it["no_face"]):
            out.notes.append(
                f"window {int(it['window'])} (frames {frames}): no face found in "
                f"{int(it['no_face'])} of its {len(frames)} frames"
            )
        if f.any():
            out.notes.append(
                f"window {int(it['window'])}: frame(s) "
                f"{[frames[k] for k in np.flatnonzero(f)]} are near-constant "
                "(blank or black); their Grad-CAM maps mean nothing"
            )
    return out


def video_sequences(
    video: str | Path, image_size: int, length: int = 4, interval: int = 3, max_windows: int = 4
) -> tuple[torch.Tensor, list[int]]:
    """The first ``max_windows`` windows of a video, whatever they hold -> ``(x [W, T, 3, S,
    S] float in [0, 1], window numbers)`` (:func:`choose_windows` with ``window=0``)."""
    if max_windows < 1:
        raise ValueError(f"max_windows must be >= 1, got {max_windows}")
    w = choose_windows(video, image_size, length, interval, count=max_windows, window=0)
    return w.x, w.windows
