"""Score rows -> :mod:`fasfast.analysis`: the engine's results as ScoreSets, score files,
threshold metrics, Table 7, reports and non-response counts.

A score row is ``(id, video, label, attack_type, score)`` (label 1 = bona fide; a NaN score
is an ISO/IEC 30107-3 non-response).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def responses(rows) -> list:
    """The rows that carry a score. A NaN score is an ISO/IEC 30107-3 non-response (a video
    left out because it could not be read); :mod:`fasfast.analysis` leaves NaN rows out of
    every error rate and counts them as APNRR / BPNRR (``nan_policy="nonresponse"``), so the
    engine hands it every row and uses this only to see whether a class has any score."""
    return [r for r in rows if not math.isnan(float(r[4]))]


def non_responses(rows) -> dict:
    """Non-response counts and rates of score rows (NaN score = no response; ISO/IEC
    30107-3): ``live`` / ``attack`` (rows without a score), ``live_total`` /
    ``attack_total``, ``bpnrr`` (live non-responses / live presentations), ``apnrr`` (the
    maximum over PAI species) and ``apnrr_by_species`` (attack type -> rate); a rate is NaN
    when its class has no row."""
    nan = float("nan")
    live = [r for r in rows if int(r[2]) == 1]
    attack = [r for r in rows if int(r[2]) != 1]

    def missing(rs):
        return sum(1 for r in rs if math.isnan(float(r[4])))

    species: dict[str, list] = {}
    for r in attack:
        species.setdefault(str(r[3]), []).append(r)
    by_species = {k: missing(v) / len(v) for k, v in sorted(species.items())}
    return {
        "live": missing(live),
        "live_total": len(live),
        "attack": missing(attack),
        "attack_total": len(attack),
        "bpnrr": missing(live) / len(live) if live else nan,
        "apnrr": max(by_species.values()) if by_species else nan,
        "apnrr_by_species": by_species,
    }


def make_scoreset(rows, name: str = ""):
    """Rows ``(id, video, label, attack_type, score)`` -> :class:`fasfast.analysis.ScoreSet`
    (NaN rows included: the analysis counts them as non-responses)."""
    from fasfast.analysis import ScoreSet

    if not rows:
        raise ValueError("no score rows")
    ids, videos, labels, types, scores = zip(*[(r[0], r[1], r[2], r[3], r[4]) for r in rows])
    return ScoreSet(
        ids=np.array(ids),
        labels=np.array(labels, dtype=np.int64),
        scores=np.array(scores, dtype=np.float64),
        attack_types=np.array(types),
        videos=np.array(videos),
        name=name,
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
    on the same rows, and the non-response rates APNRR / BPNRR (NaN rows); NaN when a class
    has no score."""
    from fasfast.analysis import auc, pad_metrics, select_thresholds
    from fasfast.analysis.thresholds import threshold_name

    method = threshold_name(method)

    ss = make_scoreset(rows)
    nan = float("nan")
    scored = responses(rows)
    if not any(int(r[2]) == 1 for r in scored) or not any(int(r[2]) != 1 for r in scored):
        return {
            "threshold": nan,
            "apcer": nan,
            "bpcer": nan,
            "acer": nan,
            "eer": nan,
            "auc": nan,
            "apnrr": nan,
            "bpnrr": nan,
        }
    # chosen under the APCER printed below (the worst PAI species, ISO/IEC 30107-3)
    th = select_thresholds(ss.live, ss.attack, attack_types=ss.attack_types[ss.labels == 0])
    if not hasattr(th, method):
        raise ValueError(
            f"unknown threshold method {method!r}; choose from {', '.join(th.as_dict())}"
        )
    t = float(getattr(th, method))
    m = pad_metrics(ss.scores, ss.labels == 1, t, ss.attack_types)
    return {
        "threshold": t,
        "apcer": m.apcer,
        "bpcer": m.bpcer,
        "acer": m.acer,
        "eer": float(th.eer),
        "auc": float(auc(ss.live, ss.attack)),
        "apnrr": float(m.apnrr),
        "bpnrr": float(m.bpnrr),
    }


def _pm(m) -> dict | None:
    if m is None:
        return None
    d = m.as_dict() if hasattr(m, "as_dict") else dict(m)
    return {k: (float(v) if isinstance(v, (int, float, np.floating)) else v) for k, v in d.items()}


def table7(
    select_rows, apply_rows, select_name: str, apply_name: str | None, center: str = "balance"
) -> dict:
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
        {
            "key": r["key"],
            "method": r["method"],
            "threshold": float(r["threshold"]),
            select_name: _pm(r["select"]),
            **({apply_name: _pm(r["apply"])} if r["apply"] is not None else {}),
        }
        for r in rows
    ]
    return {
        "rows": out_rows,
        "markdown": format_table(rows, "markdown", names=names),
        "terminal": format_table(rows, "terminal", names=names),
        "thresholds": {r["key"]: float(r["threshold"]) for r in rows},
    }


def make_report(
    out_dir: Path,
    select_rows,
    apply_rows,
    center: str = "balance",
    title: str = "fasfast evaluation",
    names=("select", "apply"),
):
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
