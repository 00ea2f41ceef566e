"""Fill the crop / landmark cache of a whole data set ahead of training and evaluation.

:func:`prepare` is the library side of ``fasfast prepare``: it lists the videos of every
split of a protocol (OULU-NPU, UniAttackData, a generic list, HySpeFAS), keeps this
shard's share, leaves out the videos whose entries are already in the cache, and runs
:func:`prepare_video` over the rest in worker processes. ``fasfast train`` / ``eval`` /
``predict`` / ``protocol`` with the same ``--cache-dir`` then read the entries instead of
decoding and detecting again (:class:`~fasfast.data.dataset.SequenceDataset` and
:class:`~fasfast.data.dataset.FrameDataset` use the same keys).

- **Resumable.** Each video's entries are written atomically when the video is done
  (:class:`~fasfast.data.cache.CropCache`), so a run killed at any point (``kill -9``
  included) leaves only whole entries and restarts with the videos that have none;
  temporary files of killed writers on this host are removed at the start.
- **Idempotent.** A second run finds every entry and does no work.
- **Sharded without coordination.** ``shard=(k, n)``: the sorted list of distinct video
  paths is dealt round-robin, shard ``k`` (0-based) takes ``paths[k::n]``; n machines (a
  SLURM array, torchrun ranks) each run one shard on the same cache folder.
- **Bad files** (unreadable, corrupt or zero-frame videos, malformed landmark files,
  videos without a landmark file when one is required) are skipped with one line naming
  the file and the problem; a video without any face is prepared (crops of the frame
  centre, ``found`` all False) and reported.

The detection settings are written to ``<cache>/settings.json``; datasets that read the
cache without their own settings use them, so entries prepared with ``--exact`` are found.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fasfast.data._procs import die_with
from fasfast.data.cache import CropCache, crops_key, landmarks_key
from fasfast.labels.landmarks import landmark_file_for
from fasfast.labels.tracking import DetectSettings

DATASETS = ("oulu", "uniattack", "list", "hyspefas")
SETTINGS_FILE = "settings.json"


class PrepareError(ValueError):
    """Nothing to prepare: bad shard spec, unknown data set, a data root without videos."""


def parse_shard(spec) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``0 <= K < N``; anything else raises PrepareError."""
    if spec is None or spec == "":
        return 0, 1
    text = str(spec)
    k, sep, n = text.partition("/")
    try:
        k_i, n_i = int(k), int(n)
    except ValueError:
        k_i = n_i = -1
    if not sep or n_i < 1 or not 0 <= k_i < n_i:
        raise PrepareError(
            f"--shard {text}: expected K/N with N >= 1 and 0 <= K < N "
            f"(K counts from 0: 0/4, 1/4, 2/4, 3/4)"
        )
    return k_i, n_i


def shard_paths(paths, shard: tuple[int, int]) -> list[str]:
    """This shard's share of the distinct ``paths``: ``sorted(set(paths))[k::n]``."""
    k, n = shard
    return sorted(set(map(str, paths)))[k::n]


def _split_list(root: Path, protocol: str, split: str) -> Path | None:
    for cand in (
        root / f"{split}.txt",
        root / f"{protocol}_{split}.txt",
        root / str(protocol) / f"{split}.txt",
    ):
        if cand.is_file():
            return cand
    return None


def dataset_samples(dataset: str, root, protocol: str, splits=("train", "dev", "test")):
    """Samples of every split of ``dataset`` under ``root`` (the readers of
    :mod:`fasfast.data.protocols`), and the notes about splits that have no list."""
    from fasfast.data import protocols as P

    if dataset not in DATASETS:
        raise PrepareError(f"unknown data set {dataset!r}: choose from {', '.join(DATASETS)}")
    root = Path(root)
    if root.is_file():
        raise PrepareError(
            f"data root {root} is a file, not a folder (give the data set's folder as --data-root)"
        )
    if not root.is_dir():
        raise PrepareError(f"data root not found: {root} (give --data-root)")
    samples, notes = [], []
    for split in splits:
        try:
            if dataset == "oulu":
                try:
                    got = P.oulu_npu(root, protocol=protocol, split=split)
                except FileNotFoundError as e:  # listed videos missing: note them, go on
                    got = P.oulu_npu(root, protocol=protocol, split=split, missing="skip")
                    notes.append(str(e))
            elif dataset == "uniattack":  # a missing file is skipped with its own line
                got = P.uniattack(root, protocol=protocol, split=split, check_files=False)
            else:
                lst = _split_list(root, protocol, split)
                if lst is None:
                    notes.append(f"no list file for split {split!r} under {root}")
                    continue
                got = (
                    P.path_label_list(lst, root=root, split=split, check_files=False)
                    if dataset == "list"
                    else P.hyspefas(lst, root=root, split=split, check_files=False)
                )
        except FileNotFoundError as e:
            notes.append(f"split {split!r}: {e}")
            continue
        samples += got
    if not samples:
        detail = "; ".join(notes) if notes else "the protocol lists no videos"
        raise PrepareError(
            f"no videos found under {root} for {dataset} protocol {protocol} ({detail})"
        )
    return samples, notes


@dataclass
class PrepareSettings:
    """What one video's entries depend on (besides the video and its landmark file)."""

    sizes: tuple[int, ...] = (128,)
    margin: float = 1.3
    crop: bool = True
    detect: DetectSettings = field(default_factory=DetectSettings)
    require_landmarks: bool = False

    def keys(self, path: str) -> tuple[list[str], str | None]:
        """(crop entry keys, landmark entry key or None when a landmark file is used)."""
        lmf = landmark_file_for(path)
        dkey = self.detect.key()
        crops = [
            crops_key(
                path, size=s, margin=self.margin, crop=self.crop, detect_key=dkey, landmark_file=lmf
            )
            for s in self.sizes
        ]
        lkey = None if lmf is not None or not self.crop else landmarks_key(path, dkey)
        return crops, lkey


def is_prepared(cache: CropCache, path: str, settings: PrepareSettings) -> bool:
    crops, _ = settings.keys(path)
    return all(cache.has(k) for k in crops)


def prepare_video(path: str, settings: PrepareSettings, cache_dir) -> dict:
    """Write the entries of one video; returns ``{"path", "status": "done" | "skipped",
    "frames", "no_face", "error", "warnings", "seconds"}`` (never raises for a bad file)."""
    from fasfast.data.faces import compute_entry
    from fasfast.data.report import describe_error
    from fasfast.data.video import DataWarning

    t0 = time.perf_counter()
    out = {
        "path": path,
        "status": "done",
        "frames": 0,
        "no_face": 0,
        "error": "",
        "warnings": [],
        "seconds": 0.0,
    }
    cache = CropCache(cache_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        try:
            if settings.require_landmarks and landmark_file_for(path) is None:
                raise FileNotFoundError(
                    f"{path}: no landmark file beside it (expected "
                    f"{Path(path).with_suffix('.landmarks.npy').name}; "
                    "--require-landmarks is set)"
                )
            crops, lkey = settings.keys(path)
            known = cache.get(lkey) if lkey is not None else None
            landmarks = known["frame_landmarks"] if known is not None else "file"
            for size, key in zip(settings.sizes, crops):
                if cache.has(key):
                    continue
                entry, st = compute_entry(
                    path,
                    size=size,
                    margin=settings.margin,
                    crop=settings.crop,
                    detect=settings.detect,
                    landmarks=landmarks,
                    prefetch=0,  # one worker = one core: no decoding thread beside it
                )
                if lkey is not None and known is None:
                    cache.put(lkey, frame_landmarks=entry["frame_landmarks"])
                    known = entry
                    landmarks = entry["frame_landmarks"]
                cache.put(key, **entry)
                out["frames"] = max(out["frames"], st["frames"])
                out["no_face"] = int((~entry["found"]).sum())
                if not entry["found"].any():
                    warnings.warn(
                        f"{path}: no face found in any of its {len(entry['found'])} "
                        "frames; its crops are the frame centre",
                        DataWarning,
                        stacklevel=2,
                    )
        except Exception as e:  # noqa: BLE001 - a bad file is reported, never fatal
            out["status"], out["error"] = "skipped", describe_error(e)
    out["warnings"] = [" ".join(str(w.message).split()) for w in caught]
    out["seconds"] = time.perf_counter() - t0
    return out


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a SLURM allocation)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _init_worker(threads: int | None, parent: int | None = None) -> None:
    """A worker process: ``threads`` OpenCV threads (None: leave OpenCV alone, as a forked
    worker must: it inherits one thread, and touching a pool that did not survive the fork
    hangs), one FFmpeg decoding thread per video, and (Linux) killed with its parent, so a
    ``kill -9`` of ``fasfast prepare`` leaves no worker running on (its unfinished entry is a
    temporary file the next run removes)."""
    from fasfast.data import video

    die_with(parent)
    if threads is not None:
        import cv2

        cv2.setNumThreads(threads)
    video.set_decode_threads(1)  # a worker is one core


def _work(job):
    path, settings, cache_dir = job
    return prepare_video(path, settings, cache_dir)


@dataclass
class PrepareResult:
    videos: int = 0  # this shard's distinct videos
    already: int = 0  # found complete in the cache
    done: int = 0
    skipped: list = field(default_factory=list)  # (path, error)
    no_face: list = field(default_factory=list)  # paths without any face
    frames: int = 0
    seconds: float = 0.0
    notes: list = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def prepare(
    samples,
    cache_dir,
    settings: PrepareSettings,
    *,
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    log=print,
    warn=None,
) -> PrepareResult:
    """Prepare this shard's share of ``samples`` (see the module doc). ``log(line)`` gets
    the summary lines, ``warn(line)`` one line per skipped file or data warning."""
    from tqdm import tqdm

    warn = warn or log
    # one worker = one core (as a SLURM task with --cpus-per-task=1 expects): one OpenCV
    # thread in each worker (see _run), no decoding thread beside it (prepare_video)
    cache = CropCache(cache_dir)
    stale = cache.clean_stale()
    if stale:
        log(f"removed {stale} temporary file(s) left by a killed run")
    write_settings(cache_dir, settings)
    paths = shard_paths([s.path for s in samples], shard)
    res = PrepareResult(videos=len(paths))
    todo = [p for p in paths if not is_prepared(cache, p, settings)]
    res.already = len(paths) - len(todo)
    if not todo:
        return res
    totals = _frame_counts(todo)
    t0 = time.perf_counter()
    # longest videos first: the last worker to finish waits on a short one (less idle tail)
    jobs = [(p, settings, str(cache_dir)) for p in sorted(todo, key=lambda p: -totals[p])]
    results = _run(jobs, workers, settings)
    bar = tqdm(
        total=sum(totals.values()),
        unit="frame",
        desc="prepare",
        disable=not progress,
        dynamic_ncols=True,
        smoothing=0.1,
    )
    try:
        for r in results:
            bar.update(totals.get(r["path"], 0))
            for w in r["warnings"]:
                warn(f"warning: {w}")
            if r["status"] == "done":
                res.done += 1
                res.frames += r["frames"]
                if r["frames"] and r["no_face"] >= r["frames"]:
                    res.no_face.append(r["path"])
            else:
                res.skipped.append((r["path"], r["error"]))
                warn(f"warning: skipped {r['path']}: {r['error']}")
            bar.set_postfix(
                videos=f"{res.done + len(res.skipped)}/{len(todo)}",
                skipped=len(res.skipped),
                refresh=False,
            )
    finally:
        bar.close()
    res.seconds = time.perf_counter() - t0
    return res


def _run(jobs, workers: int, settings: PrepareSettings):
    """Results of ``jobs`` in this process (``workers`` 1) or in ``workers`` processes.

    The processes are forked after this process has loaded dlib's models (when a video
    needs detection): they share the loaded models instead of each spending 1-2 CPU
    seconds loading its own, which on a small data set was most of the difference between
    ``--workers 1`` and ``--workers 2``. Each worker, the in-process one included, runs
    OpenCV on one thread and FFmpeg on one decoding thread per video, without a prefetching
    thread beside it: ``--workers N`` uses N cores. The pool is started before any thread
    exists in this process (the progress bar's monitor comes later). Without ``fork``
    (Windows, macOS default) the processes are spawned and load their own models."""
    if workers <= 1 or len(jobs) <= 1:
        return _in_process(jobs)
    import multiprocessing as mp

    fork = "fork" in mp.get_all_start_methods()
    if fork and settings.crop and any(landmark_file_for(j[0]) is None for j in jobs):
        from fasfast.labels.landmarks import shared_detector

        d = settings.detect
        shared_detector(upsample=d.upsample, min_score=d.min_score)  # inherited by the forks
    if not fork:
        pool = mp.get_context("spawn").Pool(
            workers, initializer=_init_worker, initargs=(1, os.getpid())
        )
        return _pooled(pool, jobs)
    import cv2

    # OpenCV's thread pool does not survive a fork (a child that touches it hangs): the
    # children are forked with one OpenCV thread, so they never use the pool
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        pool = mp.get_context("fork").Pool(
            workers, initializer=_init_worker, initargs=(None, os.getpid())
        )
    finally:
        cv2.setNumThreads(threads)
    return _pooled(pool, jobs)


def _in_process(jobs):
    """The jobs in this process, on one core: OpenCV's pool set to one thread and one FFmpeg
    decoding thread per video, for the run."""
    import cv2

    from fasfast.data.video import decode_threads

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with decode_threads(1):
            for job in jobs:
                yield _work(job)
    finally:
        cv2.setNumThreads(threads)


def _pooled(pool, jobs):
    with pool:
        yield from pool.imap_unordered(_work, jobs, chunksize=1)


def _frame_counts(paths) -> dict[str, int]:
    """Header frame counts (for the progress bar; 1 when a file cannot be opened: the
    worker reports why)."""
    from fasfast.data.video import VideoReader, VideoReadError

    out = {}
    for p in paths:
        try:
            out[p] = VideoReader(p).num_frames
        except (VideoReadError, OSError, ValueError):
            out[p] = 1
    return out


def write_settings(cache_dir, settings: PrepareSettings) -> Path:
    """Record the detection settings in ``<cache>/settings.json`` (atomically)."""
    f = Path(cache_dir) / SETTINGS_FILE
    f.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "detect": asdict(settings.detect),
        "margin": settings.margin,
        "sizes": list(settings.sizes),
        "crop": settings.crop,
    }
    tmp = f.with_name(f".{SETTINGS_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, f)
    return f


def cache_detect_settings(cache_dir) -> DetectSettings | None:
    """The detection settings ``fasfast prepare`` recorded in ``cache_dir`` (or None)."""
    f = Path(cache_dir) / SETTINGS_FILE
    try:
        data = json.loads(f.read_text())
        return DetectSettings(**data["detect"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
