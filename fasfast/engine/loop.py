"""One training epoch: the pieces a run is made of (:class:`Run`), the loss of one batch,
the running statistics of an epoch (:class:`RunningStats`) and TensorBoard logging.

The run itself (setup, resume, evaluate, save, stop) is :mod:`fasfast.engine.training`.
EulerNet (Cong et al. 2022): L2 loss between the predicted and the label maps; the
classifier (Huang et al. 2024): cross-entropy with label smoothing, or CutMix's soft targets.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from fasfast.engine import distributed as du
from fasfast.engine.config import TrainConfig
from fasfast.engine.scoring import autocast_context

__all__ = ["Run", "RunningStats", "TrainLogger", "make_losses", "step_loss", "train_epoch"]


@dataclass
class Run:
    """Everything a training run holds between its steps (built by the setup step)."""

    cfg: TrainConfig
    info: du.DistInfo
    out_dir: Path
    model: torch.nn.Module
    kind: str  # "eulernet" | "classifier"
    model_config: dict
    train_ds: Any
    dev_ds: Any
    sampler: Any  # DistributedSampler
    loader: Any  # DataLoader
    loader_gen: torch.Generator
    steps_per_epoch: int
    plan: Any  # fasfast.engine.schedule.RunPlan
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    use_amp: bool
    mixup: Any = None
    smoothing: float | None = None
    # what goes on from epoch to epoch (the resume step may restore it)
    scheduler: Any = None
    train_model: torch.nn.Module | None = None  # the model, or its DDP wrapper
    logger: TrainLogger | None = None
    start_epoch: int = 0
    global_step: int = 0
    history: list[dict] = field(default_factory=list)
    best: dict | None = None
    run_id: str = ""
    resumed: bool = False
    lrs: list[float] = field(default_factory=list)  # lr of every optimizer step of this call

    @property
    def device(self) -> torch.device:
        return self.info.device

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]


@dataclass
class RunningStats:
    """Sums over one epoch's training batches (this rank's): loss, accuracy at 0.5 and the
    mean live score of each class, from which the progress bar's numbers are read."""

    loss_sum: float = 0.0
    n: int = 0
    live_sum: float = 0.0  # live score summed over bona fide samples
    live_n: int = 0
    attack_sum: float = 0.0  # live score summed over attack samples
    attack_n: int = 0
    correct: int = 0
    skipped: int = 0  # unreadable samples the dataset replaced
    skipped_files: set[str] = field(default_factory=set)

    def add(self, loss: torch.Tensor, live_score: torch.Tensor, labels: torch.Tensor) -> None:
        b = labels.shape[0]
        self.loss_sum += float(loss.detach()) * b
        self.n += b
        is_live = labels == 1
        self.live_sum += float(live_score[is_live].sum())
        self.live_n += int(is_live.sum())
        self.attack_sum += float(live_score[~is_live].sum())
        self.attack_n += int((~is_live).sum())
        self.correct += int(((live_score >= 0.5) == is_live).sum())

    def add_skipped(self, batch: dict) -> None:
        if "skipped" in batch:
            self.skipped += int(batch["skipped"].sum())
            self.skipped_files.update(
                f for text in batch["skipped_files"] for f in text.split("\n") if f
            )

    def postfix(self, with_accuracy: bool) -> dict:
        post = {"loss": f"{self.loss_sum / self.n:.4f}"}
        if with_accuracy:
            post["acc"] = f"{self.correct / self.n:.3f}"
        if self.live_n and self.attack_n:
            margin = self.live_sum / self.live_n - self.attack_sum / self.attack_n
            post["live-att"] = f"{margin:+.3f}"
        return post

    def loss_and_accuracy(self) -> tuple[float, float]:
        return self.loss_sum / max(self.n, 1), self.correct / max(self.n, 1)


class TrainLogger:
    """TensorBoard events (when tensorboard is installed), rank 0 only. ``log.csv`` is written
    with the checkpoints (:func:`fasfast.engine.checkpoint.save_epoch`)."""

    def __init__(self, out_dir: Path, enabled: bool, tensorboard: bool, resume: bool):
        self.enabled = enabled
        self.csv_path = out_dir / "log.csv"
        self.tb = None
        if not enabled:
            return
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(log_dir=str(out_dir / "tensorboard"))
            except Exception as e:  # noqa: BLE001 - tensorboard is optional
                print(f"note: TensorBoard logging off ({type(e).__name__}: {e})")
        if not resume and self.csv_path.exists():
            self.csv_path.unlink()

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.tb is not None and value is not None and not math.isnan(value):
            self.tb.add_scalar(tag, value, step)

    def epoch(self, row: dict) -> None:
        if not self.enabled:
            return
        for k, v in row.items():
            if k != "epoch" and isinstance(v, (int, float)):
                self.scalar(f"epoch/{k}", float(v), int(row["epoch"]))
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def make_losses(cfg: TrainConfig, kind: str):
    """``(mixup, label smoothing)`` of the classifier recipe; ``(None, None)`` for EulerNet."""
    if kind == "eulernet":
        return None, None
    mixup = None
    if cfg.cutmix and cfg.cutmix > 0:
        from fasfast.data.augment import make_mixup

        # timm Mixup doing CutMix + label smoothing (2 classes; class 1 = live)
        mixup = make_mixup(
            cutmix_alpha=float(cfg.cutmix),
            mixup_alpha=0.0,
            label_smoothing=float(cfg.label_smoothing or 0.0),
            num_classes=2,
        )
    return mixup, float(cfg.label_smoothing or 0.0)


def step_loss(model, batch, kind, device, mixup, smoothing):
    """(loss, live-score tensor [B] or None, labels [B]) for one batch."""
    labels = batch["label"].to(device).long()
    if kind == "eulernet":
        x = batch["frames"].to(device, non_blocking=True)
        tgt = batch["target"].to(device, non_blocking=True).float()
        maps = model(x)
        loss = F.mse_loss(maps.float(), tgt)
        return loss, maps.detach().float().mean(dim=(1, 2, 3)), labels
    x = batch["image"].to(device, non_blocking=True)
    if mixup is not None:  # any batch size (fasfast.data.augment.BatchMixup)
        x, soft = mixup(x, labels)
        logits = model(x).float()
        loss = torch.sum(-soft * F.log_softmax(logits, dim=-1), dim=-1).mean()
    else:
        logits = model(x).float()
        loss = F.cross_entropy(logits, labels, label_smoothing=smoothing or 0.0)
    return loss, torch.softmax(logits.detach(), dim=1)[:, 1], labels


def _optimizer_step(run: Run, loss: torch.Tensor) -> None:
    cfg, optimizer, scaler = run.cfg, run.optimizer, run.scaler
    run.lrs.append(run.lr)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if cfg.grad_clip > 0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
    scaler.step(optimizer)
    scaler.update()
    run.scheduler.step()
    run.global_step += 1


def _progress_bar(run: Run, epoch: int):
    if not (run.cfg.progress and run.info.is_main):
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=run.steps_per_epoch,
        desc=f"epoch {epoch + 1}/{run.cfg.epochs}",
        dynamic_ncols=True,
        leave=False,
    )


def train_epoch(run: Run, epoch: int) -> dict:
    """Train one epoch (0-based ``epoch``); returns the start of its ``log.csv`` row (epoch,
    step, lr, train_loss and train_acc averaged over ranks, train_time, skipped) and the
    replaced files under ``"skipped_files"``."""
    cfg, device = run.cfg, run.device
    run.sampler.set_epoch(epoch)
    run.loader_gen.manual_seed(cfg.seed * 1_000_003 + epoch * 7919 + run.info.rank)
    if hasattr(run.train_ds, "set_epoch"):
        run.train_ds.set_epoch(epoch)
    run.train_model.train()
    t0 = time.time()
    stats = RunningStats()
    bar = _progress_bar(run, epoch)
    for step, batch in enumerate(run.loader):
        if step >= run.steps_per_epoch:
            break
        stats.add_skipped(batch)
        with autocast_context(device, run.use_amp, cfg.amp_dtype):
            loss, live_score, labels = step_loss(
                run.train_model, batch, run.kind, device, run.mixup, run.smoothing
            )
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"training loss is {float(loss)} at epoch {epoch + 1} step {step}: "
                "lower the lr or turn AMP off"
            )
        _optimizer_step(run, loss)
        stats.add(loss, live_score, labels)
        if run.info.is_main and run.global_step % 10 == 0:
            run.logger.scalar("train/loss", float(loss.detach()), run.global_step)
            run.logger.scalar("train/lr", run.lr, run.global_step)
        if bar is not None:
            bar.set_postfix(stats.postfix(with_accuracy=run.kind != "eulernet"))
            bar.update(1)
    if bar is not None:
        bar.close()
    train_loss, train_acc = du.all_reduce_mean(list(stats.loss_and_accuracy()), device)
    skipped, skipped_files = _gather_skipped(stats.skipped, stats.skipped_files)
    return {
        "epoch": epoch + 1,
        "step": run.global_step,
        "lr": run.lr,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "train_time": time.time() - t0,
        "skipped": skipped,
        "skipped_files": skipped_files,
    }


def _gather_skipped(count: int, files: set[str]) -> tuple[int, set[str]]:
    """The epoch's replaced training items summed over ranks, and their files."""
    parts = du.all_gather_objects((int(count), sorted(files)))
    return sum(c for c, _ in parts), {f for _, fs in parts for f in fs}
