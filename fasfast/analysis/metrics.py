"""ISO/IEC 30107-3 metrics at a threshold, the full analysis and score aggregation.
ROC / DET / EER / AUC are in :mod:`fasfast.analysis.curves` (re-exported here), the
threshold table (Table 7) in :mod:`fasfast.analysis.table`.

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602 (Table 7, the FPR / TPR convention)

Rule: accepted as live iff ``score >= t`` (``<= t`` with ``higher_is_live=False``).
APCER per PAI species = fraction of that species' attack presentations accepted; ``apcer``
is the maximum over species (ISO/IEC 30107-3, the default) or all attacks pooled
(``apcer="pooled"``), as chosen; BPCER = fraction of bona fide presentations rejected;
ACER = (APCER + BPCER)/2 under the same definition; the paper's FPR = all attacks pooled,
TPR = 1 - BPCER; HTER = (FPR + BPCER)/2. Without attack types the two APCERs coincide.

Non-responses (NaN scores, or counts passed as ``nonresponses``) are left out of every rate
above and reported as APNRR (per species; the maximum or pooled as ``apcer``) and BPNRR
(ISO/IEC 30107-3). ROC, DET, EER and AUC are over responses; ROC, DET and AUC pool the attacks.

Length: over the project's ~450-line guide once ruff-formatted (ROC / DET / AUC / EER are
already in :mod:`~fasfast.analysis.curves`, Table 7 in :mod:`~fasfast.analysis.table`);
what is left is the ISO/IEC 30107-3 metric set and its per-PAI helpers, one definition.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction

import numpy as np

from fasfast.analysis._classes import Classes
from fasfast.analysis._core import CENTERS, as_live_mask, as_scores, kernels, run_pair, ss
from fasfast.analysis.conventions import Conventions
from fasfast.analysis.curves import auc, det_curve, eer, roc_curve  # noqa: F401 - re-exported
from fasfast.analysis.intervals import (
    clopper_pearson,
    fixed_threshold_bootstrap,
    max_interval,
)
from fasfast.analysis.thresholds import (
    OperatingPoint,
    target_point,
    thresholds_from_classes,
)

__all__ = [
    "PadMetrics",
    "aggregate",
    "analyze",
    "auc",
    "det_curve",
    "eer",
    "metrics_from_counts",
    "pad_metrics",
    "roc_curve",
]


@dataclass(frozen=True)
class PadMetrics:
    """Error rates at one threshold (fractions in [0, 1]).

    ``apcer`` / ``acer`` are under ``apcer_definition`` ("max": the worst PAI species,
    ``worst_type``; "pooled": all attacks); ``apcer_max`` and ``apcer_pooled`` give both.
    ``n_live`` / ``n_attack`` count responses, ``n_live_nr`` / ``n_attack_nr`` non-responses.
    ``counts`` holds the integer counts behind every rate; ``ci`` the confidence intervals
    (``None`` when not asked for): Clopper-Pearson for the binomial rates, bootstrap for ACER
    and HTER (``ci["methods"]`` says which and how).
    """

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
    apcer_definition: str = "max"
    apcer_max: float = float("nan")
    apcer_pooled: float = float("nan")
    worst_type: str = ""
    bpnrr: float = 0.0
    apnrr: float = 0.0
    apnrr_per_type: dict = field(default_factory=dict)
    n_live_nr: int = 0
    n_attack_nr: int = 0
    counts: dict = field(default_factory=dict, repr=False)
    ci: dict | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        return asdict(self)


def _rate(k: int, n: int) -> float:
    return k / n if n else math.nan


def metrics_from_counts(
    threshold: float,
    live: tuple[int, int],
    species: dict,
    definition: str = "max",
    nr_live: int = 0,
    nr_species: dict | None = None,
    ci: float | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    units: dict | None = None,
) -> PadMetrics:
    """PadMetrics from counts: ``live = (n_responses, n_rejected)``, ``species = {name:
    (n_responses, n_accepted)}``, non-responses per class; ``ci`` a level (e.g. 0.95) for
    intervals, ``bootstrap`` replicates for the ACER interval, ``units`` optional
    ``{"live": (sizes, errors), name: (sizes, errors)}`` per video / subject for it.

    This is the entry point for callers that count presentations themselves (e.g. videos
    that could not be read are non-responses without a score).
    """
    nr_species = dict(nr_species or {})
    n_live, k_live = int(live[0]), int(live[1])
    sp = {str(k): (int(v[0]), int(v[1])) for k, v in species.items()}
    for name in nr_species:
        sp.setdefault(str(name), (0, 0))
    n_att = sum(n for n, _ in sp.values())
    k_att = sum(k for _, k in sp.values())
    bpcer = _rate(k_live, n_live)
    pooled = _rate(k_att, n_att)
    per_type = {k: _rate(a, n) for k, (n, a) in sp.items()}
    with_resp = {k: v for k, v in per_type.items() if not math.isnan(v)}
    worst = max(with_resp, key=lambda k: Fraction(sp[k][1], sp[k][0])) if with_resp else ""
    apcer_max = with_resp[worst] if worst else math.nan
    apcer = apcer_max if definition == "max" else pooled
    nr_att = sum(int(v) for v in nr_species.values())
    nr_live = int(nr_live)
    apnrr_per = {
        k: _rate(int(nr_species.get(k, 0)), n + int(nr_species.get(k, 0)))
        for k, (n, _) in sp.items()
    }
    apnrr_pooled = _rate(nr_att, n_att + nr_att)
    finite = [v for v in apnrr_per.values() if not math.isnan(v)]
    apnrr = (max(finite) if finite else math.nan) if definition == "max" else apnrr_pooled
    bpnrr = _rate(nr_live, n_live + nr_live)
    counts = dict(
        live_rejected=k_live,
        attack_accepted=k_att,
        accepted_per_type={k: a for k, (_, a) in sp.items()},
        n_per_type={k: n for k, (n, _) in sp.items()},
        nr_per_type={k: int(nr_species.get(k, 0)) for k in sp},
    )
    intervals = None
    if ci is not None:
        intervals = _intervals(
            ci, definition, n_live, k_live, sp, nr_live, nr_species, bootstrap, seed, units
        )
    fb = Fraction(k_live, n_live) if n_live else None
    fp = Fraction(k_att, n_att) if n_att else None
    fm = Fraction(sp[worst][1], sp[worst][0]) if worst else None
    fa = fm if definition == "max" else fp
    acer = float((fa + fb) / 2) if fa is not None and fb is not None else math.nan
    hter = float((fp + fb) / 2) if fp is not None and fb is not None else math.nan
    return PadMetrics(
        float(threshold),
        apcer,
        bpcer,
        acer,
        hter,
        pooled,
        1.0 - bpcer,
        per_type,
        n_live,
        n_att,
        definition,
        apcer_max,
        pooled,
        worst,
        bpnrr,
        apnrr,
        apnrr_per,
        nr_live,
        nr_att,
        counts,
        intervals,
    )


def _intervals(
    level, definition, n_live, k_live, sp, nr_live, nr_species, reps, seed, units
) -> dict:
    per = {k: clopper_pearson(a, n, level) for k, (n, a) in sp.items()}
    pooled = clopper_pearson(sum(a for _, a in sp.values()), sum(n for n, _ in sp.values()), level)
    resp = [(a, n) for n, a in sp.values()]
    apcer = max_interval(resp, level) if definition == "max" else pooled
    bp = clopper_pearson(k_live, n_live, level)
    nr_counts = [
        (int(nr_species.get(k, 0)), n + int(nr_species.get(k, 0))) for k, (n, _) in sp.items()
    ]
    nr_att = sum(k for k, _ in nr_counts)
    apnrr_pooled = clopper_pearson(nr_att, sum(n for _, n in nr_counts), level)
    apnrr = max_interval(nr_counts, level) if definition == "max" else apnrr_pooled
    out = dict(
        level=level,
        apcer=apcer,
        apcer_pooled=pooled,
        apcer_per_type=per,
        bpcer=bp,
        fpr=pooled,
        tpr=(1.0 - bp[1], 1.0 - bp[0]),
        bpnrr=clopper_pearson(nr_live, n_live + nr_live, level),
        apnrr=apnrr,
        apnrr_per_type={k: clopper_pearson(*c, level) for k, c in zip(sp, nr_counts)},
        acer=(math.nan, math.nan),
        hter=(math.nan, math.nan),
        methods=dict(
            binomial="Clopper-Pearson (exact binomial)",
            apcer=(
                "Clopper-Pearson per species, Bonferroni over species, maximum of the ends"
                if definition == "max"
                else "Clopper-Pearson"
            ),
            acer="not computed",
        ),
    )
    if reps and reps > 0:
        units = units or {}
        lv = (n_live, k_live) + ((units["live"],) if "live" in units else ())
        spd = {k: (n, a) + ((units[k],) if k in units else ()) for k, (n, a) in sp.items() if n > 0}
        boot = fixed_threshold_bootstrap(lv, spd, definition, reps, seed, level)
        out["acer"], out["hter"] = boot["acer"], boot["hter"]
        if boot["degenerate"]:  # ACER and HTER take no variance from these classes
            out["degenerate"] = boot["degenerate"]
        out["methods"]["acer"] = (
            f"percentile bootstrap at the fixed threshold, {reps} "
            f"replicates, seed {seed}, resampling {boot['resampling']}"
        )
    return out


def _codes(attack_type, live: np.ndarray):
    if attack_type is None:
        return np.empty(0, np.int32), ["attack"]
    types = np.asarray(attack_type).astype(str)
    names, inv = np.unique(types[~live], return_inverse=True)
    codes = np.zeros(types.size, np.int32)
    codes[~live] = inv.reshape(-1)
    return codes, [str(n) for n in names]


def _check_lengths(n: int, **arrays) -> None:
    for name, a in arrays.items():
        if a is not None and len(a) != n:
            raise ValueError(f"length mismatch: scores has {n} entries but {name} has {len(a)}")


def pad_metrics(
    scores,
    is_live,
    threshold: float,
    attack_type=None,
    higher_is_live: bool = True,
    *,
    apcer: str = "max",
    nonresponses=None,
    nan_policy: str = "nonresponse",
    ci: float | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> PadMetrics:
    """APCER (per attack type and under ``apcer``), BPCER, ACER, HTER, FPR, TPR, APNRR and
    BPNRR at ``threshold``, in one pass over unsorted scores.

    Args:
        scores: [N] scores (float32 read as float32; NaN = non-response).
        is_live: [N] bool (or 1 = live / 0 = attack).  threshold: the decision threshold.
        attack_type: optional [N] PAI species names (read on attack rows).
        apcer: "max" (ISO/IEC 30107-3) or "pooled".
        nonresponses: optional ``{"live": k, "<species>": k}`` presentations without a score.
        ci: a confidence level (e.g. 0.95) to attach intervals; ``bootstrap`` replicates
            (``seed``) for the ACER interval.
    Raises:
        ValueError: length mismatch, NaN threshold, a class without responses, NaN scores
        with ``nan_policy="error"``.
    """
    conv = Conventions(apcer=apcer, nan_policy=nan_policy)
    s = as_scores(scores, "scores")
    if s.dtype not in (np.float32, np.float64):
        s = s.astype(np.float64)
    live = np.asarray(is_live)
    _check_lengths(s.size, is_live=live, attack_type=attack_type)
    live = as_live_mask(live, "is_live")
    if threshold != threshold:
        raise ValueError("threshold is NaN")
    codes, names = _codes(attack_type, live)
    k = kernels()
    # without species the serial pass vectorises (3 ms at 1e7 scores): no threads
    fn = k.count_at if s.size >= 4_000_000 and codes.size else k.count_at_serial
    n_resp, n_acc, n_nan = fn(s, live, codes, len(names), float(threshold), bool(higher_is_live))
    if n_nan.sum() and nan_policy == "error":
        raise ValueError(
            f"scores contain {int(n_nan.sum())} NaN value(s) (non-responses); "
            "nan_policy='error' refuses them"
        )
    n_live = int(n_resp[0])
    if n_live == 0 or int(n_resp[1:].sum()) == 0:
        raise ValueError(
            f"only one class present ({n_live} live, "
            f"{int(n_resp[1:].sum())} attack responses); need both"
        )
    sp = {names[i]: (int(n_resp[i + 1]), int(n_acc[i + 1])) for i in range(len(names))}
    nr_sp = {names[i]: int(n_nan[i + 1]) for i in range(len(names))}
    nr_live = int(n_nan[0])
    for key, k in dict(nonresponses or {}).items():
        if str(key).lower() in ("live", "bona fide", "bonafide"):
            nr_live += int(k)
        else:
            key = str(key) if attack_type is not None else "attack"
            nr_sp[key] = nr_sp.get(key, 0) + int(k)
    return metrics_from_counts(
        threshold,
        (n_live, n_live - int(n_acc[0])),
        sp,
        conv.apcer,
        nr_live,
        nr_sp,
        ci,
        bootstrap,
        seed,
    )


def metrics_at(
    c: Classes,
    t_user: float,
    definition: str = "max",
    ci: float | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    units: dict | None = None,
) -> PadMetrics:
    """PadMetrics on sorted classes (binary searches only)."""
    t = c.to_internal(t_user)
    sp = {k: (v.n, v.n - ss(v.p, t, "left")) for k, v in c.species.items()}
    live = (c.L.n, ss(c.L.p, t, "left"))
    if units:
        units = _units_at(c, t, units)
    return metrics_from_counts(
        float(t_user), live, sp, definition, c.nr_live, c.nr_species, ci, bootstrap, seed, units
    )


def _units_at(c: Classes, t: float, units: dict) -> dict:
    """Per-unit ``(sizes, errors)`` at internal threshold ``t`` from ``units[name] = (scores
    internal frame, unit codes)``."""
    out = {}
    for name, (vals, codes) in units.items():
        if codes.size == 0:
            continue
        err = vals < t if name == "live" else vals >= t
        sizes = np.bincount(codes)
        errs = np.bincount(codes, weights=err.astype(np.float64), minlength=sizes.size)
        keep = sizes > 0
        out[name] = (sizes[keep], errs[keep])
    return out


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
    "acer_point": "ACER point",
    "acer_left": "ACER-left",
    "acer_mid": "ACER-mid",
    "acer_right": "ACER-right",
}


def classes_of(ss, higher_is_live: bool = True, nan_policy: str = "nonresponse") -> Classes:
    """:class:`Classes` of a :class:`~fasfast.analysis.io.ScoreSet` (attack types and
    non-response counts included)."""
    lab = ss.labels
    att = lab == 0
    return Classes(
        ss.scores[lab == 1],
        ss.scores[att],
        higher_is_live,
        ss.attack_types[att],
        getattr(ss, "nonresponses", None),
        nan_policy,
    )


def analyze(
    live,
    attack,
    centers=CENTERS,
    center: str = "balance",
    higher_is_live: bool = True,
    convention: str = "paper",
    *,
    attack_types=None,
    apcer: str = "max",
    eer_rule: str = "bob",
    placement: str = "best",
    border: str = "next",
    nonresponses=None,
    nan_policy: str = "nonresponse",
) -> dict:
    """Everything for two classes with one sort each: domain stats for every centre (both
    classes), all thresholds (the cross point for every centre), the target-rate points,
    EER, AUC, min ACER, and the metrics at every threshold on the same data.

    Returns a dict: ``stats[center]["live"|"attack"]``, ``thresholds`` (:class:`Thresholds`
    for ``center``), ``cross[center]``, ``targets[key]`` (:class:`OperatingPoint`),
    ``metrics[name]`` (:class:`PadMetrics`), ``eer``, ``auc``, ``min_acer``,
    ``conventions``.
    """
    from fasfast.analysis.stats import stats_from_sorted
    from fasfast.analysis.thresholds import applied_cross, flip_stats

    conv = Conventions(
        apcer=apcer, eer_rule=eer_rule, placement=placement, border=border, nan_policy=nan_policy
    )
    centers = tuple(centers)
    if center not in centers:
        centers = centers + (center,)
    c = Classes(live, attack, higher_is_live, attack_types, nonresponses, nan_policy)
    n = c.L.n + c.A.n
    sl, sa = run_pair(stats_from_sorted, (c.L, centers, convention), (c.A, centers, convention), n)
    th = thresholds_from_classes(c, center, convention, conv)
    fb = float(c.A.fin.p[-1]) if c.A.fin.n else float(c.A.p[-1])
    lb = float(c.L.fin.p[0]) if c.L.fin.n else float(c.L.p[0])
    cross = {k: c.out(applied_cross(c, sa[k], sl[k], fb, lb, conv.border)[0]) for k in centers}
    if c.sign < 0:
        sl = {k: flip_stats(v) for k, v in sl.items()}
        sa = {k: flip_stats(v) for k, v in sa.items()}
    targets = {
        key: target_point(c, kind, rate, conv.apcer, conv.placement, conv.border)
        for key, _, kind, rate in TARGETS
    }
    metrics = {k: metrics_at(c, v, conv.apcer) for k, v in th.table_dict().items()}
    for key, op in targets.items():
        metrics[key] = metrics_at(c, op.threshold, conv.apcer)
    return dict(
        stats={k: {"live": sl[k], "attack": sa[k]} for k in centers},
        thresholds=th,
        cross=cross,
        targets=targets,
        metrics=metrics,
        eer=th.eer,
        auc=c.auc(),
        min_acer=th.min_acer,
        conventions=conv.as_dict(),
    )


# --------------------------------------------------------------------------- aggregation
def aggregate(scores, ids, how: str = "mean"):
    """Aggregate scores per id (frame -> sequence -> video).

    Args:
        scores: [N] scores (NaN rows are non-responses: a group with only NaN gets NaN).
        ids: [N] group ids (str or int).  how: mean | median | min | max.
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
    ok = ~np.isnan(s)
    if not ok.all():  # aggregate the responses; a group without any stays NaN
        out = np.full(uniq.size, np.nan)
        if ok.any():
            u2, a2 = aggregate(s[ok], inv[ok], how)
            out[u2] = a2
        return uniq, out
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


__all__ += ["OperatingPoint"]
