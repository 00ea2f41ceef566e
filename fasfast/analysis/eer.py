"""The ACER point (eq. 8, APCER = BPCER) and the EER by rule: ``"bob"``, ``"fvc2000"`` and
``"rocch"`` (see :mod:`fasfast.analysis.thresholds` for the rules); used by the thresholds
and by :func:`fasfast.analysis.metrics.eer`.

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from fasfast.analysis._classes import Classes

__all__ = ["eer_choice", "midpoint_or", "rates_at", "rocch_eer_of"]


def midpoint_or(c: Classes, lo: float, hi: float, only: float) -> float:
    """The midpoint of ``(lo, hi]``, its finite end when one end is infinite, ``only`` when
    both are."""
    if math.isinf(lo) and math.isinf(hi):
        return only
    if math.isinf(lo):
        return hi
    if math.isinf(hi):
        return lo
    return c.midpoint(lo, hi)


def rates_at(c: Classes, t: float, definition: str) -> tuple[Fraction, Fraction]:
    """Exact ``(APCER, BPCER)`` at threshold ``t`` (internal frame) under ``definition``."""
    return c.apcer_fraction(t, definition), c.bpcer_fraction(t)


def _interval_rep(lo: float, hi: float) -> float:
    """A threshold inside ``(lo, hi]``: ``hi`` (``+inf`` stands for ``(lo, +inf)``)."""
    return hi


def _distinct_scores(c: Classes) -> np.ndarray:
    return np.union1d(c.L.p, c.A.p)


def eer_choice(c: Classes, definition: str, rule: str, recs) -> tuple[float, float, float]:
    """``(lo, hi, eer)``: the interval the ACER point is placed in and the EER (also used by
    :mod:`fasfast.analysis.metrics` for its EER)."""
    _, _, pos_lo, pos_hi, neg_lo, neg_hi = recs
    an, bn = rates_at(c, _interval_rep(neg_lo, neg_hi), definition)
    if pos_lo != pos_lo and pos_hi != pos_hi:  # no interval with APCER > BPCER
        return neg_lo, neg_hi, float((an + bn) / 2)
    ap, bp = rates_at(c, _interval_rep(pos_lo, pos_hi), definition)
    if rule == "fvc2000":
        t1 = (pos_lo, pos_hi, ap, bp)
        if an == bn:  # a plateau with APCER = BPCER: t1 is its last interval
            u = _distinct_scores(c)
            # a key of u's own dtype: a Python float would make numpy copy u to float64 first
            k0 = int(np.searchsorted(u, u.dtype.type(neg_hi)))  # neg_hi = u[k0] (or inf)
            lo_k, hi_k = k0, u.size  # last k with APCER == BPCER at t = u[k] (u.size: +inf)
            while lo_k < hi_k:
                mid = (lo_k + hi_k + 1) // 2
                t = u[mid] if mid < u.size else math.inf
                a, b = rates_at(c, t, definition)
                if a == b:
                    lo_k = mid
                else:
                    hi_k = mid - 1
            hi_t = float(u[lo_k]) if lo_k < u.size else math.inf
            lo_t = float(u[lo_k - 1]) if lo_k > 0 else -math.inf
            a, b = rates_at(c, hi_t, definition)
            t1 = (lo_t, hi_t, a, b)
        s1, s2 = t1[2] + t1[3], an + bn
        if s1 <= s2:
            return t1[0], t1[1], float(s1 / 2)
        return neg_lo, neg_hi, float(s2 / 2)
    # bob (and the threshold of rocch): least |APCER - BPCER|
    dp, dn = abs(ap - bp), abs(an - bn)
    if dp < dn:
        lo, hi = pos_lo, pos_hi
    elif dp == dn:
        lo, hi = pos_lo, neg_hi
    else:
        lo, hi = neg_lo, neg_hi
    t = midpoint_or(c, lo, hi, math.nan)
    a, b = rates_at(c, t if t == t else hi, definition)
    eer = float((a + b) / 2)
    if rule == "rocch":
        eer = rocch_eer_of(c, definition)
    return lo, hi, eer


def rocch_eer_of(c: Classes, definition: str) -> float:
    """ROCCH-EER (Bosaris / bob.measure ``eer_rocch``) of the (APCER, BPCER) curve."""
    from fasfast.analysis import _kernels_pai
    from fasfast.analysis._core import kernels

    if c.per_pai(definition):
        cat, off = c.species_concat()
        x, y, _ = _kernels_pai.pai_curve(c.L.p, cat, off)
    else:
        na, nl, _ = kernels().roc_points(c.L.p, c.A.p)
        # roc_points runs from t = +inf down; the hull wants rising thresholds
        x = (na / c.A.n)[::-1].copy()
        y = ((c.L.n - nl) / c.L.n)[::-1].copy()
    return float(
        _kernels_pai.rocch_eer(
            np.ascontiguousarray(x, np.float64), np.ascontiguousarray(y, np.float64)
        )
    )
