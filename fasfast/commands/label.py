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
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="video file, image folder or image (several: one sub-folder each)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--size", type=int, default=256, help="crop side in pixels")
    parser.add_argument("--margin", type=float, default=1.3, help="box scale around the landmarks")
    parser.add_argument("--map-size", type=int, default=32, help="label map side")
    parser.add_argument("--kinds", default="location,depth",
                        help="label maps to write: location,binary,depth")
    parser.add_argument("--attack", action="store_true",
                        help="the input is an attack: maps are all zeros")
    parser.add_argument("--every", type=int, default=1, help="label every N-th frame")
    add_detect_arguments(parser, d)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_detect_arguments(parser: argparse.ArgumentParser, d) -> None:
    """The face-detection options shared by label and prepare."""
    parser.add_argument("--exact", action="store_true",
                        help="detect at full resolution on every frame (slow; default: "
                             "tracked detection)")
    parser.add_argument("--detect-size", type=int, default=d.detect_size, metavar="PX",
                        help=f"long side of the down-scaled copy the detector sees "
                             f"(default {d.detect_size}; 0 = full resolution)")
    parser.add_argument("--detect-every", type=int, default=d.every, metavar="K",
                        help=f"re-detect every K-th frame (default {d.every})")
    parser.add_argument("--upsample", type=int, default=d.upsample,
                        help=f"detector up-sampling for small faces (default {d.upsample})")


def detect_settings(args):
    """DetectSettings from the options of :func:`add_detect_arguments` (ValueError)."""
    from fasfast.labels.tracking import DetectSettings

    return DetectSettings(mode="exact" if args.exact else "tracked",
                          detect_size=args.detect_size, every=args.detect_every,
                          upsample=args.upsample)


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
    if args.size < 8 or args.map_size < 1 or not args.margin > 0:
        return _fail(f"--size must be >= 8, --map-size >= 1 and --margin > 0, got {args.size}, "
                     f"{args.map_size}, {args.margin}")
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
                print(f"{PROG}: skipped {item}: {describe_error(e)}", file=sys.stderr)
                skipped += 1
                continue
            done += 1
            skipped += n_skip
    if skipped:
        print(f"skipped {skipped} file(s) (see the messages above)")
    if not done:
        return _fail(f"nothing could be labelled ({len(args.inputs)} input(s), all skipped)")
    return 0


def label_one(item, out, args, kinds, detect) -> int:
    """Label one input into ``out``; returns the number of images of it that were skipped."""
    import json
    import time
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from tqdm import tqdm

    from fasfast.data.faces import iter_faces
    from fasfast.data.video import VideoReader
    from fasfast.labels.landmarks import save_landmarks, shared_detector

    reader = VideoReader(item)
    indices = list(range(0, reader.num_frames, args.every))
    pos = {i: k for k, i in enumerate(indices)}
    (out / "crops").mkdir(parents=True, exist_ok=True)
    (out / "maps").mkdir(parents=True, exist_ok=True)
    frame_lm = np.full((len(indices), 68, 2), np.nan, np.float32)
    crop_lm = np.zeros((len(indices), 68, 2), np.float32)
    done = np.zeros(len(indices), bool)
    no_face: list[int] = []
    stats: dict = {}
    # dlib's models load once per process (about a second), before the timed pass
    detector = shared_detector(upsample=detect.upsample, min_score=detect.min_score)
    t0 = time.perf_counter()
    # label maps and PNG encoding run in two threads beside the tracking
    with ThreadPoolExecutor(max_workers=2) as pool, \
            tqdm(total=len(indices), desc=f"label {_short_name(item)}", unit="frame",
                 disable=args.no_progress, dynamic_ncols=True) as bar:
        pending = []
        for f in iter_faces(reader, indices, size=args.size, margin=args.margin, detect=detect,
                            detector=detector, landmarks=None, stats=stats,
                            skip_unreadable=True):
            k = pos[f.index]
            done[k] = True
            frame_lm[k] = f.frame_landmarks
            crop_lm[k] = f.landmarks
            if not f.found:
                no_face.append(f.index)
            pending.append(pool.submit(_write_frame, out, f.index, f.crop, f.landmarks, kinds,
                                       args.map_size, not args.attack, args.size))
            if len(pending) > 32:
                for fut in pending:
                    fut.result()
                pending = []
            bar.update(1)
        for fut in pending:
            fut.result()
    seconds = time.perf_counter() - t0
    if not done.any():
        raise ValueError(f"no frame of {item} could be read")
    keep = np.flatnonzero(done)
    frame_lm, crop_lm = frame_lm[keep], crop_lm[keep]
    save_landmarks(out / "landmarks.npy", frame_lm)
    save_landmarks(out / "landmarks.json", frame_lm)
    np.save(out / "crop_landmarks.npy", crop_lm)
    no_face.sort()
    n = len(keep)
    summary = {"input": str(item), "frames": n, "frame_indices": [indices[k] for k in keep],
               "faces": n - len(no_face), "no_face": len(no_face),
               "no_face_frames": no_face[:1000], "skipped_files": reader.skipped,
               "size": args.size, "margin": args.margin, "map_size": args.map_size,
               "kinds": kinds, "live": not args.attack, "detect": detect.key(),
               "detections": stats.get("detections", 0), "seconds": round(seconds, 3),
               "frames_per_second": round(n / max(seconds, 1e-9), 2)}
    if reader.short:
        summary["decoded_frames"] = reader.decoded
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    nf = (f" (frames {no_face[:10]}{' ...' if len(no_face) > 10 else ''}; their crops reuse "
          "the nearest face box)") if no_face else ""
    print(f"labelled {n} frames of {item}: face in {summary['faces']}, no face in "
          f"{len(no_face)}{nf}; {summary['frames_per_second']:.1f} frames/s")
    print(f"wrote {out}")
    return len(reader.skipped)


def _short_name(item) -> str:
    from pathlib import Path

    return Path(item).name[:24]


def _write_frame(out, index: int, crop, landmarks, kinds, map_size: int, live: bool,
                 size: int) -> None:
    """The crop and the label maps of one frame as PNG (runs in a writer thread: OpenCV
    releases the GIL while it draws and encodes)."""
    import cv2
    import numpy as np

    from fasfast.labels.maps import make_label_map

    images = [(out / "crops" / f"{index:06d}.png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))]
    for kind in kinds:
        m = make_label_map(kind, landmarks, map_size, live, crop_size=size)
        images.append((out / "maps" / f"{kind}_{index:06d}.png",
                       np.rint(m * 255).astype(np.uint8)))
    for path, img in images:
        if not cv2.imwrite(str(path), img):
            raise OSError(f"cannot write {path}")
