"""Threshold selection for two classes (Huang et al. 2024, section 3.3 and Table 7), true to
the APCER printed beside it.

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602

Convention: ``higher_is_live=True``; a sample is accepted as live iff ``score >= t``, so
``APCER_s(t) = #{attack of species s >= t}/M_s``, ``BPCER(t) = #{live < t}/N``. With
``higher_is_live=False`` the scores are negated internally and every threshold is negated
back; the rule then reads "live iff ``score <= t``" (``acer_left``/``acer_right`` stay the
lower/upper end on the original axis).

Names: every threshold is named for the point it is, and the names are also the method
strings (``threshold_method``, ``--method``, ``--compare-at``). The EER point is
``acer_point`` (the paper's "ACER point"; :attr:`Thresholds.acer_point`), named so that it is
not taken for the error rate ``PadMetrics.acer``; its former name ``acer`` is accepted for
one release with a DeprecationWarning (:func:`threshold_name`). ``acer_left`` /
``acer_right`` keep the paper's names ("ACER-left", "ACER-right": the ends of the least-ACER
interval). NaN scores are non-responses and take no part here.

APCER definition (``apcer``): ``"max"`` (ISO/IEC 30107-3: the worst PAI species; the default)
or ``"pooled"`` (all attacks as one class). Every choice below that involves the APCER is
made under the chosen definition, the same one the tables print. Without attack types, or
with one species, the two coincide.

Both error rates are step functions, constant on the intervals ``(u_{k-1}, u_k]`` between
consecutive distinct observed scores ``u_1 < ... < u_K`` (plus ``(-inf, u_1]`` and
``(u_K, +inf)``). All choices are made on exact integer counts.

- ``fake_border``: the largest attack score ``Fb``, applied just above it (``border`` rule:
  the next representable value of the scores' dtype, or halfway to the next higher score),
  so that it rejects the attack it is taken from. ``live_border = min(live)`` (attained).
- ``acer_left`` / ``acer_right``: the infimum and supremum of the thresholds whose ACER
  ``(APCER + BPCER)/2`` is least. The infimum is an attack score that the set does not
  contain: ``acer_left`` is applied just above it (by the border rule). The supremum is an
  observed score in the set (attained). ``acer_mid``: the midpoint of the two (when the
  least-ACER thresholds form several intervals it may reach a higher ACER; its row says so).
- ``acer_point`` (eq. 8, the APCER = BPCER crossing) by ``eer_rule``: ``"bob"`` the midpoint of the
  thresholds minimising ``|APCER - BPCER|`` (one interval ``(lo, hi]``; ``hi`` if rounding
  leaves it), ``eer = (APCER + BPCER)/2`` there; ``"fvc2000"`` of the last interval with
  ``APCER >= BPCER`` and the first with ``APCER <= BPCER`` the one with the smaller sum, at
  its midpoint; ``"rocch"`` the bob threshold, ``eer`` where the ROC convex hull meets
  ``APCER = BPCER``.
- ``cross``: circles at the two centres with their radii; ``d = c_L - c_A``; if they meet in
  two points (``|R_A - R_L| < |d| < R_A + R_L``) the x of the common chord
  ``c_A + (d^2 + R_A^2 - R_L^2)/(2d)``, otherwise ``(fake_border + live_border)/2``. Domains
  use the finite scores.
- ``balance`` (eq. 9): the pooled mean of ``A' U L'`` (correctly rounded, from exact sums of
  finite scores). Separable (``Fb < Lb``): all samples, clamped to ``[Fb, Lb]``; clamped to
  ``Fb`` it is applied just above it. Overlapping: only the overlap, ``A' = {a >= Lb}``,
  ``L' = {l <= Fb}``.
- Target rates: ``bpcer_at_apcer(r)`` reaches the lowest BPCER with ``APCER <= r``: the
  feasible thresholds are ``t > a*`` (``a*`` the largest attack score that must be rejected:
  per species the ``(floor(r*M_s)+1)``-th highest, the largest of those under "max"). The
  thresholds with the same APCER form ``(a*, h]``; ``placement`` picks the low end (just
  above ``a*``, lowest BPCER; "best" and "low"), the high end ``h`` (bob.measure), or the
  midpoint. ``apcer_at_bpcer(r)`` reaches the lowest APCER with ``BPCER <= r``: the feasible
  thresholds are ``t <= L_k`` (the ``k``-th smallest live score, ``k = floor(r*N)``); the
  same-BPCER interval is ``(l', L_k]`` with ``l'`` the live score below; "best" and "high"
  take ``L_k``, "low" just above ``l'``. ``tpr_at_fpr(r)`` is ``bpcer_at_apcer`` in ROC
  terms. ``r*M`` gets a 1e-9 slack against decimal rounding (``0.03*100`` counts as 3).

Every threshold is a value of the scores' dtype (a computed one is rounded up to the next,
which changes no decision), so a float32 pipeline can hold it exactly.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from fasfast.analysis._classes import Classes
from fasfast.analysis._core import (
    FiniteScores,
    bins_to_int,
    check_center,
    check_convention,
    exact_range_sums,
    run_pair,
    ss,
)
from fasfast.analysis.conventions import Conventions
from fasfast.analysis.stats import DomainStats, stats_from_sorted

__all__ = [
    "RENAMED_THRESHOLDS",
    "TABLE_THRESHOLDS",
    "THRESHOLD_NAMES",
    "OperatingPoint",
    "Thresholds",
    "apcer_at_bpcer",
    "bpcer_at_apcer",
    "select_thresholds",
    "threshold_name",
    "tpr_at_fpr",
]

THRESHOLD_NAMES = (
    "fake_border",
    "live_border",
    "cross",
    "balance",
    "acer_point",
    "acer_left",
    "acer_right",
)
# the rows of the threshold table: the paper's seven and the ACER interval's midpoint
TABLE_THRESHOLDS = (
    "fake_border",
    "live_border",
    "cross",
    "balance",
    "acer_point",
    "acer_left",
    "acer_mid",
    "acer_right",
)

# former threshold names -> current ones, accepted with a DeprecationWarning until 0.2
RENAMED_THRESHOLDS = {"acer": "acer_point"}

Pair = Classes  # the former name of the sorted two-class container


def threshold_name(name: str) -> str:
    """The current name of the threshold (or threshold method) ``name``: a former name
    (:data:`RENAMED_THRESHOLDS`: ``"acer"`` for ``"acer_point"``) is translated with a
    DeprecationWarning; any other string is returned as it is."""
    new = RENAMED_THRESHOLDS.get(name)
    if new is None:
        return name
    warnings.warn(
        f"the threshold name {name!r} is deprecated (it is taken for the error rate ACER); "
        f"use {new!r}",
        DeprecationWarning,
        stacklevel=3,
    )
    return new


@dataclass(frozen=True)
class Thresholds:
    """The paper's thresholds (see the module docstring for the exact definitions).

    ``eer`` and ``min_acer`` are the error rates reached at ``acer_point`` and on the least-ACER
    thresholds, under ``apcer`` (the APCER definition) and ``eer_rule``;
    ``fake_border_score`` / ``live_border_score`` the raw borders (``fake_border`` is
    applied just above the first); ``notes`` says for each threshold how it was obtained and
    applied; ``live_stats``/``attack_stats`` the domains used for ``cross``.
    """

    fake_border: float
    live_border: float
    acer_point: float
    acer_left: float
    acer_right: float
    cross: float
    balance: float
    eer: float = float("nan")
    min_acer: float = float("nan")
    center: str = "balance"
    higher_is_live: bool = True
    live_stats: DomainStats | None = field(default=None, repr=False)
    attack_stats: DomainStats | None = field(default=None, repr=False)
    acer_mid: float = float("nan")
    fake_border_score: float = float("nan")
    live_border_score: float = float("nan")
    apcer: str = "max"
    eer_rule: str = "bob"
    notes: dict = field(default_factory=dict, repr=False)

    @property
    def acer(self) -> float:
        """Former name of :attr:`acer_point` (deprecated: read as the error rate ACER)."""
        warnings.warn("Thresholds.acer is deprecated: it is the ACER point threshold, not an "
                      "ACER; use Thresholds.acer_point", DeprecationWarning, stacklevel=2)
        return self.acer_point

    def as_dict(self) -> dict[str, float]:
        """``{name: threshold}`` for the paper's seven thresholds (``THRESHOLD_NAMES``)."""
        return {k: getattr(self, k) for k in THRESHOLD_NAMES}

    def table_dict(self) -> dict[str, float]:
        """``{name: threshold}`` for every row of the threshold table (``acer_mid`` too)."""
        return {k: getattr(self, k) for k in TABLE_THRESHOLDS}


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold chosen for a target rate and the rates it reaches on the same data.

    ``apcer`` is under ``apcer_definition`` (the one the choice was made under),
    ``apcer_pooled`` over all attacks (the ROC's FPR); ``interval`` is the interval of
    thresholds that reach the same target rate (user frame, ``(lo, hi]`` when
    ``higher_is_live``), ``placement`` where in it the threshold sits, ``note`` how.
    """

    threshold: float
    apcer: float
    bpcer: float
    target: float
    kind: str
    apcer_definition: str = "max"
    apcer_pooled: float = float("nan")
    placement: str = "best"
    interval: tuple = (float("nan"), float("nan"))
    note: str = ""

    @property
    def fpr(self) -> float:
        return self.apcer_pooled if self.apcer_pooled == self.apcer_pooled else self.apcer

    @property
    def tpr(self) -> float:
        return 1.0 - self.bpcer

    def as_dict(self) -> dict:
        return dict(threshold=self.threshold, apcer=self.apcer, bpcer=self.bpcer,
                    fpr=self.fpr, tpr=self.tpr, target=self.target, kind=self.kind,
                    apcer_definition=self.apcer_definition, placement=self.placement,
                    interval=list(self.interval), note=self.note)


# --------------------------------------------------------------------------- helpers
def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _midpoint_or(c: Classes, lo: float, hi: float, only: float) -> float:
    if math.isinf(lo) and math.isinf(hi):
        return only
    if math.isinf(lo):
        return hi
    if math.isinf(hi):
        return lo
    return c.midpoint(lo, hi)


def cross_point(a: DomainStats, l: DomainStats, fake_border: float, live_border: float) -> float:  # noqa: E741
    """Cross point of the attack circle ``a`` and the live circle ``l`` (see module doc)."""
    d = l.center - a.center
    ra, rl = a.radius, l.radius
    if d != 0 and abs(ra - rl) < abs(d) < ra + rl:
        return a.center + (d * d + ra * ra - rl * rl) / (2 * d)
    return (fake_border + live_border) / 2


def applied_cross(c: Classes, sa: DomainStats, sl: DomainStats, fb: float, lb: float,
                  border: str) -> tuple[float, bool]:
    """The cross point (internal frame) as applied: just above the fake border when the
    classes are separable and it falls at or below it; rounded up to the dtype. Returns
    ``(t, raised_above_the_fake_border)``."""
    t = cross_point(sa, sl, fb, lb)
    fb_all = float(c.A.p[-1])
    if fb_all < float(c.L.p[0]) and t <= fb_all:
        return c.above(fb_all, border), True
    return c.snap(t), False


def _exact_range_sum(c: FiniteScores, lo: int, hi: int) -> Fraction:
    """Exact ``sum c.p[lo:hi]``: summed directly or as the class total minus the rest,
    whichever touches fewer scores."""

    def direct(a: int, b: int) -> Fraction:
        if b <= a:
            return Fraction(0)
        bins = exact_range_sums(c.p, a, b)
        return Fraction(bins_to_int(bins[0:2]), 1 << 1074)

    if hi - lo <= c.n - (hi - lo):
        return direct(lo, hi)
    return c.exact_sum - direct(0, lo) - direct(hi, c.n)


def _balance_point(c: Classes) -> tuple[float, bool]:
    """Eq. 9 on the finite scores; returns ``(t, clamped_to_the_fake_border)``."""
    lf, af = c.L.fin, c.A.fin
    if lf.n == 0 or af.n == 0:
        return math.nan, False
    fb, lb = float(af.p[-1]), float(lf.p[0])
    if fb < lb:
        t = float((af.exact_sum + lf.exact_sum) / (af.n + lf.n))
        t = min(max(t, fb), lb)
        return t, t == fb
    ka = ss(af.p, lb, "left")  # attack scores >= the live border
    kl = ss(lf.p, fb, "right")  # live scores <= the fake border
    total = _exact_range_sum(af, ka, af.n) + _exact_range_sum(lf, 0, kl)
    return float(total / ((af.n - ka) + kl)), False


def _rates(c: Classes, t: float, definition: str) -> tuple[Fraction, Fraction]:
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
    an, bn = _rates(c, _interval_rep(neg_lo, neg_hi), definition)
    if pos_lo != pos_lo and pos_hi != pos_hi:  # no interval with APCER > BPCER
        return neg_lo, neg_hi, float((an + bn) / 2)
    ap, bp = _rates(c, _interval_rep(pos_lo, pos_hi), definition)
    if rule == "fvc2000":
        t1 = (pos_lo, pos_hi, ap, bp)
        if an == bn:  # a plateau with APCER = BPCER: t1 is its last interval
            u = _distinct_scores(c)
            k0 = int(np.searchsorted(u, neg_hi))  # neg_hi = u[k0] (or inf: none after)
            lo_k, hi_k = k0, u.size  # last k with APCER == BPCER at t = u[k] (u.size: +inf)
            while lo_k < hi_k:
                mid = (lo_k + hi_k + 1) // 2
                t = u[mid] if mid < u.size else math.inf
                a, b = _rates(c, t, definition)
                if a == b:
                    lo_k = mid
                else:
                    hi_k = mid - 1
            hi_t = float(u[lo_k]) if lo_k < u.size else math.inf
            lo_t = float(u[lo_k - 1]) if lo_k > 0 else -math.inf
            a, b = _rates(c, hi_t, definition)
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
    t = _midpoint_or(c, lo, hi, math.nan)
    a, b = _rates(c, t if t == t else hi, definition)
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
    return float(_kernels_pai.rocch_eer(np.ascontiguousarray(x, np.float64),
                                        np.ascontiguousarray(y, np.float64)))


# --------------------------------------------------------------------------- the thresholds
def thresholds_from_classes(c: Classes, center: str = "balance", convention: str = "paper",
                            conv: Conventions | None = None) -> Thresholds:
    """All thresholds of one split (see the module docstring)."""
    conv = conv or Conventions()
    d = conv.apcer
    L, A = c.L, c.A
    fb, lb = float(A.p[-1]), float(L.p[0])
    recs = c.records(d)
    acer_lo, acer_hi = recs[0], recs[1]
    a, b = _rates(c, acer_hi, d)
    min_acer = float((a + b) / 2)
    eer_lo, eer_hi, eer_value = eer_choice(c, d, conv.eer_rule, recs)
    t_acer = _midpoint_or(c, eer_lo, eer_hi, fb)
    n = L.n + A.n
    sl, sa = run_pair(stats_from_sorted, (L, (center,), convention),
                      (A, (center,), convention), n)
    sl, sa = sl[center], sa[center]
    fb_f = float(A.fin.p[-1]) if A.fin.n else fb
    lb_f = float(L.fin.p[0]) if L.fin.n else lb
    cross, raised = applied_cross(c, sa, sl, fb_f, lb_f, conv.border)
    notes = {}
    if raised:
        notes["cross"] = "at or below the fake border: applied just above it"
    bal, clamped = _balance_point(c)
    if clamped:
        bal = c.above(fb, conv.border)
        notes["balance"] = (f"pooled mean clamped to the fake border {_fmt(c.out(fb))}, applied "
                            f"just above it ({conv.border} rule)")
    bal = c.snap(bal) if bal == bal else bal
    how = ("next representable value" if conv.border == "next"
           else "halfway to the next higher score")
    fake = c.above(fb, conv.border)
    notes["fake_border"] = (f"the largest attack score {_fmt(c.out(fb))}, applied just "
                            f"{'above' if c.sign > 0 else 'below'} it ({how})")
    notes["live_border"] = f"the smallest bona fide score {_fmt(c.out(lb))} (attained)"
    if acer_lo == -math.inf:
        left = -math.inf
        left_note = "no lower end: every presentation accepted (attained)"
    else:
        left = c.above(acer_lo, conv.border)
        left_note = (f"infimum {_fmt(c.out(acer_lo))} of the least-ACER thresholds, not "
                     f"attained: applied just {'above' if c.sign > 0 else 'below'} ({how})")
    right = acer_hi
    right_note = ("supremum of the least-ACER thresholds, attained" if math.isfinite(acer_hi)
                  else "no upper end: every presentation rejected")
    mid = _midpoint_or(c, acer_lo, acer_hi, fb)
    if acer_lo == -math.inf or acer_hi == math.inf:
        mid = right if math.isfinite(right) else left
    elif mid == acer_lo:  # cannot happen with c.midpoint, kept for safety
        mid = left
    notes["acer_mid"] = "midpoint of the least-ACER interval's ends"
    notes["acer_point"] = {"bob": "midpoint of the thresholds with the least |APCER - BPCER| "
                            "(bob.measure)",
                     "fvc2000": "midpoint of the FVC2000 EER interval",
                     "rocch": "bob.measure's threshold; the EER is the ROCCH-EER"}[conv.eer_rule]
    if c.sign > 0:
        user_left, user_right = c.out(left), c.out(right)
        notes["acer_left"], notes["acer_right"] = left_note, right_note
    else:
        user_left, user_right = c.out(right), c.out(left)
        notes["acer_left"], notes["acer_right"] = right_note, left_note
    if c.sign < 0:
        sl, sa = flip_stats(sl), flip_stats(sa)
    return Thresholds(
        fake_border=c.out(fake),
        live_border=c.out(lb),
        acer_point=c.out(t_acer),
        acer_left=user_left,
        acer_right=user_right,
        cross=c.out(cross),
        balance=c.out(bal),
        eer=eer_value,
        min_acer=min_acer,
        center=center,
        higher_is_live=c.sign > 0,
        live_stats=sl,
        attack_stats=sa,
        acer_mid=c.out(mid),
        fake_border_score=c.out(fb),
        live_border_score=c.out(lb),
        apcer=d,
        eer_rule=conv.eer_rule,
        notes=notes,
    )


def thresholds_from_pair(pair: Classes, center: str = "balance", convention: str = "paper",
                         conv: Conventions | None = None) -> Thresholds:
    """Former name of :func:`thresholds_from_classes`."""
    return thresholds_from_classes(pair, center, convention, conv)


def flip_stats(st: DomainStats) -> DomainStats:
    """Stats computed on negated scores -> the original axis (normalize is mirrored); for
    scores where lower is live (also used by :mod:`fasfast.analysis.metrics`)."""
    norm = (st.max - st.center) / (st.center - st.min) if st.center != st.min else float("inf")
    return DomainStats(-st.center, st.radius, norm, st.density, -st.max, -st.min, st.n,
                       st.method, st.n_left_out)


def select_thresholds(
    live,
    attack,
    center: str = "balance",
    higher_is_live: bool = True,
    convention: str = "paper",
    *,
    attack_types=None,
    apcer: str = "max",
    eer_rule: str = "bob",
    border: str = "next",
    nonresponses=None,
    nan_policy: str = "nonresponse",
) -> Thresholds:
    """All of the paper's thresholds for two classes.

    Args:
        live: [N] bona fide scores.  attack: [M] attack scores (float32 kept, other dtypes
            as float64; NaN = non-response, left out; infinite scores are valid).
        center: centre used for the domains of the cross point ("mean", "median",
            "balance", "weighted_balance").
        higher_is_live: False when higher scores mean attack.
        convention: "paper" or "code" (radius without /2, see ``stats``).
        attack_types: optional [M] PAI species of ``attack``; with ``apcer="max"`` (ISO/IEC
            30107-3) the ACER point and interval are chosen under the worst species' APCER.
        apcer, eer_rule, border, nan_policy: see :mod:`fasfast.analysis.conventions`.
        nonresponses: optional ``{"live": k, "<species>": k}`` counts without scores.
    Raises:
        ValueError / TypeError: malformed input, a class without responses, a bad option.
    """
    check_center(center)
    check_convention(convention)
    conv = Conventions(apcer=apcer, eer_rule=eer_rule, border=border, nan_policy=nan_policy)
    c = Classes(live, attack, higher_is_live, attack_types, nonresponses, nan_policy)
    return thresholds_from_classes(c, center, convention, conv)


# --------------------------------------------------------------------------- target rates
def _rate_count(rate: float, n: int, name: str) -> int:
    if isinstance(rate, bool) or not (isinstance(rate, (int, float, np.floating))
                                      and 0 <= rate <= 1):
        raise ValueError(f"{name} must be a rate in [0, 1], got {rate!r}")
    return int(math.floor(rate * n + 1e-9))


def _apcer_bound(c: Classes, rate: float, definition: str) -> float:
    """``a*``: the largest attack score that ``APCER <= rate`` must reject (``-inf``: none)."""
    if c.per_pai(definition):
        best = -math.inf
        for sp in c.species_with_responses().values():
            k = _rate_count(rate, sp.n, "rate")
            if k < sp.n:
                best = max(best, float(sp.p[sp.n - k - 1]))
        return best
    k = _rate_count(rate, c.A.n, "rate")
    return float(c.A.p[c.A.n - k - 1]) if k < c.A.n else -math.inf


def _same_apcer_top(c: Classes, a_star: float, definition: str) -> float:
    """``h``: the largest threshold with the APCER of ``t`` just above ``a_star``."""
    if c.per_pai(definition):
        sp = c.species_with_responses().values()
        counts = [(v.n - ss(v.p, a_star, "right"), v) for v in sp]
        v0 = max(Fraction(k, v.n) for k, v in counts)
        if v0 == 0:
            return math.inf
        return max(float(v.p[v.n - k]) for k, v in counts if Fraction(k, v.n) == v0)
    i = ss(c.A.p, a_star, "right")
    return float(c.A.p[i]) if i < c.A.n else math.inf


def _place(c: Classes, lo: float, hi: float, placement: str, best: str, border: str):
    """A threshold in the equal-rate interval ``(lo, hi]`` and a note on it."""
    where = best if placement == "best" else placement
    side = "above" if c.sign > 0 else "below"
    if where == "high" and math.isinf(hi):
        where = "low"
        extra = " (the interval has no upper end)"
    elif where == "midpoint" and (math.isinf(hi) or math.isinf(lo)):
        where = "low" if math.isinf(hi) else "high"
        extra = " (the interval is unbounded: placed at its finite end)"
    else:
        extra = ""
    if where == "high":
        return hi, f"high end {_fmt(c.out(hi))} (attained){extra}"
    if where == "midpoint":
        return c.midpoint(lo, hi), f"midpoint of ({_fmt(c.out(lo))}, {_fmt(c.out(hi))}]"
    if math.isinf(lo):
        return c.lowest(), f"low end: every presentation accepted{extra}"
    return c.above(lo, border), f"low end: just {side} {_fmt(c.out(lo))}{extra}"


def _point(c: Classes, t: float, rate: float, kind: str, definition: str, placement: str,
           lo: float, hi: float, note: str) -> OperatingPoint:
    a = c.apcer_fraction(t, definition)
    ap = Fraction(c.attack_accepted(t), c.A.n)
    b = c.bpcer_fraction(t)
    iv = (c.out(lo), c.out(hi)) if c.sign > 0 else (c.out(hi), c.out(lo))
    return OperatingPoint(c.out(t), float(a), float(b), float(rate), kind, definition,
                          float(ap), placement, iv, note)


def target_point(c: Classes, kind: str, rate: float, definition: str = "max",
                 placement: str = "best", border: str = "next") -> OperatingPoint:
    """One target-rate point on sorted classes (``kind``: "bpcer@apcer", "tpr@fpr" or
    "apcer@bpcer"); see the module docstring."""
    if kind in ("bpcer@apcer", "tpr@fpr"):
        a_star = _apcer_bound(c, rate, definition)
        h = _same_apcer_top(c, a_star, definition)
        t, note = _place(c, a_star, h, placement, "low", border)
        return _point(c, t, rate, kind, definition, placement, a_star, h, note)
    if kind != "apcer@bpcer":
        raise ValueError(f"unknown target kind {kind!r}")
    L = c.L
    k = _rate_count(rate, L.n, "rate")
    if k >= L.n:  # every threshold keeps BPCER <= 1: the largest are above every score
        top = max(float(L.p[-1]), float(c.A.p[-1]))
        t = c.above(top, border)
        return _point(c, t, rate, kind, definition, placement, top, math.inf,
                      "every threshold meets the target: just above every score")
    hi = float(L.p[k])
    j = ss(L.p, hi, "left")
    lo = float(L.p[j - 1]) if j > 0 else -math.inf
    t, note = _place(c, lo, hi, placement, "high", border)
    return _point(c, t, rate, kind, definition, placement, lo, hi, note)


def _target_args(live, attack, higher_is_live, attack_types, nonresponses, nan_policy):
    return Classes(live, attack, higher_is_live, attack_types, nonresponses, nan_policy)


def bpcer_at_apcer(live, attack, rate: float = 0.05, higher_is_live: bool = True, *,
                   attack_types=None, apcer: str = "max", placement: str = "best",
                   border: str = "next", nonresponses=None,
                   nan_policy: str = "nonresponse") -> OperatingPoint:
    """Lowest BPCER with APCER <= ``rate`` (BPCER20: rate 0.05, BPCER100: rate 0.01), the
    APCER under ``apcer`` ("max" over the ``attack_types`` species, ISO/IEC 30107-3, or
    "pooled"); ``placement`` within the equal-APCER interval (see the module docstring)."""
    conv = Conventions(apcer=apcer, placement=placement, border=border, nan_policy=nan_policy)
    c = _target_args(live, attack, higher_is_live, attack_types, nonresponses, nan_policy)
    return target_point(c, "bpcer@apcer", rate, conv.apcer, conv.placement, conv.border)


def apcer_at_bpcer(live, attack, rate: float = 0.05, higher_is_live: bool = True, *,
                   attack_types=None, apcer: str = "max", placement: str = "best",
                   border: str = "next", nonresponses=None,
                   nan_policy: str = "nonresponse") -> OperatingPoint:
    """Lowest APCER (under ``apcer``) with BPCER <= ``rate``."""
    conv = Conventions(apcer=apcer, placement=placement, border=border, nan_policy=nan_policy)
    c = _target_args(live, attack, higher_is_live, attack_types, nonresponses, nan_policy)
    return target_point(c, "apcer@bpcer", rate, conv.apcer, conv.placement, conv.border)


def tpr_at_fpr(live, attack, rate: float = 1e-3, higher_is_live: bool = True, *,
               attack_types=None, apcer: str = "max", placement: str = "best",
               border: str = "next", nonresponses=None,
               nan_policy: str = "nonresponse") -> OperatingPoint:
    """Highest TPR (live accepted) with FPR (attacks accepted, under ``apcer``) <= ``rate``."""
    conv = Conventions(apcer=apcer, placement=placement, border=border, nan_policy=nan_policy)
    c = _target_args(live, attack, higher_is_live, attack_types, nonresponses, nan_policy)
    return target_point(c, "tpr@fpr", rate, conv.apcer, conv.placement, conv.border)
