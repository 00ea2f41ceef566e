"""Thin adapters between the engine and the other pieces (data, analysis).

Everything the engine needs from ``fasfast.data`` and ``fasfast.analysis`` goes through
here, so an API change in those pieces is fixed in one place.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fasfast.engine.config import TrainConfig, parse_downsample

# --------------------------------------------------------------------------- analysis


def make_scoreset(rows, name: str = ""):
    """Rows ``(id, video, label, attack_type, score)`` -> :class:`fasfast.analysis.ScoreSet`."""
    from fasfast.analysis import ScoreSet

    if not rows:
        raise ValueError("no score rows")
    ids, videos, labels, types, scores = zip(*[(r[0], r[1], r[2], r[3], r[4]) for r in rows])
    return ScoreSet(
        ids=np.array(ids), labels=np.array(labels, dtype=np.int64),
        scores=np.array(scores, dtype=np.float64), attack_types=np.array(types),
        videos=np.array(videos), name=name,
    )


def write_rows(path: Path, rows) -> Path:
    """Score file in the analysis module's CSV format (id,video,label,attack_type,score)."""
    from fasfast.analysis import write_scores

    return write_scores(path, make_scoreset(rows, Path(path).stem))


def rows_for_level(scores, level: str):
    rows = getattr(scores, level)
    if not rows:
        have = ", ".join(scores.levels())
        raise ValueError(f"no {level}-level scores for this model (have: {have})")
    return rows


def threshold_metrics(rows, method: str = "acer_point") -> dict:
    """threshold (``method`` of select_thresholds on ``rows``), APCER, BPCER, ACER, EER, AUC
    on the same rows; NaN when a class is missing."""
    from fasfast.analysis import auc, pad_metrics, select_thresholds
    from fasfast.analysis.thresholds import threshold_name

    method = threshold_name(method)

    ss = make_scoreset(rows)
    nan = float("nan")
    if len(ss.live) == 0 or len(ss.attack) == 0:
        return {"threshold": nan, "apcer": nan, "bpcer": nan, "acer": nan, "eer": nan,
                "auc": nan}
    # chosen under the APCER printed below (the worst PAI species, ISO/IEC 30107-3)
    th = select_thresholds(ss.live, ss.attack, attack_types=ss.attack_types[ss.labels == 0])
    if not hasattr(th, method):
        raise ValueError(f"unknown threshold method {method!r}; choose from "
                         f"{', '.join(th.as_dict())}")
    t = float(getattr(th, method))
    m = pad_metrics(ss.scores, ss.labels == 1, t, ss.attack_types)
    return {"threshold": t, "apcer": m.apcer, "bpcer": m.bpcer, "acer": m.acer,
            "eer": float(th.eer), "auc": float(auc(ss.live, ss.attack))}


def _pm(m) -> dict | None:
    if m is None:
        return None
    d = m.as_dict() if hasattr(m, "as_dict") else dict(m)
    return {k: (float(v) if isinstance(v, (int, float, np.floating)) else v) for k, v in d.items()}


def table7(select_rows, apply_rows, select_name: str, apply_name: str | None,
           center: str = "balance") -> dict:
    """Table 7 of Huang et al. 2024 via :func:`fasfast.analysis.threshold_table`.

    Returns dict(rows=[json-able rows], markdown=str, terminal=str, thresholds={key: t}).
    """
    from fasfast.analysis import format_table, threshold_table

    sel = make_scoreset(select_rows, select_name)
    sel.check_two_classes(select_name)
    app = None
    if apply_rows is not None:
        app = make_scoreset(apply_rows, apply_name or "apply")
        app.check_two_classes(apply_name or "apply")
    rows = threshold_table(sel, app, center=center)
    names = (select_name, apply_name or "apply")
    out_rows = [
        {"key": r["key"], "method": r["method"], "threshold": float(r["threshold"]),
         select_name: _pm(r["select"]),
         **({apply_name: _pm(r["apply"])} if r["apply"] is not None else {})}
        for r in rows
    ]
    return {
        "rows": out_rows,
        "markdown": format_table(rows, "markdown", names=names),
        "terminal": format_table(rows, "terminal", names=names),
        "thresholds": {r["key"]: float(r["threshold"]) for r in rows},
    }


def make_report(out_dir: Path, select_rows, apply_rows, center: str = "balance",
                title: str = "fasfast evaluation", names=("select", "apply")):
    """The full report via :func:`fasfast.analysis.write_report`."""
    from fasfast.analysis import write_report

    sel = make_scoreset(select_rows, names[0])
    app = make_scoreset(apply_rows, names[1]) if apply_rows is not None else None
    return write_report(out_dir, sel, app, center=center, title=title)


def acer_stats(values) -> tuple[float, float]:
    """mean and (population-free) sample std; std 0 for one value."""
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


# --------------------------------------------------------------------------- data


def sequence_dataset(samples, **kw):
    from fasfast.data import SequenceDataset

    return SequenceDataset(samples, **kw)


def frame_dataset(samples, *, image_size, train, augment, cache_dir, seed):
    from fasfast.data import FrameDataset

    return FrameDataset(samples, image_size=image_size, train=train, augment=augment,
                        cache_dir=cache_dir, seed=seed)


def make_augment(cfg: TrainConfig):
    """Training augmentation from the config switches (:mod:`fasfast.data.augment`):
    class-specific down-sampling first (Huang et al. 2024: it changes a class's domain), then
    flip, colour jitter and Gaussian blur. None when every switch is off."""
    from fasfast.data import augment as A

    parts = []
    for cls_name, factors in parse_downsample(cfg.downsample):
        ds = A.Downsample(factors=factors, p=cfg.downsample_p)
        parts.append(ds if cls_name in ("all", "*") else A.ClassSpecific({cls_name: ds}))
    if cfg.hflip:
        parts.append(A.HorizontalFlip(p=0.5))
    if cfg.color_jitter > 0:
        j = float(cfg.color_jitter)
        parts.append(A.ColorJitter(j, j, j, min(0.02, j / 10), p=0.8))
    if cfg.blur > 0:
        parts.append(A.GaussianBlur(p=float(cfg.blur)))
    return A.Compose(parts) if parts else None


def make_mixup(cfg: TrainConfig):
    """timm Mixup doing CutMix + label smoothing (2 classes; class 1 = live)."""
    from fasfast.data.augment import make_mixup as _make

    return _make(cutmix_alpha=float(cfg.cutmix), mixup_alpha=0.0,
                 label_smoothing=float(cfg.label_smoothing or 0.0), num_classes=2)
