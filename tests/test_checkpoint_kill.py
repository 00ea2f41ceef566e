"""Consistent checkpoints after a kill at any point of the save sequence (issue 15, item 4):
last.pt, best.pt and log.csv are made consistent again on resume (best.pt recovered or
rebuilt, no epoch lost from the log, none twice)."""

from __future__ import annotations

import csv
import multiprocessing
import os
import subprocess
import sys

import pytest
import torch
from engine_support import IMAGE, WIDTHS, read_csv, tiny_data

from fasfast.engine import checkpoint as ck


def _model_state():
    from fasfast.models import EulerNet, EulerNetConfig

    m = EulerNet(EulerNetConfig.preset("tiny", image_size=16, widths=(4, 6, 4)))
    return m.config.to_dict(), m.state_dict()


def _state(epoch: int, best_epoch: int | None, history, cfg_state):
    config, weights = cfg_state
    row = {"epoch": epoch, "step": 2 * epoch, "train_loss": 1.0 / epoch}
    if epoch % 2 == 0 or epoch == 1:
        row["dev_acer"] = 0.5 / epoch
    hist = [*history, row]
    w = {k: v + epoch if v.is_floating_point() else v for k, v in weights.items()}
    return {
        "kind": "eulernet",
        "model_config": config,
        "model": w,
        "epoch": epoch,
        "step": 2 * epoch,
        "run_id": "run-a",
        "history": hist,
        "best_metrics": {} if best_epoch is None else {"epoch": best_epoch},
        "optimizer": {"state": {}, "param_groups": []},
    }


def _save_in_child(out, state, is_best, kill_at):
    os.environ[ck.KILL_ENV] = kill_at
    ck.save_epoch(out, state, is_best=is_best)
    os._exit(0)


def _killed_save(out, state, is_best, kill_at) -> int:
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_save_in_child, args=(out, state, is_best, kill_at))
    p.start()
    p.join(60)
    assert p.exitcode is not None, "the save did not finish"
    return p.exitcode


def _check_consistent(out):
    """What a resume sees after recover_run: best.pt of the best epoch (this run), log.csv
    = the history of last.pt, no best.pt.next, no temporary files."""
    last = ck.load_checkpoint(out / "last.pt")
    best, notes = ck.recover_run(out, last)
    hist_epochs = [str(r["epoch"]) for r in last["history"]]
    assert hist_epochs == [str(e) for e in range(1, last["epoch"] + 1)]
    assert [r["epoch"] for r in read_csv(out / "log.csv")] == hist_epochs
    assert best == last["best_metrics"]
    b = ck.load_checkpoint(out / "best.pt")
    assert b["epoch"] == best["epoch"] and b["run_id"] == last["run_id"]
    w = dict(b["model"])
    k = next(k for k, v in w.items() if v.is_floating_point())
    assert torch.equal(w[k], _STATE[1][k] + b["epoch"])  # the weights of that epoch
    assert not (out / "best.pt.next").exists()
    assert not list(out.glob("*.tmp"))
    return last, notes


_STATE = None


@pytest.fixture(scope="module")
def model_state():
    global _STATE
    _STATE = _model_state()
    return _STATE


# (epochs committed before, is the new epoch a best?) -> the save of epoch e is killed
SCENARIOS = {"first epoch": (0, True), "new best": (1, True), "not a best": (1, False)}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("step", ck.SAVE_STEPS)
def test_kill_at_every_step_of_the_save_sequence(tmp_path, model_state, scenario, step):
    done, is_best = SCENARIOS[scenario]
    out = tmp_path / "run"
    out.mkdir()
    history, best_epoch = [], None
    for e in range(1, done + 1):  # the epochs committed before (each a best)
        st = _state(e, e, history, model_state)
        ck.save_epoch(out, st, is_best=True)
        history, best_epoch = st["history"], e
    e = done + 1
    st = _state(e, e if is_best else best_epoch, history, model_state)
    code = _killed_save(out, st, is_best, f"{step}@{e}")
    reached = is_best or not step.startswith("best")
    assert code == (137 if reached else 0)
    if not (out / "last.pt").exists():  # killed before epoch 1 was committed: a fresh start
        assert done == 0 and step in ("best.pt.next-write", "best.pt.next", "last.pt-write")
        return
    last, _ = _check_consistent(out)
    committed = step not in ("best.pt.next-write", "best.pt.next", "last.pt-write")
    assert last["epoch"] == (e if committed or not reached else done)


def test_recover_rebuilds_a_deleted_best_and_resets_an_unrecoverable_one(tmp_path, model_state):
    out = tmp_path / "run"
    st1 = _state(1, 1, [], model_state)
    ck.save_epoch(out, st1, is_best=True)
    (out / "best.pt").unlink()
    (out / "log.csv").unlink()
    best, notes = ck.recover_run(out, ck.load_checkpoint(out / "last.pt"))
    assert best == {"epoch": 1} and ck.load_checkpoint(out / "best.pt")["epoch"] == 1
    assert "best.pt of epoch 1 rebuilt from last.pt" in notes
    assert "log.csv rewritten from last.pt (1 epochs)" in notes
    st2 = _state(2, 1, st1["history"], model_state)
    ck.save_epoch(out, st2, is_best=False)
    (out / "best.pt").unlink()
    best, notes = ck.recover_run(out, ck.load_checkpoint(out / "last.pt"))
    assert best is None and "cannot be rebuilt" in notes[0]
    # a best.pt of another run in the folder is not taken for this run's
    other = dict(st2, run_id="run-b", epoch=1)
    ck.save_checkpoint(out / "best.pt", other)
    st3 = _state(3, 3, st2["history"], model_state)
    ck.save_checkpoint(out / "last.pt", st3)  # as if killed before best.pt.next existed
    best, notes = ck.recover_run(out, ck.load_checkpoint(out / "last.pt"))
    assert best == {"epoch": 3} and notes[0] == "best.pt of epoch 3 rebuilt from last.pt"
    b = ck.load_checkpoint(out / "best.pt")
    assert b["run_id"] == "run-a" and b["epoch"] == 3 and "optimizer" not in b


def test_log_columns_may_differ_between_epochs(tmp_path):
    """eval_every > 1: rows without dev columns and rows with them share one header."""
    rows = [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5, "dev_acer": 0.1}]
    ck.write_log(tmp_path / "log.csv", rows)
    with open(tmp_path / "log.csv", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert list(got[0]) == ["epoch", "loss", "dev_acer"] and got[0]["dev_acer"] == ""
    assert got[1]["dev_acer"] == "0.1"


# ------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tiny_data(tmp_path_factory)


def _train_argv(root, out, epochs, cache):
    return [
        "train",
        "--root",
        str(root),
        "--protocol",
        "1",
        "--epochs",
        str(epochs),
        "--image-size",
        str(IMAGE),
        "--widths",
        ",".join(map(str, WIDTHS)),
        "--batch-size",
        "2",
        "--limit",
        "4",
        "--max-steps",
        "1",
        "--workers",
        "0",
        "--out",
        str(out),
        "--no-progress",
        "--no-tensorboard",
        "--lr",
        "1e-3",
        "--cache-dir",
        str(cache),
    ]


@pytest.mark.parametrize("kill_at", ["last.pt@1", "best.pt.next-write@1", "log.csv-write@2"])
def test_killed_training_resumes_to_a_consistent_run(root, tmp_path, capsys, kill_at):
    """The issue's case (a process killed while it writes best.pt in epoch 1, then
    --resume auto) and two more: the resumed run reports a best checkpoint that exists and
    belongs to its epoch, and log.csv holds every epoch once."""
    from fasfast.cli import main

    out, cache = tmp_path / "run", tmp_path / "cache"
    argv = _train_argv(root, out, 2, cache)
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", **{ck.KILL_ENV: kill_at})
    r = subprocess.run(
        [sys.executable, "-m", "fasfast", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 137, r.stdout[-2000:] + r.stderr[-2000:]
    capsys.readouterr()
    assert main(argv + ["--resume", "auto"]) == 0
    text = capsys.readouterr().out
    last = ck.load_checkpoint(out / "last.pt")
    assert last["epoch"] == 2
    assert [r["epoch"] for r in read_csv(out / "log.csv")] == ["1", "2"]
    best = ck.load_checkpoint(out / "best.pt")
    assert best["epoch"] == last["best_metrics"]["epoch"] and best["run_id"] == last["run_id"]
    assert f"best checkpoint: {out / 'best.pt'} (epoch {best['epoch']}," in text
    assert not (out / "best.pt.next").exists()
    if kill_at == "last.pt@1":
        assert "resume: best.pt of epoch 1 completed from best.pt.next" in text
        assert "resume: log.csv rewritten from last.pt (1 epochs)" in text
