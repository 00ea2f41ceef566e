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
- Target rates (``bpcer_at_apcer``, ``apcer_at_bpcer``, ``tpr_at_fpr``): :mod:`fasfast.analysis.targets`
  (re-exported here).

Every threshold is a value of the scores' dtype (a computed one is rounded up to the next,
which changes no decision), so a float32 pipeline can hold it exactly.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from fractions import Fraction

from fasfast import FasfastDeprecationWarning
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
from fasfast.analysis.eer import eer_choice, midpoint_or, rates_at
from fasfast.analysis.stats import DomainStats, stats_from_sorted
from fasfast.analysis.targets import (  # noqa: F401 - re-exported: the thresholds' public names
    OperatingPoint,
    apcer_at_bpcer,
    bpcer_at_apcer,
    target_point,
    tpr_at_fpr,
)

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
        FasfastDeprecationWarning,
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
        warnings.warn(
            "Thresholds.acer is deprecated: it is the ACER point threshold, not an "
            "ACER; use Thresholds.acer_point",
            FasfastDeprecationWarning,
            stacklevel=2,
        )
        return self.acer_point

    def as_dict(self) -> dict[str, float]:
        """``{name: threshold}`` for the paper's seven thresholds (``THRESHOLD_NAMES``)."""
        return {k: getattr(self, k) for k in THRESHOLD_NAMES}

    def table_dict(self) -> dict[str, float]:
        """``{name: threshold}`` for every row of the threshold table (``acer_mid`` too)."""
        return {k: getattr(self, k) for k in TABLE_THRESHOLDS}


# --------------------------------------------------------------------------- helpers
def _fmt(x: float) -> str:
    return f"{x:.6g}"


def cross_point(a: DomainStats, l: DomainStats, fake_border: float, live_border: float) -> float:  # noqa: E741
    """Cross point of the attack circle ``a`` and the live circle ``l`` (see module doc)."""
    d = l.center - a.center
    ra, rl = a.radius, l.radius
    if d != 0 and abs(ra - rl) < abs(d) < ra + rl:
        return a.center + (d * d + ra * ra - rl * rl) / (2 * d)
    return (fake_border + live_border) / 2


def applied_cross(
    c: Classes, sa: DomainStats, sl: DomainStats, fb: float, lb: float, border: str
) -> tuple[float, bool]:
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


# --------------------------------------------------------------------------- the thresholds
def thresholds_from_classes(
    c: Classes, center: str = "balance", convention: str = "paper", conv: Conventions | None = None
) -> Thresholds:
    """All thresholds of one split (see the module docstring)."""
    conv = conv or Conventions()
    d = conv.apcer
    L, A = c.L, c.A
    fb, lb = float(A.p[-1]), float(L.p[0])
    recs = c.records(d)
    acer_lo, acer_hi = recs[0], recs[1]
    a, b = rates_at(c, acer_hi, d)
    min_acer = float((a + b) / 2)
    eer_lo, eer_hi, eer_value = eer_choice(c, d, conv.eer_rule, recs)
    t_acer = midpoint_or(c, eer_lo, eer_hi, fb)
    n = L.n + A.n
    sl, sa = run_pair(stats_from_sorted, (L, (center,), convention), (A, (center,), convention), n)
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
        notes["balance"] = (
            f"pooled mean clamped to the fake border {_fmt(c.out(fb))}, applied "
            f"just above it ({conv.border} rule)"
        )
    bal = c.snap(bal) if bal == bal else bal
    how = (
        "next representable value" if conv.border == "next" else "halfway to the next higher score"
    )
    fake = c.above(fb, conv.border)
    notes["fake_border"] = (
        f"the largest attack score {_fmt(c.out(fb))}, applied just "
        f"{'above' if c.sign > 0 else 'below'} it ({how})"
    )
    notes["live_border"] = f"the smallest bona fide score {_fmt(c.out(lb))} (attained)"
    if acer_lo == -math.inf:
        left = -math.inf
        left_note = "no lower end: every presentation accepted (attained)"
    else:
        left = c.above(acer_lo, conv.border)
        left_note = (
            f"infimum {_fmt(c.out(acer_lo))} of the least-ACER thresholds, not "
            f"attained: applied just {'above' if c.sign > 0 else 'below'} ({how})"
        )
    right = acer_hi
    right_note = (
        "supremum of the least-ACER thresholds, attained"
        if math.isfinite(acer_hi)
        else "no upper end: every presentation rejected"
    )
    mid = midpoint_or(c, acer_lo, acer_hi, fb)
    if acer_lo == -math.inf or acer_hi == math.inf:
        mid = right if math.isfinite(right) else left
    elif mid == acer_lo:  # cannot happen with c.midpoint, kept for safety
        mid = left
    notes["acer_mid"] = "midpoint of the least-ACER interval's ends"
    notes["acer_point"] = {
        "bob": "midpoint of the thresholds with the least |APCER - BPCER| (bob.measure)",
        "fvc2000": "midpoint of the FVC2000 EER interval",
        "rocch": "bob.measure's threshold; the EER is the ROCCH-EER",
    }[conv.eer_rule]
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


def thresholds_from_pair(
    pair: Classes,
    center: str = "balance",
    convention: str = "paper",
    conv: Conventions | None = None,
) -> Thresholds:
    """Former name of :func:`thresholds_from_classes`."""
    return thresholds_from_classes(pair, center, convention, conv)


def flip_stats(st: DomainStats) -> DomainStats:
    """Stats computed on negated scores -> the original axis (normalize is mirrored); for
    scores where lower is live (also used by :mod:`fasfast.analysis.metrics`)."""
    norm = (st.max - st.center) / (st.center - st.min) if st.center != st.min else float("inf")
    return DomainStats(
        -st.center, st.radius, norm, st.density, -st.max, -st.min, st.n, st.method, st.n_left_out
    )


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
