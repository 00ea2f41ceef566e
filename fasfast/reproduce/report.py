"""Budgets, synthetic data, and Markdown / figure helpers shared by the reproductions.

Length: over the project's ~450-line guide once ruff-formatted, because the budgets, the
synthetic-data step and the Markdown / figure helpers are one layer shared by all three
reports; split it when a fourth report needs a different shape.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Budget",
    "BUDGETS",
    "get_budget",
    "ensure_data",
    "md_table",
    "pct",
    "Claim",
    "Clock",
    "SMOKE_NOTE",
    "learned_note",
    "synth_text",
    "training_text",
    "write_report",
    "save_fig",
    "scoreset_from_rows",
]


@dataclass
class Budget:
    """Sizes of one reproduction run.

    tiny: CI (seconds); quick: a smoke run on a CPU (minutes; decides nothing); standard:
    the committed reports (the models learn, 3 seeds; tens of minutes on a 2-core CPU);
    full: a GPU (paper-like sizes; hours on a CPU).
    """

    name: str
    # synthetic data
    subjects: int
    seconds: float
    fps: float
    synth_size: int
    # EulerNet
    image_size: int
    widths: tuple[int, int, int]
    epochs: int
    max_steps: int  # 0 = full epochs
    batch_size: int
    seeds: int
    # classifier (augmentation study)
    cls_model: str
    cls_image_size: int
    cls_epochs: int
    cls_max_steps: int
    cls_batch_size: int
    lr: float | None = None  # EulerNet lr (None: the recipe's 1e-4)
    smoke: bool = False  # checks the pipeline only: its reports decide nothing
    # EulerNet optimizer (None: the recipe's Ranger). Short CPU budgets use Adam: RAdam's
    # rectification acts as a warm-up longer than the whole run (see fasfast demo).
    optimizer: str | None = None
    balance: bool = False  # repeat live training videos to match the attacks
    limit: int = 0  # >0: at most this many videos per split (balanced live / attack)
    workers: int = 0
    phones: int = 1  # synthetic capture devices (more test videos per subject)
    artefacts: float = 1.0  # synthetic difficulty knob (fasfast.data.synth, 1 = default)
    recapture: float = 0.0  # synthetic attack media detail loss (0 = none)
    color_jitter: float = 0.0  # EulerNet training: brightness / contrast / saturation jitter
    schedule: str | None = None  # EulerNet lr schedule (None: the recipe's)
    cls_eval_every: int = 1  # classifier: dev evaluation (checkpoint choice) every k epochs
    # classifier study's synthetic data: attack media detail loss (None: recapture)
    cls_recapture: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def eulernet_config(
        self, preset: str, data_root, out_dir, seed: int, progress: bool, cache_dir, **overrides
    ):
        """The :class:`~fasfast.engine.TrainConfig` of one EulerNet run of this budget on the
        synthetic OULU-NPU Protocol 1 (``overrides``: any other TrainConfig field)."""
        from fasfast.engine import TrainConfig

        return TrainConfig(
            model="eulernet",
            preset=preset,
            image_size=self.image_size,
            widths=tuple(self.widths),
            dataset="oulu",
            data_root=str(data_root),
            protocol="1",
            epochs=self.epochs,
            batch_size=self.batch_size,
            max_steps=self.max_steps,
            lr=self.lr,
            limit=self.limit,
            optimizer=self.optimizer,
            balance=self.balance,
            color_jitter=self.color_jitter,
            schedule=self.schedule,
            out_dir=str(out_dir),
            seed=seed,
            workers=self.workers,
            tensorboard=False,
            progress=progress,
            cache_dir=cache_dir,
            **overrides,
        )


BUDGETS: dict[str, Budget] = {
    "tiny": Budget(
        "tiny",
        subjects=3,
        seconds=1.0,
        fps=12.0,
        synth_size=64,
        image_size=32,
        widths=(8, 12, 8),
        epochs=2,
        max_steps=2,
        batch_size=4,
        seeds=1,
        cls_model="convnextv2_atto",
        cls_image_size=32,
        cls_epochs=1,
        cls_max_steps=2,
        cls_batch_size=8,
        lr=1e-3,
        limit=8,
        optimizer="adam",
        balance=True,
        smoke=True,
    ),
    "quick": Budget(
        "quick",
        subjects=12,
        seconds=2.0,
        fps=15.0,
        synth_size=96,
        image_size=64,
        widths=(8, 12, 8),
        epochs=15,
        max_steps=0,
        batch_size=4,
        seeds=1,
        cls_model="convnextv2_atto",
        cls_image_size=32,  # ConvNeXt's stride is 32: 48 px is refused
        cls_epochs=3,
        cls_recapture=2.0,  # the standard budget's data path
        cls_max_steps=0,
        cls_batch_size=16,
        lr=3e-3,
        limit=24,
        optimizer="adam",
        balance=True,
        smoke=True,
    ),
    # the committed reports (fasfast reproduce without a budget flag): the models learn, 3 seeds
    "standard": Budget(
        "standard",
        subjects=30,
        seconds=1.4,
        fps=15.0,
        synth_size=112,
        image_size=48,
        widths=(8, 12, 8),
        epochs=6,
        max_steps=0,
        batch_size=8,
        seeds=3,
        cls_model="convnextv2_atto",
        cls_image_size=32,
        cls_epochs=6,
        cls_max_steps=0,
        cls_batch_size=16,
        cls_eval_every=2,
        cls_recapture=2.0,  # chosen by the orig classifier's pilots (reproduce/calibration.py)
        lr=3e-3,
        optimizer="adam",
        balance=True,
        phones=2,
        artefacts=2.0,
        color_jitter=0.5,
        schedule="cosine",
    ),
    "full": Budget(
        "full",
        subjects=24,
        seconds=4.0,
        fps=30.0,
        synth_size=320,
        image_size=256,
        widths=(128, 196, 128),
        epochs=50,
        max_steps=0,
        batch_size=16,
        seeds=3,
        cls_model="convnextv2_base",
        cls_image_size=224,
        cls_epochs=30,
        cls_max_steps=0,
        cls_batch_size=32,
        workers=4,
    ),
}


def get_budget(name: str, **overrides: Any) -> Budget:
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}; choose from {sorted(BUDGETS)}")
    b = dataclasses.replace(BUDGETS[name])
    for k, v in overrides.items():
        if v is None:
            continue
        if not hasattr(b, k):
            raise ValueError(f"unknown budget field {k!r}")
        setattr(b, k, v)
    return b


def ensure_data(
    data: str | Path | None, out: Path, budget: Budget, seed: int = 0, progress: bool = True
) -> Path:
    """The data root to use: ``data`` when given (must exist), else a synthetic set generated
    once under ``<out>/data`` (reused when its ``synth.json`` matches the budget)."""
    if data is not None:
        root = Path(data)
        if not root.is_dir():
            raise FileNotFoundError(f"data root not found: {root}")
        return root
    from fasfast.data.synth import generate

    root = out / "data"
    want = dict(
        subjects=budget.subjects,
        seed=seed,
        seconds=budget.seconds,
        fps=budget.fps,
        size=budget.synth_size,
        phones=budget.phones,
        artefacts=budget.artefacts,
        recapture=budget.recapture,
    )
    meta = root / "synth.json"
    if meta.is_file():
        have = dict(json.loads(meta.read_text()))
        have.setdefault("recapture", 0.0)  # written before the knob existed
        if all(have.get(k) == v for k, v in want.items()):
            return root
    t0 = time.time()
    generate(root, progress=progress, **want)
    print(f"synthetic data: {root} ({time.time() - t0:.0f}s)")
    return root


SMOKE_NOTE = (
    "Smoke run: this budget only checks that the pipeline runs end to end. Its "
    "models are too small and too briefly trained, its test sets too small, for any "
    "verdict below to decide anything; read the committed report of the default "
    "budget instead."
)
LEARNED_AUC = 0.75  # below this dev or test AUC the baseline has not clearly learned


def learned_note(summary: dict | None, what: str = "baseline") -> str:
    """A warning (Markdown) when the model's mean dev or test AUC is not clearly above
    chance; empty otherwise."""
    if not summary:
        return ""
    aucs = {k: summary.get(f"{k}_auc", math.nan) for k in ("dev", "test")}
    low = [f"{k} AUC {v:.2f}" for k, v in aucs.items() if not v >= LEARNED_AUC]
    if not low:
        return ""
    return (
        f"\n\n**The {what} has not clearly learned at this budget ({', '.join(low)}; "
        f"below {LEARNED_AUC}): differences between models near chance are noise.**"
    )


def bpcer_step(counts: dict) -> str:
    """How much one bona fide presentation moves the BPCER (``counts``: per type)."""
    n = counts.get("live", 0)
    return f"{100 / n:.2f}%" if n else "-"


def synth_text(budget: Budget) -> str:
    return (
        f"synthetic: {budget.subjects} subjects, {budget.phones} phone(s), "
        f"{budget.seconds:g} s at {budget.fps:g} fps, {budget.synth_size} px, artefact "
        f"strength {budget.artefacts:g} (`fasfast synth --artefacts`)"
        + (
            f", attack media detail loss {budget.recapture:g} (`fasfast synth --recapture`)"
            if budget.recapture
            else ""
        )
    )


def training_text(budget: Budget, seed: int) -> str:
    """The EulerNet training settings of a budget, in words."""
    return (
        f"{budget.epochs} epochs, batch {budget.batch_size}, "
        f"{'all' if not budget.max_steps else budget.max_steps} steps/epoch, "
        f"{budget.optimizer or 'Ranger'} lr {budget.lr or 1e-4:g}"
        + (f", {budget.schedule} schedule" if budget.schedule else "")
        + (f", colour jitter {budget.color_jitter:g}" if budget.color_jitter else "")
        + (", live videos repeated to balance the classes" if budget.balance else "")
        + f", seeds {seed}..{seed + budget.seeds - 1}"
        + (f"; at most {budget.limit} videos per split" if budget.limit else "")
    )


def scoreset_from_rows(rows, name: str = ""):
    """Engine score rows ``(id, video, label, attack_type, score)`` -> analysis ScoreSet."""
    from fasfast.analysis import ScoreSet

    if not rows:
        raise ValueError(f"no score rows for {name or 'this split'}")
    ids, videos, labels, types, scores = (list(c) for c in zip(*rows))
    return ScoreSet(
        ids=np.array(ids),
        labels=np.array(labels, dtype=np.int64),
        scores=np.array(scores, dtype=np.float64),
        attack_types=np.array(types),
        videos=np.array(videos),
        name=name,
    )


# --------------------------------------------------------------------------- Markdown
def fmt(x: Any, nd: int = 5) -> str:
    if x is None:
        return "-"
    if isinstance(x, (float, np.floating)):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return f"{x:.{nd}f}"
    return str(x)


def pct(x: float | None, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{100 * x:.{nd}f}"


def md_table(head: list[str], rows: list[list[Any]], align: str | None = None) -> str:
    """A GitHub Markdown table; ``align`` one char per column ('l' or 'r', default l then r)."""
    align = align or ("l" + "r" * (len(head) - 1))
    sep = ["---" if a == "l" else "---:" for a in align]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(sep) + "|"]
    out += [
        "| "
        + " | ".join((c if isinstance(c, str) else fmt(c)).replace("|", "\\|") for c in r)
        + " |"
        for r in rows
    ]
    return "\n".join(out)


@dataclass
class Claim:
    """One claim of a paper checked on the synthetic result: the measured difference, its
    95% interval, the test that gave it and the verdict by the rule of
    :mod:`fasfast.reproduce.verdicts`. ``comparisons``: the comparisons it is made of (each
    a :class:`~fasfast.reproduce.verdicts.Comparison` as a dict)."""

    claim: str
    source: str
    outcome: str  # "agrees" | "disagrees" | "inconclusive"
    evidence: str
    difference: float = math.nan
    interval: tuple[float, float] = (math.nan, math.nan)
    test: str = ""
    shown: str = ""  # the difference and interval as printed
    comparisons: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "claim": self.claim,
            "source": self.source,
            "verdict": self.outcome,
            "difference": self.difference,
            "interval": list(self.interval),
            "test": self.test,
            "evidence": self.evidence,
            "comparisons": self.comparisons,
        }


def claims_table(claims: list[Claim]) -> str:
    marks = {"agrees": "agrees", "disagrees": "**disagrees**", "inconclusive": "inconclusive"}
    return md_table(
        ["Claim", "Paper", "Difference [95% CI]", "Test", "Verdict", "Evidence"],
        [
            [c.claim, c.source, c.shown or "-", c.test or "-", marks[c.outcome], c.evidence]
            for c in claims
        ],
        align="llrlll",
    )


class Clock:
    """Wall time, process CPU time (user + system, every thread of this process and its
    finished children: data loader workers) and the load average, from construction on.
    CPU seconds are what a report states as its cost: the machine's other load slows the
    wall clock much more than it changes them."""

    def __init__(self):
        self.wall0 = time.time()
        self.cpu0 = self._cpu()
        self.load0 = os.getloadavg()[0]

    @staticmethod
    def _cpu() -> float:
        total = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            r = resource.getrusage(who)
            total += r.ru_utime + r.ru_stime
        return total

    def summary(self) -> dict:
        return {
            "wall_s": time.time() - self.wall0,
            "cpu_s": self._cpu() - self.cpu0,
            "load_start": self.load0,
            "load_end": os.getloadavg()[0],
            "cores": os.cpu_count(),
            "torch_threads": self._threads(),
        }

    @staticmethod
    def _threads() -> int | None:
        torch = sys.modules.get("torch")  # only report it when torch is in use
        return int(torch.get_num_threads()) if torch is not None else None

    def text(self) -> str:
        s = self.summary()
        return (
            f"{s['cpu_s']:.0f} s process CPU (user + system, all threads), "
            f"{s['wall_s']:.0f} s wall ({s['wall_s'] / 60:.1f} min) on {s['cores']} cores "
            + (f"(torch {s['torch_threads']} thread(s)) " if s["torch_threads"] else "")
            + f"with load average {s['load_start']:.1f} at the start, "
            f"{s['load_end']:.1f} at the end"
        )


def write_report(out: Path, title: str, sections: list[tuple[str, str]], meta: dict) -> Path:
    """``<out>/REPORT.md`` (sections of Markdown) and ``<out>/results.json`` (``meta``)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""]
    for head, body in sections:
        if head:
            lines += [f"## {head}", ""]
        lines += [body.rstrip(), ""]
    path = out / "REPORT.md"
    path.write_text("\n".join(lines))
    (out / "results.json").write_text(json.dumps(_jsonable(meta), indent=2))
    return path


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else str(v)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, Path):
        return str(x)
    return x


def save_fig(fig, path: Path, dpi: int = 80) -> Path:
    """Save a matplotlib figure as PNG (modest dpi: the reports are committed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except Exception:  # noqa: BLE001 - Figure objects not made by pyplot
        pass
    return path
