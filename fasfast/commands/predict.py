"""``fasfast predict``: live-or-attack decisions with scores for unlabeled inputs."""

from __future__ import annotations

import argparse
import sys

from fasfast.commands._argtypes import add_loader_workers, int_at_least


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="videos, image folders (frames of one clip), folders of videos, or images",
    )
    parser.add_argument("--checkpoint", "-c", required=True, help="checkpoint (.pt)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="decision threshold (live iff score >= threshold)",
    )
    group.add_argument(
        "--threshold-from",
        default=None,
        metavar="REPORT",
        help="summary.json / table7.json of fasfast eval, or a report.json / "
        "report folder of fasfast analyze",
    )
    parser.add_argument(
        "--method",
        default="balance",
        help="which threshold of --threshold-from (default balance; e.g. acer_point, "
        "cross, fake_border, live_border)",
    )
    parser.add_argument(
        "--per-image", action="store_true", help="decide every image of an image folder on its own"
    )
    parser.add_argument("--out", "-o", default=None, help="write the decisions (.csv or .json)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=32)
    add_loader_workers(parser)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--cache-dir", default=None, help="face crop cache (the one fasfast prepare / train fill)"
    )
    parser.add_argument(
        "--exact",
        action="store_true",
        help="detect faces at full resolution on every frame (slow; default: tracked detection)",
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--model",
        default=None,
        metavar="NAME",
        help="for a weights file without a fasfast config (a plain state dict, "
        "safetensors): its model, a timm name or eulernet[:PRESET] (default: "
        "inferred from the file)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="input size of such a file's model (default: from the file)",
    )


def run(args: argparse.Namespace) -> int:
    from fasfast.data import background
    from fasfast.labels.tracking import DetectSettings

    detect = DetectSettings(mode="exact") if args.exact else None
    bg = None
    hint = background.checkpoint_hint(args.checkpoint) if background.available() else None
    if hint is not None and hint["kind"] == "eulernet" and args.cache_dir is None:
        # track the faces and crop them while torch and the model load
        bg = background.BackgroundFaces(
            background.video_inputs(args.inputs),
            length=hint["frames"],
            interval=hint["interval"],
            detect=detect,
            workers=max(1, args.workers),
            size=hint["image_size"],
        )
    try:
        from fasfast.engine.predict import format_predictions, predict, write_predictions

        preds = predict(
            args.inputs,
            args.checkpoint,
            threshold=args.threshold,
            threshold_from=args.threshold_from,
            method=args.method,
            per_image=args.per_image,
            batch_size=args.batch_size,
            workers=args.workers,
            device=args.device,
            progress=not args.no_progress,
            cache_dir=args.cache_dir,
            detect=detect,
            landmarks=bg,
            model_name=args.model,
            image_size=args.image_size,
        )
    finally:
        if bg is not None:
            bg.close()
    print(format_predictions(preds))
    for p in preds:  # why an input has no decision, under the table
        if p.decision == "error":
            print(f"error: {p.input}: {p.note}")
    if preds:
        # where the threshold came from: the note of a decided row (the others carry their
        # own reason: no face, an unreadable input)
        source = next((p.note for p in preds if p.decision in ("live", "attack")), None)
        suffix = "" if source is None else f": {source or 'given'}"
        print(f"threshold {preds[0].threshold:.4f}{suffix}")
    counts = {}
    for p in preds:
        counts[p.decision] = counts.get(p.decision, 0) + 1
    print("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    if args.out:
        print(f"written: {write_predictions(args.out, preds)}")
    # one exit rule for every bad input: 2 only when no input could be processed
    if preds and all(p.decision == "error" for p in preds):
        print("fasfast predict: error: no input could be processed", file=sys.stderr)
        return 2
    return 0
