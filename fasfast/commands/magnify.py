"""``fasfast magnify VIDEO --out FILE``: Eulerian video magnification of a clip.

The Laplacian-pyramid, temporal IIR band-pass method of Wu et al. (2012), as used in the
EulerNet paper (Fig. 1) to show the motion of live faces against print and replay attacks.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="input video (any format OpenCV reads)")
    parser.add_argument("--out", required=True, help="output video (.avi MJPG or .mp4)")
    parser.add_argument("--alpha", type=float, default=10.0, help="amplification (default 10)")
    parser.add_argument("--fl", type=float, default=0.4, help="low cut-off in Hz (default 0.4)")
    parser.add_argument("--fh", type=float, default=3.0, help="high cut-off in Hz (default 3.0)")
    parser.add_argument("--levels", type=int, default=4, help="Laplacian pyramid levels (4)")
    parser.add_argument(
        "--lambda-c",
        type=float,
        default=16.0,
        dest="lambda_c",
        help="cut-off spatial wavelength in pixels (16; <= 0: no attenuation)",
    )
    parser.add_argument(
        "--chroma",
        type=float,
        default=0.1,
        dest="chroma_attenuation",
        help="attenuation of the amplified colour channels (0.1)",
    )
    parser.add_argument(
        "--temporal",
        choices=("iir", "ideal"),
        default="iir",
        help="temporal band-pass: first-order IIR pair (default) or ideal FFT",
    )
    parser.add_argument("--fps", type=float, default=None, help="override the clip's frame rate")
    parser.add_argument("--max-frames", type=int, default=None, help="read at most N frames")
    parser.add_argument(
        "--side-by-side",
        default=None,
        metavar="FILE",
        help="also write input | magnified side by side to FILE",
    )
    parser.add_argument(
        "--keep-extremes",
        action="store_true",
        help="amplify the finest band and the low-pass residual too",
    )


def run(args: argparse.Namespace) -> int:
    from fasfast.diagnostics.magnify import magnify_video, side_by_side
    from fasfast.diagnostics.video import read_video, write_video

    frames, fps = read_video(args.video, args.max_frames)
    fps = args.fps or fps
    out = magnify_video(
        frames,
        fps,
        alpha=args.alpha,
        fl=args.fl,
        fh=args.fh,
        levels=args.levels,
        lambda_c=args.lambda_c,
        chroma_attenuation=args.chroma_attenuation,
        temporal=args.temporal,
        zero_extremes=not args.keep_extremes,
        progress=True,
    )
    path = write_video(args.out, out, fps)
    print(
        f"wrote {path} ({len(out)} frames at {fps:g} fps, alpha={args.alpha:g}, "
        f"band {args.fl:g}-{args.fh:g} Hz)"
    )
    if args.side_by_side:
        sbs = write_video(args.side_by_side, side_by_side(frames, out), fps)
        print(f"wrote {sbs}")
    return 0
