"""Checkpoints: atomic writes, safe loading, clear errors, crash safety, RNG state."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from fasfast.engine import checkpoint as ck
from fasfast.models import EulerNet, EulerNetConfig


def _model(widths=(4, 6, 4)):
    torch.manual_seed(0)
    return EulerNet(EulerNetConfig.preset("tiny", image_size=16, widths=widths))


def _save(path, model, epoch=1):
    return ck.save_checkpoint(path, {"kind": "eulernet", "model_config": model.config.to_dict(),
                                     "model": model.state_dict(), "epoch": epoch})


def test_roundtrip_load_model(tmp_path):
    m = _model()
    _save(tmp_path / "a.pt", m, epoch=3)
    assert not (tmp_path / "a.pt.tmp").exists()
    m2, meta = ck.load_model(tmp_path / "a.pt")
    assert meta["epoch"] == 3 and "model" not in meta and not m2.training
    x = torch.rand(2, 4, 3, 16, 16)
    m.eval()
    with torch.no_grad():
        torch.testing.assert_close(m2(x), m(x), rtol=0, atol=0)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        ck.load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "x.pt.tmp").write_bytes(b"partial")
    with pytest.raises(FileNotFoundError, match="interrupted while saving"):
        ck.load_checkpoint(tmp_path / "x.pt")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.02])
def test_truncated_file(tmp_path, keep):
    p = _save(tmp_path / "t.pt", _model())
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ck.CheckpointError, match="truncated or corrupt"):
        ck.load_checkpoint(p)


def test_empty_file(tmp_path):
    (tmp_path / "e.pt").write_bytes(b"")
    with pytest.raises(ck.CheckpointError, match="empty"):
        ck.load_checkpoint(tmp_path / "e.pt")


def test_foreign_files(tmp_path):
    torch.save({"weight": torch.ones(2)}, tmp_path / "sd.pt")
    with pytest.raises(ck.CheckpointError, match="not a fasfast checkpoint"):
        ck.load_checkpoint(tmp_path / "sd.pt")
    torch.save({"obj": _Custom()}, tmp_path / "pickle.pt")
    with pytest.raises(ck.CheckpointError, match="weights_only"):
        ck.load_checkpoint(tmp_path / "pickle.pt")


class _Custom:
    pass


def test_checkpoint_from_another_model(tmp_path):
    _save(tmp_path / "small.pt", _model((4, 6, 4)))
    other = _model((4, 8, 4))
    state = ck.load_checkpoint(tmp_path / "small.pt")["model"]
    with pytest.raises(ck.CheckpointError, match="another model.*shape mismatch"):
        ck.load_state_into(other, state, "small.pt")
    no_fcam = EulerNet(EulerNetConfig.preset("tiny", image_size=16, widths=(4, 6, 4),
                                             use_fcam=False))
    with pytest.raises(ck.CheckpointError, match="another model.*unexpected key"):
        ck.load_state_into(no_fcam, state, "small.pt")
    # a checkpoint whose stored config does not match its weights
    bad = ck.load_checkpoint(tmp_path / "small.pt")
    bad["model_config"]["widths"] = [4, 8, 4]
    ck.save_checkpoint(tmp_path / "bad.pt", bad)
    with pytest.raises(ck.CheckpointError, match="another model"):
        ck.load_model(tmp_path / "bad.pt")


def test_crash_between_tmp_write_and_rename_keeps_previous(tmp_path, monkeypatch):
    p = _save(tmp_path / "last.pt", _model(), epoch=1)

    def boom(src, dst):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(ck.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        _save(p, _model(), epoch=2)
    monkeypatch.undo()
    assert (tmp_path / "last.pt.tmp").exists()
    assert ck.load_checkpoint(p)["epoch"] == 1


_WRITER = r"""
import sys, torch
from fasfast.engine.checkpoint import save_checkpoint
path = sys.argv[1]
torch.manual_seed(0)
big = torch.randn(3_000_000)
for epoch in range(1, 10_000):
    save_checkpoint(path, {"kind": "eulernet", "model_config": {}, "model": {"w": big + epoch},
                           "epoch": epoch})
    print(epoch, flush=True)
"""


def test_killed_writer_leaves_last_complete_checkpoint(tmp_path):
    """SIGKILL a process that keeps rewriting its checkpoint: what is left under the real
    name is always a complete, readable checkpoint."""
    path = tmp_path / "last.pt"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "1"  # first checkpoint complete
        time.sleep(0.3 + random.random() * 0.4)  # now mid-way through a later write
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    ckpt = ck.load_checkpoint(path)
    assert ckpt["epoch"] >= 1
    torch.manual_seed(0)
    base = torch.randn(3_000_000)
    torch.testing.assert_close(ckpt["model"]["w"], base + ckpt["epoch"], rtol=0, atol=0)


def test_rng_state_roundtrip_and_weights_only(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    state = ck.rng_state()
    ck.save_checkpoint(tmp_path / "r.pt", {"kind": "eulernet", "model_config": {}, "model": {},
                                           "rng": state})
    want = (random.random(), np.random.rand(3), torch.rand(3))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    ck.set_rng_state(ck.load_checkpoint(tmp_path / "r.pt")["rng"])  # weights_only=True load
    got = (random.random(), np.random.rand(3), torch.rand(3))
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])
    torch.testing.assert_close(got[2], want[2], rtol=0, atol=0)
