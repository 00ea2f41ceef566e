"""Shared helpers for the engine tests: ONE tiny synthetic data set per test session.

Not a test module (no ``test_`` prefix). ``tiny_data(tmp_path_factory)`` generates the
data set on first use and returns the same root afterwards (a marker file in pytest's
session base temp), so every engine test file shares it.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

SYNTH = dict(subjects=3, seed=0, seconds=1.4, fps=15.0, size=64, phones=1)
IMAGE = 32  # EulerNet input side in the tests (map 4x4)
WIDTHS = (8, 12, 8)


def tiny_data(tmp_path_factory) -> Path:
    """Root of the shared tiny OULU-NPU-shaped synthetic set (3 subjects, 21 frames)."""
    from fasfast.data import synth

    base = tmp_path_factory.getbasetemp()
    root = base / "engine_synth"
    done = base / "engine_synth.done"
    with open(base / "engine_synth.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            synth.generate(root, progress=False, **SYNTH)
            done.write_text("ok")
    return root


def tiny_config(root, out_dir, **overrides):
    """A TrainConfig for the tiny EulerNet on the tiny set (fast on 2 CPU cores)."""
    from fasfast.engine import TrainConfig

    kw = dict(
        model="eulernet",
        preset="tiny",
        image_size=IMAGE,
        widths=WIDTHS,
        dataset="oulu",
        data_root=str(root),
        protocol="1",
        epochs=1,
        batch_size=4,
        lr=1e-3,
        out_dir=str(out_dir),
        seed=0,
        workers=0,
        progress=False,
        tensorboard=False,
    )
    kw.update(overrides)
    return TrainConfig(**kw)


def read_csv(path):
    import csv

    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
