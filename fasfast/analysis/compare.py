"""Paired tests between two systems scored on the same presentations.

Inputs are two score arrays on the same presentations (same order) with their labels
(1 = bona fide, 0 = attack); :func:`align` matches two score sets by a shared sample id
first. A presentation without a response (NaN) in either system is left out of every test.

- :func:`mcnemar`: McNemar's test (McNemar 1947) of the errors at each system's own
  threshold (a bona fide presentation rejected, an attack accepted): of the discordant
  presentations, ``b`` are errors of A only and ``c`` of B only; the exact two-sided p-value
  is that of a binomial test of ``b`` successes in ``b + c`` trials with p = 1/2
  (``min(1, 2 * P[X <= min(b, c)])``, as ``scipy.stats.binomtest``).
- :func:`delong`: DeLong, DeLong & Clarke-Pearson (1988) test of the difference of two
  correlated AUCs, with the structural components computed from mid-ranks (Sun & Xu 2014,
  O(N log N)): ``V10_i`` / ``V01_j`` per bona fide / attack presentation, their 2x2
  covariances ``S10`` / ``S01``, ``Var(AUC_A - AUC_B) = (S10_AA + S10_BB - 2 S10_AB)/N +
  (S01_AA + S01_BB - 2 S01_AB)/M``; z, two-sided normal p-value and interval.
- :func:`paired_bootstrap_acer`: the ACER difference ``ACER_A - ACER_B`` at fixed thresholds
  (each system's own), bootstrapped with the same resample for both systems, stratified by
  class and PAI species (or by video / subject units). At fixed thresholds a replicate
  depends only on how many resampled presentations fall in each cell of the 2x2 table of
  the two systems' errors, so each stratum is one multinomial draw over four cells (exact).
  Percentile interval; p-value ``min(1, 2 * min(P*(d <= 0), P*(d >= 0)))``.
- :func:`paired_bootstrap`: the same stratified (unit) resampling for any statistic of the
  resampled rows, e.g. a difference of domain statistics between two systems, or one that
  pools several splits (each its own stratum).

Thresholds may be one value per system or one per presentation (``[N]``): presentations of
several models pooled into one test (e.g. the seeds of one recipe, each model at its own
dev-chosen threshold) keep each model's threshold.
"""

from __future__ import annotations

import math

import numpy as np

from fasfast.analysis.intervals import check_level, percentile

__all__ = [
    "align",
    "delong",
    "mcnemar",
    "paired_bootstrap",
    "paired_bootstrap_acer",
    "paired_tests",
]


def align(ids_a, ids_b):
    """Indices ``(ia, ib)`` that put the shared ids of two score sets in one order.

    Raises ValueError when an id repeats within a set or no id is shared.
    """
    ids_a = np.asarray(ids_a).astype(str)
    ids_b = np.asarray(ids_b).astype(str)
    for name, ids in (("first", ids_a), ("second", ids_b)):
        u, c = np.unique(ids, return_counts=True)
        if (c > 1).any():
            raise ValueError(
                f"the {name} score set repeats id {u[c > 1][0]!r}; paired tests "
                "match presentations by id"
            )
    common, ia, ib = np.intersect1d(ids_a, ids_b, assume_unique=True, return_indices=True)
    if common.size == 0:
        raise ValueError("the two score sets share no sample id: not paired")
    return ia, ib


def _check(scores_a, scores_b, labels):
    a = np.asarray(scores_a, np.float64).reshape(-1)
    b = np.asarray(scores_b, np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    if not (a.size == b.size == y.size):
        raise ValueError(f"length mismatch: {a.size} and {b.size} scores, {y.size} labels")
    ok = ~(np.isnan(a) | np.isnan(b))
    return a[ok], b[ok], y[ok], ok


def _thresholds(t, ok, what: str):
    """A threshold: a float, or ``[N]`` per-presentation thresholds (rows kept by ``ok``)."""
    t = np.asarray(t, np.float64)
    if t.ndim == 0:
        return float(t)
    t = t.reshape(-1)
    if t.size != ok.size:
        raise ValueError(
            f"length mismatch: {t.size} thresholds for {what} but {ok.size} presentations"
        )
    return t[ok]


def _errors(s, y, t, higher_is_live):
    acc = s >= t if higher_is_live else s <= t
    return np.where(y == 1, ~acc, acc)


def mcnemar(
    scores_a, scores_b, labels, threshold_a: float, threshold_b: float, higher_is_live: bool = True
) -> dict:
    """McNemar's exact test of the errors of two systems at their own thresholds.

    Args:
        scores_a / scores_b: [N] scores of the same presentations.  labels: [N] 1 / 0.
        threshold_a / threshold_b: a float, or [N] per-presentation thresholds.
    Returns:
        ``{"b", "c", "n", "pvalue", "errors_a", "errors_b", "per_class"}`` (``per_class``:
        the same test on bona fide and on attack presentations alone).
    """
    a, b, y, ok = _check(scores_a, scores_b, labels)
    ea = _errors(a, y, _thresholds(threshold_a, ok, "A"), higher_is_live)
    eb = _errors(b, y, _thresholds(threshold_b, ok, "B"), higher_is_live)

    def test(mask):
        bb = int((ea & ~eb & mask).sum())
        cc = int((~ea & eb & mask).sum())
        return dict(
            b=bb,
            c=cc,
            n=int(mask.sum()),
            pvalue=_binom_two_sided(bb, bb + cc),
            errors_a=int((ea & mask).sum()),
            errors_b=int((eb & mask).sum()),
        )

    out = test(np.ones(y.size, bool))
    out["per_class"] = {"bona fide": test(y == 1), "attack": test(y == 0)}
    out["method"] = "McNemar, exact binomial (two-sided)"
    return out


def _binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided p of ``k`` successes in ``n`` trials with p = 1/2."""
    if n == 0:
        return 1.0
    from scipy.stats import binom

    return float(min(1.0, 2.0 * binom.cdf(min(k, n - k), n, 0.5)))


def _components(live, attack):
    """DeLong's structural components from mid-ranks: ``V10 [N]``, ``V01 [M]``, the AUC."""
    from scipy.stats import rankdata

    n, m = live.size, attack.size
    z = rankdata(np.r_[live, attack], method="average")
    rl = rankdata(live, method="average")
    ra = rankdata(attack, method="average")
    v10 = (z[:n] - rl) / m  # per live: fraction of attacks below (+ half the ties)
    v01 = 1.0 - (z[n:] - ra) / n  # per attack: fraction of lives above (+ half the ties)
    return v10, v01, float(v10.mean())


def delong(scores_a, scores_b, labels, level: float = 0.95, higher_is_live: bool = True) -> dict:
    """DeLong's test of ``AUC_A - AUC_B`` on the same presentations.

    Returns ``{"auc_a", "auc_b", "difference", "se", "z", "pvalue", "interval"}``.
    """
    from scipy.special import ndtr, ndtri

    check_level(level)
    a, b, y, _ = _check(scores_a, scores_b, labels)
    sgn = 1.0 if higher_is_live else -1.0
    live, att = y == 1, y == 0
    n, m = int(live.sum()), int(att.sum())
    if n < 2 or m < 2:
        raise ValueError(
            f"DeLong's test needs >= 2 presentations of each class ({n} bona fide, {m} attack)"
        )
    v10a, v01a, auc_a = _components(sgn * a[live], sgn * a[att])
    v10b, v01b, auc_b = _components(sgn * b[live], sgn * b[att])
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / n + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / m
    diff = auc_a - auc_b
    se = math.sqrt(max(var, 0.0))
    if se == 0.0:
        z = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        p = 1.0 if diff == 0 else 0.0
    else:
        z = diff / se
        p = float(2 * ndtr(-abs(z)))
    q = float(ndtri(0.5 + level / 2))
    return dict(
        auc_a=auc_a,
        auc_b=auc_b,
        difference=diff,
        se=se,
        z=z,
        pvalue=p,
        interval=(diff - q * se, diff + q * se),
        n_live=n,
        n_attack=m,
        method="DeLong et al. 1988 (mid-rank components, Sun & Xu 2014)",
    )


def paired_bootstrap_acer(
    scores_a,
    scores_b,
    labels,
    threshold_a: float,
    threshold_b: float,
    attack_types=None,
    units=None,
    apcer: str = "max",
    reps: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    higher_is_live: bool = True,
    return_draws: bool = False,
) -> dict:
    """Paired stratified bootstrap of ``ACER_A - ACER_B`` at fixed thresholds.

    Args:
        threshold_a / threshold_b: a float, or [N] per-presentation thresholds (pooled
            models, each at its own threshold).
        attack_types: optional [N] PAI species (the strata; the ACER under ``apcer``).
        units: optional [N] video / subject ids: whole units are resampled.
        return_draws: also return the replicates, ``"draws": {"acer_a": [reps], "acer_b":
            [reps]}`` (e.g. to combine with an independent bootstrap of another split).
    Returns:
        ``{"acer_a", "acer_b", "difference", "interval", "pvalue", "replicates", "seed",
        "resampling"}`` (+ ``"draws"``).
    """
    from fasfast.analysis.conventions import Conventions

    check_level(level)
    conv = Conventions(apcer=apcer)
    a, b, y, ok = _check(scores_a, scores_b, labels)
    types = (
        np.full(y.size, "attack")
        if attack_types is None
        else np.asarray(attack_types).astype(str).reshape(-1)[ok]
    )
    types = np.where(y == 1, "\0live", types)
    u = None if units is None else np.asarray(units).astype(str).reshape(-1)[ok]
    ea = _errors(a, y, _thresholds(threshold_a, ok, "A"), higher_is_live)
    eb = _errors(b, y, _thresholds(threshold_b, ok, "B"), higher_is_live)
    cell = ea.astype(np.int64) * 2 + eb.astype(np.int64)  # 3 both, 2 A only, 1 B only, 0 none
    rng = np.random.default_rng(seed)
    strata = np.unique(types)
    err_a, err_b, size = {}, {}, {}
    for s in strata:
        m = types == s
        if u is None:
            counts = np.bincount(cell[m], minlength=4)
            draw = rng.multinomial(int(m.sum()), counts / counts.sum(), size=reps)
            size[s] = np.full(reps, float(m.sum()))
        else:
            _, inv = np.unique(u[m], return_inverse=True)
            v = int(inv.max()) + 1
            per = np.zeros((v, 4))
            np.add.at(per, (inv, cell[m]), 1.0)
            w = rng.multinomial(v, np.full(v, 1.0 / v), size=reps).astype(np.float64)
            draw = w @ per
            size[s] = draw.sum(axis=1)
        err_a[s] = draw[:, 3] + draw[:, 2]
        err_b[s] = draw[:, 3] + draw[:, 1]

    def acer(err, sizes):
        live = err["\0live"] / sizes["\0live"]
        att = [k for k in strata if k != "\0live"]
        with np.errstate(invalid="ignore", divide="ignore"):
            if conv.apcer == "max":
                ap = np.nanmax(np.vstack([err[k] / sizes[k] for k in att]), axis=0)
            else:
                ap = sum(err[k] for k in att) / sum(sizes[k] for k in att)
        return (ap + live) / 2

    if "\0live" not in strata or len(strata) < 2:
        raise ValueError("the paired bootstrap needs bona fide and attack presentations")
    draws_a, draws_b = acer(err_a, size), acer(err_b, size)
    d = draws_a - draws_b
    full = {s: np.array([float((types == s).sum())]) for s in strata}
    fa = {s: np.array([float((ea & (types == s)).sum())]) for s in strata}
    fb = {s: np.array([float((eb & (types == s)).sum())]) for s in strata}
    acer_a, acer_b = float(acer(fa, full)[0]), float(acer(fb, full)[0])
    dd = d[~np.isnan(d)]
    p = float(min(1.0, 2 * min((dd <= 0).mean(), (dd >= 0).mean()))) if dd.size else math.nan
    out = dict(
        acer_a=acer_a,
        acer_b=acer_b,
        difference=acer_a - acer_b,
        interval=percentile(d, level),
        pvalue=p,
        replicates=int(reps),
        seed=int(seed),
        resampling=("videos/subjects" if u is not None else "presentations")
        + ", stratified by class and PAI species",
        method="paired bootstrap at fixed thresholds (2x2 cells per stratum)",
    )
    if return_draws:
        out["draws"] = {"acer_a": draws_a, "acer_b": draws_b}
    return out


def paired_bootstrap(
    statistic, strata, units=None, reps: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """Stratified bootstrap of any statistic of resampled rows (percentile interval).

    Each stratum's rows are resampled within the stratum: presentations, or with ``units``
    whole units (every row of a drawn unit, e.g. all frames of a video, or one video scored
    by several models). Paired comparisons put both systems' values on the same rows, so one
    resample serves both.

    Args:
        statistic: ``f(idx) -> float`` (or ``[K]`` floats: K statistics from one resample,
            each with its own interval), ``idx`` int64 row indices (with repeats) of a
            resample; ``f(arange(N))`` is the point estimate. Typically a difference A - B.
        strata: [N] stratum of each row (class, PAI species, split, ...).
        units: optional [N] unit ids, resampled within each stratum (an id found in two
            strata is resampled independently in each, as in :func:`paired_bootstrap_acer`).
    Returns:
        ``{"difference", "interval", "pvalue", "replicates", "seed", "resampling"}`` (lists,
        one per statistic, for a vector statistic); p is ``min(1, 2 * min(P*(d <= 0),
        P*(d >= 0)))`` over the replicates.
    Raises:
        ValueError: no rows, or a length mismatch.
    """
    check_level(level)
    strata = np.asarray(strata).astype(str).reshape(-1)
    n = strata.size
    if n == 0:
        raise ValueError("the paired bootstrap needs at least one row")
    if units is None:
        u = np.arange(n).astype(str)
    else:
        u = np.asarray(units).astype(str).reshape(-1)
        if u.size != n:
            raise ValueError(f"length mismatch: {n} strata but {u.size} units")
    groups = []  # per stratum: the rows of each of its units
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        keys, inv = np.unique(u[rows], return_inverse=True)
        order = np.argsort(inv, kind="stable")
        cuts = np.flatnonzero(np.diff(inv[order])) + 1
        groups.append(np.split(rows[order], cuts))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(int(reps)):
        idx = [g[k] for g in groups for k in rng.integers(0, len(g), len(g))]
        draws.append(np.asarray(statistic(np.concatenate(idx)), np.float64))
    point = np.asarray(statistic(np.arange(n)), np.float64)
    d = np.array(draws).reshape(int(reps), -1)

    def p_of(col):
        col = col[~np.isnan(col)]
        if not col.size:
            return math.nan
        return float(min(1.0, 2 * min((col <= 0).mean(), (col >= 0).mean())))

    cols = [d[:, k] for k in range(d.shape[1])]
    if point.ndim == 0:
        diff, interval, p = float(point), percentile(cols[0], level), p_of(cols[0])
    else:
        diff = [float(v) for v in point.reshape(-1)]
        interval = [percentile(c, level) for c in cols]
        p = [p_of(c) for c in cols]
    return dict(
        difference=diff,
        interval=interval,
        pvalue=p,
        replicates=int(reps),
        seed=int(seed),
        resampling=("units" if units is not None else "rows")
        + " within "
        + f"{len(groups)} strata",
    )


def paired_tests(
    a,
    b,
    threshold_a: float,
    threshold_b: float,
    higher_is_live: bool = True,
    apcer: str = "max",
    reps: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    resample: str = "auto",
) -> dict:
    """McNemar, DeLong and the paired ACER bootstrap for two
    :class:`~fasfast.analysis.io.ScoreSet` on the same presentations (matched by id; labels
    must agree)."""
    from fasfast.analysis._core import units_of

    ia, ib = align(a.ids, b.ids)
    if not np.array_equal(a.labels[ia], b.labels[ib]):
        raise ValueError("the two score sets label a shared id differently")
    y = a.labels[ia]
    sa, sb = a.scores[ia], b.scores[ib]
    types = a.attack_types[ia]
    units, what = units_of(a.subset(ia), resample)
    return dict(
        n_paired=int(ia.size),
        n_responses=int((~(np.isnan(sa) | np.isnan(sb))).sum()),
        mcnemar=mcnemar(sa, sb, y, threshold_a, threshold_b, higher_is_live),
        delong=delong(sa, sb, y, level, higher_is_live),
        acer_difference=paired_bootstrap_acer(
            sa,
            sb,
            y,
            threshold_a,
            threshold_b,
            types,
            units,
            apcer,
            reps,
            seed,
            level,
            higher_is_live,
        ),
    )
