"""Confidence intervals: exact binomial (Clopper-Pearson) and the bootstrap at fixed thresholds.

- :func:`clopper_pearson`: the exact two-sided interval of a binomial proportion (Clopper &
  Pearson 1934): ``[B(a/2; k, n-k+1), B(1-a/2; k+1, n-k)]`` with ``B`` the beta quantile;
  used for APCER per species, the pooled APCER, BPCER, APNRR and BPNRR at a threshold.
- :func:`max_interval`: the APCER of the worst species is a maximum of binomial rates; its
  interval is ``[max_s lo_s, max_s hi_s]`` over the species' Clopper-Pearson intervals at
  level ``1 - a/S`` (Bonferroni): if every species' interval holds its true rate, the
  maximum lies in it, so it covers at least ``1 - a``.
- :func:`fixed_threshold_bootstrap`: ACER (and HTER) at a threshold fixed in advance, by the
  stratified bootstrap: each class (bona fide, each PAI species) is resampled within itself
  (``B`` replicates, percentile interval). A replicate at a fixed threshold depends only on
  how many resampled presentations are errors, so it is drawn exactly as one binomial per
  class (or, resampling whole videos / subjects, one multinomial over that class's units).

A class whose resampling leaves a single unit (one video, one subject, one presentation)
is the same in every replicate: the bootstrap takes no variance from it, and an interval
can come out as ``[x, x]`` without being exact. :func:`one_unit_classes` names such
classes, :func:`warn_degenerate` says so in one line, and the intervals that depend on them
carry ``"degenerate"`` (the notes) in their dicts; the tables print ``[degenerate]``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = [
    "DegenerateIntervalWarning",
    "clopper_pearson",
    "fixed_threshold_bootstrap",
    "max_interval",
    "one_unit_classes",
    "warn_degenerate",
]


class DegenerateIntervalWarning(UserWarning):
    """A bootstrap resampled a class that holds a single unit: its intervals are degenerate."""


def one_unit_classes(classes: dict, unit: str = "video/subject") -> list[str]:
    """``["class 'live' has one video ('v1')", ...]`` for every class whose resampling leaves
    a single unit. ``classes``: ``{class name: unit ids, one per presentation}`` (empty
    classes are skipped); ``unit`` names the unit ("video", "subject", "presentation")."""
    out = []
    for name, ids in classes.items():
        ids = np.asarray(ids).reshape(-1)
        if ids.size == 0:
            continue
        first = ids[0]
        if ids.size == 1 or (ids == first).all():
            what = f"one {unit}" + ("" if unit == "presentation" else f" ({str(first)!r})")
            out.append(f"class {str(name)!r} has {what}")
    return out


def warn_degenerate(notes: list[str], where: str = "") -> None:
    """One line (a :class:`DegenerateIntervalWarning`) when ``notes`` is not empty; the same
    notes are said once (one warning site)."""
    if notes:
        warnings.warn(
            f"{where}{'; '.join(notes)} to resample: the bootstrap takes no variance from "
            "it and its intervals are marked degenerate",
            DegenerateIntervalWarning,
            stacklevel=1,
        )


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of ``k`` successes in ``n`` trials.

    Returns ``(lo, hi)`` in [0, 1]; ``(nan, nan)`` when ``n == 0``.
    """
    from scipy.special import betaincinv

    check_level(level)
    k, n = int(k), int(n)
    if n == 0:
        return math.nan, math.nan
    if not 0 <= k <= n:
        raise ValueError(f"clopper_pearson needs 0 <= k <= n, got k={k}, n={n}")
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, a / 2))
    hi = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1 - a / 2))
    return lo, hi


def max_interval(counts, level: float = 0.95) -> tuple[float, float]:
    """Interval of ``max_s k_s/n_s`` from ``[(k_s, n_s), ...]`` (Bonferroni over species)."""
    counts = [(k, n) for k, n in counts if n > 0]
    if not counts:
        return math.nan, math.nan
    lv = 1.0 - (1.0 - level) / len(counts)
    ivs = [clopper_pearson(k, n, lv) for k, n in counts]
    return max(i[0] for i in ivs), max(i[1] for i in ivs)


def check_level(level: float) -> None:
    """A ValueError unless the confidence ``level`` lies in (0, 1)."""
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level!r}")


def percentile(values: np.ndarray, level: float) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates (NaN replicates dropped)."""
    v = np.asarray(values, np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan
    a = (1.0 - level) / 2
    # interpolate between finite replicates; order statistics when one is infinite
    method = "linear" if np.isfinite(v).all() else "inverted_cdf"
    lo, hi = np.quantile(v, [a, 1 - a], method=method)
    return float(lo), float(hi)


def class_error_draws(
    rng: np.random.Generator, n: int, k: int, reps: int, units=None
) -> tuple[np.ndarray, np.ndarray]:
    """Resampled ``(errors, size)`` of one class, ``reps`` times.

    Without ``units``: ``errors ~ Binomial(n, k/n)`` and ``size = n``. With ``units`` (a pair
    of int arrays: per unit its presentations and its errors) the class's units are
    resampled with replacement (one multinomial draw) and both are sums over the draws.
    """
    if units is None:
        if n == 0:
            return np.zeros(reps), np.zeros(reps)
        return rng.binomial(n, k / n, size=reps).astype(np.float64), np.full(reps, float(n))
    sizes, errs = (np.asarray(u, np.float64) for u in units)
    v = sizes.size
    if v == 0:
        return np.zeros(reps), np.zeros(reps)
    err_out = np.empty(reps)
    size_out = np.empty(reps)
    chunk = max(1, 4_000_000 // v)
    for s in range(0, reps, chunk):
        e = min(reps, s + chunk)
        w = rng.multinomial(v, np.full(v, 1.0 / v), size=e - s).astype(np.float64)
        err_out[s:e] = w @ errs
        size_out[s:e] = w @ sizes
    return err_out, size_out


def fixed_threshold_bootstrap(
    live: tuple,
    species: dict,
    definition: str,
    reps: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Bootstrap intervals of ACER and HTER at a fixed threshold.

    Args:
        live: ``(n, k)`` bona fide presentations and rejected ones, or ``(n, k, units)`` with
            ``units = (sizes, errors)`` per video / subject.
        species: ``{name: (n, k)}`` (or ``(n, k, units)``): attack presentations per PAI
            species and accepted ones.
        definition: "max" (ACER with the worst species' APCER) or "pooled".
    Returns:
        ``{"acer": (lo, hi), "hter": (lo, hi), "replicates": reps, "resampling": str,
        "degenerate": [notes]}`` (the classes with a single unit: see the module docstring).
    """
    check_level(level)
    rng = np.random.default_rng(seed)
    lv = _draws(rng, live, reps)
    sp = {name: _draws(rng, v, reps) for name, v in species.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        bpcer = lv[0] / lv[1]
        rates = [e / s for e, s in sp.values()]
        pooled = sum(e for e, _ in sp.values()) / sum(s for _, s in sp.values())
        apcer = np.nanmax(np.vstack(rates), axis=0) if definition == "max" else pooled
    units = any(len(v) > 2 for v in [live, *species.values()])
    single = [
        f"class {name!r} has one " + ("video/subject" if len(v) > 2 else "presentation")
        for name, v in [("live", live), *species.items()]
        if int(v[0]) > 0 and (len(v[2][0]) if len(v) > 2 else int(v[0])) == 1
    ]
    return {
        "acer": percentile((apcer + bpcer) / 2, level),
        "hter": percentile((pooled + bpcer) / 2, level),
        "replicates": int(reps),
        "resampling": "videos/subjects (stratified by class)"
        if units
        else "presentations (stratified by class)",
        "degenerate": single,
    }


def _draws(rng, v, reps):
    n, k = int(v[0]), int(v[1])
    units = v[2] if len(v) > 2 else None
    return class_error_draws(rng, n, k, reps, units)
