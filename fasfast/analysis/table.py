"""The threshold table (Huang et al. 2024, Table 7): every threshold method chosen on one
split, its ISO/IEC 30107-3 rates there and on another split, with confidence intervals;
rendered for the terminal or as Markdown.

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602 (Table 7)
"""

from __future__ import annotations

import numpy as np

from fasfast.analysis._classes import Classes
from fasfast.analysis.conventions import Conventions
from fasfast.analysis.intervals import one_unit_classes, warn_degenerate
from fasfast.analysis.metrics import (
    METHOD_LABELS,
    TARGETS,
    PadMetrics,
    classes_of,
    metrics_at,
)
from fasfast.analysis.targets import target_point
from fasfast.analysis.thresholds import thresholds_from_classes

__all__ = ["format_table", "threshold_table"]


def _unit_codes(ss, c: Classes, resample: str = "auto"):
    """Per class the internal-frame scores and unit codes for clustered intervals (``None``
    when resampling single presentations)."""
    from fasfast.analysis._core import units_of

    units, what = units_of(ss, resample)
    groups = {"live": ss.labels == 1} | {
        name: (ss.labels == 0) & ((ss.attack_types == name) if c.types_known else True)
        for name in c.species
    }
    ok = ~np.isnan(ss.scores)
    ids = np.arange(len(ss)) if units is None else np.asarray(units).astype(str)
    warn_degenerate(one_unit_classes({k: ids[m & ok] for k, m in groups.items()}, what.rstrip("s")))
    if units is None:
        return None
    _, codes = np.unique(np.asarray(units).astype(str), return_inverse=True)
    codes = codes.reshape(-1)
    out = {}
    s = c.sign * ss.scores
    ok = ~np.isnan(s)
    lab = ss.labels
    out["live"] = (s[ok & (lab == 1)], codes[ok & (lab == 1)])
    for name in c.species:
        m = ok & (lab == 0)
        if c.types_known:
            m &= ss.attack_types == name
        out[name] = (s[m], codes[m])
    return out


def threshold_table(
    select_on,
    apply_to=None,
    center: str = "balance",
    higher_is_live: bool = True,
    convention: str = "paper",
    targets: bool = True,
    *,
    apcer: str = "max",
    eer_rule: str = "bob",
    placement: str = "best",
    border: str = "next",
    nan_policy: str = "nonresponse",
    ci: float | None = 0.95,
    bootstrap: int = 1000,
    seed: int = 0,
    resample: str = "auto",
) -> list[dict]:
    """The paper's Table 7: one row per threshold method chosen on ``select_on``.

    Every row's threshold is chosen under the APCER definition ``apcer`` and its metrics are
    those at that threshold, with Clopper-Pearson intervals and a bootstrap interval for the
    ACER (``ci`` a level, ``None`` for none; ``bootstrap`` replicates; ``resample``: "auto"
    takes whole videos when the score set has several rows per video, or "presentations",
    "videos", "subjects").

    Args:
        select_on / apply_to: :class:`~fasfast.analysis.io.ScoreSet` (the second optional).
    Returns:
        rows ``{"key", "method", "threshold", "note", "select": PadMetrics,
        "apply": PadMetrics|None}``. Render with :func:`format_table`.
    """
    conv = Conventions(
        apcer=apcer, eer_rule=eer_rule, placement=placement, border=border, nan_policy=nan_policy
    )
    sel = classes_of(select_on, higher_is_live, nan_policy)
    th = thresholds_from_classes(sel, center, convention, conv)
    sel_units = _unit_codes(select_on, sel, resample) if ci is not None else None
    app = app_units = None
    if apply_to is not None:
        app = classes_of(apply_to, higher_is_live, nan_policy)
        app_units = _unit_codes(apply_to, app, resample) if ci is not None else None
    items = [(k, METHOD_LABELS[k], v, th.notes.get(k, "")) for k, v in th.table_dict().items()]
    if targets:
        for key, label, kind, rate in TARGETS:
            op = target_point(sel, kind, rate, conv.apcer, conv.placement, conv.border)
            items.append((key, label, op.threshold, op.note))
    rows = []
    for key, label, t, note in items:  # one seed for every row: equal thresholds, equal CIs
        rows.append(
            dict(
                key=key,
                method=label,
                threshold=float(t),
                note=note,
                select=metrics_at(sel, t, conv.apcer, ci, bootstrap, seed, sel_units),
                apply=(
                    metrics_at(app, t, conv.apcer, ci, bootstrap, seed, app_units)
                    if app is not None
                    else None
                ),
            )
        )
    return rows


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.3f}" if x == x else "nan"


def _fmt_ci(m: PadMetrics, key: str) -> str:
    if not m.ci or key not in m.ci:
        return ""
    lo, hi = m.ci[key]
    if lo != lo:
        return ""
    if key in ("acer", "hter") and m.ci.get("degenerate"):
        return " [degenerate]"
    return f" [{100 * lo:.2f}, {100 * hi:.2f}]"


def format_table(
    rows: list[dict], style: str = "terminal", names=("select", "apply"), intervals: bool = True
) -> str:
    """Render :func:`threshold_table` rows: ``style`` "terminal" (aligned) or "markdown".

    Rates in %; with ``intervals`` each rate that has one is followed by its confidence
    interval ``[lo, hi]``. APNRR / BPNRR columns appear when a split has non-responses.
    """
    if style not in ("terminal", "markdown"):
        raise ValueError(f"unknown table style {style!r}; choose 'terminal' or 'markdown'")
    has_apply = any(r["apply"] is not None for r in rows)
    first = rows[0]["select"] if rows else None
    d = first.apcer_definition if first is not None else "max"
    apcer_name = "APCER" if d == "max" else "APCER(pooled)"
    splits = [(names[0], "select")] + ([(names[1], "apply")] if has_apply else [])
    nr = {
        s: any(r[s] is not None and (r[s].n_live_nr or r[s].n_attack_nr) for r in rows)
        for _, s in splits
    }
    head = ["Method", "Threshold"]
    for label, s in splits:
        head += [
            f"{label} {apcer_name}%",
            f"{label} BPCER%",
            f"{label} ACER%",
            f"{label} FPR%",
            f"{label} TPR%",
        ]
        if nr[s]:
            head += [f"{label} APNRR%", f"{label} BPNRR%"]
    body = []
    for r in rows:
        line = [r["method"], f"{r['threshold']:.5f}"]
        for _, s in splits:
            m = r[s]
            ci = intervals and m.ci is not None
            for field_ in ("apcer", "bpcer", "acer", "fpr", "tpr") + (
                ("apnrr", "bpnrr") if nr[s] else ()
            ):
                line.append(_fmt_pct(getattr(m, field_)) + (_fmt_ci(m, field_) if ci else ""))
        body.append(line)
    if style == "markdown":
        out = [
            "| " + " | ".join(head) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
        ]
        out += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(out)
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    fmt = [lambda s, w: s.ljust(w)] + [lambda s, w: s.rjust(w)] * (len(head) - 1)
    lines = ["  ".join(f(c, w) for f, c, w in zip(fmt, x, widths)) for x in [head] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
