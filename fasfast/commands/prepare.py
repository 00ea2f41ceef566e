"""``fasfast prepare``: fill the crop / landmark cache of a whole data set.

    fasfast prepare --dataset oulu --data-root data/oulu --protocol 1 --cache-dir cache -j 8
    fasfast train --data-root data/oulu --protocol 1 --cache-dir cache ...

Processes over videos, a progress bar with frames/s and ETA, resumable after a kill,
idempotent, ``--shard K/N`` for N machines on one cache folder (see
:mod:`fasfast.data.prepare`). One line per skipped file; exit code 2 only when nothing
could be prepared.
"""

from __future__ import annotations

import argparse
import sys

PROG = "fasfast prepare"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fasfast.commands.label import add_detect_arguments
    from fasfast.data.prepare import DATASETS
    from fasfast.labels.tracking import DetectSettings

    parser.add_argument("--dataset", default="oulu", choices=DATASETS, help="protocol reader")
    parser.add_argument(
        "--data-root", "--root", dest="data_root", required=True, help="data set root"
    )
    parser.add_argument(
        "--protocol",
        default="1",
        help="protocol (OULU-NPU 1, 2, 3_k, 4_k; UniAttackData p1, p2.1, "
        "p2.2; list / hyspefas: the list files' prefix)",
    )
    parser.add_argument(
        "--splits", default="train,dev,test", help="splits to prepare (default train,dev,test)"
    )
    parser.add_argument(
        "--cache-dir",
        required=True,
        help="cache folder (give the same --cache-dir to train / eval / predict / protocol)",
    )
    parser.add_argument(
        "--size",
        default="128",
        help="crop side(s) in pixels, comma-separated (default 128, the "
        "tiny EulerNet; 256 for the paper's EulerNet, 224 for ConvNeXt)",
    )
    parser.add_argument("--margin", type=float, default=1.3, help="box scale around the face")
    parser.add_argument(
        "--no-crop",
        action="store_true",
        help="resize whole images instead of cropping faces (HySpeFAS: "
        "already face crops; the default for --dataset hyspefas)",
    )
    parser.add_argument(
        "--require-landmarks",
        action="store_true",
        help="skip videos without a landmark file beside them instead of detecting faces",
    )
    add_detect_arguments(parser, DetectSettings())
    parser.add_argument(
        "--workers",
        "-j",
        type=int,
        default=None,
        help="processes, one video and one core each (default: the cores this process may "
        "use; 1 runs in this process)",
    )
    parser.add_argument(
        "--shard",
        default="0/1",
        metavar="K/N",
        help="prepare only shard K of N (K counts from 0), e.g. "
        "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _fail(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from fasfast.commands.label import detect_settings
    from fasfast.data.prepare import (
        PrepareError,
        PrepareSettings,
        available_cores,
        dataset_samples,
        parse_shard,
        prepare,
    )

    try:
        shard = parse_shard(args.shard)
        sizes = tuple(int(s) for s in str(args.size).split(",") if s.strip())
        if not sizes or min(sizes) < 8:
            raise PrepareError(
                f"--size {args.size}: expected sizes >= 8 pixels, e.g. 128 or 128,256"
            )
        if args.workers is None:
            args.workers = available_cores()
        if args.workers < 1:
            raise PrepareError(f"--workers must be >= 1, got {args.workers}")
        detect = detect_settings(args)
        splits = [s.strip() for s in args.splits.split(",") if s.strip()]
        samples, notes = dataset_samples(args.dataset, args.data_root, args.protocol, splits)
    except (PrepareError, ValueError) as e:
        return _fail(str(e))
    try:
        Path(args.cache_dir).mkdir(parents=True, exist_ok=True)
        probe = Path(args.cache_dir) / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return _fail(
            f"cannot write to the cache folder {args.cache_dir}: {e.strerror or e}; "
            "give a writable --cache-dir"
        )
    crop = not (args.no_crop or args.dataset == "hyspefas")
    settings = PrepareSettings(
        sizes=sizes,
        margin=args.margin,
        crop=crop,
        detect=detect,
        require_landmarks=args.require_landmarks,
    )

    def warn(line: str) -> None:
        print(f"{PROG}: {line}", file=sys.stderr, flush=True)

    for n in notes:
        warn(f"note: {n}")
    res = prepare(
        samples,
        args.cache_dir,
        settings,
        workers=args.workers,
        shard=shard,
        progress=not args.no_progress,
        warn=warn,
    )
    k, n = shard
    where = f"shard {k}/{n}: " if n > 1 else ""
    if res.done == 0 and not res.skipped:
        print(f"{where}all {res.videos} videos are already in {args.cache_dir}; nothing to do")
        return 0
    print(
        f"{where}prepared {res.done} of {res.videos} videos ({res.frames} frames in "
        f"{res.seconds:.1f} s, {res.frames_per_second:.1f} frames/s, {args.workers} "
        f"worker(s)); {res.already} already in the cache; {len(res.skipped)} skipped"
        + (f"; {len(res.no_face)} without any face" if res.no_face else "")
    )
    print(f"cache: {args.cache_dir}")
    if res.skipped and res.done == 0 and res.already == 0:
        return _fail(
            f"nothing could be prepared: all {len(res.skipped)} videos were skipped "
            "(see the messages above)"
        )
    return 0
