"""Bootstrap intervals of the statistics that choose thresholds: EER, AUC, the least ACER and
every chosen threshold.

Resampling is stratified: bona fide presentations and each PAI species' attack presentations
are resampled within themselves (``B`` replicates, percentile intervals). When the scores
carry video or subject ids (``live_units`` / ``attack_units``: several rows per id), whole
units are resampled instead, because the frames of one video are not independent; the
result says which was used. Seeded: the same seed gives the same intervals.

The sorted order is computed once. A replicate is a multinomial count per sorted position
(per unit: the unit's count on each of its rows), so the resampled classes come out sorted
by ``np.repeat`` with no sort. Two engines compute a replicate's statistics:

- ``"exact"``: the resampled classes are materialised and analysed in full (every
  threshold of the table, the cross and balance points included). O(N) per replicate.
- ``"binned"`` (:mod:`fasfast.analysis._kernels_boot`): for large inputs. The merged order is
  cut into ``bins`` blocks at tie boundaries; a replicate draws each stratum's count per
  block (one binomial per block, a multinomial in all), resolves the blocks that hold a
  decision (the crossing, the least-ACER candidates, the borders, the target rates) down to
  single presentations by drawing which of their presentations were picked, and adds the
  AUC's pairs inside a block at their conditional mean given the block's counts. EER, the
  least ACER, the ACER interval and point, the borders and the target-rate thresholds are
  exact in distribution; the AUC's within-block variance (a fraction of about 1/``bins`` of
  its pairs) is left out; the cross and balance points are not bootstrapped. O(bins) per
  replicate.

``engine="auto"`` takes "exact" while ``N * B`` is at most 2e7, else "binned".
"""

from __future__ import annotations

import math

import numpy as np

from fasfast.analysis._classes import Classes
from fasfast.analysis._core import as_scores, from_sorted, score_dtype, sort_into
from fasfast.analysis.conventions import Conventions
from fasfast.analysis.intervals import (
    check_level,
    one_unit_classes,
    percentile,
    warn_degenerate,
)

__all__ = ["bootstrap", "bootstrap_scoreset"]

ENGINES = ("auto", "exact", "binned")
EXACT_BUDGET = 20_000_000  # N * B up to which "auto" materialises every replicate


class Strata:
    """Sorted responses of one split (internal frame) per stratum (bona fide, each PAI
    species) with their unit codes: the resampling strata.

    ``live_p`` and ``parts[s]`` (species ``names[s]``) are sorted; ``live_u`` / ``part_u[s]``
    the unit ids aligned with them (``None`` without units). Without units a class is sorted
    as in the analysis (:func:`fasfast.analysis._core.sort_into`); with units an ``argsort``
    keeps the ids aligned.
    """

    def __init__(
        self,
        live,
        attack,
        attack_types=None,
        live_units=None,
        attack_units=None,
        higher_is_live: bool = True,
    ):
        live = as_scores(live, "live scores")
        attack = as_scores(attack, "attack scores")
        dt = score_dtype(live, attack)
        self.sign = 1.0 if higher_is_live else -1.0
        self.dtype = np.dtype(dt)
        self.types_known = attack_types is not None
        if attack_types is None:
            self.names = np.array(["attack"])
            codes = None
        else:
            types = np.asarray(attack_types).astype(str).reshape(-1)
            if types.size != attack.size:
                raise ValueError(
                    f"length mismatch: {attack.size} attack scores but {types.size} attack types"
                )
            self.names, codes = np.unique(types, return_inverse=True)
            codes = codes.reshape(-1)
        for what, u, x in (
            ("live units", live_units, live),
            ("attack units", attack_units, attack),
        ):
            if u is not None and np.asarray(u).size != x.size:
                raise ValueError(
                    f"length mismatch: {x.size} scores but {np.asarray(u).size} {what}"
                )
        self.live_p, self.live_u = self._sort(live, live_units)
        self.parts, self.part_u = [], []
        for k in range(self.names.size):
            m = None if codes is None else codes == k
            p, u = self._sort(
                attack if m is None else attack[m],
                None
                if attack_units is None
                else np.asarray(attack_units)[slice(None) if m is None else m],
            )
            self.parts.append(p)
            self.part_u.append(u)
        self.units = self.live_u is not None or any(u is not None for u in self.part_u)
        self._live_units = self._unit_index(self.live_u)
        self._part_units = [self._unit_index(u) for u in self.part_u]
        self._pooled = None

    def _sort(self, x, units):
        v = np.asarray(x).astype(self.dtype, copy=False)
        if self.sign < 0:
            v = -v
        ok = ~np.isnan(v)
        big = np.finfo(self.dtype).max
        v = v[ok] if not ok.all() else v
        v = np.where(v == np.inf, big, v).astype(self.dtype, copy=False)
        if units is None:
            out = np.empty(v.size, self.dtype)
            sort_into(v, out, False)
            return out, None
        order = np.argsort(v, kind="stable")
        u = np.asarray(units)[ok] if not ok.all() else np.asarray(units)
        return np.ascontiguousarray(v[order]), u[order]

    @staticmethod
    def _unit_index(u):
        if u is None:
            return None
        _, inv = np.unique(np.asarray(u).astype(str), return_inverse=True)
        inv = inv.reshape(-1)
        return inv, (int(inv.max()) + 1 if inv.size else 0)

    def unit_ids(self, unit: str = "video/subject"):
        """``({class name: unit ids}, unit)`` for :func:`one_unit_classes` (presentations when
        there are no units)."""
        names = [str(n) for n in self.names] if self.types_known else ["attack"] * len(self.parts)
        pairs = [("live", self.live_p, self.live_u)] + list(zip(names, self.parts, self.part_u))
        if not self.units:
            return {nm: np.arange(p.size) for nm, p, _ in pairs}, "presentation"
        return {nm: (np.arange(p.size) if u is None else u) for nm, p, u in pairs}, unit

    @property
    def n(self) -> int:
        return int(self.live_p.size + sum(p.size for p in self.parts))

    @property
    def n_attack(self) -> int:
        return int(sum(p.size for p in self.parts))

    def pooled(self):
        """``(att_p, att_code)``: the attacks pooled, sorted, with each one's species."""
        if self._pooled is None:
            if len(self.parts) == 1:
                self._pooled = (self.parts[0], np.zeros(self.parts[0].size, np.int64))
            else:
                v = np.concatenate(self.parts)
                code = np.repeat(np.arange(len(self.parts)), [p.size for p in self.parts])
                order = np.argsort(v, kind="stable")
                self._pooled = (np.ascontiguousarray(v[order]), code[order])
        return self._pooled

    # -------------------------------------------------------------- one replicate's counts
    @staticmethod
    def _draw(rng, n: int, units) -> np.ndarray:
        if units is None:
            return np.bincount(rng.integers(0, n, n), minlength=n)
        inv, v = units
        w = np.bincount(rng.integers(0, v, v), minlength=v)
        return w[inv]

    def draw(self, rng):
        """Per sorted position the number of times a replicate picked it: bona fide, and a
        list over species."""
        cl = self._draw(rng, self.live_p.size, self._live_units)
        cas = [self._draw(rng, p.size, u) for p, u in zip(self.parts, self._part_units)]
        return cl, cas

    def classes(self, cl, cas) -> Classes:
        """The resampled split as :class:`Classes` (sorted by construction)."""
        L = from_sorted(np.repeat(self.live_p, cl))
        sp = [np.repeat(p, c) for p, c in zip(self.parts, cas)]
        if len(sp) == 1:
            A = from_sorted(sp[0])
            species = {str(self.names[0]): A}
        else:
            A = from_sorted(np.sort(np.concatenate(sp), kind="stable"))
            species = {str(nm): from_sorted(v) for nm, v in zip(self.names, sp)}
        return Classes.from_sorted(L, A, species, self.sign, self.types_known)


def _stats_of(c: Classes, center, convention, conv, targets) -> dict:
    from fasfast.analysis.metrics import TARGETS
    from fasfast.analysis.thresholds import target_point, thresholds_from_classes

    th = thresholds_from_classes(c, center, convention, conv)
    out = {"eer": th.eer, "min_acer": th.min_acer, "auc": c.auc()}
    out.update({f"threshold:{k}": v for k, v in th.table_dict().items()})
    if targets:
        for key, _, kind, rate in TARGETS:
            out[f"threshold:{key}"] = target_point(
                c, kind, rate, conv.apcer, conv.placement, conv.border
            ).threshold
    return out


def bootstrap(
    live,
    attack,
    *,
    attack_types=None,
    live_units=None,
    attack_units=None,
    higher_is_live: bool = True,
    center: str = "balance",
    convention: str = "paper",
    apcer: str = "max",
    eer_rule: str = "bob",
    placement: str = "best",
    border: str = "next",
    targets: bool = True,
    reps: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    engine: str = "auto",
    bins: int = 1024,
    values: bool = False,
    progress: bool = False,
    unit: str = "video/subject",
) -> dict:
    """Bootstrap intervals of EER, AUC, the least ACER and the chosen thresholds.

    Args:
        live / attack: [N] / [M] scores (NaN = non-response, left out).
        attack_types: optional [M] PAI species (strata of the resampling; with
            ``apcer="max"`` the ISO APCER decides).
        live_units / attack_units: optional [N] / [M] video or subject ids; whole units are
            resampled when given.
        reps, seed, level: replicates, RNG seed, confidence level (percentile intervals).
        engine: "auto" | "exact" | "binned" (see the module docstring); ``bins`` for binned.
        values: also return the replicate values.  progress: a progress bar (tqdm).
        unit: what the units are ("video", "subject"), for the degenerate-class note.
    Returns:
        ``{"eer": (lo, hi), "auc": ..., "min_acer": ..., "thresholds": {key: (lo, hi)},
        "replicates", "seed", "level", "engine", "resampling", "degenerate"}`` (+
        ``"values"``). ``"degenerate"``: notes naming each class that holds a single unit
        (every interval then takes no variance from it; a DegenerateIntervalWarning says
        so in one line), empty when none.
    """
    from fasfast.analysis._core import check_center, check_choice, check_convention

    check_level(level)
    check_center(center)
    check_convention(convention)
    check_choice(engine, ENGINES, "bootstrap engine")
    if int(reps) < 1:
        raise ValueError(f"reps must be >= 1, got {reps!r}")
    conv = Conventions(apcer=apcer, eer_rule=eer_rule, placement=placement, border=border)
    st = Strata(live, attack, attack_types, live_units, attack_units, higher_is_live)
    if st.live_p.size == 0 or st.n_attack == 0:
        raise ValueError("bootstrap needs responses of both classes")
    degenerate = one_unit_classes(*st.unit_ids(unit))
    warn_degenerate(degenerate)
    if engine == "auto":
        engine = "exact" if st.n * int(reps) <= EXACT_BUDGET else "binned"
    if engine == "binned":
        from fasfast.analysis._boot_binned import binned_bootstrap

        vals = binned_bootstrap(st, conv, int(reps), int(seed), int(bins), targets)
    else:
        vals = _exact(st, center, convention, conv, targets, int(reps), int(seed), progress)
    out = {
        "level": float(level),
        "replicates": int(reps),
        "seed": int(seed),
        "engine": engine,
        "resampling": (
            "videos/subjects, stratified by class and PAI species"
            if st.units
            else "presentations, stratified by class and PAI species"
        ),
        "thresholds": {},
        "degenerate": degenerate,
    }
    for key, v in vals.items():
        iv = percentile(v, level)
        if key.startswith("threshold:"):
            out["thresholds"][key.split(":", 1)[1]] = iv
        else:
            out[key] = iv
    if values:
        out["values"] = vals
    return out


def _exact(st: Strata, center, convention, conv, targets, reps, seed, progress=False) -> dict:
    rng = np.random.default_rng(seed)
    rows = []
    it = range(reps)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="bootstrap", leave=False, dynamic_ncols=True)
    for _ in it:
        cl, cas = st.draw(rng)
        try:
            c = st.classes(cl, cas)
            rows.append(_stats_of(c, center, convention, conv, targets))
        except ValueError:  # a replicate without one of the classes' responses
            rows.append(None)
    keys = next((list(r) for r in rows if r is not None), [])
    return {
        k: np.array([r[k] if r is not None else math.nan for r in rows], np.float64) for k in keys
    }


def bootstrap_scoreset(ss, **kw) -> dict:
    """:func:`bootstrap` of a :class:`~fasfast.analysis.io.ScoreSet`, resampling whole videos
    when it has several rows per video."""
    lab = ss.labels
    units = None
    if getattr(ss, "videos", None) is not None and np.unique(ss.videos).size < len(ss):
        units = np.asarray(ss.videos).astype(str)
    return bootstrap(
        ss.scores[lab == 1],
        ss.scores[lab == 0],
        attack_types=ss.attack_types[lab == 0],
        live_units=None if units is None else units[lab == 1],
        attack_units=None if units is None else units[lab == 0],
        **kw,
    )
