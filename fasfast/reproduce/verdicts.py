"""Verdicts from paired statistics: the rule every reproduction report states and applies.

A claim of a paper is a statement about a difference (the ACER of one variant minus
another's, a change of a domain statistic). The reproduction measures that difference on
the same test presentations for both sides, pools the seeds (every model at its own
threshold), and draws a 95% interval from a paired bootstrap that resamples whole test
units (subjects or videos, with all the seeds' scores of a drawn unit together), stratified
by class and PAI species: :func:`fasfast.analysis.paired_bootstrap_acer` for ACERs,
:func:`fasfast.analysis.paired_bootstrap` for any other statistic.

The rule (:func:`verdict`): **agrees** only when the interval excludes zero in the paper's
direction, **disagrees** when it excludes zero the other way, **inconclusive** otherwise
(an interval that touches zero, or no interval). A claim made of several comparisons
("X has the lowest ACER of all", an ordering) is their intersection (:func:`all_of`): it
agrees only when every comparison agrees, disagrees as soon as one disagrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "MIN_UNITS",
    "RULE",
    "Comparison",
    "PooledSplits",
    "all_of",
    "min_units",
    "pooled_acer_difference",
    "subject_of",
    "units_of",
    "verdict",
]

LEVEL = 0.95
REPS = 2000
# fewer resampling units than this in a stratum: no interval can show the spread (with one
# unit every replicate is the same sample), so the comparison is inconclusive
MIN_UNITS = 4

RULE = (
    "**Verdict rule.** For each claim: the difference in the paper's terms (e.g. the ACER of "
    "the variant the paper finds better minus the other's, which the paper says is below "
    "zero), measured on the same test presentations for both sides with the seeds pooled "
    "(each model at its own threshold), and its 95% interval from a paired bootstrap that "
    "resamples whole test {unit} (all seeds' scores of a drawn one together), stratified by "
    "class and PAI species. **agrees** only when the interval excludes zero in the paper's "
    "direction; **disagrees** when it excludes zero the other way; **inconclusive** "
    "otherwise. A claim made of several comparisons agrees only when every comparison "
    "agrees and disagrees as soon as one disagrees. A comparison with fewer than "
    f"{MIN_UNITS} {{unit}} in some stratum is inconclusive (its bootstrap cannot show the "
    "spread). The interval covers the test sample; "
    "the seeds enter through their average (the per-seed values are listed), so it does not "
    "cover a different draw of training seeds."
)

DIRECTIONS = ("< 0", "> 0", "!= 0")


def verdict(interval, direction: str = "< 0") -> str:
    """``"agrees"`` / ``"disagrees"`` / ``"inconclusive"`` for a difference's interval.

    Args:
        interval: ``(lo, hi)`` of the difference (NaN: no interval -> inconclusive).
        direction: what the paper says of the difference: ``"< 0"``, ``"> 0"`` or
            ``"!= 0"`` (a two-sided claim: it agrees when zero is excluded either way and
            cannot disagree, since an interval never shows a difference to be zero).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    lo, hi = (float(v) for v in interval)
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        return "inconclusive"
    below, above = hi < 0, lo > 0
    if direction == "!= 0":
        return "agrees" if below or above else "inconclusive"
    if direction == "> 0":
        below, above = above, below
    return "agrees" if below else ("disagrees" if above else "inconclusive")


def all_of(outcomes) -> str:
    """Verdict of a claim made of several comparisons (an intersection)."""
    outcomes = list(outcomes)
    if not outcomes:
        return "inconclusive"
    if any(o == "disagrees" for o in outcomes):
        return "disagrees"
    return "agrees" if all(o == "agrees" for o in outcomes) else "inconclusive"


@dataclass
class Comparison:
    """One measured difference ``a - b`` with its interval, test and verdict."""

    a: str
    b: str
    difference: float
    interval: tuple[float, float]
    test: str
    direction: str = "< 0"
    pvalue: float = math.nan
    per_seed: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    min_units: int | None = None  # fewest resampling units in a stratum

    @property
    def outcome(self) -> str:
        if self.min_units is not None and self.min_units < MIN_UNITS:
            return "inconclusive"
        return verdict(self.interval, self.direction)

    def as_dict(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "difference": self.difference,
            "interval": list(self.interval),
            "test": self.test,
            "direction": self.direction,
            "pvalue": self.pvalue,
            "verdict": self.outcome,
            "per_seed": self.per_seed,
            "min_units": self.min_units,
            **self.extra,
        }


def min_units(strata, units) -> int:
    """The fewest distinct units in any stratum."""
    strata = np.asarray(strata).astype(str)
    units = np.asarray(units).astype(str)
    return int(min(np.unique(units[strata == s]).size for s in np.unique(strata)))


def subject_of(video: str) -> str:
    """The subject of an OULU-NPU-named video (``"1_3_13_2"`` -> ``"user 13"``); the video
    itself when the name does not parse."""
    from fasfast.data import parse_oulu_name

    try:
        return f"user {parse_oulu_name(Path(str(video)).name)['user']}"
    except ValueError:
        return str(video)


def units_of(videos, unit: str) -> np.ndarray:
    """Resampling units of ``videos``: ``"subject"`` or ``"video"``."""
    videos = np.asarray(videos).astype(str)
    if unit == "video":
        return videos
    if unit == "subject":
        return np.array([subject_of(v) for v in videos])
    raise ValueError(f"unit must be 'subject' or 'video', got {unit!r}")


def pool_seeds(pairs):
    """Pool per-seed score sets of two systems on the same presentations.

    ``pairs``: one ``(set_a, threshold_a, set_b, threshold_b)`` per seed (ScoreSets with
    video ids). Returns the arrays (scores_a, scores_b, labels, types, videos, thr_a, thr_b,
    seed index) over the presentations both systems scored in each seed.
    """
    from fasfast.analysis import align

    cols = {k: [] for k in ("a", "b", "y", "types", "videos", "ta", "tb", "seed")}
    for k, (sa, ta, sb, tb) in enumerate(pairs):
        ia, ib = align(sa.ids, sb.ids)
        if not np.array_equal(sa.labels[ia], sb.labels[ib]):
            raise ValueError("the two systems label a shared presentation differently")
        cols["a"].append(sa.scores[ia])
        cols["b"].append(sb.scores[ib])
        cols["y"].append(sa.labels[ia])
        cols["types"].append(sa.attack_types[ia].astype(str))
        vids = sa.videos if sa.videos is not None else sa.ids
        cols["videos"].append(np.asarray(vids)[ia].astype(str))
        cols["ta"].append(np.full(ia.size, float(ta)))
        cols["tb"].append(np.full(ia.size, float(tb)))
        cols["seed"].append(np.full(ia.size, k))
    return {k: np.concatenate(v) for k, v in cols.items()}


def pooled_acer_difference(
    pairs,
    a: str,
    b: str,
    unit: str = "subject",
    direction: str = "< 0",
    apcer: str = "pooled",
    reps: int = REPS,
    seed: int = 0,
    delong: bool = True,
) -> Comparison:
    """``ACER_a - ACER_b`` over the seeds pooled, paired bootstrap over test units (``unit``).

    ``pairs``: per seed ``(set_a, threshold_a, set_b, threshold_b)`` (see :func:`pool_seeds`).
    The pooled ACER (pooled APCER: ISO/IEC 30107-3's over all attacks; Cong et al. 2022, eq. 7)
    of equal-sized seeds is the mean of the seeds' ACERs. With ``delong``, DeLong's test of
    the AUC difference per seed is added (``extra["delong"]``).
    """
    from fasfast.analysis import delong as delong_test
    from fasfast.analysis import pad_metrics, paired_bootstrap_acer

    p = pool_seeds(pairs)
    units = units_of(p["videos"], unit)
    res = paired_bootstrap_acer(
        p["a"],
        p["b"],
        p["y"],
        p["ta"],
        p["tb"],
        attack_types=p["types"],
        units=units,
        apcer=apcer,
        reps=reps,
        seed=seed,
        level=LEVEL,
    )
    per_seed, dl = [], []
    for k in range(len(pairs)):
        m = p["seed"] == k
        y = p["y"][m]
        acer = [
            pad_metrics(p[s][m], y == 1, float(p[t][m][0])).acer
            for s, t in (("a", "ta"), ("b", "tb"))
        ]
        per_seed.append(acer[0] - acer[1])
        if delong and (y == 1).sum() >= 2 and (y == 0).sum() >= 2:
            d = delong_test(p["a"][m], p["b"][m], y)
            dl.append(
                {
                    "auc_a": d["auc_a"],
                    "auc_b": d["auc_b"],
                    "difference": d["difference"],
                    "pvalue": d["pvalue"],
                }
            )
    extra = {
        "acer_a": res["acer_a"],
        "acer_b": res["acer_b"],
        "n": int(p["y"].size),
        "resampling": f"{unit}s; {res['resampling']}",
        "replicates": res["replicates"],
    }
    if dl:
        extra["delong"] = dl
    return Comparison(
        a,
        b,
        res["difference"],
        tuple(res["interval"]),
        f"paired bootstrap of the ACER over test {unit}s, {len(pairs)} seed(s) pooled",
        direction,
        res["pvalue"],
        per_seed,
        extra,
        min_units(np.where(p["y"] == 1, "live", p["types"]), units),
    )


class PooledSplits:
    r"""Several seeds' scores of named splits (e.g. train and dev) as rows, each decision rule
    (``method``) with its per-row threshold: the seed's own.

    ``sets``: per seed ``{split: ScoreSet}``; ``thresholds``: per seed ``{method: t}``.
    :meth:`bootstrap` resamples whole ``unit``\ s within each (split, class, species)
    stratum, all seeds' rows of a drawn unit together (:func:`fasfast.analysis.paired_bootstrap`).
    ACERs use the pooled APCER (over all attacks, every seed's rows).
    """

    def __init__(self, sets: list[dict], thresholds: list[dict], unit: str = "subject"):
        cols = {k: [] for k in ("split", "seed", "s", "y", "types", "units")}
        tcols: dict[str, list] = {m: [] for m in thresholds[0]}
        for k, (by_split, seed_thresholds) in enumerate(zip(sets, thresholds)):
            for split, ss in by_split.items():
                n = len(ss)
                vids = ss.videos if ss.videos is not None else ss.ids
                cols["split"].append(np.full(n, split))
                cols["seed"].append(np.full(n, k))
                cols["s"].append(ss.scores)
                cols["y"].append(ss.labels)
                cols["types"].append(ss.attack_types.astype(str))
                cols["units"].append(np.char.add(f"{split}/", units_of(vids, unit)))
                for m in tcols:
                    tcols[m].append(np.full(n, float(seed_thresholds[m])))
        c = {k: np.concatenate(v) for k, v in cols.items()}
        self.split, self.seed, self.y = c["split"], c["seed"], c["y"]
        self.units, self.unit, self.n_seeds = c["units"], unit, len(sets)
        self.strata = np.char.add(np.char.add(c["split"], "/"), c["types"])
        ok = ~np.isnan(c["s"])  # non-responses: left out of every rate
        self.live, self.attack = (self.y == 1) & ok, (self.y == 0) & ok
        self.errors = {}
        for m, t in tcols.items():
            t = np.concatenate(t)
            with np.errstate(invalid="ignore"):
                self.errors[m] = np.where(self.y == 1, c["s"] < t, c["s"] >= t) & ok

    def acer(self, method: str, split: str, idx=None) -> float:
        """Pooled ACER of ``method`` on ``split`` over rows ``idx`` (all rows when None)."""
        idx = np.arange(self.y.size) if idx is None else idx
        m = self.split[idx] == split
        e = self.errors[method][idx]
        live, att = m & self.live[idx], m & self.attack[idx]
        if not live.any() or not att.any():
            return math.nan
        return (e[att].mean() + e[live].mean()) / 2

    def acer_per_seed(self, method: str, split: str) -> list[float]:
        return [
            self.acer(method, split, np.flatnonzero(self.seed == k)) for k in range(self.n_seeds)
        ]

    def bootstrap(
        self,
        statistic,
        a: str,
        b: str,
        test: str,
        direction: str,
        per_seed: list[float] | None = None,
        reps: int = REPS,
        seed: int = 0,
    ) -> Comparison:
        """A :class:`Comparison` from ``statistic(idx)`` (a difference a - b)."""
        from fasfast.analysis import paired_bootstrap

        res = paired_bootstrap(
            statistic, self.strata, self.units, reps=reps, seed=seed, level=LEVEL
        )
        return Comparison(
            a,
            b,
            res["difference"],
            tuple(res["interval"]),
            f"{test}; paired bootstrap over {self.unit}s, {self.n_seeds} seed(s) pooled",
            direction,
            res["pvalue"],
            per_seed or [],
            {"resampling": f"{self.unit}s; {res['resampling']}", "replicates": res["replicates"]},
            min_units(self.strata, self.units),
        )


def fmt_pp(x: float) -> str:
    """A difference of rates in percentage points."""
    return "nan" if x is None or math.isnan(x) else f"{100 * x:+.2f}"


def fmt_ci(c: Comparison, pct: bool = True, nd: int = 4) -> str:
    """``"+1.25 pp [-0.50, +3.00]"`` (rates) or ``"+0.0123 [...]"``."""
    lo, hi = c.interval
    if pct:
        return f"{fmt_pp(c.difference)} pp [{fmt_pp(lo)}, {fmt_pp(hi)}]"

    def f(x):
        return "nan" if math.isnan(x) else f"{x:+.{nd}f}"

    return f"{f(c.difference)} [{f(lo)}, {f(hi)}]"
