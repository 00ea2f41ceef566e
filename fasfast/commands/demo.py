"""``fasfast demo``: synthetic data -> train tiny EulerNet -> evaluate dev -> test -> report.

About 6-7 minutes on a 2-core CPU: ~1 min of data generation, up to 25 epochs of training
(it stops after the epoch that passes ``--time-limit`` seconds, so the demo stays under 10
minutes on slow machines), ~10 s of evaluation.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", default="fasfast-demo", help="output folder (default ./fasfast-demo)"
    )
    parser.add_argument("--subjects", type=int, default=None, help="synthetic subjects (>= 3)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per video")
    parser.add_argument("--video-size", type=int, default=None, help="synthetic frame size (px)")
    parser.add_argument("--image-size", type=int, default=None, help="EulerNet input size (px)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-steps", type=int, default=None, help="steps per epoch cap")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="stop training after the epoch that passes this many seconds",
    )
    parser.add_argument("--workers", "-j", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--regenerate", action="store_true", help="regenerate the data set")
    parser.add_argument(
        "--data-root",
        default=None,
        help="use this OULU-NPU-shaped data set instead of generating one",
    )
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from fasfast.engine.demo import DemoConfig, run_demo

    kw = {
        "out_dir": args.out,
        "progress": not args.no_progress,
        "regenerate": args.regenerate,
        "data_root": args.data_root,
    }
    for name in (
        "subjects",
        "seconds",
        "video_size",
        "image_size",
        "epochs",
        "batch_size",
        "max_steps",
        "time_limit",
        "workers",
        "seed",
    ):
        value = getattr(args, name)
        if value is not None:
            kw[name] = value
    run_demo(DemoConfig(**kw))
    return 0
