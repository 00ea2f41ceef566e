"""The ``fasfast`` command line.

Each sub-command lives in ``fasfast/commands/<name>.py`` with two functions:
``add_arguments(parser)`` and ``run(args) -> int``. Only the module of the command
being run is imported, so ``fasfast --help`` and ``fasfast --version`` are instant.
Command modules keep heavy imports (torch, numba, matplotlib) inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from fasfast import __version__

# name -> one-line help. Module: fasfast.commands.<name>.
COMMANDS: dict[str, str] = {
    "info": "torch version, whether fasfast._C loaded, its backends, CUDA usability",
    "demo": "synthetic data -> train tiny EulerNet -> evaluate dev->test -> report",
    "prepare": "fill the face crop / landmark cache of a data set (parallel, resumable, sharded)",
    "train": "train EulerNet or a ConvNeXt-V2 classifier (DDP via torchrun)",
    "eval": "score a split with a checkpoint, pick thresholds on dev, apply to test",
    "predict": "score unlabeled videos / image folders and print live-or-attack decisions",
    "protocol": "train + evaluate every sub-protocol (OULU-NPU, UniAttackData)",
    "analyze": "score-domain analysis and threshold selection on score files",
    "label": "detect faces + 68 landmarks, write crops, landmark files and label maps",
    "synth": "generate a synthetic OULU-NPU-shaped face anti-spoofing data set",
    "export": "export a checkpoint to ONNX or TorchScript",
    "bench": "run the operator / analysis benchmarks and print ratio tables",
    "reproduce": "reproduce the papers' experiments on synthetic data",
    "explain": "Grad-CAM overlays of the EulerNet stages for a video",
    "magnify": "Eulerian video magnification of a clip",
}


def _load(name: str):
    return importlib.import_module(f"fasfast.commands.{name}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fasfast",
        description="fasfast: fast face anti-spoofing toolkit for PyTorch.",
    )
    parser.add_argument("--version", action="version", version=f"fasfast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            _load(name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        command = None
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(_load(args.command).run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
