"""``fasfast analyze`` (not implemented yet)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print("fasfast analyze: not implemented yet", file=sys.stderr)
    return 2
