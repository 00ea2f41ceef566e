"""The learning-rate schedule and the run plan a checkpoint records, so a resume can check it.

The schedule is a function of the optimizer step: linear warm-up over ``warmup_epochs``
epochs, then constant, cosine (to ``min_ratio`` of the base lr) or step decay (x0.1 at 1/3
and 2/3), planned for ``epochs * steps_per_epoch`` steps (:class:`LrLambda`).

:class:`RunPlan` holds what shapes that schedule and what the epochs are made of: epochs,
steps per epoch, world size, batch size, ``max_steps``, ``limit``, ``balance``, the training
set (entries per epoch and a digest of its videos), optimizer, lr, weight decay, schedule,
warm-up. Every checkpoint stores it (``plan``). On resume :func:`compare_plans` sorts the
differences of the new run:

- *carried through* (the schedule is re-planned): ``epochs``, ``world_size``, ``batch_size``,
  ``max_steps`` (these change the steps per epoch or the end), ``lr``, ``schedule``,
  ``warmup_epochs``. The re-planned schedule is the one the new settings give from step 0,
  continued at the first step of the next epoch (:func:`resume_scheduler`): resuming at
  epoch ``E`` of a run now planned for ``N`` epochs of ``S`` steps continues at virtual step
  ``E * S`` of an ``N * S``-step schedule. With no change this is exactly where the saved
  scheduler stood, so stop-and-resume follows the uninterrupted run step for step;
- *refused* (a one-line :class:`ResumeError` naming the setting): ``optimizer`` and
  ``weight_decay`` (the saved optimizer state belongs to them), and the training set
  (``limit``, ``balance``, or other videos: ``dataset`` / ``data_root`` / ``protocol``),
  since the epochs done so far were made of other data.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, fields

import torch


class ResumeError(ValueError):
    """A resume whose settings cannot be carried over from the checkpoint (one line)."""


class LrLambda:
    """Linear warm-up then constant / cosine / step decay, per optimizer step.

    ``lr(step) = base_lr * self(step)``: ``(step + 1) / warmup`` during the warm-up, then
    1 (constant), ``min_ratio + (1 - min_ratio) * (1 + cos(pi * p)) / 2`` (cosine) or
    ``0.1 ** floor(3 p)`` (step) with ``p = (step - warmup) / (total - warmup)`` in [0, 1].
    """

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


def lr_lambda(cfg, steps_per_epoch: int) -> LrLambda:
    """The schedule of a resolved TrainConfig with ``steps_per_epoch`` steps per epoch."""
    total = steps_per_epoch * cfg.epochs
    warmup = int(round((cfg.warmup_epochs or 0.0) * steps_per_epoch))
    return LrLambda(cfg.schedule or "constant", warmup, total)


def build_scheduler(cfg, optimizer, steps_per_epoch: int):
    """A ``LambdaLR`` over :func:`lr_lambda`, at step 0, with ``cfg.lr`` as its base lr."""
    for group in optimizer.param_groups:
        group["initial_lr"] = cfg.lr
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(cfg, steps_per_epoch), last_epoch=-1
    )


def resume_scheduler(cfg, optimizer, steps_per_epoch: int, start_epoch: int):
    """The scheduler of the (re-)planned run, positioned at the first step of epoch
    ``start_epoch + 1``: virtual step ``start_epoch * steps_per_epoch``. Call it after the
    optimizer state was loaded (its saved lr / initial lr are replaced by ``cfg.lr``)."""
    scheduler = build_scheduler(cfg, optimizer, steps_per_epoch)
    step = int(start_epoch) * int(steps_per_epoch)
    fn = scheduler.lr_lambdas[0]
    scheduler.last_epoch = step
    for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
        group["lr"] = base * fn(step)
    scheduler._last_lr = [g["lr"] for g in optimizer.param_groups]
    return scheduler


def train_set_digest(samples) -> str:
    """A short digest of the training videos (ids and labels, order-free)."""
    h = hashlib.sha1()
    for vid, label in sorted((str(s.video_id), int(s.label)) for s in samples):
        h.update(f"{vid}\t{label}\n".encode())
    return h.hexdigest()[:16]


@dataclass
class RunPlan:
    """What shapes a run's schedule and epochs (stored in every checkpoint as ``plan``)."""

    epochs: int
    steps_per_epoch: int
    world_size: int
    batch_size: int
    max_steps: int
    limit: int
    balance: bool
    train_entries: int  # training entries per epoch (balance repeats included)
    train_videos: int
    train_set: str | None  # train_set_digest of the videos; None for old checkpoints
    optimizer: str
    weight_decay: float
    lr: float
    schedule: str
    warmup_epochs: float

    @classmethod
    def of(
        cls, cfg, *, steps_per_epoch: int, world_size: int, train_entries: int, train_samples
    ) -> RunPlan:
        return cls(
            epochs=int(cfg.epochs),
            steps_per_epoch=int(steps_per_epoch),
            world_size=int(world_size),
            batch_size=int(cfg.batch_size),
            max_steps=int(cfg.max_steps),
            limit=int(cfg.limit),
            balance=bool(cfg.balance),
            train_entries=int(train_entries),
            train_videos=len(train_samples),
            train_set=train_set_digest(train_samples),
            optimizer=str(cfg.optimizer),
            weight_decay=float(cfg.weight_decay or 0.0),
            lr=float(cfg.lr),
            schedule=str(cfg.schedule or "constant"),
            warmup_epochs=float(cfg.warmup_epochs or 0.0),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, state: dict) -> RunPlan | None:
        """The plan a checkpoint recorded; for a checkpoint written before plans were
        recorded, what its train config, sampler and step count tell (None if too little)."""
        if isinstance(state.get("plan"), dict):
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in state["plan"].items() if k in known})
        tc, sampler = state.get("train_config") or {}, state.get("sampler") or {}
        epoch, step = int(state.get("epoch") or 0), int(state.get("step") or 0)
        if not tc or epoch < 1:
            return None
        return cls(
            epochs=int(tc.get("epochs", epoch)),
            steps_per_epoch=step // epoch,
            world_size=int(sampler.get("world_size", 1)),
            batch_size=int(tc.get("batch_size", 0)),
            max_steps=int(tc.get("max_steps", 0)),
            limit=int(tc.get("limit", 0)),
            balance=bool(tc.get("balance", False)),
            train_entries=-1,
            train_videos=-1,
            train_set=None,
            optimizer=str(tc.get("optimizer")),
            weight_decay=float(tc.get("weight_decay") or 0.0),
            lr=float(tc.get("lr") or 0.0),
            schedule=str(tc.get("schedule") or "constant"),
            warmup_epochs=float(tc.get("warmup_epochs") or 0.0),
        )


# settings that re-plan the schedule (name in messages, RunPlan field)
_CARRIED = (
    ("epochs", "epochs"),
    ("world size", "world_size"),
    ("batch size", "batch_size"),
    ("max steps", "max_steps"),
    ("lr", "lr"),
    ("schedule", "schedule"),
    ("warmup epochs", "warmup_epochs"),
)


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def compare_plans(old: RunPlan | None, new: RunPlan, source: str) -> list[str]:
    """The carried-through changes from ``old`` (the checkpoint's) to ``new`` as
    ``"epochs 1 -> 3"`` strings; raises :class:`ResumeError` (one line naming the setting)
    for a change that cannot be carried through (module doc)."""
    if old is None:
        return []
    for flag, key in (("--optimizer", "optimizer"), ("--weight-decay", "weight_decay")):
        a, b = getattr(old, key), getattr(new, key)
        if a not in (None, "None") and a != b:
            raise ResumeError(
                f"cannot resume from {source}: {flag} {_fmt(b)} differs from the checkpoint's "
                f"{_fmt(a)} (its optimizer state belongs to {_fmt(a)}); keep {flag} {_fmt(a)}, "
                "or start a new run from these weights with --init"
            )
    for flag, key in (("--limit", "limit"), ("--balance", "balance")):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            raise ResumeError(
                f"cannot resume from {source}: {flag} {_fmt(b)} differs from the checkpoint's "
                f"{_fmt(a)}, so the epochs so far were made of other training data; keep "
                f"{flag} {_fmt(a)}, or start a new run (another --out) with --init"
            )
    if old.train_set is not None and old.train_set != new.train_set:
        raise ResumeError(
            f"cannot resume from {source}: the training videos differ from the checkpoint's "
            f"({old.train_videos} -> {new.train_videos} videos; --dataset / --data-root / "
            "--protocol or the data changed); resume on the same data, or start a new run "
            "(another --out) with --init"
        )
    return [
        f"{name} {_fmt(getattr(old, key))} -> {_fmt(getattr(new, key))}"
        for name, key in _CARRIED
        if getattr(old, key) != getattr(new, key)
    ]


def replan_message(
    changes: list[str], old: RunPlan | None, new: RunPlan, start_epoch: int, lr_now: float
) -> str:
    """One line saying what changed and how the schedule continues."""
    spe = ""
    if old is not None and old.steps_per_epoch != new.steps_per_epoch:
        spe = f" (steps per epoch {old.steps_per_epoch} -> {new.steps_per_epoch})"
    return (
        f"resume: {', '.join(changes)}{spe}: the {new.schedule} schedule is re-planned for "
        f"{new.epochs} epochs of {new.steps_per_epoch} steps and continues at epoch "
        f"{start_epoch + 1} (step {start_epoch * new.steps_per_epoch} of "
        f"{new.epochs * new.steps_per_epoch}, lr {lr_now:.3g})"
    )
