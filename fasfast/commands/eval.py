"""``fasfast eval``: score splits with a checkpoint, thresholds on dev applied to test."""

from __future__ import annotations

import argparse

from fasfast.commands._argtypes import add_loader_workers, int_at_least


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint",
        help="checkpoint (.pt) written by fasfast train, or any "
        "weights file the loader accepts (see --model)",
    )
    parser.add_argument(
        "--data-root", "--root", dest="data_root", required=True, help="data set root"
    )
    parser.add_argument("--dataset", default="oulu", choices=("oulu", "uniattack", "list"))
    parser.add_argument("--protocol", default="1")
    parser.add_argument(
        "--select-split", default="dev", help="split the thresholds are chosen on (default dev)"
    )
    parser.add_argument(
        "--apply-split",
        default="test",
        help="split they are applied to (default test; 'none' for none)",
    )
    parser.add_argument(
        "--level",
        default="video",
        choices=("frame", "sequence", "video"),
        help="score level of the thresholds and the report (default video)",
    )
    parser.add_argument("--out", default=None, help="output folder (default <ckpt dir>/eval)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=16)
    add_loader_workers(parser)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--limit", type=int, default=0, help="at most N videos per split")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument(
        "--center",
        default="balance",
        help="centre of the score domains (mean|median|balance|weighted_balance)",
    )
    parser.add_argument("--title", default=None)
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
    import sys
    from pathlib import Path

    from fasfast.data.dataset import NoReadableSamples
    from fasfast.data.report import one_line_warnings
    from fasfast.engine.data import EmptySplitError
    from fasfast.engine.evaluate import evaluate

    out = args.out or str(Path(args.checkpoint).resolve().parent / "eval")
    apply_split = None if str(args.apply_split).lower() == "none" else args.apply_split
    try:
        with one_line_warnings("fasfast eval"):
            summary = evaluate(
                args.checkpoint,
                args.data_root,
                args.protocol,
                args.select_split,
                apply_split,
                out,
                dataset=args.dataset,
                level=args.level,
                batch_size=args.batch_size,
                workers=args.workers,
                device=args.device,
                amp=args.amp,
                limit=args.limit,
                cache_dir=args.cache_dir,
                center=args.center,
                title=args.title,
                progress=not args.no_progress,
                model_name=args.model,
                image_size=args.image_size,
            )
    except NoReadableSamples as e:
        print(f"fasfast eval: error: nothing could be scored: {e}", file=sys.stderr)
        return 2
    except (EmptySplitError, FileNotFoundError) as e:  # a data root without videos
        print(f"fasfast eval: error: {e}", file=sys.stderr)
        return 2
    left = sum(len(v) for v in (summary.get("left_out") or {}).values())
    if left:
        print(
            f"left out {left} video(s) that could not be read: not replaced, no score (nan "
            f"rows in the score files), counted as non-responses (APNRR / BPNRR); listed in "
            f"{Path(out) / 'summary.json'}"
        )
    return 0
