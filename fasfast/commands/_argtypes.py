"""argparse ``type=`` checks shared by the commands: a bad value is refused while the command
line is parsed (before any file is read), in argparse's one line that names the option, e.g.
``fasfast predict: error: argument --batch-size: expected an integer >= 1, got 0`` (exit 2)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def int_at_least(lo: int) -> Callable[[str], int]:
    """An integer >= ``lo`` (``--batch-size``: 1, ``--seed``: 0)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo}, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo}, got {value}")
        return value

    parse.__name__ = f"int >= {lo}"
    return parse


def confidence_level(text: str) -> float:
    """0 (no intervals) or a confidence level in (0, 1), e.g. 0.95."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value == 0 or 0 < value < 1):
        raise argparse.ArgumentTypeError(
            f"expected a confidence level in (0, 1), e.g. 0.95, or 0 for no intervals, got {text!r}"
        )
    return value


def add_loader_workers(parser: argparse.ArgumentParser, default: int = 2) -> None:
    """``--workers/-j``: data loader processes for a command that scores videos
    (``eval``, ``predict``); 0 loads in this process, as in PyTorch's DataLoader."""
    parser.add_argument(
        "--workers",
        "-j",
        type=int_at_least(0),
        default=default,
        help=f"data loader processes (default {default}; 0 loads in this process)",
    )
