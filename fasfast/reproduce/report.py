"""Budgets, synthetic data, and Markdown / figure helpers shared by the reproductions."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
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
    "verdict",
    "Claim",
    "write_report",
    "save_fig",
    "scoreset_from_rows",
]


@dataclass
class Budget:
    """Sizes of one reproduction run.

    tiny: CI (seconds); quick: the 2-core CPU (a few minutes per sub-command);
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
    # EulerNet optimizer (None: the recipe's Ranger). Short CPU budgets use Adam: RAdam's
    # rectification acts as a warm-up longer than the whole run (see fasfast demo).
    optimizer: str | None = None
    balance: bool = False  # repeat live training videos to match the attacks
    limit: int = 0  # >0: at most this many videos per split (balanced live / attack)
    workers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


BUDGETS: dict[str, Budget] = {
    "tiny": Budget("tiny", subjects=3, seconds=1.0, fps=12.0, synth_size=64, image_size=32,
                   widths=(8, 12, 8), epochs=2, max_steps=2, batch_size=4, seeds=1,
                   cls_model="convnextv2_atto", cls_image_size=32, cls_epochs=1,
                   cls_max_steps=2, cls_batch_size=8, lr=1e-3, limit=8,
                   optimizer="adam", balance=True),
    "quick": Budget("quick", subjects=12, seconds=2.0, fps=15.0, synth_size=96, image_size=64,
                    widths=(8, 12, 8), epochs=15, max_steps=0, batch_size=4, seeds=1,
                    cls_model="convnextv2_atto", cls_image_size=48, cls_epochs=3,
                    cls_max_steps=0, cls_batch_size=16, lr=3e-3, limit=24,
                    optimizer="adam", balance=True),
    "full": Budget("full", subjects=24, seconds=4.0, fps=30.0, synth_size=320, image_size=256,
                   widths=(128, 196, 128), epochs=50, max_steps=0, batch_size=16, seeds=3,
                   cls_model="convnextv2_base", cls_image_size=224, cls_epochs=30,
                   cls_max_steps=0, cls_batch_size=32, workers=4),
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


def ensure_data(data: str | Path | None, out: Path, budget: Budget, seed: int = 0,
                progress: bool = True) -> Path:
    """The data root to use: ``data`` when given (must exist), else a synthetic set generated
    once under ``<out>/data`` (re-used when its ``synth.json`` matches the budget)."""
    if data is not None:
        root = Path(data)
        if not root.is_dir():
            raise FileNotFoundError(f"data root not found: {root}")
        return root
    from fasfast.data.synth import generate

    root = out / "data"
    want = dict(subjects=budget.subjects, seed=seed, seconds=budget.seconds, fps=budget.fps,
                size=budget.synth_size)
    meta = root / "synth.json"
    if meta.is_file():
        have = json.loads(meta.read_text())
        if all(have.get(k) == v for k, v in want.items()):
            return root
    t0 = time.time()
    generate(root, progress=progress, **want)
    print(f"synthetic data: {root} ({time.time() - t0:.0f}s)")
    return root


def scoreset_from_rows(rows, name: str = ""):
    """Engine score rows ``(id, video, label, attack_type, score)`` -> analysis ScoreSet."""
    from fasfast.analysis import ScoreSet

    if not rows:
        raise ValueError(f"no score rows for {name or 'this split'}")
    ids, videos, labels, types, scores = (list(c) for c in zip(*rows))
    return ScoreSet(ids=np.array(ids), labels=np.array(labels, dtype=np.int64),
                    scores=np.array(scores, dtype=np.float64), attack_types=np.array(types),
                    videos=np.array(videos), name=name)


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
    out += ["| " + " | ".join((c if isinstance(c, str) else fmt(c)).replace("|", "\\|")
                              for c in r) + " |" for r in rows]
    return "\n".join(out)


@dataclass
class Claim:
    """One claim of a paper checked on the synthetic result."""

    claim: str
    source: str
    outcome: str  # "agrees" | "disagrees" | "inconclusive"
    evidence: str


def verdict(ok: bool | None) -> str:
    return {True: "agrees", False: "disagrees", None: "inconclusive"}[ok]


def claims_table(claims: list[Claim]) -> str:
    marks = {"agrees": "agrees", "disagrees": "**disagrees**", "inconclusive": "inconclusive"}
    return md_table(["Claim", "Paper", "Synthetic result", "Evidence"],
                    [[c.claim, c.source, marks[c.outcome], c.evidence] for c in claims],
                    align="llll")


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
