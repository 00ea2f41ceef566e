"""Independent slow oracles for the analysis tests (pure numpy / exact fractions)."""

from __future__ import annotations

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
                (f[k] - f[m]) ** 2 for k in range(m + 1, n))
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


def thresholds_oracle(live, attack, center="balance"):
    """Every field of select_thresholds by brute force over every candidate threshold."""
    live = np.asarray(live, np.float64)
    attack = np.asarray(attack, np.float64)
    n, m = live.size, attack.size
    u = np.unique(np.r_[live, attack])
    cands = np.r_[u, np.inf]  # t = u_k stands for (u_{k-1}, u_k]; inf for (u_K, inf)
    apcer = [Fraction(int((attack >= t).sum()), m) for t in cands]
    bpcer = [Fraction(int((live < t).sum()), n) for t in cands]
    acer = [(a + b) / 2 for a, b in zip(apcer, bpcer)]
    best = min(acer)
    idx = [k for k, v in enumerate(acer) if v == best]
    left = float(u[idx[0] - 1]) if idx[0] > 0 else -np.inf
    right = float(cands[idx[-1]])
    diff = [abs(a - b) for a, b in zip(apcer, bpcer)]
    dbest = min(diff)
    z = [k for k, v in enumerate(diff) if v == dbest]
    assert z == list(range(z[0], z[-1] + 1)), "crossing set must be one interval"
    lo = float(u[z[0] - 1]) if z[0] > 0 else -np.inf
    hi = float(cands[z[-1]])
    if np.isinf(lo) and np.isinf(hi):
        t_acer = float(u[0])
    elif np.isinf(lo):
        t_acer = hi
    else:
        t_acer = lo + (hi - lo) / 2
        if not lo < t_acer <= hi:
            t_acer = hi
    fb, lb = float(attack.max()), float(live.min())
    sa, sl = stats_oracle(attack, center), stats_oracle(live, center)
    d = sl["center"] - sa["center"]
    ra, rl = sa["radius"], sl["radius"]
    if d != 0 and abs(ra - rl) < abs(d) < ra + rl:
        cross = sa["center"] + (d * d + ra * ra - rl * rl) / (2 * d)
    else:
        cross = (fb + lb) / 2
    if fb < lb:
        sel = list(attack) + list(live)
    else:
        sel = [a for a in attack if a >= lb] + [v for v in live if v <= fb]
    bal = float(sum(Fraction(float(v)) for v in sel) / len(sel))
    if fb < lb:
        bal = min(max(bal, fb), lb)
    at = float((apcer[z[0]] + bpcer[z[0]]) / 2)
    a_t = Fraction(int((attack >= t_acer).sum()), m)
    b_t = Fraction(int((live < t_acer).sum()), n)
    return dict(fake_border=fb, live_border=lb, acer=t_acer, acer_left=left, acer_right=right,
                cross=cross, balance=bal, min_acer=float(best), eer=float((a_t + b_t) / 2),
                _eer_first=at)
