"""``fasfast synth``: generate a synthetic OULU-NPU-shaped face anti-spoofing data set."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument(
        "--subjects", type=int, default=6, help="number of users (>= 3; split 3:1:2)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each video")
    parser.add_argument("--fps", type=float, default=15.0, help="frames per second")
    parser.add_argument("--size", type=int, default=160, help="frame side in pixels")
    parser.add_argument(
        "--phones",
        type=int,
        default=1,
        help="capture devices (>= 2 adds the leave-one-phone-out Protocols 3, 4)",
    )
    parser.add_argument("--sessions", type=int, default=3, help="sessions (3 for Protocols 1, 4)")
    parser.add_argument(
        "--files",
        default="1,2,3,4,5,6",
        help="file types: 1 live, 2-3 print, 4-5 replay, 6 digital",
    )
    parser.add_argument(
        "--faces", default=None, help="folder of real face photos to use instead of drawn faces"
    )
    parser.add_argument(
        "--artefacts",
        type=float,
        default=1.0,
        help="difficulty knob: strength of the attacks' appearance cues, 0-2 "
        "(1 default; lower is harder; 0 leaves only the motion cues)",
    )
    parser.add_argument(
        "--recapture",
        type=float,
        default=0.0,
        help="detail the attacks' media lost before presentation (a print's / replay's "
        "source capture, a digital edit's re-encoding: blur and resampling), 0-2 "
        "(0 default: none)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import time

    from fasfast.data.protocols import oulu_npu, summarize
    from fasfast.data.synth import generate

    try:
        files = tuple(int(f) for f in str(args.files).split(",") if f.strip())
    except ValueError:
        raise ValueError(f"--files must be comma-separated integers, got {args.files!r}") from None
    t0 = time.perf_counter()
    root = generate(
        args.out,
        subjects=args.subjects,
        seed=args.seed,
        seconds=args.seconds,
        fps=args.fps,
        size=args.size,
        faces=args.faces,
        progress=not args.no_progress,
        phones=args.phones,
        sessions=args.sessions,
        files=files,
        artefacts=args.artefacts,
        recapture=args.recapture,
    )
    dt = time.perf_counter() - t0
    print(f"wrote {root} in {dt:.1f} s")
    empty = []
    for split in ("train", "dev", "test"):
        s = summarize(oulu_npu(root, "1", split))
        types = ", ".join(f"{k} {v}" for k, v in sorted(s["types"].items()))
        print(f"  Protocol 1 {split:5s}: {s['total']:4d} videos ({types})")
        if not s["total"]:
            empty.append(split)
    if empty:
        why = (
            "its test split is session 3 (OULU-NPU's rule): use --sessions 3"
            if empty == ["test"] and args.sessions < 3
            else "too few subjects or sessions"
        )
        print(
            f"fasfast synth: warning: Protocol 1 has no {' / '.join(empty)} videos in "
            f"{root}: {why}",
            file=sys.stderr,
        )
    return 0
