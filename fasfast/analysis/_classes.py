"""``Classes``: the bona fide and attack responses of one split, sorted once, with their PAI
species and non-response counts; every rate at a threshold is answered from it by binary
search.

Internal frame: "higher = live" (scores negated when ``higher_is_live`` is False), sorted
ascending in the scores' own dtype. A sample is accepted iff ``score >= t``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from fasfast.analysis._core import (
    SortedScores,
    as_scores,
    count_ge,
    count_lt,
    kernels,
    parallel_enabled,
    run_many,
    run_pair,
    score_dtype,
    sort_scores,
    ss,
)

LIVE_KEYS = ("live", "bona fide", "bonafide", "bona_fide", "bona-fide")


class Classes:
    """Bona fide and attack responses of one split, sorted (see the module docstring).

    Args:
        live: [N] bona fide scores.  attack: [M] attack scores. NaN = non-response.
        higher_is_live: False when higher scores mean attack.
        attack_types: optional [M] PAI species names of ``attack`` (``None``: one species).
        nonresponses: optional ``{"live": k, "<species>": k}`` counts of presentations that
            got no score at all (added to the NaN counts); without attack types the attack
            key is ``"attack"``. A species named only here has non-responses and no scores.
        nan_policy: "nonresponse" (default) or "error".
    Raises:
        ValueError / TypeError on malformed input, or when a class has no response.
    """

    def __init__(
        self,
        live,
        attack,
        higher_is_live: bool = True,
        attack_types=None,
        nonresponses=None,
        nan_policy: str = "nonresponse",
    ):
        self.sign = 1.0 if higher_is_live else -1.0
        if isinstance(live, SortedScores) and isinstance(attack, SortedScores):
            self.L, self.A = live, attack
            attack_types = None
        else:
            live_a = as_scores(live, "live scores")
            attack_a = as_scores(attack, "attack scores")
            dt = score_dtype(live_a, attack_a)
            neg = not higher_is_live
            self.L, self.A = run_pair(
                sort_scores,
                (live_a, "live scores", neg, dt, nan_policy),
                (attack_a, "attack scores", neg, dt, nan_policy),
                live_a.size + attack_a.size,
            )
        self.dtype = self.L.p.dtype
        self.types_known = attack_types is not None
        self.species = self._species(attack, attack_types, nan_policy)
        self.nr_live = self.L.n_nan
        self.nr_species = {k: v.n_nan for k, v in self.species.items()}
        self._add_nonresponses(nonresponses)
        if self.L.n == 0 or self.A.n == 0:
            raise ValueError(
                f"only one class present ({self.L.n} live, {self.A.n} attack responses; "
                f"{self.nr_live} live and {sum(self.nr_species.values())} attack "
                "non-responses); threshold selection needs both"
            )
        self._sweep = None
        self._pai = None

    @classmethod
    def from_sorted(
        cls,
        live: SortedScores,
        attack: SortedScores,
        species: dict[str, SortedScores],
        sign: float,
        types_known: bool,
        nr_live: int = 0,
        nr_species: dict | None = None,
    ) -> Classes:
        """Classes of already sorted parts (e.g. one bootstrap resample)."""
        self = cls.__new__(cls)
        self.sign = sign
        self.L, self.A = live, attack
        self.dtype = live.p.dtype
        self.types_known = types_known
        self.species = species
        self.nr_live = nr_live
        self.nr_species = dict(nr_species or {k: 0 for k in species})
        self._sweep = None
        self._pai = None
        return self

    # ------------------------------------------------------------------ construction
    def _species(self, attack, attack_types, nan_policy) -> dict[str, SortedScores]:
        if attack_types is None:
            return {"attack": self.A}
        types = np.asarray(attack_types).astype(str).reshape(-1)
        attack_a = np.asarray(attack)
        if types.size != attack_a.size:
            raise ValueError(
                f"length mismatch: {attack_a.size} attack scores but {types.size} attack types"
            )
        names, inv = np.unique(types, return_inverse=True)
        if names.size == 1:
            return {str(names[0]): self.A}
        neg = self.sign < 0
        args = [
            (attack_a[inv == k], f"attack scores ({names[k]})", neg, self.dtype, nan_policy)
            for k in range(names.size)
        ]
        sorted_ = run_many(sort_scores, args, attack_a.size)
        return {str(k): v for k, v in zip(names, sorted_)}

    def _add_nonresponses(self, nonresponses) -> None:
        if not nonresponses:
            return
        for key, k in dict(nonresponses).items():
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
                raise ValueError(
                    f"non-response count for {key!r} must be an integer >= 0, got {k!r}"
                )
            key = str(key)
            if key.lower() in LIVE_KEYS:
                self.nr_live += int(k)
            elif not self.types_known:
                self.nr_species["attack"] = self.nr_species.get("attack", 0) + int(k)
            else:
                if key not in self.species:
                    empty = sort_scores(np.empty(0, self.dtype), key, dtype=self.dtype)
                    self.species[key] = empty
                    self.nr_species[key] = 0
                self.nr_species[key] += int(k)

    # ------------------------------------------------------------------ sizes
    @property
    def n_live(self) -> int:
        return self.L.n

    @property
    def n_attack(self) -> int:
        return self.A.n

    @property
    def nr_attack(self) -> int:
        return int(sum(self.nr_species.values()))

    def species_with_responses(self) -> dict[str, SortedScores]:
        return {k: v for k, v in self.species.items() if v.n > 0}

    def per_pai(self, definition: str) -> bool:
        """True when ``definition`` is "max" and two or more species have responses."""
        return definition == "max" and len(self.species_with_responses()) >= 2

    # ------------------------------------------------------------------ frames
    def out(self, t: float) -> float:
        """Internal-frame threshold -> user frame (the stored ``+inf`` maps back)."""
        t = float(t)
        if t != t:
            return t
        if t >= np.finfo(self.dtype).max:
            t = math.inf
        return self.sign * t

    def to_internal(self, t_user: float) -> float:
        t = self.sign * float(t_user)
        if t != t:
            raise ValueError("threshold is NaN")
        if t == math.inf:
            return float(np.finfo(self.dtype).max)
        return t

    # ------------------------------------------------------------------ counts at t (internal)
    def live_rejected(self, t: float) -> int:
        return count_lt(self.L.p, t)

    def attack_accepted(self, t: float) -> int:
        return count_ge(self.A.p, t)

    def species_accepted(self, t: float) -> dict[str, int]:
        return {k: count_ge(v.p, t) for k, v in self.species.items()}

    def apcer_fraction(self, t: float, definition: str) -> Fraction:
        """APCER at ``t`` as an exact fraction under ``definition`` ("max" or "pooled")."""
        if definition == "pooled" or not self.per_pai(definition):
            return Fraction(self.attack_accepted(t), self.A.n)
        return max(Fraction(count_ge(v.p, t), v.n) for v in self.species_with_responses().values())

    def bpcer_fraction(self, t: float) -> Fraction:
        return Fraction(self.live_rejected(t), self.L.n)

    # ------------------------------------------------------------------ observed scores
    def next_above(self, x: float) -> float | None:
        """The smallest observed score above ``x`` (internal frame), or None."""
        best = None
        for p in (self.L.p, self.A.p):
            i = ss(p, x, "right")
            if i < p.size and (best is None or p[i] < best):
                best = float(p[i])
        return best

    def lowest(self) -> float:
        return float(min(self.L.p[0], self.A.p[0]))

    def above(self, x: float, rule: str) -> float:
        """A threshold just above the observed score ``x`` in the scores' dtype: the next
        representable value (``rule="next"``) or halfway to the next higher observed score
        (``"midpoint"``; the next representable value when there is none or they touch)."""
        dt = self.dtype.type
        xv = dt(x)
        with np.errstate(over="ignore"):
            nxt = np.nextafter(xv, dt(np.inf))
        if rule == "midpoint":
            hi = self.next_above(x)
            if hi is not None and math.isfinite(hi):
                mid = xv + (dt(hi) - xv) / dt(2)
                if xv < mid <= dt(hi):
                    return float(mid)
        return float(nxt)

    def snap(self, t: float) -> float:
        """The smallest value of the scores' dtype ``>= t``: the same decisions on every
        score as ``t`` itself, and a value a float32 pipeline can hold."""
        if self.dtype == np.float64 or not math.isfinite(t):
            return float(t)
        v = np.float32(t)
        if float(v) < t:
            v = np.nextafter(v, np.float32(np.inf))
        return float(v)

    def midpoint(self, lo: float, hi: float) -> float:
        """``lo + (hi - lo)/2`` in the scores' dtype, kept inside ``(lo, hi]``."""
        dt = self.dtype.type
        lv, hv = dt(lo), dt(hi)
        t = lv + (hv - lv) / dt(2)
        return float(t if lv < t <= hv else hv)

    # ------------------------------------------------------------------ merged passes
    @property
    def sweep_raw(self):
        """Pooled merge sweep records, a :class:`fasfast.analysis._kernels.SweepRecords`
        (see :func:`fasfast.analysis._kernels.sweep_segment`)."""
        if self._sweep is None:
            n = self.L.n + self.A.n
            runner = (lambda fn, a, b: run_pair(fn, a, b, n)) if parallel_enabled(n) else None
            self._sweep = kernels().sweep_records(self.L.padded, self.A.padded, runner)
        return self._sweep

    @property
    def sweep(self):
        """Pooled merge sweep, a :class:`fasfast.analysis._kernels.Sweep`: ``acer_lo``,
        ``acer_hi``, ``best_cost``, ``eer_lo``, ``eer_hi``, ``auc2``."""
        return kernels().finish_sweep(self.sweep_raw)

    def species_concat(self):
        sp = list(self.species_with_responses().values())
        off = np.zeros(len(sp) + 1, np.int64)
        off[1:] = np.cumsum([v.n for v in sp])
        return np.concatenate([v.p for v in sp]), off

    @property
    def pai(self):
        """Per-PAI sweep (max over species): ``(acer_lo, acer_hi, pos_lo, pos_hi, neg_lo,
        neg_hi)``, see :func:`fasfast.analysis._kernels_pai.pai_sweep`."""
        if self._pai is None:
            from fasfast.analysis import _kernels_pai

            cat, off = self.species_concat()
            self._pai = tuple(float(v) for v in _kernels_pai.pai_sweep(self.L.p, cat, off))
        return self._pai

    def records(self, definition: str):
        """``(acer_lo, acer_hi, pos_lo, pos_hi, neg_lo, neg_hi)`` under ``definition``: the
        inf and sup of the least-ACER thresholds, the last interval with APCER > BPCER and
        the first with APCER <= BPCER (each ``(lo, hi]``)."""
        if self.per_pai(definition):
            return self.pai
        r = self.sweep_raw
        pos = (float(r.pos_lo), float(r.pos_hi)) if r.pos_x > 0 else (math.nan, math.nan)
        return (float(r.acer_lo), float(r.acer_hi), *pos, float(r.neg_lo), float(r.neg_hi))

    def auc(self) -> float:
        """P(live > attack) + P(live == attack)/2 over responses (pooled attacks)."""
        return int(self.sweep.auc2) / (2 * self.L.n * self.A.n)
