"""Training a model: EulerNet (Cong et al. 2022) and the ConvNeXt-V2 classifier (Huang et al.
2024), as named steps.

Paper: Multi-Frames Temporal Abnormal Clues Learning Method for Face Anti-Spoofing
(EulerNet; Cong, Zhang, He, Gao, 2022) - https://arxiv.org/abs/2208.04076
Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602

EulerNet recipe: sequences of ``length`` frames ``interval`` apart, L2 loss between
the predicted maps and the label maps, Ranger (timm ``lookahead_radam``), lr 1e-4,
batch 16. Classifier recipe: AdamW, linear warm-up then cosine, label smoothing,
CutMix (timm ``Mixup`` + ``SoftTargetCrossEntropy``), blur and class-specific
down-sampling from :mod:`fasfast.data.augment`.

Every epoch: train, score the dev split (video level), dev ACER at the
``threshold_method`` threshold chosen on dev, write ``last.pt`` (full state, atomic),
``best.pt`` when the dev ACER improved (ties: lower dev loss) and ``log.csv``, in an order
that a kill -9 at any point cannot make inconsistent (:func:`fasfast.engine.checkpoint.
save_epoch`; a resume repairs with :func:`~fasfast.engine.checkpoint.recover_run`).
Training samples that cannot be read are replaced by the next readable one, counted per
epoch (``log.csv`` column ``skipped``, one console line naming the files); unreadable dev
videos are left out (``dev_left_out``), never replaced.

``resume`` continues from ``last.pt`` (model, optimizer, scaler, epoch, RNG states,
sampler). The checkpoint records the run's plan (:class:`~fasfast.engine.schedule.RunPlan`:
epochs, steps per epoch, world size, batch size, limits, balancing, optimizer, schedule);
a changed epochs / world size / batch size / max steps / lr / schedule / warm-up is carried
through (the schedule re-planned, said in one line), a changed optimizer, weight decay or
training set is refused in one line naming the setting (:mod:`fasfast.engine.schedule`).
Under torchrun, DDP with a DistributedSampler; rank 0 writes.

The steps of :func:`train`: setup (model, data, optimizer), resume (or start afresh), then per
epoch: one epoch (:func:`fasfast.engine.loop.train_epoch`), evaluate (dev), save, stop?
"""

from __future__ import annotations

import contextlib
import math
import random
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from fasfast.engine import checkpoint as ck
from fasfast.engine import distributed as du
from fasfast.engine.config import TrainConfig, check_downsample_classes
from fasfast.engine.data import balance_classes, labelled_only, make_dataset, read_split
from fasfast.engine.loop import Run, TrainLogger, make_losses, train_epoch
from fasfast.engine.results import threshold_metrics
from fasfast.engine.schedule import (
    RunPlan,
    build_scheduler,
    compare_plans,
    replan_message,
    resume_scheduler,
)
from fasfast.engine.scoring import Scores, score_dataset


@dataclass
class TrainResult:
    """What :func:`train` returns: the checkpoints' paths, every epoch's ``log.csv`` row, the
    best epoch's dev metrics and whether the time limit stopped the run early."""

    best_checkpoint: Path
    last_checkpoint: Path
    history: list[dict] = field(default_factory=list)
    out_dir: Path | None = None
    best_metrics: dict = field(default_factory=dict)
    stopped_early: bool = False
    lrs: list[float] = field(default_factory=list)  # lr of every optimizer step of this call
    start_epoch: int = 0  # epochs completed before this call (resume)


def train(cfg: TrainConfig) -> TrainResult:
    """Train per ``cfg``; returns the best / last checkpoint paths and the epoch history."""
    cfg = cfg.resolved()
    info = du.setup(cfg.device)
    try:
        with _ops_choice(cfg.fused):
            return _train(cfg, info)
    finally:
        du.cleanup(info)


def _ops_choice(fused: bool | None):
    """``--fused`` / ``--no-fused``: the process-wide switch between the compiled and the
    reference ops for the run (None: leave it, e.g. to FASFAST_REFERENCE_OPS)."""
    if fused is None:
        return contextlib.nullcontext()
    from fasfast import ops

    return ops.use_reference(not fused)


def _train(cfg: TrainConfig, info: du.DistInfo) -> TrainResult:
    run = setup(cfg, info)
    resume_path = _resume_path(cfg, run.out_dir / "last.pt")
    if resume_path is not None:
        resume(run, resume_path)
    else:
        start_afresh(run)
    _start_epochs(run)
    t_start = time.time()
    stopped_early = False
    for epoch in range(run.start_epoch, cfg.epochs):
        row = train_epoch(run, epoch)
        skipped_files = row.pop("skipped_files")
        is_best = evaluate_dev(run, row)
        run.history.append(row)
        out_of_time = _out_of_time(cfg, time.time() - t_start, epoch)
        save(run, row, is_best, skipped_files)
        du.barrier()
        if out_of_time:
            stopped_early = True
            if info.is_main:
                print(f"time limit {cfg.time_limit:.0f}s reached after epoch {epoch + 1}; stopping")
            break
    run.logger.close()
    return TrainResult(
        best_checkpoint=run.out_dir / "best.pt",
        last_checkpoint=run.out_dir / "last.pt",
        history=run.history,
        out_dir=run.out_dir,
        best_metrics=run.best or {},
        stopped_early=stopped_early,
        lrs=run.lrs,
        start_epoch=run.start_epoch,
    )


# --------------------------------------------------------------------------- setup
def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def _worker_init(worker_id: int) -> None:
    """Seed python / numpy in each loader worker from torch's per-worker seed."""
    s = torch.initial_seed() % (2**32)
    random.seed(s)
    np.random.seed(s)


def setup_model(cfg: TrainConfig):
    """(model, kind, model config) of a resolved TrainConfig, built by the one factory
    :func:`fasfast.models.create_model`; ``cfg.init`` loaded into it (fine-tuning)."""
    from fasfast import models

    name, kw = cfg.model_args()
    mcfg = models.model_config(name, **kw)
    model = models.create_model(mcfg)
    if cfg.init:
        ck.load_init_weights(model, cfg.init)
    return model, "eulernet" if cfg.is_eulernet else "classifier", mcfg


def build_optimizer(cfg: TrainConfig, model: torch.nn.Module):
    from fasfast._compat import import_timm

    import_timm()
    from timm.optim import create_optimizer_v2

    return create_optimizer_v2(
        model, opt=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay or 0.0
    )


def _steps_per_epoch(loader_len: int, cfg: TrainConfig) -> int:
    return min(loader_len, cfg.max_steps) if cfg.max_steps > 0 else loader_len


def setup(cfg: TrainConfig, info: du.DistInfo) -> Run:
    """Setup step: seeds, the model, the train / dev datasets and loader, the run's plan, the
    optimizer, AMP scaler and losses (in this order: the RNG draws of a run depend on it)."""
    device = info.device
    out_dir = Path(cfg.out_dir)
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed + info.rank, cfg.deterministic)

    model, kind, mcfg = setup_model(cfg)
    model.to(device)

    train_samples = read_split(cfg.dataset, cfg.data_root, cfg.protocol, "train", cfg.limit)
    train_samples = labelled_only(train_samples, "train")
    check_downsample_classes(
        cfg.downsample, {s.attack_type for s in train_samples}, mcfg.image_size
    )
    train_entries = balance_classes(train_samples) if cfg.balance else train_samples
    dev_samples = labelled_only(
        read_split(cfg.dataset, cfg.data_root, cfg.protocol, "dev", cfg.limit), "dev"
    )
    train_ds = make_dataset(cfg, train_entries, train=True, model_config=mcfg, seed=cfg.seed)
    dev_ds = make_dataset(cfg, dev_samples, train=False, model_config=mcfg, seed=cfg.seed)

    sampler = DistributedSampler(
        train_ds,
        num_replicas=info.world_size,
        rank=info.rank,
        shuffle=True,
        seed=cfg.seed,
        drop_last=False,
    )
    loader_gen = torch.Generator()
    loader = DataLoader(
        train_ds,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.workers,
        pin_memory=device.type == "cuda",
        drop_last=(kind == "classifier" and len(train_ds) >= 2 * cfg.batch_size),
        worker_init_fn=_worker_init,
        generator=loader_gen,
        persistent_workers=False,
    )
    steps_per_epoch = _steps_per_epoch(len(loader), cfg)
    if steps_per_epoch == 0:
        raise ValueError("the training loader is empty: fewer samples than one batch?")
    plan = RunPlan.of(
        cfg,
        steps_per_epoch=steps_per_epoch,
        world_size=info.world_size,
        train_entries=len(train_ds),
        train_samples=train_samples,
    )

    optimizer = build_optimizer(cfg, model)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and cfg.amp_dtype == "fp16")
    mixup, smoothing = make_losses(cfg, kind)
    return Run(
        cfg=cfg,
        info=info,
        out_dir=out_dir,
        model=model,
        kind=kind,
        model_config=mcfg.to_dict(),
        train_ds=train_ds,
        dev_ds=dev_ds,
        sampler=sampler,
        loader=loader,
        loader_gen=loader_gen,
        steps_per_epoch=steps_per_epoch,
        plan=plan,
        optimizer=optimizer,
        scaler=scaler,
        use_amp=use_amp,
        mixup=mixup,
        smoothing=smoothing,
        run_id=uuid.uuid4().hex,
    )


def _start_epochs(run: Run) -> None:
    """DDP wrapper, logger and config.yaml, once the state is in place."""
    run.train_model = run.model
    if run.info.distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        device = run.device
        run.train_model = DDP(run.model, device_ids=[device] if device.type == "cuda" else None)
    run.logger = TrainLogger(run.out_dir, run.info.is_main, run.cfg.tensorboard, resume=run.resumed)
    if run.info.is_main:
        run.cfg.save_yaml(run.out_dir / "config.yaml")


# --------------------------------------------------------------------------- resume
def _resume_path(cfg: TrainConfig, last_path: Path) -> Path | None:
    if not cfg.resume:
        return None
    path = last_path if cfg.resume == "auto" else Path(cfg.resume)
    if cfg.resume == "auto" and not path.exists():
        if du.is_main():
            print(f"--resume auto: no {path} yet; starting afresh", flush=True)
        return None
    return path


def start_afresh(run: Run) -> None:
    """No resume: the schedule from step 0, and no stale ``best.pt.next`` of another run."""
    run.scheduler = build_scheduler(run.cfg, run.optimizer, run.steps_per_epoch)
    if run.info.is_main:
        (run.out_dir / "best.pt.next").unlink(missing_ok=True)


def resume(run: Run, resume_path: Path) -> None:
    """Resume step: the model, optimizer, scaler, epoch, step, history, best, RNG states
    from ``resume_path``; the plan compared (:func:`~fasfast.engine.schedule.compare_plans`)
    and ``best.pt`` / ``log.csv`` of the output folder made consistent with it."""
    cfg, info = run.cfg, run.info
    wf = ck.read_weights(resume_path)
    if not wf.is_fasfast:  # plain weights: loaded exactly, the run starts at epoch 1
        note = ck.load_resume_weights(run.model, wf)
        start_afresh(run)
        if info.is_main:
            warnings.warn(note, UserWarning, stacklevel=2)
        return
    state = ck.load_checkpoint(resume_path, weights=wf)
    # older checkpoints hold EulerNet's retired "fused" key: not architecture
    saved_config = {k: v for k, v in state["model_config"].items() if k != "fused"}
    if state["kind"] != run.kind or saved_config != run.model_config:
        raise ck.CheckpointError(
            f"cannot resume from {resume_path}: it holds a {state['kind']} model with "
            f"config {saved_config}, this run builds {run.kind} {run.model_config}"
        )
    old_plan = RunPlan.from_checkpoint(state)
    changes = compare_plans(old_plan, run.plan, str(resume_path))
    ck.load_state_into(run.model, state["model"], f"checkpoint {resume_path}")
    run.optimizer.load_state_dict(state["optimizer"])
    if state.get("scaler"):
        run.scaler.load_state_dict(state["scaler"])
    run.resumed = True
    run.start_epoch = int(state["epoch"])
    run.global_step = int(state.get("step", 0))
    run.history = list(state.get("history", []))
    run.run_id = state.get("run_id") or run.run_id
    best = state.get("best_metrics") or None
    if info.is_main:  # best.pt / log.csv of out_dir made consistent with the state
        best, notes = ck.recover_run(run.out_dir, state)
        for note in notes:
            print(f"resume: {note}")
    run.best = du.broadcast_object(best)
    rngs = state.get("rng_per_rank") or [state["rng"]]
    ck.set_rng_state(rngs[info.rank] if info.rank < len(rngs) else rngs[0])
    # the schedule of this run's settings, at the first step of the next epoch
    run.scheduler = resume_scheduler(cfg, run.optimizer, run.steps_per_epoch, run.start_epoch)
    if info.is_main:
        print(f"resumed from {resume_path} at epoch {run.start_epoch} (step {run.global_step})")
        if run.start_epoch >= cfg.epochs:  # no schedule to re-plan: say only that
            print(
                f"resume: {resume_path} already has {run.start_epoch} epochs and --epochs "
                f"is {cfg.epochs}: nothing left to train"
            )
        elif changes:
            print(replan_message(changes, old_plan, run.plan, run.start_epoch, run.lr))


# --------------------------------------------------------------------------- evaluate
def dev_metrics(scores: Scores, method: str = "acer_point") -> dict:
    """Video-level dev metrics at the ``method`` threshold chosen on the same scores."""
    out = {"dev_loss": scores.loss}
    out.update({f"dev_{k}": v for k, v in threshold_metrics(scores.video, method).items()})
    return out


def _better(new: dict, best: dict | None) -> bool:
    if best is None:
        return True
    a, b = new.get("dev_acer", float("nan")), best.get("dev_acer", float("nan"))
    if math.isnan(b) and not math.isnan(a):
        return True
    if math.isnan(a):
        return False
    if a < b - 1e-12:
        return True
    if abs(a - b) <= 1e-12:
        return new.get("dev_loss", math.inf) < best.get("dev_loss", math.inf)
    return False


def evaluate_dev(run: Run, row: dict) -> bool:
    """Evaluate step (every ``eval_every`` epochs and after the last): score the dev split,
    add its metrics to ``row``; True when this epoch is the new best."""
    cfg, epoch = run.cfg, row["epoch"]
    if epoch % cfg.eval_every != 0 and epoch != cfg.epochs:
        return False
    t1 = time.time()
    du.broadcast_buffers(run.model)  # one set of BN statistics (rank 0's) on every rank
    scores = score_dataset(
        run.model,
        run.dev_ds,
        kind=run.kind,
        batch_size=cfg.eval_batch_size or cfg.batch_size,
        workers=cfg.workers,
        device=run.device,
        amp=run.use_amp,
        amp_dtype=cfg.amp_dtype,
        progress=cfg.progress,
        desc="dev",
    )
    metrics = dev_metrics(scores, cfg.threshold_method)
    metrics["dev_left_out"] = len(scores.left_out) + len(run.dev_ds.left_out)
    row.update(metrics)
    row["eval_time"] = time.time() - t1
    is_best = _better(metrics, run.best)
    if is_best:
        run.best = dict(metrics, epoch=epoch)
    return is_best


# --------------------------------------------------------------------------- save, stop
def _epoch_state(run: Run, row: dict, rng_all: list | None) -> dict:
    cfg, info = run.cfg, run.info
    return {
        "kind": run.kind,
        "model_config": run.model_config,
        "model": ck.unwrap(run.model).state_dict(),
        "epoch": row["epoch"],
        "step": run.global_step,
        "run_id": run.run_id,
        "metrics": row,
        "best_metrics": run.best or {},
        # without "fused": the ops choice is the process's, not the weights'
        "train_config": {k: v for k, v in cfg.to_dict().items() if k != "fused"},
        "plan": run.plan.to_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict() if run.scaler.is_enabled() else {},
        "rng": ck.rng_state(),
        "rng_per_rank": rng_all or [],
        "sampler": {"seed": cfg.seed, "epoch": row["epoch"], "world_size": info.world_size},
        "history": run.history,
    }


def save(run: Run, row: dict, is_best: bool, skipped_files: set[str]) -> None:
    """Save step: the epoch's checkpoints and ``log.csv`` in the kill-safe order of
    :func:`fasfast.engine.checkpoint.save_epoch` (rank 0), then the epoch's console lines."""
    # every rank's RNG state, so a resumed DDP run continues exactly on each rank
    rng_all = du.all_gather_objects(ck.rng_state()) if run.info.distributed else None
    if not run.info.is_main:
        return
    ck.save_epoch(run.out_dir, _epoch_state(run, row, rng_all), is_best=is_best)
    run.logger.epoch(row)
    epoch = row["epoch"]
    msg = f"epoch {epoch}/{run.cfg.epochs}  loss {row['train_loss']:.4f}"
    if "dev_acer" in row:
        msg += (
            f"  dev ACER {100 * row['dev_acer']:.2f}%  "
            f"(APCER {100 * row['dev_apcer']:.2f}%, "
            f"BPCER {100 * row['dev_bpcer']:.2f}%)  dev loss {row['dev_loss']:.4f}"
        )
    msg += f"  [{row['train_time']:.0f}s]" + ("  *best*" if is_best else "")
    print(msg, flush=True)
    if row["skipped"]:
        print(
            f"epoch {epoch}: {row['skipped']} training item(s) replaced by the next "
            f"readable sample: {', '.join(sorted(skipped_files))} could not be read",
            flush=True,
        )


def _out_of_time(cfg: TrainConfig, elapsed: float, epoch: int) -> bool:
    """Stop step: the time limit is reached before the last epoch (rank 0 decides for all)."""
    out = cfg.time_limit > 0 and elapsed >= cfg.time_limit and epoch + 1 < cfg.epochs
    return bool(du.broadcast_object(out))
