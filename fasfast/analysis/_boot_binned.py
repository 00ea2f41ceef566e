"""Set-up of the binned bootstrap (the kernel is :mod:`fasfast.analysis._kernels_boot`)."""

from __future__ import annotations

import math
import os

import numpy as np
from numba import njit

BINS_DEFAULT = 1024


@njit(cache=True, nogil=True)
def _within_bin_pairs(live, att, cuts):
    """Per bin, ``2 * #(live > attack) + #(live == attack)`` over the pairs inside the bin
    (``live``, ``att`` sorted ascending, every score at or above ``cuts[0]``), float64 [K],
    and per live score ``#(attack < live)``, int64 [N]: one merge."""
    k = cuts.size
    out = np.zeros(k, np.float64)
    below = np.empty(live.size, np.int64)
    i = 0
    b = 0
    a0 = 0  # attacks below the current bin
    lo = 0  # attacks < x
    hi = 0  # attacks <= x
    for x in live:
        while b + 1 < k and cuts[b + 1] <= x:
            b += 1
            while a0 < att.size and att[a0] < cuts[b]:
                a0 += 1
        while lo < att.size and att[lo] < x:
            lo += 1
        if hi < lo:
            hi = lo
        while hi < att.size and att[hi] <= x:
            hi += 1
        out[b] += 2 * (lo - a0) + (hi - lo)
        below[i] = lo
        i += 1
    return out, below


class Layout:
    """The strata of a :class:`~fasfast.analysis.bootstrap.Strata` cut into bins once."""

    def __init__(self, st, bins: int = BINS_DEFAULT):
        parts = [st.live_p] + list(st.parts)
        self.nC = np.array([p.size for p in parts], np.int64)
        self.soff = np.zeros(len(parts) + 1, np.int64)
        self.soff[1:] = np.cumsum(self.nC)
        self.vals = np.concatenate(parts).astype(np.float64)
        # sorted runs: the stable sort (timsort) merges them
        self.allv = np.sort(self.vals, kind="stable")
        att = self.vals[self.soff[1] :]
        self.attv = att if len(parts) == 2 else np.sort(att, kind="stable")
        n = self.allv.size
        k = max(1, min(int(bins), n))
        pos = (np.arange(k) * n) // k
        self.cuts = np.unique(self.allv[pos])
        self.cuts[0] = self.allv[0]
        kk = self.cuts.size
        self.bstart = np.empty((kk, len(parts)), np.int64)
        self.bend = np.empty((kk, len(parts)), np.int64)
        for c, p in enumerate(parts):
            s = np.searchsorted(p.astype(np.float64), self.cuts, side="left")
            self.bstart[:, c] = s
            self.bend[:-1, c] = s[1:]
            self.bend[-1, c] = p.size
        self.rl = (self.bend[:, 0] - self.bstart[:, 0]).astype(np.float64)
        self.ra = (self.bend[:, 1:] - self.bstart[:, 1:]).sum(axis=1).astype(np.float64)
        # 2 * #(live > attack) + #(live == attack) inside each bin (pooled attacks)
        self.p2, below = _within_bin_pairs(self.vals[: self.soff[1]], self.attv, self.cuts)
        # one attack stratum: where each bona fide score falls among the attacks (the
        # least-ACER scan reads the resampled attacks below it from their running sums)
        self.att_below = below if len(parts) == 2 else np.zeros(0, np.int64)


TARGET_KINDS = {"bpcer@apcer": 0, "tpr@fpr": 0, "apcer@bpcer": 1}
PLACE = {"best": -1, "low": 0, "high": 1, "midpoint": 2}


def binned_bootstrap(st, conv, reps: int, seed: int, bins: int, targets: bool, given=None) -> dict:
    """Replicate statistics of the binned engine, keyed as the exact engine's."""
    from fasfast.analysis._kernels_boot import (
        ACER,
        ACER_LEFT,
        ACER_MID,
        ACER_RIGHT,
        AUC,
        EER,
        FAKE,
        LIVE,
        MIN_ACER,
        N_FIXED,
        binned_replicates,
        pack,
    )
    from fasfast.analysis.metrics import TARGETS

    lay = Layout(st, bins)
    n_sp = int((lay.nC[1:] > 0).sum())
    per_pai = conv.apcer == "max" and n_sp >= 2
    tk = [t for t in TARGETS] if targets else []
    t_kind = np.array([TARGET_KINDS[t[2]] for t in tk], np.int64)
    t_rate = np.array([t[3] for t in tk], np.float64)
    eer_rule = {"bob": 0, "fvc2000": 1, "rocch": 2}[conv.eer_rule]
    is32 = st.dtype == np.float32
    threads = max(1, min(os.cpu_count() or 1, 8))
    g = np.zeros((0, 0), np.int64) if given is None else np.ascontiguousarray(given, np.int64)
    F, Z = pack(
        lay.vals,
        lay.soff,
        lay.cuts,
        lay.allv,
        lay.attv,
        lay.bstart,
        lay.bend,
        0 if given is None else lay.vals.size,
        lay.att_below,
    )
    out = binned_replicates(
        F,
        Z,
        lay.p2,
        lay.rl,
        lay.ra,
        per_pai,
        eer_rule,
        PLACE[conv.placement],
        conv.border == "midpoint",
        is32,
        t_kind,
        t_rate,
        int(reps),
        int(seed),
        threads if given is None else 1,
        g,
    )
    big = float(np.finfo(st.dtype).max)

    def user(col):
        t = np.asarray(col, np.float64)
        t = np.where(t >= big, math.inf, t)
        return st.sign * t

    res = {"eer": out[:, EER], "min_acer": out[:, MIN_ACER], "auc": out[:, AUC]}
    names = {"fake_border": FAKE, "live_border": LIVE, "acer_point": ACER}
    for k, slot in names.items():
        res[f"threshold:{k}"] = user(out[:, slot])
    left, right = user(out[:, ACER_LEFT]), user(out[:, ACER_RIGHT])
    if st.sign < 0:
        left, right = right, left
    res["threshold:acer_left"] = left
    res["threshold:acer_mid"] = user(out[:, ACER_MID])
    res["threshold:acer_right"] = right
    res["threshold:cross"] = np.full(reps, np.nan)
    res["threshold:balance"] = np.full(reps, np.nan)
    for q, t in enumerate(tk):
        res[f"threshold:{t[0]}"] = user(out[:, N_FIXED + q])
    return res
