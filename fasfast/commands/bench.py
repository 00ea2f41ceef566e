"""``fasfast bench``: run the benchmark scripts of a source checkout and print their tables.

The benchmark scripts live in ``benchmarks/`` of the repository (they are not part of
the installed package): ``ops`` (DIIRF/FCAM and residual-pyramid operators vs eager and
``torch.compile``), ``train`` (a training step), ``analysis`` (score analysis vs
``np.sort`` / sklearn), ``eval`` (end-to-end evaluation throughput).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = {
    "ops": "ops_table.py",
    "train": "train_step.py",
    "analysis": "analysis_speed.py",
    "eval": "eval_throughput.py",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "suite",
        choices=[*SCRIPTS, "all"],
        nargs="?",
        default="all",
        help="which benchmark to run (default: all)",
    )
    parser.add_argument(
        "--benchmarks-dir",
        default=None,
        help="the repository's benchmarks/ folder (found automatically in a checkout)",
    )
    parser.add_argument(
        "extra",
        nargs=argparse.REMAINDER,
        help="arguments passed on to the script (after --), e.g. -- --device cuda",
    )


def find_benchmarks_dir(explicit: str | None = None) -> Path | None:
    if explicit:  # a folder the user named is the only candidate
        c = Path(explicit)
        return c if c.is_dir() and ((c / "RESULTS.md").exists() or any(c.glob("*.py"))) else None
    candidates = []
    candidates.append(Path(__file__).resolve().parents[2] / "benchmarks")
    candidates.append(Path.cwd() / "benchmarks")
    for c in candidates:
        if (c / "RESULTS.md").exists() or any(c.glob("*.py")):
            return c
    return None


def run(args: argparse.Namespace) -> int:
    bdir = find_benchmarks_dir(args.benchmarks_dir)
    if bdir is None:
        if args.benchmarks_dir:
            raise FileNotFoundError(
                f"--benchmarks-dir {args.benchmarks_dir} is not a folder of "
                "benchmark scripts (no RESULTS.md or *.py in it)"
            )
        raise FileNotFoundError(
            "no benchmarks/ folder found (they ship with the source, not "
            "the package): run from a source checkout or pass "
            "--benchmarks-dir"
        )
    extra = [a for a in (args.extra or []) if a != "--"]
    suites = list(SCRIPTS) if args.suite == "all" else [args.suite]
    status = 0
    for suite in suites:
        script = bdir / SCRIPTS[suite]
        if not script.exists():
            print(f"fasfast bench: error: {script} is missing; skipped", file=sys.stderr)
            status = 2
            continue
        print(f"== {suite}: {script.name}", flush=True)
        env = dict(os.environ)
        rc = subprocess.call([sys.executable, str(script), *extra], env=env, cwd=bdir.parent)
        status = status or rc
    return status
