"""ISO/IEC 30107-3 metrics, ROC/DET/EER/AUC, the threshold table and score aggregation.

Rule: accepted as live iff ``score >= t`` (``<= t`` with ``higher_is_live=False``).
APCER per attack type = fraction of that type accepted; ``apcer`` = the maximum over types
(ISO/IEC 30107-3 APCER of the worst PAI species); BPCER = fraction of live rejected;
ACER = (APCER + BPCER)/2 with the maximum APCER; the paper's FPR = fraction of *all* attacks
accepted (pooled), TPR = 1 - BPCER; HTER = (FPR + BPCER)/2. Without attack types the two
APCERs coincide.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from fasfast.analysis._core import CENTERS, as_scores, count_ge, count_lt, kernels
from fasfast.analysis.thresholds import (
    OperatingPoint,
    Pair,
    _apcer_at_bpcer_pair,
    _bpcer_at_apcer_pair,
    thresholds_from_pair,
)

__all__ = [
    "PadMetrics",
    "aggregate",
    "analyze",
    "auc",
    "det_curve",
    "eer",
    "format_table",
    "pad_metrics",
    "roc_curve",
    "threshold_table",
]


@dataclass(frozen=True)
class PadMetrics:
    """Error rates at one threshold (fractions in [0, 1])."""

    threshold: float
    apcer: float
    bpcer: float
    acer: float
    hter: float
    fpr: float
    tpr: float
    apcer_per_type: dict = field(default_factory=dict)
    n_live: int = 0
    n_attack: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def _check_lengths(n: int, **arrays) -> None:
    for name, a in arrays.items():
        if a is not None and len(a) != n:
            raise ValueError(f"length mismatch: scores has {n} entries but {name} has {len(a)}")


def pad_metrics(
    scores, is_live, threshold: float, attack_type=None, higher_is_live: bool = True
) -> PadMetrics:
    """APCER (per attack type and max), BPCER, ACER, HTER, FPR, TPR at ``threshold``.

    Args:
        scores: [N] scores.  is_live: [N] bool (or 1 = live / 0 = attack).
        threshold: the decision threshold.  attack_type: optional [N] attack type names.
    """
    s = as_scores(scores, "scores").astype(np.float64, copy=False)
    live = np.asarray(is_live)
    _check_lengths(s.size, is_live=live, attack_type=attack_type)
    live = live.astype(bool)
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinite values; scores must be finite")
    if np.isnan(threshold):
        raise ValueError("threshold is NaN")
    n_live, n_attack = int(live.sum()), int((~live).sum())
    if n_live == 0 or n_attack == 0:
        raise ValueError(
            f"only one class present ({n_live} live, {n_attack} attack); need both"
        )
    acc = s >= threshold if higher_is_live else s <= threshold
    bpcer = float(np.count_nonzero(~acc & live)) / n_live
    fpr = float(np.count_nonzero(acc & ~live)) / n_attack
    per_type = {}
    if attack_type is not None:
        types = np.asarray(attack_type).astype(str)
        for ty in sorted(set(types[~live].tolist())):
            m = (~live) & (types == ty)
            per_type[ty] = float(np.count_nonzero(acc & m)) / int(m.sum())
    else:
        per_type["attack"] = fpr
    apcer = max(per_type.values())
    return PadMetrics(float(threshold), apcer, bpcer, (apcer + bpcer) / 2, (fpr + bpcer) / 2,
                      fpr, 1.0 - bpcer, per_type, n_live, n_attack)


def _metrics_sorted(pair: Pair, t_user: float, types: dict | None) -> PadMetrics:
    """pad_metrics on pre-sorted classes (binary searches only)."""
    t = pair.sign * t_user
    fpr = count_ge(pair.A.p, t) / pair.A.n
    bpcer = count_lt(pair.L.p, t) / pair.L.n
    per_type = {"attack": fpr}
    if types:
        per_type = {k: count_ge(v, t) / v.size for k, v in types.items()}
    apcer = max(per_type.values())
    return PadMetrics(float(t_user), apcer, bpcer, (apcer + bpcer) / 2, (fpr + bpcer) / 2,
                      fpr, 1.0 - bpcer, per_type, pair.L.n, pair.A.n)


# --------------------------------------------------------------------------- curves
def roc_curve(live, attack, higher_is_live: bool = True):
    """ROC over every distinct score: ``(fpr [K+1], tpr [K+1], thresholds [K+1])``.

    Thresholds go from ``+inf`` (nothing accepted) down through the distinct scores (from
    ``-inf`` up when ``higher_is_live=False``); equals ``sklearn.metrics.roc_curve(...,
    drop_intermediate=False)``.
    """
    pair = Pair(live, attack, higher_is_live)
    na, nl, thr = kernels().roc_points(pair.L.p, pair.A.p)
    return na / pair.A.n, nl / pair.L.n, pair.sign * thr


def det_curve(live, attack, higher_is_live: bool = True):
    """DET points ``(apcer [K+1], bpcer [K+1], thresholds [K+1])`` (APCER = FPR,
    BPCER = 1 - TPR), same order as :func:`roc_curve`."""
    pair = Pair(live, attack, higher_is_live)
    na, nl, thr = kernels().roc_points(pair.L.p, pair.A.p)
    return na / pair.A.n, (pair.L.n - nl) / pair.L.n, pair.sign * thr


def auc(live, attack, higher_is_live: bool = True) -> float:
    """Area under the ROC: P(live > attack) + P(live == attack)/2, from exact pair counts."""
    pair = Pair(live, attack, higher_is_live)
    auc2 = int(pair.sweep[5])
    return auc2 / (2 * pair.L.n * pair.A.n)


def eer(live, attack, higher_is_live: bool = True) -> float:
    """Equal error rate: (APCER + BPCER)/2 at the APCER = BPCER crossing (ACER point)."""
    pair = Pair(live, attack, higher_is_live)
    return thresholds_from_pair(pair).eer


# --------------------------------------------------------------------------- full analysis
TARGETS = (
    ("bpcer20", "BPCER20 (APCER 5%)", "bpcer@apcer", 0.05),
    ("bpcer100", "BPCER100 (APCER 1%)", "bpcer@apcer", 0.01),
    ("apcer@bpcer5", "APCER at BPCER 5%", "apcer@bpcer", 0.05),
    ("tpr@fpr1e-2", "TPR at FPR 1e-2", "tpr@fpr", 1e-2),
    ("tpr@fpr1e-3", "TPR at FPR 1e-3", "tpr@fpr", 1e-3),
    ("tpr@fpr1e-4", "TPR at FPR 1e-4", "tpr@fpr", 1e-4),
)
METHOD_LABELS = {
    "fake_border": "Fake border",
    "live_border": "Live border",
    "cross": "Cross point",
    "balance": "Balance point",
    "acer": "ACER point",
    "acer_left": "ACER-left",
    "acer_right": "ACER-right",
}


def _target_point(pair: Pair, kind: str, rate: float) -> OperatingPoint:
    if kind == "apcer@bpcer":
        return _apcer_at_bpcer_pair(pair, rate)
    return _bpcer_at_apcer_pair(pair, rate, kind)


def _types_sorted(scores: np.ndarray, labels: np.ndarray, attack_types, sign: float):
    if attack_types is None:
        return None
    types = np.asarray(attack_types).astype(str)
    att = labels == 0
    return {
        ty: np.sort(sign * scores[att & (types == ty)].astype(np.float64))
        for ty in sorted(set(types[att].tolist()))
    }


def analyze(
    live,
    attack,
    centers=CENTERS,
    center: str = "balance",
    higher_is_live: bool = True,
    convention: str = "paper",
) -> dict:
    """Everything for two classes with one sort each: domain stats for every centre (both
    classes), all thresholds (the cross point for every centre), the target-rate points,
    EER, AUC, min ACER, and the metrics at every threshold on the same data.

    Returns a dict: ``stats[center]["live"|"attack"]``, ``thresholds`` (:class:`Thresholds`
    for ``center``), ``cross[center]``, ``targets[key]`` (:class:`OperatingPoint`),
    ``metrics[name]`` (:class:`PadMetrics`), ``eer``, ``auc``, ``min_acer``.
    """
    from fasfast.analysis._core import run_pair
    from fasfast.analysis.stats import stats_from_sorted
    from fasfast.analysis.thresholds import _flip_stats, cross_point

    centers = tuple(centers)
    if center not in centers:
        centers = centers + (center,)
    pair = Pair(live, attack, higher_is_live)
    n = pair.L.n + pair.A.n
    # both classes' stats concurrently, then the merge sweep
    sl, sa = run_pair(stats_from_sorted, (pair.L, centers, convention),
                      (pair.A, centers, convention), n)
    th = thresholds_from_pair(pair, center, convention)
    fb, lb = pair.sign * th.fake_border, pair.sign * th.live_border
    cross = {
        c: pair.out(cross_point(sa[c], sl[c], fb, lb)) for c in centers
    }
    if pair.sign < 0:
        sl = {k: _flip_stats(v) for k, v in sl.items()}
        sa = {k: _flip_stats(v) for k, v in sa.items()}
    targets = {key: _target_point(pair, kind, rate) for key, _, kind, rate in TARGETS}
    metrics = {k: _metrics_sorted(pair, v, None) for k, v in th.as_dict().items()}
    for key, op in targets.items():
        metrics[key] = _metrics_sorted(pair, op.threshold, None)
    return dict(
        stats={c: {"live": sl[c], "attack": sa[c]} for c in centers},
        thresholds=th,
        cross=cross,
        targets=targets,
        metrics=metrics,
        eer=th.eer,
        auc=int(pair.sweep[5]) / (2 * pair.L.n * pair.A.n),
        min_acer=th.min_acer,
    )


# --------------------------------------------------------------------------- Table 7
def threshold_table(
    select_on,
    apply_to=None,
    center: str = "balance",
    higher_is_live: bool = True,
    convention: str = "paper",
    targets: bool = True,
) -> list[dict]:
    """The paper's Table 7: one row per threshold method chosen on ``select_on``.

    Args:
        select_on / apply_to: :class:`~fasfast.analysis.io.ScoreSet` (the second optional).
    Returns:
        rows ``{"key", "method", "threshold", "select": PadMetrics, "apply": PadMetrics|None}``.
        Render with :func:`format_table`.
    """
    sel = Pair(select_on.live, select_on.attack, higher_is_live)
    th = thresholds_from_pair(sel, center, convention)
    sel_types = _types_sorted(select_on.scores, select_on.labels, select_on.attack_types,
                              sel.sign)
    app = app_types = None
    if apply_to is not None:
        app = Pair(apply_to.live, apply_to.attack, higher_is_live)
        app_types = _types_sorted(apply_to.scores, apply_to.labels, apply_to.attack_types,
                                  app.sign)
    items = [(k, METHOD_LABELS[k], v) for k, v in th.as_dict().items()]
    if targets:
        for key, label, kind, rate in TARGETS:
            items.append((key, label, _target_point(sel, kind, rate).threshold))
    rows = []
    for key, label, t in items:
        rows.append(dict(
            key=key,
            method=label,
            threshold=float(t),
            select=_metrics_sorted(sel, t, sel_types),
            apply=_metrics_sorted(app, t, app_types) if app is not None else None,
        ))
    return rows


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.3f}"


def format_table(rows: list[dict], style: str = "terminal", names=("select", "apply")) -> str:
    """Render :func:`threshold_table` rows: ``style`` "terminal" (aligned) or "markdown"."""
    has_apply = any(r["apply"] is not None for r in rows)
    head = ["Method", "Threshold"]
    splits = [names[0]] + ([names[1]] if has_apply else [])
    for s in splits:
        head += [f"{s} APCER%", f"{s} BPCER%", f"{s} ACER%", f"{s} FPR%", f"{s} TPR%"]
    body = []
    for r in rows:
        line = [r["method"], f"{r['threshold']:.5f}"]
        for m in [r["select"]] + ([r["apply"]] if has_apply else []):
            line += [_fmt_pct(m.apcer), _fmt_pct(m.bpcer), _fmt_pct(m.acer), _fmt_pct(m.fpr),
                     _fmt_pct(m.tpr)]
        body.append(line)
    if style == "markdown":
        out = ["| " + " | ".join(head) + " |",
               "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
        out += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(out)
    if style != "terminal":
        raise ValueError(f"unknown table style {style!r}; choose 'terminal' or 'markdown'")
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    fmt = [lambda s, w: s.ljust(w)] + [lambda s, w: s.rjust(w)] * (len(head) - 1)
    lines = ["  ".join(f(c, w) for f, c, w in zip(fmt, x, widths)) for x in [head] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------- aggregation
def aggregate(scores, ids, how: str = "mean"):
    """Aggregate scores per id (frame -> sequence -> video).

    Args:
        scores: [N] scores.  ids: [N] group ids (str or int).  how: mean | median | min | max.
    Returns:
        ``(unique_ids [G], aggregated [G] float64)``, ids sorted as ``np.unique`` sorts them.
    """
    s = as_scores(scores, "scores").astype(np.float64, copy=False)
    ids = np.asarray(ids)
    _check_lengths(s.size, ids=ids)
    if how not in ("mean", "median", "min", "max"):
        raise ValueError(f"unknown aggregation {how!r}; choose mean, median, min or max")
    uniq, inv = np.unique(ids, return_inverse=True)
    inv = inv.reshape(-1)
    if how == "mean":
        return uniq, np.bincount(inv, weights=s) / np.bincount(inv)
    order = np.lexsort((s, inv))
    ss, gi = s[order], inv[order]
    starts = np.flatnonzero(np.r_[True, gi[1:] != gi[:-1]])
    ends = np.r_[starts[1:], gi.size]
    if how == "min":
        return uniq, ss[starts]
    if how == "max":
        return uniq, ss[ends - 1]
    cnt = ends - starts
    mid = starts + cnt // 2
    # odd counts: (x + x) / 2 == x exactly; even: mean of the two middle values (np.median)
    return uniq, (ss[mid - 1 + cnt % 2] + ss[mid]) / 2

