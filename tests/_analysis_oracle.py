"""Independent slow oracles for the analysis tests (pure numpy / exact fractions).

Every threshold choice is checked by enumerating every candidate threshold: the intervals
``(u_{k-1}, u_k]`` between consecutive distinct scores (``u_k`` stands for its interval,
``+inf`` for ``(u_K, +inf)``), with APCER and BPCER counted by direct comparison.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


def centre_oracle(x, method):
    """Centres straight from eq. 1-4 with exact rational arithmetic, O(N^2)."""
    p = sorted(float(v) for v in x)
    f = [Fraction(v) for v in p]
    n = len(p)
    if method == "mean":
        return float(sum(f) / n)
    if method == "median":
        return float(np.median(np.array(p)))
    best, best_i = None, None
    for m in range(n):
        if method == "balance":
            g = sum(f[m] - f[k] for k in range(m)) - sum(f[k] - f[m] for k in range(m + 1, n))
        else:
            g = sum((f[m] - f[k]) ** 2 for k in range(m)) - sum(
                (f[k] - f[m]) ** 2 for k in range(m + 1, n)
            )
        if best is None or abs(g) < best:
            best, best_i = abs(g), m
    return p[best_i]


def stats_oracle(x, method):
    p = np.sort(np.asarray(x, dtype=np.float64))
    c = centre_oracle(p, method)
    lo, hi = float(p[0]), float(p[-1])
    r = max(c - lo, hi - c) / 2
    norm = (c - lo) / (hi - c) if hi != c else float("inf")
    dev = sum(abs(Fraction(float(v)) - Fraction(c)) for v in p) / len(p)
    dens = float(dev / Fraction(r)) if r > 0 else 0.0
    return dict(center=c, radius=r, normalize=norm, density=dens, min=lo, max=hi, n=p.size)


def above(x, dtype=np.float64):
    """The next representable value above ``x`` in ``dtype`` (the "next" border rule)."""
    return float(np.nextafter(dtype(x), dtype(np.inf)))


def mid(lo, hi, dtype=np.float64):
    lo, hi = dtype(lo), dtype(hi)
    t = lo + (hi - lo) / dtype(2)
    return float(t if lo < t <= hi else hi)


class Candidates:
    """Every candidate threshold interval of two classes with exact per-species rates."""

    def __init__(self, live, attack, types=None):
        self.live = np.asarray(live, np.float64)
        self.attack = np.asarray(attack, np.float64)
        self.types = (
            np.full(self.attack.size, "attack") if types is None else np.asarray(types).astype(str)
        )
        self.u = np.unique(np.r_[self.live, self.attack])
        self.ends = list(self.u) + [math.inf]  # interval k = (u_{k-1}, ends[k]]

    def start(self, k):
        return float(self.u[k - 1]) if k > 0 else -math.inf

    def rates(self, t, definition):
        """(APCER, BPCER) at threshold t as Fractions, by direct comparison."""
        b = Fraction(int((self.live < t).sum()), self.live.size)
        if definition == "pooled":
            return Fraction(int((self.attack >= t).sum()), self.attack.size), b
        a = max(
            Fraction(int((self.attack[self.types == s] >= t).sum()), int((self.types == s).sum()))
            for s in np.unique(self.types)
        )
        return a, b

    def table(self, definition):
        return [self.rates(t, definition) for t in self.ends]


def thresholds_oracle(
    live, attack, center="balance", types=None, definition="max", dtype=np.float64
):
    """Every field of select_thresholds by brute force over every candidate threshold."""
    cand = Candidates(live, attack, types)
    live, attack = cand.live, cand.attack
    tab = cand.table(definition)
    acer = [(a + b) / 2 for a, b in tab]
    best = min(acer)
    idx = [k for k, v in enumerate(acer) if v == best]
    left_raw = cand.start(idx[0])
    right = float(cand.ends[idx[-1]])
    diff = [abs(a - b) for a, b in tab]
    dbest = min(diff)
    z = [k for k, v in enumerate(diff) if v == dbest]
    assert z == list(range(z[0], z[-1] + 1)), "crossing set must be one interval"
    lo = cand.start(z[0])
    hi = float(cand.ends[z[-1]])
    fb, lb = float(attack.max()), float(live.min())
    if np.isinf(lo) and np.isinf(hi):
        t_acer = fb
    elif np.isinf(lo):
        t_acer = hi
    else:
        t_acer = mid(lo, hi, dtype)
    sa, sl = stats_oracle(attack, center), stats_oracle(live, center)
    d = sl["center"] - sa["center"]
    ra, rl = sa["radius"], sl["radius"]
    if d != 0 and abs(ra - rl) < abs(d) < ra + rl:
        cross = sa["center"] + (d * d + ra * ra - rl * rl) / (2 * d)
    else:
        cross = (fb + lb) / 2
    if fb < lb and cross <= fb:
        cross = above(fb, dtype)
    if fb < lb:
        sel = list(attack) + list(live)
    else:
        sel = [a for a in attack if a >= lb] + [v for v in live if v <= fb]
    bal = float(sum(Fraction(float(v)) for v in sel) / len(sel))
    if fb < lb:
        bal = min(max(bal, fb), lb)
        if bal == fb:
            bal = above(fb, dtype)
    a_t, b_t = cand.rates(t_acer, definition)
    left = -math.inf if left_raw == -math.inf else above(left_raw, dtype)
    if np.isinf(left_raw) or np.isinf(right):
        acer_mid = right if np.isfinite(right) else left
    else:
        acer_mid = mid(left_raw, right, dtype)
    return dict(
        fake_border=above(fb, dtype),
        live_border=lb,
        acer_point=t_acer,
        acer_left=left,
        acer_right=right,
        acer_mid=acer_mid,
        cross=cross,
        balance=bal,
        min_acer=float(best),
        eer=float((a_t + b_t) / 2),
        fake_border_score=fb,
        live_border_score=lb,
    )


def target_oracle(
    live, attack, kind, rate, types=None, definition="max", placement="best", dtype=np.float64
):
    """(threshold, APCER, BPCER) of a target-rate row by brute force over the intervals."""
    cand = Candidates(live, attack, types)
    tab = cand.table(definition)
    r = Fraction(rate).limit_denominator(10**9)
    if kind in ("bpcer@apcer", "tpr@fpr"):
        feas = [k for k, (a, _) in enumerate(tab) if a <= r]
        k0 = feas[0]  # APCER only falls with t: the feasible intervals are a suffix
        same = [k for k in feas if tab[k][0] == tab[k0][0]]
        lo, hi = cand.start(k0), float(cand.ends[same[-1]])
        where = "low" if placement == "best" else placement
    else:
        feas = [k for k, (_, b) in enumerate(tab) if b <= r]
        k1 = feas[-1]
        if k1 == len(tab) - 1:  # every threshold is feasible: above every score
            t = above(float(cand.u[-1]), dtype)
            return (t, *cand.rates(t, definition))
        same = [k for k in feas if tab[k][1] == tab[k1][1]]
        lo, hi = cand.start(same[0]), float(cand.ends[k1])
        where = "high" if placement == "best" else placement
    if where == "high" and math.isinf(hi):
        where = "low"
    if where == "midpoint" and (math.isinf(hi) or math.isinf(lo)):
        where = "low" if math.isinf(hi) else "high"
    if where == "high":
        t = hi
    elif where == "midpoint":
        t = mid(lo, hi, dtype)
    elif math.isinf(lo):
        t = float(cand.u[0])
    else:
        t = above(lo, dtype)
    return (t, *cand.rates(t, definition))
