"""``fasfast label``: faces, 68 landmarks, crops and label maps for videos or image folders.

Each input is read once, front to back; faces are found by tracked detection (dlib's
detector on a down-scaled copy every few frames and when tracking is lost, the 68-point
predictor on every frame; ``--exact`` detects at full resolution on every frame). Writes
to ``--out`` (one sub-folder per input when there are several)::

    crops/000000.png ...         face crops (margin 1.3, square, --size pixels)
    landmarks.npy / .json        [F, 68, 2] in frame pixels (NaN / null: no face)
    crop_landmarks.npy           [F, 68, 2] in crop pixels
    maps/<kind>_000000.png ...   label maps (--map-size) for the chosen --kinds
    summary.json                 frames, faces found, frames without a face, skipped files

Bad input (a missing, corrupt or zero-frame video, an unreadable image of a folder) gets a
one-line message naming the file; the command goes on with the other files and ends with
a count of skipped files. Exit code 2 only when nothing could be labelled.
"""

from __future__ import annotations

import argparse
import sys

PROG = "fasfast label"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fasfast.labels.tracking import DetectSettings

    d = DetectSettings()
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="video file, image folder or image (several: one sub-folder each)",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--size", type=int, default=256, help="crop side in pixels")
    parser.add_argument("--margin", type=float, default=1.3, help="box scale around the landmarks")
    parser.add_argument("--map-size", type=int, default=32, help="label map side")
    parser.add_argument(
        "--kinds", default="location,depth", help="label maps to write: location,binary,depth"
    )
    parser.add_argument(
        "--attack", action="store_true", help="the input is an attack: maps are all zeros"
    )
    parser.add_argument("--every", type=int, default=1, help="label every N-th frame")
    add_detect_arguments(parser, d)
    parser.add_argument(
        "--workers",
        "-j",
        type=int,
        default=None,
        metavar="N",
        help="processes per video (default: the cores, at most 2; videos of "
        "fewer than 128 labelled frames use one): the frames are split "
        "into N contiguous parts, each tracked on its own",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_detect_arguments(parser: argparse.ArgumentParser, d) -> None:
    """The face-detection options shared by label and prepare."""
    parser.add_argument(
        "--exact",
        action="store_true",
        help="detect at full resolution on every frame (slow; default: tracked detection)",
    )
    parser.add_argument(
        "--detect-size",
        type=int,
        default=d.detect_size,
        metavar="PX",
        help=f"long side of the down-scaled copy the detector sees "
        f"(default {d.detect_size}; 0 = full resolution)",
    )
    parser.add_argument(
        "--detect-every",
        type=int,
        default=d.every,
        metavar="K",
        help=f"re-detect every K-th frame (default {d.every})",
    )
    parser.add_argument(
        "--upsample",
        type=int,
        default=d.upsample,
        help=f"detector up-sampling for small faces (default {d.upsample})",
    )


def detect_settings(args):
    """DetectSettings from the options of :func:`add_detect_arguments` (ValueError)."""
    from fasfast.labels.tracking import DetectSettings

    return DetectSettings(
        mode="exact" if args.exact else "tracked",
        detect_size=args.detect_size,
        every=args.detect_every,
        upsample=args.upsample,
    )


def _fail(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fasfast.data.report import one_line_warnings
    from fasfast.labels.maps import KINDS

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        return _fail(f"unknown map kind(s) {', '.join(bad)}: choose from {', '.join(KINDS)}")
    if args.every < 1:
        return _fail(f"--every must be >= 1, got {args.every}")
    if args.workers is not None and args.workers < 1:
        return _fail(f"--workers must be >= 1, got {args.workers}")
    if args.size < 8 or args.map_size < 1 or not args.margin > 0:
        return _fail(
            f"--size must be >= 8, --map-size >= 1 and --margin > 0, got {args.size}, "
            f"{args.map_size}, {args.margin}"
        )
    try:
        detect = detect_settings(args)
    except ValueError as e:
        return _fail(str(e))
    out = Path(args.out)
    several = len(args.inputs) > 1
    done = skipped = 0
    with one_line_warnings(PROG):
        for k, item in enumerate(args.inputs):
            dest = out / (f"{k:03d}_{Path(item).stem}" if several else "")
            try:
                n_skip = label_one(item, dest, args, kinds, detect)
            except Exception as e:  # noqa: BLE001 - one line per bad input, go on
                from fasfast.data.report import describe_error

                if not several:  # the one input: its problem is the error
                    return _fail(describe_error(e))
                print(f"{PROG}: warning: skipped {item}: {describe_error(e)}", file=sys.stderr)
                skipped += 1
                continue
            done += 1
            skipped += n_skip
    if skipped:
        print(f"skipped {skipped} file(s) (see the messages above)")
    if not done:
        return _fail(f"nothing could be labelled ({len(args.inputs)} input(s), all skipped)")
    return 0


# a video is split over processes only from this many labelled frames on
MIN_PARALLEL_FRAMES = 128


def label_one(item, out, args, kinds, detect) -> int:
    """Label one input into ``out``; returns the number of images of it that were skipped.

    With several workers (``--workers``; long videos) the frames are split into contiguous
    parts labelled in processes forked after dlib's models are loaded (they share them); each
    part is tracked on its own (a cold detection at its first frame)."""
    import json
    import os
    import time

    import numpy as np
    from tqdm import tqdm

    from fasfast.data.video import VideoReader
    from fasfast.labels.landmarks import save_landmarks, shared_detector

    reader = VideoReader(item)
    indices = list(range(0, reader.num_frames, args.every))
    (out / "crops").mkdir(parents=True, exist_ok=True)
    (out / "maps").mkdir(parents=True, exist_ok=True)
    workers = args.workers if getattr(args, "workers", None) else min(2, os.cpu_count() or 1)
    if len(indices) < MIN_PARALLEL_FRAMES and getattr(args, "workers", None) is None:
        workers = 1
    bounds = np.linspace(0, len(indices), max(1, min(workers, len(indices))) + 1).round()
    parts = [indices[int(a) : int(b)] for a, b in zip(bounds[:-1], bounds[1:])]
    # dlib's models load once per process (about a second), before the timed pass
    shared_detector(upsample=detect.upsample, min_score=detect.min_score)
    t0 = time.perf_counter()
    with tqdm(
        total=len(indices),
        desc=f"label {_short_name(item)}",
        unit="frame",
        disable=args.no_progress,
        dynamic_ncols=True,
    ) as bar:
        if len(parts) == 1:
            got = [_label_part(reader, out, args, kinds, detect, indices, bar.update)]
        else:
            got = _parallel(item, out, args, kinds, detect, parts, bar)
    seconds = time.perf_counter() - t0
    done = [i for g in got for i in g["indices"]]
    if not done:
        raise ValueError(f"no frame of {item} could be read")
    frame_lm = np.concatenate([g["frame_lm"] for g in got])
    crop_lm = np.concatenate([g["crop_lm"] for g in got])
    no_face = sorted(i for g in got for i in g["no_face"])
    skipped = sorted({f for g in got for f in g["skipped"]})
    save_landmarks(out / "landmarks.npy", frame_lm)
    save_landmarks(out / "landmarks.json", frame_lm)
    np.save(out / "crop_landmarks.npy", crop_lm)
    n = len(done)
    summary = {
        "input": str(item),
        "frames": n,
        "frame_indices": done,
        "faces": n - len(no_face),
        "no_face": len(no_face),
        "no_face_frames": no_face[:1000],
        "skipped_files": skipped,
        "size": args.size,
        "margin": args.margin,
        "map_size": args.map_size,
        "kinds": kinds,
        "live": not args.attack,
        "detect": detect.key(),
        "detections": sum(g["detections"] for g in got),
        "workers": len(parts),
        "seconds": round(seconds, 3),
        "frames_per_second": round(n / max(seconds, 1e-9), 2),
    }
    short = [g for g in got if g["decoded"] is not None]
    if short:
        summary["decoded_frames"] = max(g["decoded"] for g in short)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    nf = (
        (
            f" (frames {no_face[:10]}{' ...' if len(no_face) > 10 else ''}; their crops reuse "
            "the nearest face box)"
        )
        if no_face
        else ""
    )
    print(
        f"labelled {n} frames of {item}: face in {summary['faces']}, no face in "
        f"{len(no_face)}{nf}; {summary['frames_per_second']:.1f} frames/s"
    )
    print(f"wrote {out}")
    return len(skipped)


def _label_part(reader, out, args, kinds, detect, indices, tick) -> dict:
    """Label ``indices`` of ``reader`` (one pass; the crop and maps of each frame written by
    two threads beside the tracking): ``{"indices", "frame_lm", "crop_lm", "no_face",
    "detections", "skipped", "decoded"}``; ``tick(1)`` after each frame."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from fasfast.data.faces import iter_faces
    from fasfast.data.video import VideoReader
    from fasfast.labels.landmarks import shared_detector

    if not isinstance(reader, VideoReader):
        reader = VideoReader(reader)
    pos = {i: k for k, i in enumerate(indices)}
    frame_lm = np.full((len(indices), 68, 2), np.nan, np.float32)
    crop_lm = np.zeros((len(indices), 68, 2), np.float32)
    done = np.zeros(len(indices), bool)
    no_face: list[int] = []
    stats: dict = {}
    detector = shared_detector(upsample=detect.upsample, min_score=detect.min_score)
    # label maps and PNG encoding run in two threads beside the tracking
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = []
        for f in iter_faces(
            reader,
            indices,
            size=args.size,
            margin=args.margin,
            detect=detect,
            detector=detector,
            landmarks=None,
            stats=stats,
            skip_unreadable=True,
        ):
            k = pos[f.index]
            done[k] = True
            frame_lm[k] = f.frame_landmarks
            crop_lm[k] = f.landmarks
            if not f.found:
                no_face.append(f.index)
            pending.append(
                pool.submit(
                    _write_frame,
                    out,
                    f.index,
                    f.crop,
                    f.landmarks,
                    kinds,
                    args.map_size,
                    not args.attack,
                    args.size,
                )
            )
            if len(pending) > 32:
                for fut in pending:
                    fut.result()
                pending = []
            tick(1)
        for fut in pending:
            fut.result()
    keep = np.flatnonzero(done)
    return {
        "indices": [indices[k] for k in keep],
        "frame_lm": frame_lm[keep],
        "crop_lm": crop_lm[keep],
        "no_face": no_face,
        "detections": stats.get("detections", 0),
        "skipped": list(reader.skipped),
        "decoded": reader.decoded if reader.short else None,
    }


_SHARED: dict = {}  # what the forked part workers read (set before the fork)


def _part_job(k: int) -> dict:
    item, out, args, kinds, detect, parts, counter = _SHARED["job"]

    def tick(n):
        with counter.get_lock():
            counter.value += n

    return _label_part(item, out, args, kinds, detect, parts[k], tick)


def _parallel(item, out, args, kinds, detect, parts, bar) -> list[dict]:
    """:func:`_label_part` of each part in forked processes (OpenCV at one thread in them:
    its pool does not survive a fork); the bar follows a shared frame counter."""
    import multiprocessing as mp

    import cv2

    ctx = mp.get_context("fork")
    counter = ctx.Value("l", 0)
    _SHARED["job"] = (str(item), out, args, kinds, detect, parts, counter)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        pool = ctx.Pool(len(parts))
    finally:
        cv2.setNumThreads(threads)
        _SHARED.pop("job", None)
    with pool:
        res = pool.map_async(_part_job, range(len(parts)), chunksize=1)
        while not res.ready():
            res.wait(0.2)
            bar.update(counter.value - bar.n)
        got = res.get()
    bar.update(counter.value - bar.n)
    return got


def _short_name(item) -> str:
    from pathlib import Path

    return Path(item).name[:24]


def _write_frame(
    out, index: int, crop, landmarks, kinds, map_size: int, live: bool, size: int
) -> None:
    """The crop and the label maps of one frame as PNG (runs in a writer thread: OpenCV
    releases the GIL while it draws and encodes)."""
    import cv2
    import numpy as np

    from fasfast.labels.maps import make_label_map

    images = [(out / "crops" / f"{index:06d}.png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))]
    for kind in kinds:
        m = make_label_map(kind, landmarks, map_size, live, crop_size=size)
        images.append((out / "maps" / f"{kind}_{index:06d}.png", np.rint(m * 255).astype(np.uint8)))
    for path, img in images:
        if not cv2.imwrite(str(path), img):
            raise OSError(f"cannot write {path}")
