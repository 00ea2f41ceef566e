"""Threshold selection for two classes (paper 000, section 3.3 and Table 7).

Convention: ``higher_is_live=True``; a sample is accepted as live iff ``score >= t``, so
``APCER(t) = #{attack >= t}/M`` and ``BPCER(t) = #{live < t}/N``. With
``higher_is_live=False`` the scores are negated internally and every threshold is negated
back; the rule then reads "live iff ``score <= t``" (``acer_left``/``acer_right`` stay the
lower/upper end on the original axis).

Both error rates are step functions, constant on the intervals ``(u_{k-1}, u_k]`` between
consecutive distinct observed scores ``u_1 < ... < u_K`` (plus ``(-inf, u_1]`` and
``(u_K, +inf)``). All choices below are made on exact integer counts.

- ``fake_border = max(attack)``, ``live_border = min(live)``.
- ``acer_left`` / ``acer_right``: infimum and supremum of the set of thresholds whose ACER
  ``(APCER + BPCER)/2`` is minimal. The infimum is an observed score that is itself *not* in
  the set (a score equal to ``t`` is accepted), the supremum is an observed score in it. For
  separable classes that is ``(fake_border, live_border]``, i.e. ``acer_left = fake_border``
  and ``acer_right = live_border`` (paper Table 7). They are ``-inf``/``+inf`` only when the
  best ACER is 0.5, reached by accepting or rejecting everything.
- ``acer`` (the APCER = BPCER crossing, eq. 8): the set of thresholds minimising
  ``|APCER - BPCER|`` is one interval ``(lo, hi]`` (the difference is monotone); the ACER
  point is its midpoint ``lo + (hi - lo)/2`` (``hi`` if rounding leaves the interval). When
  every score is equal it is that score. ``eer`` is ``(APCER + BPCER)/2`` there.
- ``cross``: circles at the two centres with their radii; ``d = c_L - c_A``; if they meet in
  two points (``|R_A - R_L| < |d| < R_A + R_L``) the x of the common chord
  ``c_A + (d^2 + R_A^2 - R_L^2)/(2d)``, otherwise ``(fake_border + live_border)/2``.
- ``balance`` (eq. 9): the pooled mean of ``A' U L'`` (correctly rounded, from exact sums).
  Separable (``fake_border < live_border``): all samples, clamped to the borders.
  Overlapping: only the overlap, ``A' = {a >= live_border}``, ``L' = {l <= fake_border}``.
- Target rates: ``bpcer_at_apcer(r)`` picks the smallest threshold with ``APCER <= r`` (the
  next observed score above the ``(k+1)``-th highest attack, ``k = floor(r*M)``), which gives
  the lowest BPCER; ``apcer_at_bpcer(r)`` the largest threshold with ``BPCER <= r``
  (``t = k``-th smallest live score, ``k = floor(r*N)``); ``tpr_at_fpr(r)`` is
  ``bpcer_at_apcer`` in ROC terms (FPR = APCER pooled over attack types, TPR = 1 - BPCER).
  ``r*M`` gets a 1e-9 slack against decimal rounding (``0.03*100`` counts as 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from fasfast.analysis._core import (
    SortedScores,
    check_center,
    check_convention,
    count_ge,
    count_lt,
    kernels,
    parallel_enabled,
    run_pair,
    sort_pair,
)
from fasfast.analysis.stats import DomainStats, stats_from_sorted

__all__ = [
    "THRESHOLD_NAMES",
    "OperatingPoint",
    "Thresholds",
    "apcer_at_bpcer",
    "bpcer_at_apcer",
    "select_thresholds",
    "tpr_at_fpr",
]

THRESHOLD_NAMES = (
    "fake_border",
    "live_border",
    "cross",
    "balance",
    "acer",
    "acer_left",
    "acer_right",
)


@dataclass(frozen=True)
class Thresholds:
    """The paper's thresholds (see the module docstring for the exact definitions).

    ``eer`` and ``min_acer`` are the error rates reached at ``acer`` and on
    ``(acer_left, acer_right]``; ``live_stats``/``attack_stats`` the domains used for
    ``cross``.
    """

    fake_border: float
    live_border: float
    acer: float
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

    def as_dict(self) -> dict[str, float]:
        """``{name: threshold}`` for the seven thresholds, in table order."""
        return {k: getattr(self, k) for k in THRESHOLD_NAMES}


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold chosen for a target rate and the rates it reaches on the same data."""

    threshold: float
    apcer: float
    bpcer: float
    target: float
    kind: str

    @property
    def fpr(self) -> float:
        return self.apcer

    @property
    def tpr(self) -> float:
        return 1.0 - self.bpcer

    def as_dict(self) -> dict:
        return dict(threshold=self.threshold, apcer=self.apcer, bpcer=self.bpcer,
                    fpr=self.fpr, tpr=self.tpr, target=self.target, kind=self.kind)


class Pair:
    """Two sorted classes in the "higher = live" frame (negated when ``higher_is_live`` is
    False) with the merge-sweep results cached."""

    def __init__(self, live, attack, higher_is_live: bool = True):
        self.sign = 1.0 if higher_is_live else -1.0
        if isinstance(live, SortedScores) and isinstance(attack, SortedScores):
            self.L, self.A = live, attack
        else:
            self.L, self.A = sort_pair(live, attack, negate=not higher_is_live)
        self._sweep = None

    @property
    def sweep(self):
        if self._sweep is None:
            n = self.L.n + self.A.n
            runner = (lambda fn, a, b: run_pair(fn, a, b, n)) if parallel_enabled(n) else None
            self._sweep = kernels().sweep(self.L.padded, self.A.padded, runner)
        return self._sweep

    # rates in the internal frame
    def apcer(self, t: float) -> float:
        return count_ge(self.A.p, t) / self.A.n

    def bpcer(self, t: float) -> float:
        return count_lt(self.L.p, t) / self.L.n

    def out(self, t: float) -> float:
        """Internal-frame threshold -> user frame."""
        return float(self.sign * t) if t == t else t


def _midpoint(lo: float, hi: float, only: float) -> float:
    if math.isinf(lo) and math.isinf(hi):
        return only
    if math.isinf(lo):
        return hi
    if math.isinf(hi):
        return lo
    t = lo + (hi - lo) / 2
    return t if lo < t <= hi else hi


def cross_point(a: DomainStats, l: DomainStats, fake_border: float, live_border: float) -> float:  # noqa: E741
    """Cross point of the attack circle ``a`` and the live circle ``l`` (see module doc)."""
    d = l.center - a.center
    ra, rl = a.radius, l.radius
    if d != 0 and abs(ra - rl) < abs(d) < ra + rl:
        return a.center + (d * d + ra * ra - rl * rl) / (2 * d)
    return (fake_border + live_border) / 2


def _exact_range_sum(c: SortedScores, lo: int, hi: int) -> Fraction:
    """Exact ``sum c.p[lo:hi]``: summed directly or as the class total minus the rest,
    whichever touches fewer scores."""
    from fasfast.analysis._core import BLOCK, _bins_to_int

    def direct(a: int, b: int) -> Fraction:
        if b <= a:
            return Fraction(0)
        bins = kernels().exact_range_sums(c.p, a, b, BLOCK)
        return Fraction(_bins_to_int(bins[0:2]), 1 << 1074)

    if hi - lo <= c.n - (hi - lo):
        return direct(lo, hi)
    return c.exact_sum - direct(0, lo) - direct(hi, c.n)


def _balance_point(pair: Pair) -> float:
    L, A = pair.L, pair.A
    fb, lb = float(A.p[-1]), float(L.p[0])
    if fb < lb:
        t = float((A.exact_sum + L.exact_sum) / (A.n + L.n))
        return min(max(t, fb), lb)
    ka = int(np.searchsorted(A.p, lb, side="left"))  # attack scores >= the live border
    kl = int(np.searchsorted(L.p, fb, side="right"))  # live scores <= the fake border
    total = _exact_range_sum(A, ka, A.n) + _exact_range_sum(L, 0, kl)
    return float(total / ((A.n - ka) + kl))


def thresholds_from_pair(
    pair: Pair, center: str = "balance", convention: str = "paper"
) -> Thresholds:
    L, A = pair.L, pair.A
    fb, lb = float(A.p[-1]), float(L.p[0])
    acer_lo, acer_hi, best, eer_lo, eer_hi, _ = pair.sweep
    t_acer = _midpoint(float(eer_lo), float(eer_hi), fb)
    n_acc = count_ge(A.p, t_acer)
    n_rej = count_lt(L.p, t_acer)
    eer_value = float(Fraction(n_acc * L.n + n_rej * A.n, 2 * L.n * A.n))
    min_acer = float(Fraction(int(best), 2 * L.n * A.n))
    sl = stats_from_sorted(L, (center,), convention)[center]
    sa = stats_from_sorted(A, (center,), convention)[center]
    cross = cross_point(sa, sl, fb, lb)
    bal = _balance_point(pair)
    s = pair.sign
    if s > 0:
        left, right = float(acer_lo), float(acer_hi)
    else:
        left, right = -float(acer_hi), -float(acer_lo)
        sl, sa = _flip_stats(sl), _flip_stats(sa)
    return Thresholds(
        fake_border=pair.out(fb),
        live_border=pair.out(lb),
        acer=pair.out(t_acer),
        acer_left=left,
        acer_right=right,
        cross=pair.out(cross),
        balance=pair.out(bal),
        eer=eer_value,
        min_acer=min_acer,
        center=center,
        higher_is_live=s > 0,
        live_stats=sl,
        attack_stats=sa,
    )


def _flip_stats(st: DomainStats) -> DomainStats:
    """Stats computed on negated scores -> the original axis (normalize is mirrored)."""
    norm = (st.max - st.center) / (st.center - st.min) if st.center != st.min else float("inf")
    return DomainStats(-st.center, st.radius, norm, st.density, -st.max, -st.min, st.n,
                       st.method)


def select_thresholds(
    live,
    attack,
    center: str = "balance",
    higher_is_live: bool = True,
    convention: str = "paper",
) -> Thresholds:
    """All of the paper's thresholds for two classes.

    Args:
        live: [N] bona fide scores.  attack: [M] attack scores (finite, non-empty).
        center: centre used for the domains of the cross point ("mean", "median",
            "balance", "weighted_balance").
        higher_is_live: False when higher scores mean attack.
        convention: "paper" or "code" (radius without /2, see ``stats``).
    """
    check_center(center)
    check_convention(convention)
    return thresholds_from_pair(Pair(live, attack, higher_is_live), center, convention)


def _rate_count(rate: float, n: int, name: str) -> int:
    if not (isinstance(rate, (int, float, np.floating)) and 0 <= rate <= 1):
        raise ValueError(f"{name} must be a rate in [0, 1], got {rate!r}")
    return int(math.floor(rate * n + 1e-9))


def _bpcer_at_apcer_pair(pair: Pair, rate: float, kind: str) -> OperatingPoint:
    L, A = pair.L, pair.A
    k = _rate_count(rate, A.n, "rate")
    if k >= A.n:
        t = min(float(L.p[0]), float(A.p[0]))
    else:
        a_star = float(A.p[A.n - k - 1])
        nxt = []
        for p in (L.p, A.p):
            i = int(np.searchsorted(p, a_star, side="right"))
            if i < p.size:
                nxt.append(float(p[i]))
        t = min(nxt) if nxt else float(np.nextafter(a_star, np.inf))
    return OperatingPoint(pair.out(t), pair.apcer(t), pair.bpcer(t), float(rate), kind)


def _apcer_at_bpcer_pair(pair: Pair, rate: float) -> OperatingPoint:
    L, A = pair.L, pair.A
    k = _rate_count(rate, L.n, "rate")
    if k >= L.n:
        t = float(np.nextafter(max(float(L.p[-1]), float(A.p[-1])), np.inf))
    else:
        t = float(L.p[k])
    return OperatingPoint(pair.out(t), pair.apcer(t), pair.bpcer(t), float(rate), "apcer@bpcer")


def bpcer_at_apcer(live, attack, rate: float = 0.05, higher_is_live: bool = True) -> OperatingPoint:
    """Lowest BPCER with APCER <= ``rate`` (BPCER20: rate 0.05, BPCER100: rate 0.01)."""
    return _bpcer_at_apcer_pair(Pair(live, attack, higher_is_live), rate, "bpcer@apcer")


def apcer_at_bpcer(live, attack, rate: float = 0.05, higher_is_live: bool = True) -> OperatingPoint:
    """Lowest APCER with BPCER <= ``rate``."""
    return _apcer_at_bpcer_pair(Pair(live, attack, higher_is_live), rate)


def tpr_at_fpr(live, attack, rate: float = 1e-3, higher_is_live: bool = True) -> OperatingPoint:
    """Highest TPR (live accepted) with FPR (attacks accepted) <= ``rate``."""
    return _bpcer_at_apcer_pair(Pair(live, attack, higher_is_live), rate, "tpr@fpr")
