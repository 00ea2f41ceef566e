"""Resume checks the run (issue 15, item 3): the checkpoint records the plan; a changed
setting is carried through (the schedule re-planned, said in one line) or refused in one
line naming it. The learning rate of every optimizer step is compared."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch
from engine_support import IMAGE, WIDTHS, read_csv, tiny_config, tiny_data

from fasfast.engine.schedule import (
    LrLambda,
    ResumeError,
    RunPlan,
    build_scheduler,
    compare_plans,
    resume_scheduler,
)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tiny_data(tmp_path_factory)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("resume_cache")


def _cfg(root, out, cache_dir=None, **kw):
    """4 training videos in batches of 2 (2 steps per epoch), dev scored at the last epoch
    only, crops from a shared cache."""
    base = dict(
        schedule="cosine",
        warmup_epochs=0.0,
        lr=1e-3,
        limit=4,
        batch_size=2,
        hflip=False,
        eval_every=100,
        cache_dir=str(cache_dir) if cache_dir else None,
    )
    base.update(kw)
    return tiny_config(root, out, **base)


def test_stop_and_resume_follows_the_uninterrupted_lr_curve(root, cache, tmp_path):
    """Same settings: the lr of every step of 1 epoch + resume to 3 equals the uninterrupted
    3-epoch run's (a cosine with one epoch of warm-up)."""
    from fasfast.engine import train

    kw = dict(epochs=3, warmup_epochs=1.0)
    full = train(_cfg(root, cache_dir=cache, out=tmp_path / "full", **kw))
    first = train(_cfg(root, cache_dir=cache, out=tmp_path / "split", **{**kw, "epochs": 1}))
    rest = train(_cfg(root, cache_dir=cache, out=tmp_path / "split", resume="auto", **kw))
    spe = len(first.lrs)
    assert spe >= 2 and len(full.lrs) == 3 * spe and rest.start_epoch == 1
    f = LrLambda("cosine", warmup=spe, total=3 * spe)
    assert full.lrs == pytest.approx([1e-3 * f(k) for k in range(3 * spe)], rel=1e-12)
    # the first part ran the 1-epoch plan; resumed at epoch 2 of the 3-epoch plan, the curve
    # is the uninterrupted one (warm-up ends with epoch 1 in both)
    assert first.lrs == pytest.approx(full.lrs[:spe], rel=1e-12)
    assert rest.lrs == pytest.approx(full.lrs[spe:], rel=1e-12)
    for a, b in zip(full.history, rest.history):
        assert a["lr"] == pytest.approx(b["lr"], rel=1e-12)


def test_more_epochs_on_resume_replans_the_schedule(root, cache, tmp_path, capsys):
    """The issue's case: cosine with --epochs 1, then --resume auto --epochs 3. Epochs 2 and
    3 run on the 3-epoch cosine (7.5e-4 and 2.6e-4 at their first steps), not at the 1e-5
    floor of the 1-epoch plan; one line says so."""
    from fasfast.engine import train

    once = train(_cfg(root, cache_dir=cache, out=tmp_path / "r", epochs=1))
    spe = len(once.lrs)
    assert once.history[-1]["lr"] == pytest.approx(1e-5)  # the 1-epoch plan ended at its floor
    capsys.readouterr()
    more = train(_cfg(root, cache_dir=cache, out=tmp_path / "r", epochs=3, resume="auto"))
    out = capsys.readouterr().out
    lines = [x for x in out.splitlines() if x.startswith("resume: epochs 1 -> 3")]
    assert len(lines) == 1, out
    assert (
        f"the cosine schedule is re-planned for 3 epochs of {spe} steps and continues at "
        f"epoch 2 (step {spe} of {3 * spe}, lr 0.000752)"
    ) in lines[0]
    f = LrLambda("cosine", warmup=0, total=3 * spe)
    assert more.lrs == pytest.approx([1e-3 * f(k) for k in range(spe, 3 * spe)], rel=1e-12)
    assert more.lrs[0] == pytest.approx(7.525e-4) and more.lrs[spe] == pytest.approx(2.575e-4)
    uninterrupted = train(_cfg(root, cache_dir=cache, out=tmp_path / "u", epochs=3))
    assert more.lrs == pytest.approx(uninterrupted.lrs[spe:], rel=1e-12)
    log = read_csv(tmp_path / "r" / "log.csv")
    assert [r["epoch"] for r in log] == ["1", "2", "3"]


def test_fewer_epochs_than_done_says_only_nothing_left(root, cache, tmp_path, capsys):
    """Resume with --epochs below the epochs done: one line that the run already has them;
    no re-planned schedule line (it named a step past the end, e.g. "step 16 of 8")."""
    from fasfast.engine import train

    train(_cfg(root, cache_dir=cache, out=tmp_path / "f", epochs=2))
    capsys.readouterr()
    again = train(_cfg(root, cache_dir=cache, out=tmp_path / "f", epochs=1, resume="auto"))
    out = capsys.readouterr().out
    resume_lines = [x for x in out.splitlines() if x.startswith("resume:")]
    assert len(resume_lines) == 1, out
    assert "already has 2 epochs and --epochs is 1: nothing left to train" in resume_lines[0]
    assert "re-planned" not in out and again.lrs == []


@pytest.mark.parametrize(
    "change,fragment",
    [
        ({"limit": 6}, "--limit 6 differs from the checkpoint's 4"),
        ({"balance": True}, "--balance True differs from the checkpoint's False"),
        ({"optimizer": "adamw"}, "--optimizer adamw differs from the checkpoint's lookahead_radam"),
        ({"weight_decay": 0.05}, "--weight-decay 0.05 differs from the checkpoint's 0"),
    ],
)
def test_changes_that_cannot_be_carried_are_refused(
    root, cache, tmp_path_factory, change, fragment
):
    from fasfast.engine import train

    out = tmp_path_factory.getbasetemp() / "refuse_run"
    if not (out / "last.pt").exists():
        train(_cfg(root, cache_dir=cache, out=out, epochs=1, max_steps=1))
    before = (out / "last.pt").read_bytes()
    with pytest.raises(ResumeError) as e:
        train(_cfg(root, cache_dir=cache, out=out, epochs=2, max_steps=1, resume="auto", **change))
    msg = str(e.value)
    assert "\n" not in msg and fragment in msg and str(out / "last.pt") in msg
    assert (out / "last.pt").read_bytes() == before  # nothing was trained or written


def test_other_training_videos_are_refused(root, cache, tmp_path):
    """A "list" data set whose train list names another video on resume."""
    from fasfast.data import oulu_npu
    from fasfast.engine import train

    train_s, dev_s = oulu_npu(root, "1", "train"), oulu_npu(root, "1", "dev")
    data = tmp_path / "lists"
    data.mkdir()

    def write(name, samples):
        (data / name).write_text("".join(f"{s.path} {s.label} {s.attack_type}\n" for s in samples))

    write("train.txt", train_s[:4])
    write("dev.txt", dev_s[:4])
    kw = dict(dataset="list", limit=0, max_steps=1)
    train(_cfg(data, cache_dir=cache, out=tmp_path / "r", epochs=1, **kw))
    write("train.txt", train_s[:3] + train_s[5:6])
    with pytest.raises(
        ResumeError,
        match=r"the training videos differ from the checkpoint's "
        r"\(4 -> 4 videos; --dataset / --data-root",
    ):
        train(_cfg(data, cache_dir=cache, out=tmp_path / "r", epochs=2, resume="auto", **kw))


def test_world_size_change_replans_from_the_epoch_boundary():
    """World size 2 -> 1 doubles the steps per epoch: the restored scheduler of the old plan
    (what torch's load_state_dict gives) reaches its floor after epoch 2 and wastes epoch 3;
    the re-planned one is the 1-process plan from epoch 2 on."""
    p = torch.nn.Parameter(torch.zeros(1))
    cfg = type("C", (), dict(lr=1e-3, epochs=3, schedule="cosine", warmup_epochs=0.0))()
    old_spe, new_spe = 3, 6
    # rank 0 of the 2-process run: 1 epoch of 3 steps
    opt = torch.optim.SGD([p], lr=cfg.lr)
    sched = build_scheduler(cfg, opt, old_spe)
    for _ in range(old_spe):
        opt.step()
        sched.step()
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    # the old way: restore the scheduler as saved, run 2 epochs of 6 steps
    opt2 = torch.optim.SGD([p], lr=cfg.lr)
    opt2.load_state_dict(saved_opt)
    naive = build_scheduler(cfg, opt2, new_spe)
    naive.load_state_dict(saved_sched)
    lrs_naive = []
    for _ in range(2 * new_spe):
        lrs_naive.append(opt2.param_groups[0]["lr"])
        opt2.step()
        naive.step()
    assert lrs_naive[new_spe:] == pytest.approx([1e-5] * new_spe)  # epoch 3 wasted
    # the re-plan
    opt3 = torch.optim.SGD([p], lr=cfg.lr)
    opt3.load_state_dict(saved_opt)
    sched3 = resume_scheduler(cfg, opt3, new_spe, start_epoch=1)
    lrs = []
    for _ in range(2 * new_spe):
        lrs.append(opt3.param_groups[0]["lr"])
        opt3.step()
        sched3.step()
    f = LrLambda("cosine", 0, 3 * new_spe)
    assert lrs == pytest.approx([1e-3 * f(k) for k in range(new_spe, 3 * new_spe)], rel=1e-12)
    assert min(lrs[new_spe:]) > 1e-5
    # and compare_plans names the change, refusing nothing
    plan = dict(
        epochs=3,
        steps_per_epoch=old_spe,
        world_size=2,
        batch_size=2,
        max_steps=0,
        limit=0,
        balance=False,
        train_entries=12,
        train_videos=12,
        train_set="x",
        optimizer="adamw",
        weight_decay=0.0,
        lr=1e-3,
        schedule="cosine",
        warmup_epochs=0.0,
    )
    changes = compare_plans(
        RunPlan(**plan), RunPlan(**{**plan, "world_size": 1, "steps_per_epoch": new_spe}), "ck"
    )
    assert changes == ["world size 2 -> 1"]


@pytest.mark.slow
def test_torchrun_two_ranks_then_resume_in_one_process(root, tmp_path, capsys):
    """Train 1 epoch on 2 ranks (torchrun, gloo), resume in one process for 3 epochs: the
    world size change is stated and epochs 2-3 follow the 1-process 3-epoch cosine."""
    from fasfast.engine import load_checkpoint, train

    # torchrun of this interpreter: a `torchrun` on PATH may belong to another Python (one
    # without fasfast installed, which then only works from the repository root)
    launcher = [sys.executable, "-m", "torch.distributed.run"]
    out = tmp_path / "ddp"
    cmd = launcher + [
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "fasfast",
        "train",
        "--root",
        str(root),
        "--protocol",
        "1",
        "--epochs",
        "1",
        "--image-size",
        str(IMAGE),
        "--widths",
        ",".join(map(str, WIDTHS)),
        "--batch-size",
        "2",
        "--workers",
        "0",
        "--out",
        str(out),
        "--no-progress",
        "--no-tensorboard",
        "--lr",
        "1e-3",
        "--schedule",
        "cosine",
        "--warmup-epochs",
        "0",
        "--limit",
        "8",
        "--no-hflip",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ck = load_checkpoint(out / "last.pt")
    assert ck["plan"]["world_size"] == 2
    spe2 = ck["plan"]["steps_per_epoch"]
    capsys.readouterr()
    cfg = tiny_config(
        root,
        out,
        epochs=3,
        batch_size=2,
        lr=1e-3,
        schedule="cosine",
        warmup_epochs=0.0,
        limit=8,
        hflip=False,
        resume="auto",
    )
    res = train(cfg)
    text = capsys.readouterr().out
    spe1 = len(res.lrs) // 2
    assert spe1 == 2 * spe2 or spe1 == 2 * spe2 - 1
    assert f"resume: epochs 1 -> 3, world size 2 -> 1 (steps per epoch {spe2} -> {spe1})" in text
    f = LrLambda("cosine", 0, 3 * spe1)
    assert res.lrs == pytest.approx([1e-3 * f(k) for k in range(spe1, 3 * spe1)], rel=1e-12)
    assert math.isclose(res.history[-1]["lr"], 1e-5, rel_tol=1e-9)  # the floor at the planned end
    assert [r["epoch"] for r in read_csv(out / "log.csv")] == ["1", "2", "3"]
