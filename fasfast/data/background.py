"""Face crops of videos computed in background processes while the caller does other work
(``fasfast predict`` imports torch and loads the model meanwhile).

On a 2-core machine ``fasfast predict VIDEO`` spends about as long importing torch (~1.7
CPU-s) as loading dlib's models (~1.2 CPU-s, the 100 MB shape predictor), and tracking
the face through the frames of EulerNet's windows takes about as long again. So:

1. one process is forked before torch is imported (nothing of torch is inherited); it
   loads dlib's models once;
2. it forks ``workers`` trackers that inherit the loaded models (no second load): the
   windows of each video are dealt in contiguous parts, one per tracker, each part
   tracked on its own (a cold detection at its first frame), so the face tracking uses the
   core that the torch import leaves free and then both cores;
3. each tracker makes the face crops of its frames too when the crop size is known
   beforehand (:func:`checkpoint_hint` reads it, with the window length and interval, from
   the checkpoint without torch), so the caller only runs the model.

:meth:`BackgroundFaces.results` waits for them (a blocking read of a pipe that the
background process writes as its trackers finish; the work itself runs in parallel). When torch is already
imported the caller should not use this (see :func:`available`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

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
            out += [
                str(q)
                for q in sorted(p.iterdir())
                if q.is_file() and q.suffix.lower() in VIDEO_EXTS
            ]
        elif p.is_file() and p.suffix.lower() in VIDEO_EXTS:
            out.append(str(p))
    return out


class _Stub:
    """Stands in for every torch object of a checkpoint read without torch."""

    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        return None

    def __setstate__(self, state):
        pass


class _NoTorch(pickle.Unpickler):
    _SAFE = {"builtins", "collections", "copyreg", "_codecs"}

    def find_class(self, module, name):
        if module.split(".")[0] in self._SAFE:
            return super().find_class(module, name)
        return _Stub

    def persistent_load(self, pid):
        return None


def checkpoint_hint(path) -> dict | None:
    """``{"kind", "frames", "interval", "image_size"}`` of a fasfast checkpoint, read without
    importing torch (the zip's ``data.pkl`` with every tensor left out), or None when the
    file is not such a checkpoint. A hint only: :func:`fasfast.engine.checkpoint.load_model`
    still reads and checks the file, and results made with a wrong hint are not used."""
    try:
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
            meta = _NoTorch(z.open(name)).load()
        mc, tc = meta["model_config"], meta.get("train_config") or {}
        return {
            "kind": str(meta["kind"]),
            "frames": int(mc.get("frames", 0)),
            "interval": int(tc.get("interval", 3)),
            "image_size": int(mc["image_size"]),
        }
    except Exception:  # noqa: BLE001 - no hint: the caller goes on without one
        return None


def _windows_frames(n: int, length: int, interval: int, parts: int) -> list[list[int]]:
    """The frames of the windows of an ``n``-frame video, in ``parts`` contiguous parts."""
    from fasfast.data.sequences import sample_sequences

    wins = sample_sequences(n, length, interval)
    k = max(1, min(parts, len(wins)))
    bounds = np.linspace(0, len(wins), k + 1).round().astype(int)
    return [sorted({i for w in wins[a:b] for i in w}) for a, b in zip(bounds[:-1], bounds[1:])]


def _part(path: str, frames: list[int], detect: DetectSettings, size: int | None, margin: float):
    """Landmarks (and crops when ``size``) of ``frames`` of one video; None when the video
    has a landmark file (the normal path reads it) or cannot be read (it reports why)."""
    from fasfast.data.faces import compute_entry
    from fasfast.labels.landmarks import landmark_file_for

    try:
        if landmark_file_for(path) is not None:
            return None
        entry, _ = compute_entry(
            path, frames, size=size or 8, margin=margin, detect=detect, landmarks=None, prefetch=0
        )
    except Exception:  # noqa: BLE001 - the normal path reads it again and reports
        return None
    if not size:
        entry = {"indices": entry["indices"], "frame_landmarks": entry["frame_landmarks"]}
    return entry


def _serve(conn, jobs, detect: DetectSettings, workers: int, size, margin, parent=None):
    """The background process: load dlib once, fork the trackers, pass results on. It and
    its trackers die with their parent (a killed ``fasfast predict`` leaves none running)."""
    import signal

    from fasfast.data._procs import die_with
    from fasfast.labels.landmarks import shared_detector

    die_with(parent)

    # terminate() (SIGTERM) unwinds: the trackers' pool below is ended with this process
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    from fasfast.data import video

    video.set_decode_threads(1)  # this process and its trackers: one core each
    shared_detector(upsample=detect.upsample, min_score=detect.min_score)
    ctx = mp.get_context("fork")
    if workers <= 1 or len(jobs) <= 1:
        for key, (path, frames) in jobs:
            conn.send((key, _part(path, frames, detect, size, margin)))
        return
    with ctx.Pool(min(workers, len(jobs)), initializer=die_with, initargs=(os.getpid(),)) as pool:
        pending = {
            key: pool.apply_async(_part, (path, frames, detect, size, margin))
            for key, (path, frames) in jobs
        }
        for key, job in pending.items():
            try:
                got = job.get()
            except Exception:  # noqa: BLE001
                got = None
            conn.send((key, got))


def _merge(parts: list[dict | None]) -> dict | None:
    """One entry from the parts of a video (None when any part failed). The frame counts
    (``num_frames``, ``decoded``) are kept: a part whose pass reached past the end of a
    truncated video found its decodable frames (the others' ``decoded`` is the header's
    count), so the smallest is the video's; evaluation refuses windows past it
    (:func:`fasfast.data.dataset._check_decodable`) instead of scoring repeated frames."""
    if not parts or any(p is None for p in parts):
        return None
    order = np.argsort(np.concatenate([p["indices"] for p in parts]), kind="stable")
    out = {
        k: np.concatenate([p[k] for p in parts])[order]
        for k in parts[0]
        if isinstance(parts[0][k], np.ndarray) and parts[0][k].ndim >= 1
    }
    if all("decoded" in p and "num_frames" in p for p in parts):
        out["num_frames"] = np.int64(parts[0]["num_frames"])
        out["decoded"] = np.int64(min(int(p["decoded"]) for p in parts))
    return out


class BackgroundFaces:
    """Track the faces of ``paths`` on the frames of EulerNet's windows (``length`` frames
    ``interval`` apart) in background processes (see the module doc); ``workers``: trackers
    (the windows of a video are split among them); ``size``: also make the face crops of
    that size (``margin`` as :class:`~fasfast.data.crop.FaceCropper`).

    :meth:`results` waits and returns ``{path: entry}`` with the entry of
    :func:`~fasfast.data.faces.compute_entry` (``indices``, ``frame_landmarks`` float32
    [F, 68, 2] frame pixels, NaN = no face; with ``size`` also ``crops``, ``landmarks``,
    ``found``, ``boxes``). Videos that failed or have a landmark file are left out: the
    normal path reads and reports them."""

    def __init__(
        self,
        paths,
        *,
        length: int = 4,
        interval: int = 3,
        detect: DetectSettings | None = None,
        workers: int = 1,
        size: int | None = None,
        margin: float = 1.3,
    ):
        from fasfast.data.video import VideoReader, VideoReadError

        self.paths = list(dict.fromkeys(map(str, paths)))
        self.size, self.margin = (int(size) if size else None), float(margin)
        self.length, self.interval = int(length), int(interval)
        self._proc = None
        self._parts: dict[str, int] = {}
        jobs = []
        for p in self.paths:
            try:
                n = VideoReader(p).num_frames
            except (VideoReadError, OSError, ValueError):
                continue  # the normal path reports it
            per = 1 if len(self.paths) >= workers else workers
            for k, frames in enumerate(_windows_frames(n, self.length, self.interval, per)):
                jobs.append(((p, k), (p, frames)))
                self._parts[p] = k + 1
        if not jobs:
            return
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe(duplex=False)  # one writer: the background process
        # not a daemon: it forks the trackers; close() ends it
        self._proc = ctx.Process(
            target=_serve,
            daemon=False,
            args=(
                child,
                jobs,
                detect or DetectSettings(),
                max(1, int(workers)),
                self.size,
                self.margin,
                os.getpid(),
            ),
        )
        # OpenCV at one thread in the forks (inherited; one thread per process): its pool
        # does not survive a fork, a child touching it (even to resize it) hangs
        import cv2

        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            self._proc.start()
        finally:
            cv2.setNumThreads(threads)
        child.close()
        self._jobs = len(jobs)

    def results(self) -> dict:
        """Wait for every video and return what was found (see the class doc)."""
        if self._proc is None:
            return {}
        got: dict[str, dict[int, dict | None]] = {}
        for _ in range(self._jobs):
            try:  # blocks until a result is sent; EOFError when the process died
                (path, k), entry = self._conn.recv()
            except (EOFError, OSError):
                break
            got.setdefault(path, {})[k] = entry
        self._proc.join(timeout=2.0)  # ending its pool; close() stops it if that hangs
        self.close()
        out = {}
        for p, n in self._parts.items():
            parts = got.get(p, {})
            entry = _merge([parts.get(k) for k in range(n)])
            if entry is not None:
                out[p] = entry
        return out

    def landmarks(self, results: dict) -> dict:
        """``{path: {frame index: [68, 2] or None}}`` of :meth:`results`' output."""
        out = {}
        for p, e in results.items():
            out[p] = {
                int(i): (None if not np.all(np.isfinite(lm)) else lm)
                for i, lm in zip(e["indices"], e["frame_landmarks"])
            }
        return out

    def close(self) -> None:
        """Stop the background work now (results not collected are dropped)."""
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.terminate()  # its pool's workers end with it (pool finaliser)
            self._proc.join()
            self._proc = None


BackgroundLandmarks = BackgroundFaces  # the name of the first version (landmarks only)
