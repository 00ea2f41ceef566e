"""Evaluation: score splits with a checkpoint, pick thresholds on one, apply to another.

``evaluate(ckpt, root, protocol)`` writes into ``out_dir``::

    scores/<split>_<level>.csv   id,video,label,attack_type,score (levels: frame,
                                 sequence (EulerNet), video; label live/attack;
                                 higher = live) - the analysis module's format
    table7.md / table7.json      thresholds chosen on ``select_split`` (every method of
                                 fasfast.analysis) applied to ``apply_split`` (Huang et al. 2024,
                                 Table 7 layout)
    report/                      fasfast.analysis.write_report: report.{json,md,html},
                                 domain plots, ROC/DET
    summary.json                 checkpoint, data, per-method metrics on both splits,
                                 the videos left out and the non-response rates

Unreadable samples are never replaced by others: a video that cannot be read (a corrupt
file, a frame cut short, a malformed landmark file) is reported (one line naming the file
and the reason), left out, and written to every score file as a row with score ``nan``:
an ISO/IEC 30107-3 non-response. :mod:`fasfast.analysis` computes thresholds and APCER /
BPCER on the videos that have a score and counts the non-responses as APNRR (per PAI
species, and their maximum) and BPNRR (Table 7, the report); ``summary.json``
(``left_out``, ``non_responses``), a section of the report and the console say which
videos were left out and why, so a read failure can never improve a result.

Under torchrun, every rank scores its share of the items and rank 0 gathers them
(each item exactly once) and writes.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from fasfast.engine import distributed as du
from fasfast.engine.checkpoint import load_model
from fasfast.engine.config import TrainConfig
from fasfast.engine.data import labelled_only, make_dataset, read_split
from fasfast.engine.scoring import Scores, add_left_out_rows, score_dataset

LEVELS = ("frame", "sequence", "video")


def _train_config_of(meta: dict) -> TrainConfig:
    d = dict(meta.get("train_config") or {})
    try:
        return TrainConfig.from_dict(d)
    except (TypeError, ValueError):
        known = {k: v for k, v in d.items() if k in TrainConfig.__dataclass_fields__}
        return TrainConfig.from_dict(known)


def score_split(
    model,
    meta: dict,
    *,
    dataset: str,
    data_root: str | Path,
    protocol: str,
    split: str,
    batch_size: int = 16,
    workers: int = 2,
    device: torch.device | str = "cpu",
    amp: bool = True,
    limit: int = 0,
    cache_dir: str | None = None,
    interval: int | None = None,
    progress: bool = True,
) -> Scores:
    """Score one split of a data set with ``model`` (every rank its share; gathered)."""
    from fasfast import models

    tcfg = _train_config_of(meta)
    tcfg.dataset, tcfg.data_root, tcfg.protocol = dataset, str(data_root), str(protocol)
    if cache_dir is not None:
        tcfg.cache_dir = cache_dir
    if interval is not None:
        tcfg.interval = interval
    kind = meta["kind"]
    tcfg.model = "eulernet" if kind == "eulernet" else meta["model_config"]["model_name"]
    if kind == "eulernet":
        mcfg = models.EulerNetConfig.from_dict(meta["model_config"])
    else:
        mcfg = models.ClassifierConfig.from_dict(meta["model_config"])
    samples = labelled_only(read_split(dataset, data_root, protocol, split, limit), split)
    if not samples:
        raise ValueError(f"split {split!r} has no labelled samples to evaluate")
    ds = make_dataset(tcfg, samples, train=False, model_config=mcfg, seed=tcfg.seed)
    device = torch.device(device)
    scores = score_dataset(
        model,
        ds,
        kind=kind,
        batch_size=batch_size,
        workers=workers,
        device=device,
        amp=amp and device.type == "cuda",
        progress=progress,
        desc=f"score {split}",
    )
    # videos left out: unreadable when listed, or an item of theirs failed to read
    by_id = {s.video_id: s.path for s in samples}
    add_left_out_rows(
        scores,
        [
            {
                "video": s.video_id,
                "label": int(s.label),
                "attack_type": s.attack_type,
                "reason": reason,
            }
            for s, reason in ds.left_out
        ],
    )
    for d in scores.left_out:
        d["path"] = by_id.get(d["video"], d["video"])
    scores.skipped = sorted({d["path"] for d in scores.left_out})
    return scores


def write_score_files(out_dir: Path, split: str, scores: Scores) -> dict[str, Path]:
    """``scores/<split>_<level>.csv`` for every level present."""
    from fasfast.engine.results import write_rows

    paths = {}
    for level, rows in scores.levels().items():
        p = out_dir / "scores" / f"{split}_{level}.csv"
        write_rows(p, rows)
        paths[level] = p
    return paths


def evaluate(
    checkpoint: str | Path,
    data_root: str | Path,
    protocol: str = "1",
    select_split: str = "dev",
    apply_split: str | None = "test",
    out_dir: str | Path = "runs/eval",
    *,
    dataset: str = "oulu",
    level: str = "video",
    batch_size: int = 16,
    workers: int = 2,
    device: str = "auto",
    amp: bool = True,
    limit: int = 0,
    cache_dir: str | None = None,
    center: str = "balance",
    title: str | None = None,
    progress: bool = True,
    verbose: bool = True,
    model_name: str | None = None,
    image_size: int | None = None,
) -> dict:
    """Score ``select_split`` and ``apply_split``, choose thresholds on the first with
    every method, apply them to the second, write score files, Table 7 and the report.

    Returns the summary dict (also written to ``summary.json``) on every rank; only
    rank 0 writes files. ``model_name`` / ``image_size``: the model of a weights file that is
    not a fasfast checkpoint (see :func:`fasfast.engine.checkpoint.load_model`).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    info = du.setup(device)
    try:
        model, meta = load_model(checkpoint, info.device, model=model_name, image_size=image_size)
        out_dir = Path(out_dir)
        common = dict(
            dataset=dataset,
            data_root=data_root,
            protocol=protocol,
            batch_size=batch_size,
            workers=workers,
            device=info.device,
            amp=amp,
            limit=limit,
            cache_dir=cache_dir,
            progress=progress,
        )
        splits = [select_split] + ([apply_split] if apply_split else [])
        scored = {s: score_split(model, meta, split=s, **common) for s in splits}
        summary: dict = {}
        if info.is_main:
            summary = report_from_scores(
                scored,
                select_split,
                apply_split,
                out_dir,
                level=level,
                center=center,
                title=title or f"{meta['kind']} - {dataset} protocol {protocol}",
                extra={
                    "checkpoint": str(checkpoint),
                    "dataset": dataset,
                    "data_root": str(data_root),
                    "protocol": str(protocol),
                    "epoch": meta.get("epoch"),
                    "model_config": meta["model_config"],
                },
                verbose=verbose,
            )
        du.barrier()
        return du.broadcast_object(summary)
    finally:
        du.cleanup(info)


def report_from_scores(
    scored: dict[str, Scores],
    select_split: str,
    apply_split: str | None,
    out_dir: Path,
    *,
    level: str = "video",
    center: str = "balance",
    title: str = "fasfast evaluation",
    extra: dict | None = None,
    verbose: bool = True,
) -> dict:
    """Write score files, Table 7 and the analysis report for already-scored splits."""
    from fasfast.engine.results import make_report, non_responses, rows_for_level, table7

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        s: {k: str(v) for k, v in write_score_files(out_dir, s, sc).items()}
        for s, sc in scored.items()
    }
    sel_rows = rows_for_level(scored[select_split], level)
    app_rows = rows_for_level(scored[apply_split], level) if apply_split else None
    table = table7(sel_rows, app_rows, select_split, apply_split, center=center)
    (out_dir / "table7.md").write_text(table["markdown"] + "\n")
    (out_dir / "table7.json").write_text(json.dumps(table["rows"], indent=2))
    report = make_report(
        out_dir / "report",
        sel_rows,
        app_rows,
        center=center,
        title=title,
        names=(select_split, apply_split or "apply"),
    )
    _warn_below_chance(report, select_split)
    summary = {
        "title": title,
        "level": level,
        "select_split": select_split,
        "apply_split": apply_split,
        "center": center,
        "score_files": files,
        "table7": table["rows"],
        "thresholds": table["thresholds"],
        "report_dir": str(out_dir / "report"),
        "report_files": report.get("files", {}) if isinstance(report, dict) else {},
        "counts": {
            s: {
                "videos": sc.scored_videos,
                "left_out": len(sc.left_out),
                "items": sc.items,
                "loss": sc.loss,
                "skipped_files": len(sc.skipped),
            }
            for s, sc in scored.items()
        },
        "left_out": {s: sc.left_out for s, sc in scored.items()},
        "non_responses": {s: non_responses(sc.video) for s, sc in scored.items()},
        "skipped_files": sorted({f for sc in scored.values() for f in sc.skipped}),
        **(extra or {}),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default))
    _note_left_out(out_dir, summary)
    if verbose:
        print(
            f"\nThresholds chosen on {select_split} ({level} level), applied to "
            f"{apply_split or '-'}:\n"
        )
        print(table["terminal"])
        for line in left_out_lines(summary):
            print(line)
        print(f"\nreport: {out_dir / 'report'}")
    return summary


def _warn_below_chance(report, split: str) -> None:
    """One warning when the model ranks attacks above bona fide presentations on the split
    the thresholds are chosen on (AUC below 0.5): its thresholds mean little."""
    sel = report.get("splits", {}).get("select_on", {}) if isinstance(report, dict) else {}
    auc = float(sel.get("auc", float("nan")))
    if auc < 0.5:
        warnings.warn(
            f"the model ranks attacks above bona fide presentations on {split} (AUC {auc:.3f}, "
            "below chance): it has not learned the task (train longer), or the labels are "
            "inverted; the thresholds chosen there mean little",
            UserWarning,
            stacklevel=3,
        )


def left_out_lines(summary: dict) -> list[str]:
    """One line per split with left-out videos: how many, the non-response rates, which."""
    out = []
    for split, videos in (summary.get("left_out") or {}).items():
        if not videos:
            continue
        nr = summary["non_responses"][split]
        total = nr["live_total"] + nr["attack_total"]
        out.append(
            f"{split}: left out {len(videos)} of {total} videos that could not be read (not "
            f"replaced; non-responses: BPNRR {_pct(nr['bpnrr'])}, APNRR {_pct(nr['apnrr'])}): "
            + ", ".join(d["path"] for d in videos)
        )
    return out


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.2f}%"


def _note_left_out(out_dir: Path, summary: dict) -> None:
    """The left-out videos in the report too: a section of ``report.md`` and ``table7.md``,
    and the ``left_out`` / ``non_responses`` entries of ``report.json``."""
    lines = left_out_lines(summary)
    if not lines:
        return
    md = [
        "",
        "## Videos left out (non-responses)",
        "",
        "Videos that could not be read are left out (never replaced by others); their rows "
        "in the score files have score `nan`. Thresholds, APCER and BPCER are computed on "
        "the videos with a score; the left-out ones count as non-responses (APNRR / "
        "BPNRR).",
        "",
    ]
    for split, videos in summary["left_out"].items():
        for d in videos:
            md.append(
                f"- {split}: `{d['path']}` ({'live' if d['label'] == 1 else d['attack_type']})"
                f": {d['reason']}"
            )
    text = "\n".join(md) + "\n"
    for name in ("table7.md", "report/report.md"):
        f = out_dir / name
        if f.is_file():
            f.write_text(f.read_text() + text)
    rj = out_dir / "report" / "report.json"
    if rj.is_file():
        data = json.loads(rj.read_text())
        data["left_out"] = summary["left_out"]
        data["non_responses"] = summary["non_responses"]
        rj.write_text(json.dumps(data, indent=2, default=_json_default))


def _json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    return str(o)
