"""Training loop for EulerNet (Cong et al. 2022) and the ConvNeXt-V2 classifier (Huang et al.
2024).

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
``threshold_method`` threshold chosen on dev, write ``last.pt`` (full state, atomic)
and ``best.pt`` when the dev ACER improved (ties: lower dev loss). ``resume``
continues from ``last.pt`` exactly (model, optimizer, scheduler, scaler, epoch,
RNG states, sampler). Under torchrun, DDP with a DistributedSampler; rank 0 writes.
"""

from __future__ import annotations

import contextlib
import csv
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler

from fasfast.engine import checkpoint as ck
from fasfast.engine import distributed as du
from fasfast.engine.config import TrainConfig
from fasfast.engine.data import balance_classes, labelled_only, make_dataset, read_split
from fasfast.engine.scoring import Scores, autocast_context, score_dataset


@dataclass
class TrainResult:
    best_checkpoint: Path
    last_checkpoint: Path
    history: list[dict] = field(default_factory=list)
    out_dir: Path | None = None
    best_metrics: dict = field(default_factory=dict)
    stopped_early: bool = False


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


def build_model(cfg: TrainConfig):
    """(model, kind, model_config_dict) for a resolved TrainConfig."""
    from fasfast import models

    if cfg.is_eulernet:
        mcfg = models.EulerNetConfig.preset(cfg.preset, **cfg.model_overrides())
        model = models.EulerNet(mcfg)
        kind = "eulernet"
    else:
        kw = {"model_name": cfg.model, "drop_path_rate": cfg.drop_path_rate}
        if cfg.image_size is not None:
            kw["image_size"] = cfg.image_size
        mcfg = models.ClassifierConfig(**kw)
        model = models.build_classifier(mcfg)
        kind = "classifier"
    if cfg.init:
        ck.load_init_weights(model, cfg.init)
    return model, kind, mcfg


def build_optimizer(cfg: TrainConfig, model: torch.nn.Module):
    from fasfast._compat import import_timm

    import_timm()
    from timm.optim import create_optimizer_v2

    return create_optimizer_v2(
        model, opt=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay or 0.0
    )


class _LrLambda:
    """Linear warm-up then constant / cosine / step decay, per optimizer step."""

    def __init__(self, schedule: str, warmup: int, total: int, min_ratio: float = 0.01):
        self.schedule, self.warmup, self.total, self.min_ratio = schedule, warmup, total, min_ratio

    def __call__(self, step: int) -> float:
        if self.warmup > 0 and step < self.warmup:
            return (step + 1) / self.warmup
        if self.schedule == "constant":
            return 1.0
        progress = (step - self.warmup) / max(1, self.total - self.warmup)
        progress = min(max(progress, 0.0), 1.0)
        if self.schedule == "cosine":
            return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        return 0.1 ** int(progress * 3)  # "step": x0.1 at 1/3 and 2/3


def build_scheduler(cfg: TrainConfig, optimizer, steps_per_epoch: int):
    total = steps_per_epoch * cfg.epochs
    warmup = int(round((cfg.warmup_epochs or 0.0) * steps_per_epoch))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, _LrLambda(cfg.schedule or "constant", warmup, total)
    )


def _steps_per_epoch(loader_len: int, cfg: TrainConfig) -> int:
    return min(loader_len, cfg.max_steps) if cfg.max_steps > 0 else loader_len


# --------------------------------------------------------------------------- metrics
def dev_metrics(scores: Scores, method: str = "acer_point") -> dict:
    """Video-level dev metrics at the ``method`` threshold chosen on the same scores."""
    from fasfast.engine._adapters import threshold_metrics

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


# --------------------------------------------------------------------------- logging
class _Logger:
    """CSV log (always) + TensorBoard events (when tensorboard is installed). Rank 0 only."""

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
        new = not self.csv_path.exists()
        with open(self.csv_path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)
        for k, v in row.items():
            if k != "epoch" and isinstance(v, (int, float)):
                self.scalar(f"epoch/{k}", float(v), int(row["epoch"]))
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


# --------------------------------------------------------------------------- train
def _losses(cfg: TrainConfig, kind: str):
    if kind == "eulernet":
        return None, None
    mixup = None
    if cfg.cutmix and cfg.cutmix > 0:
        from fasfast.engine._adapters import make_mixup

        mixup = make_mixup(cfg)
    return mixup, float(cfg.label_smoothing or 0.0)


def _train_step_loss(model, batch, kind, device, mixup, smoothing):
    """(loss, live-score tensor [B] or None, labels [B]) for one batch."""
    labels = batch["label"].to(device).long()
    if kind == "eulernet":
        x = batch["frames"].to(device, non_blocking=True)
        tgt = batch["target"].to(device, non_blocking=True).float()
        maps = model(x)
        loss = F.mse_loss(maps.float(), tgt)
        return loss, maps.detach().float().mean(dim=(1, 2, 3)), labels
    x = batch["image"].to(device, non_blocking=True)
    if mixup is not None and x.shape[0] % 2 == 0:
        x, soft = mixup(x, labels)
        logits = model(x).float()
        loss = torch.sum(-soft * F.log_softmax(logits, dim=-1), dim=-1).mean()
    else:
        logits = model(x).float()
        loss = F.cross_entropy(logits, labels, label_smoothing=smoothing or 0.0)
    return loss, torch.softmax(logits.detach(), dim=1)[:, 1], labels


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
    device = info.device
    out_dir = Path(cfg.out_dir)
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    resume_path = None
    if cfg.resume:
        resume_path = last_path if cfg.resume == "auto" else Path(cfg.resume)
        if cfg.resume == "auto" and not resume_path.exists():
            resume_path = None
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed + info.rank, cfg.deterministic)

    model, kind, mcfg = build_model(cfg)
    model.to(device)
    model_config = mcfg.to_dict()

    train_samples = read_split(cfg.dataset, cfg.data_root, cfg.protocol, "train", cfg.limit)
    train_samples = labelled_only(train_samples, "train")
    if cfg.balance:
        train_samples = balance_classes(train_samples)
    dev_samples = labelled_only(
        read_split(cfg.dataset, cfg.data_root, cfg.protocol, "dev", cfg.limit), "dev"
    )
    train_ds = make_dataset(cfg, train_samples, train=True, model_config=mcfg, seed=cfg.seed)
    dev_ds = make_dataset(cfg, dev_samples, train=False, model_config=mcfg, seed=cfg.seed)

    sampler = DistributedSampler(
        train_ds, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed,
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

    optimizer = build_optimizer(cfg, model)
    scheduler = build_scheduler(cfg, optimizer, steps_per_epoch)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and cfg.amp_dtype == "fp16")
    mixup, smoothing = _losses(cfg, kind)

    start_epoch, global_step, history, best = 0, 0, [], None
    if resume_path is not None:
        state = ck.load_checkpoint(resume_path)
        # older checkpoints hold EulerNet's retired "fused" key: not architecture
        saved_config = {k: v for k, v in state["model_config"].items() if k != "fused"}
        if state["kind"] != kind or saved_config != model_config:
            raise ck.CheckpointError(
                f"cannot resume from {resume_path}: it holds a {state['kind']} model with "
                f"config {saved_config}, this run builds {kind} {model_config}"
            )
        ck.load_state_into(model, state["model"], f"checkpoint {resume_path}")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        start_epoch = int(state["epoch"])
        global_step = int(state.get("step", 0))
        history = list(state.get("history", []))
        best = state.get("best_metrics") or None
        rngs = state.get("rng_per_rank") or [state["rng"]]
        ck.set_rng_state(rngs[info.rank] if info.rank < len(rngs) else rngs[0])
        if info.is_main:
            print(f"resumed from {resume_path} at epoch {start_epoch} (step {global_step})")

    train_model = model
    if info.distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(model, device_ids=[device] if device.type == "cuda" else None)

    logger = _Logger(out_dir, info.is_main, cfg.tensorboard, resume=resume_path is not None)
    if info.is_main:
        cfg.save_yaml(out_dir / "config.yaml")
    t_start = time.time()
    stopped_early = False
    eval_bs = cfg.eval_batch_size or cfg.batch_size
    for epoch in range(start_epoch, cfg.epochs):
        sampler.set_epoch(epoch)
        loader_gen.manual_seed(cfg.seed * 1_000_003 + epoch * 7919 + info.rank)
        if hasattr(train_ds, "set_epoch"):
            train_ds.set_epoch(epoch)
        train_model.train()
        t0 = time.time()
        run_loss, run_n, live_sum, live_n, att_sum, att_n, correct = 0.0, 0, 0.0, 0, 0.0, 0, 0
        bar = None
        if cfg.progress and info.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                       dynamic_ncols=True, leave=False)
        for step, batch in enumerate(loader):
            if step >= steps_per_epoch:
                break
            with autocast_context(device, use_amp, cfg.amp_dtype):
                loss, live_score, labels = _train_step_loss(
                    train_model, batch, kind, device, mixup, smoothing
                )
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training loss is {float(loss)} at epoch {epoch + 1} step {step}: "
                    "lower the lr or turn AMP off"
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            global_step += 1
            b = labels.shape[0]
            run_loss += float(loss.detach()) * b
            run_n += b
            is_live = labels == 1
            live_sum += float(live_score[is_live].sum())
            live_n += int(is_live.sum())
            att_sum += float(live_score[~is_live].sum())
            att_n += int((~is_live).sum())
            correct += int(((live_score >= 0.5) == is_live).sum())
            if info.is_main and global_step % 10 == 0:
                logger.scalar("train/loss", float(loss.detach()), global_step)
                logger.scalar("train/lr", optimizer.param_groups[0]["lr"], global_step)
            if bar is not None:
                post = {"loss": f"{run_loss / run_n:.4f}"}
                if kind != "eulernet":
                    post["acc"] = f"{correct / run_n:.3f}"
                if live_n and att_n:
                    post["live-att"] = f"{live_sum / live_n - att_sum / att_n:+.3f}"
                bar.set_postfix(post)
                bar.update(1)
        if bar is not None:
            bar.close()
        train_loss, train_acc = du.all_reduce_mean(
            [run_loss / max(run_n, 1), correct / max(run_n, 1)], device
        )
        train_time = time.time() - t0

        row = {
            "epoch": epoch + 1,
            "step": global_step,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": train_loss,
            "train_acc": train_acc,
            "train_time": train_time,
        }
        is_best = False
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            t1 = time.time()
            du.broadcast_buffers(model)  # one set of BN statistics (rank 0's) on every rank
            scores = score_dataset(
                model, dev_ds, kind=kind, batch_size=eval_bs, workers=cfg.workers,
                device=device, amp=use_amp, amp_dtype=cfg.amp_dtype, progress=cfg.progress,
                desc="dev",
            )
            metrics = dev_metrics(scores, cfg.threshold_method)
            row.update(metrics)
            row["eval_time"] = time.time() - t1
            is_best = _better(metrics, best)
            if is_best:
                best = dict(metrics, epoch=epoch + 1)
        history.append(row)
        elapsed = time.time() - t_start
        out_of_time = cfg.time_limit > 0 and elapsed >= cfg.time_limit and epoch + 1 < cfg.epochs
        out_of_time = bool(du.broadcast_object(out_of_time))  # rank 0 decides for all

        # every rank's RNG state, so a resumed DDP run continues exactly on each rank
        rng_all = du.all_gather_objects(ck.rng_state()) if info.distributed else None
        if info.is_main:
            state = {
                "kind": kind,
                "model_config": model_config,
                "model": ck.unwrap(model).state_dict(),
                "epoch": epoch + 1,
                "step": global_step,
                "metrics": row,
                "best_metrics": best or {},
                # without "fused": the ops choice is the process's, not the weights'
                "train_config": {k: v for k, v in cfg.to_dict().items() if k != "fused"},
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler.is_enabled() else {},
                "rng": ck.rng_state(),
                "rng_per_rank": rng_all or [],
                "sampler": {"seed": cfg.seed, "epoch": epoch + 1,
                            "world_size": info.world_size},
                "history": history,
            }
            ck.save_checkpoint(last_path, state)
            if is_best:
                slim = {k: v for k, v in state.items()
                        if k not in ("optimizer", "scheduler", "scaler")}
                ck.save_checkpoint(best_path, slim)
            logger.epoch(row)
            msg = f"epoch {epoch + 1}/{cfg.epochs}  loss {train_loss:.4f}"
            if "dev_acer" in row:
                msg += (f"  dev ACER {100 * row['dev_acer']:.2f}%  "
                        f"(APCER {100 * row['dev_apcer']:.2f}%, "
                        f"BPCER {100 * row['dev_bpcer']:.2f}%)  dev loss {row['dev_loss']:.4f}")
            msg += f"  [{train_time:.0f}s]" + ("  *best*" if is_best else "")
            print(msg, flush=True)
        du.barrier()
        if out_of_time:
            stopped_early = True
            if info.is_main:
                print(f"time limit {cfg.time_limit:.0f}s reached after epoch {epoch + 1}; stopping")
            break
    logger.close()
    return TrainResult(
        best_checkpoint=best_path,
        last_checkpoint=last_path,
        history=history,
        out_dir=out_dir,
        best_metrics=best or {},
        stopped_early=stopped_early,
    )
