"""Operating points at a target rate: BPCER at an APCER (BPCER20, BPCER100), APCER at a
BPCER, TPR at an FPR, true to the APCER printed beside them (ISO/IEC 30107-3).

Paper: A visualization method for data domain changes in CNN networks and the
optimization method for selecting thresholds in classification tasks (Huang, Nie, Zhong,
2024) - https://arxiv.org/abs/2404.12602

Convention as in :mod:`fasfast.analysis.thresholds`: accepted as live iff ``score >= t``
(negated internally for ``higher_is_live=False``); APCER under ``apcer`` ("max" over PAI
species or "pooled"); NaN scores are non-responses and take no part.

``bpcer_at_apcer(r)`` reaches the lowest BPCER with ``APCER <= r``: the
feasible thresholds are ``t > a*`` (``a*`` the largest attack score that must be rejected:
per species the ``(floor(r*M_s)+1)``-th highest, the largest of those under "max"). The
thresholds with the same APCER form ``(a*, h]``; ``placement`` picks the low end (just
above ``a*``, lowest BPCER; "best" and "low"), the high end ``h`` (bob.measure), or the
midpoint. ``apcer_at_bpcer(r)`` reaches the lowest APCER with ``BPCER <= r``: the feasible
thresholds are ``t <= L_k`` (the ``k``-th smallest live score, ``k = floor(r*N)``); the
same-BPCER interval is ``(l', L_k]`` with ``l'`` the live score below; "best" and "high"
take ``L_k``, "low" just above ``l'``. ``tpr_at_fpr(r)`` is ``bpcer_at_apcer`` in ROC
terms. ``r*M`` gets a 1e-9 slack against decimal rounding (``0.03*100`` counts as 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from fasfast.analysis._classes import Classes
from fasfast.analysis._core import ss
from fasfast.analysis.conventions import Conventions

__all__ = ["OperatingPoint", "apcer_at_bpcer", "bpcer_at_apcer", "target_point", "tpr_at_fpr"]


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
        return dict(
            threshold=self.threshold,
            apcer=self.apcer,
            bpcer=self.bpcer,
            fpr=self.fpr,
            tpr=self.tpr,
            target=self.target,
            kind=self.kind,
            apcer_definition=self.apcer_definition,
            placement=self.placement,
            interval=list(self.interval),
            note=self.note,
        )


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _rate_count(rate: float, n: int, name: str) -> int:
    if isinstance(rate, bool) or not (
        isinstance(rate, (int, float, np.floating)) and 0 <= rate <= 1
    ):
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


def _point(
    c: Classes,
    t: float,
    rate: float,
    kind: str,
    definition: str,
    placement: str,
    lo: float,
    hi: float,
    note: str,
) -> OperatingPoint:
    a = c.apcer_fraction(t, definition)
    ap = Fraction(c.attack_accepted(t), c.A.n)
    b = c.bpcer_fraction(t)
    iv = (c.out(lo), c.out(hi)) if c.sign > 0 else (c.out(hi), c.out(lo))
    return OperatingPoint(
        c.out(t), float(a), float(b), float(rate), kind, definition, float(ap), placement, iv, note
    )


def target_point(
    c: Classes,
    kind: str,
    rate: float,
    definition: str = "max",
    placement: str = "best",
    border: str = "next",
) -> OperatingPoint:
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
        return _point(
            c,
            t,
            rate,
            kind,
            definition,
            placement,
            top,
            math.inf,
            "every threshold meets the target: just above every score",
        )
    hi = float(L.p[k])
    j = ss(L.p, hi, "left")
    lo = float(L.p[j - 1]) if j > 0 else -math.inf
    t, note = _place(c, lo, hi, placement, "high", border)
    return _point(c, t, rate, kind, definition, placement, lo, hi, note)


def _target_args(live, attack, higher_is_live, attack_types, nonresponses, nan_policy):
    return Classes(live, attack, higher_is_live, attack_types, nonresponses, nan_policy)


def bpcer_at_apcer(
    live,
    attack,
    rate: float = 0.05,
    higher_is_live: bool = True,
    *,
    attack_types=None,
    apcer: str = "max",
    placement: str = "best",
    border: str = "next",
    nonresponses=None,
    nan_policy: str = "nonresponse",
) -> OperatingPoint:
    """Lowest BPCER with APCER <= ``rate`` (BPCER20: rate 0.05, BPCER100: rate 0.01), the
    APCER under ``apcer`` ("max" over the ``attack_types`` species, ISO/IEC 30107-3, or
    "pooled"); ``placement`` within the equal-APCER interval (see the module docstring)."""
    conv = Conventions(apcer=apcer, placement=placement, border=border, nan_policy=nan_policy)
    c = _target_args(live, attack, higher_is_live, attack_types, nonresponses, nan_policy)
    return target_point(c, "bpcer@apcer", rate, conv.apcer, conv.placement, conv.border)


def apcer_at_bpcer(
    live,
    attack,
    rate: float = 0.05,
    higher_is_live: bool = True,
    *,
    attack_types=None,
    apcer: str = "max",
    placement: str = "best",
    border: str = "next",
    nonresponses=None,
    nan_policy: str = "nonresponse",
) -> OperatingPoint:
    """Lowest APCER (under ``apcer``) with BPCER <= ``rate``."""
    conv = Conventions(apcer=apcer, placement=placement, border=border, nan_policy=nan_policy)
    c = _target_args(live, attack, higher_is_live, attack_types, nonresponses, nan_policy)
    return target_point(c, "apcer@bpcer", rate, conv.apcer, conv.placement, conv.border)


def tpr_at_fpr(
    live,
    attack,
    rate: float = 1e-3,
    higher_is_live: bool = True,
    *,
    attack_types=None,
    apcer: str = "max",
    placement: str = "best",
    border: str = "next",
    nonresponses=None,
    nan_policy: str = "nonresponse",
) -> OperatingPoint:
    """Highest TPR (live accepted) with FPR (attacks accepted, under ``apcer``) <= ``rate``."""
    conv = Conventions(apcer=apcer, placement=placement, border=border, nan_policy=nan_policy)
    c = _target_args(live, attack, higher_is_live, attack_types, nonresponses, nan_policy)
    return target_point(c, "tpr@fpr", rate, conv.apcer, conv.placement, conv.border)
