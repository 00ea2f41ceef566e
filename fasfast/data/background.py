"""Face landmarks of videos computed in a background process while the caller does other
work (``fasfast predict`` imports torch and loads the model meanwhile).

On a 2-core machine ``fasfast predict VIDEO`` spends about as long importing torch and
loading the model as loading dlib's models and tracking the face through the video; run
one beside the other and the command takes the longer of the two instead of their sum.
The worker processes are forked before torch is imported (nothing of torch is inherited);
when torch is already imported the caller should not use this (see :func:`available`).
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from pathlib import Path

from fasfast.data.video import VIDEO_EXTS
from fasfast.labels.tracking import DetectSettings


def available() -> bool:
    """True while torch is not imported in this process (forking is then safe and cheap)."""
    return "torch" not in sys.modules and "fork" in mp.get_all_start_methods()


def video_inputs(inputs) -> list[str]:
    """The video files among ``inputs`` (files, or folders holding videos); others ignored."""
    out = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += [str(q) for q in sorted(p.iterdir())
                    if q.is_file() and q.suffix.lower() in VIDEO_EXTS]
        elif p.is_file() and p.suffix.lower() in VIDEO_EXTS:
            out.append(str(p))
    return out


def _job(path: str, length: int, interval: int, detect: DetectSettings):
    from fasfast.data.faces import iter_faces
    from fasfast.data.sequences import sample_sequences
    from fasfast.data.video import VideoReader
    from fasfast.labels.landmarks import landmark_file_for

    if landmark_file_for(path) is not None:
        return None  # the file beside the video is used
    reader = VideoReader(path)
    frames = sorted({i for w in sample_sequences(reader.num_frames, length, interval) for i in w})
    out = {}
    for f in iter_faces(reader, frames, size=8, detect=detect, landmarks=None):
        out[f.index] = None if not f.found else f.frame_landmarks
    return out


class BackgroundLandmarks:
    """Start tracking the faces of ``paths`` (the frames of EulerNet's windows: ``length``
    frames ``interval`` apart) in ``workers`` forked processes; :meth:`results` waits and
    returns ``{path: {frame index: landmarks [68, 2] or None}}`` (videos that failed or
    have a landmark file are left out: the normal path reports or reads them)."""

    def __init__(self, paths, *, length: int = 4, interval: int = 3,
                 detect: DetectSettings | None = None, workers: int = 1):
        self.paths = list(dict.fromkeys(map(str, paths)))
        self._pool = None
        self._jobs = {}
        if not self.paths:
            return
        ctx = mp.get_context("fork")
        self._pool = ctx.Pool(max(1, min(workers, len(self.paths))))
        detect = detect or DetectSettings()
        self._jobs = {p: self._pool.apply_async(_job, (p, length, interval, detect))
                      for p in self.paths}

    def results(self) -> dict:
        """Wait for every video and return what was found (see the class doc)."""
        out = {}
        for p, job in self._jobs.items():
            try:
                got = job.get()
            except Exception:  # noqa: BLE001 - the normal path reads it again and reports
                got = None
            if got is not None:
                out[p] = got
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None
        return out

    def close(self) -> None:
        """Stop the workers now (results not collected are dropped)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
