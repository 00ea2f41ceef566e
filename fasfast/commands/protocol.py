"""``fasfast protocol``: train + evaluate every sub-protocol, mean +- std (Table II).

fasfast protocol oulu --root data/oulu --protocol 3 [train flags ...]
fasfast protocol uniattack --root data/uniattack --protocol p2 --model convnextv2_base
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fasfast.engine.config import add_train_arguments

    parser.add_argument("benchmark", choices=("oulu", "uniattack"), help="data set")
    parser.add_argument(
        "--method",
        default="acer_point",
        help="threshold method chosen on the select split (default acer_point)",
    )
    parser.add_argument(
        "--select-split", default=None, help="default: dev (OULU-NPU), train (UniAttackData)"
    )
    parser.add_argument(
        "--apply-split", default=None, help="default: test (OULU-NPU), dev (UniAttackData)"
    )
    parser.add_argument(
        "--subs",
        default=None,
        help="comma-separated sub-protocols to run (default: all of --protocol)",
    )
    parser.add_argument("--level", default="video", choices=("frame", "sequence", "video"))
    add_train_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from fasfast.engine.config import config_from_args
    from fasfast.engine.protocol import run_protocol

    cfg = config_from_args(args)
    cfg.dataset = args.benchmark
    subs = [s.strip() for s in args.subs.split(",")] if args.subs else None
    run_protocol(
        cfg,
        args.benchmark,
        cfg.protocol,
        cfg.out_dir,
        method=args.method,
        select_split=args.select_split,
        apply_split=args.apply_split,
        subs=subs,
        level=args.level,
        progress=cfg.progress,
    )
    return 0
