"""numba kernels for the per-PAI (ISO/IEC 30107-3) choices and the ROC convex hull.

With ``S >= 2`` attack species the ISO APCER at a threshold ``t`` is the maximum over species
of ``c_s(t)/M_s`` (``c_s`` = attacks of species ``s`` accepted). It changes only at attack
scores and never rises with ``t``, so the merged pass over the sorted classes sees every
value it takes. All decisions are exact: a rate pair is compared as fractions of int64
counts, the cross products in 128-bit integer arithmetic.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_NB = dict(cache=True, nogil=True, fastmath=False)
_M32 = np.uint64(0xFFFFFFFF)


@njit(inline="always", **_NB)
def _mul128(a, b):
    """``a * b`` for non-negative int64 ``a``, ``b`` as ``(hi, lo)`` uint64 words."""
    a = np.uint64(a)
    b = np.uint64(b)
    a_lo = a & _M32
    a_hi = a >> np.uint64(32)
    b_lo = b & _M32
    b_hi = b >> np.uint64(32)
    p0 = a_lo * b_lo
    p1 = a_lo * b_hi
    p2 = a_hi * b_lo
    p3 = a_hi * b_hi
    mid = (p0 >> np.uint64(32)) + (p1 & _M32) + (p2 & _M32)
    lo = (p0 & _M32) | (mid << np.uint64(32))
    hi = p3 + (p1 >> np.uint64(32)) + (p2 >> np.uint64(32)) + (mid >> np.uint64(32))
    return hi, lo


@njit(inline="always", **_NB)
def frac_cmp(n1, d1, n2, d2):
    """Sign of ``n1/d1 - n2/d2`` for non-negative int64 numerators, positive denominators."""
    h1, l1 = _mul128(n1, d2)
    h2, l2 = _mul128(n2, d1)
    if h1 != h2:
        return 1 if h1 > h2 else -1
    if l1 != l2:
        return 1 if l1 > l2 else -1
    return 0


@njit(**_NB)
def pai_sweep(live, cat, off):
    """Per-PAI ACER interval and APCER/BPCER crossing in one merged pass.

    ``live``: sorted bona fide scores; ``cat``: the species' sorted scores one after the other,
    species ``s`` in ``cat[off[s]:off[s+1]]`` (every species non-empty). Thresholds are
    grouped in the intervals ``(u_{k-1}, u_k]`` between consecutive distinct scores (the first
    is ``(-inf, u_1]``, the last ``(u_K, +inf)``); on each, ``b = #{live < t}`` and
    ``c_s = #{species s >= t}``, ``APCER = max_s c_s/M_s``, ``BPCER = b/N``.

    Returns ``(acer_lo, acer_hi, pos_lo, pos_hi, neg_lo, neg_hi)``: the infimum and supremum of
    the thresholds with the least ``APCER + BPCER``, the last run of intervals with the same
    ``APCER - BPCER > 0`` and the first run with the same ``APCER - BPCER <= 0`` (each as
    ``(lo, hi]``).
    """
    n = live.size
    ns = off.size - 1
    ptr = off[:-1].copy()
    ms = off[1:] - off[:-1]
    nn = np.int64(n)
    i = 0
    prev = -np.inf
    best_n = np.int64(-1)
    best_d = np.int64(1)
    acer_lo = np.nan
    acer_hi = np.nan
    pos_lo = np.nan
    pos_hi = np.nan
    neg_lo = np.nan
    neg_hi = np.nan
    have_neg = False
    pos_n = np.int64(-1)
    pos_d = np.int64(1)
    neg_n = np.int64(0)
    neg_d = np.int64(1)
    while True:
        nxt = np.inf
        if i < n:
            nxt = live[i]
        for s in range(ns):
            if ptr[s] < off[s + 1] and cat[ptr[s]] < nxt:
                nxt = cat[ptr[s]]
        # the interval (prev, nxt]: APCER = cmax/mmax (the largest c_s/M_s)
        cmax = np.int64(0)
        mmax = np.int64(1)
        for s in range(ns):
            c = np.int64(off[s + 1] - ptr[s])
            if c * mmax > cmax * ms[s]:
                cmax = c
                mmax = np.int64(ms[s])
        b = np.int64(i)
        cost_n = cmax * nn + b * mmax  # (APCER + BPCER) = cost_n / (mmax * N)
        cost_d = mmax * nn
        if best_n < 0:
            r = -1
        else:
            r = frac_cmp(cost_n, cost_d, best_n, best_d)
        if r < 0:
            best_n = cost_n
            best_d = cost_d
            acer_lo = prev
            acer_hi = nxt
        elif r == 0:
            acer_hi = nxt
        # the crossing measure x = APCER - BPCER = x_n / cost_d never rises; it can stay
        # level (a species that is not the worst passes): the records keep whole plateaus
        if cmax * nn > b * mmax:  # APCER > BPCER
            x_n = cmax * nn - b * mmax
            if pos_n < 0 or frac_cmp(x_n, cost_d, pos_n, pos_d) != 0:
                pos_lo = prev
            pos_n = x_n
            pos_d = cost_d
            pos_hi = nxt
        else:
            x_n = b * mmax - cmax * nn  # |x|
            if not have_neg:
                have_neg = True
                neg_lo = prev
                neg_hi = nxt
                neg_n = x_n
                neg_d = cost_d
            elif frac_cmp(x_n, cost_d, neg_n, neg_d) == 0 and neg_hi == prev:
                neg_hi = nxt
        if nxt == np.inf:
            break
        while i < n and live[i] == nxt:
            i += 1
        for s in range(ns):
            while ptr[s] < off[s + 1] and cat[ptr[s]] == nxt:
                ptr[s] += 1
        prev = nxt
    return acer_lo, acer_hi, pos_lo, pos_hi, neg_lo, neg_hi


@njit(**_NB)
def pai_curve(live, cat, off):
    """The (APCER_max, BPCER) step curve: one point per interval of :func:`pai_sweep`.

    Returns ``(apcer float64[K+1], bpcer float64[K+1], upper float64[K+1])``: rates on the
    interval that ends at ``upper`` (``+inf`` for the last), in increasing threshold order.
    """
    n = live.size
    ns = off.size - 1
    ptr = off[:-1].copy()
    ms = off[1:] - off[:-1]
    cap = n + cat.size + 1
    out_a = np.empty(cap)
    out_b = np.empty(cap)
    out_t = np.empty(cap)
    i = 0
    k = 0
    while True:
        nxt = np.inf
        if i < n:
            nxt = live[i]
        for s in range(ns):
            if ptr[s] < off[s + 1] and cat[ptr[s]] < nxt:
                nxt = cat[ptr[s]]
        best = 0.0
        for s in range(ns):
            v = (off[s + 1] - ptr[s]) / ms[s]
            if v > best:
                best = v
        out_a[k] = best
        out_b[k] = i / n
        out_t[k] = nxt
        k += 1
        if nxt == np.inf:
            break
        while i < n and live[i] == nxt:
            i += 1
        for s in range(ns):
            while ptr[s] < off[s + 1] and cat[ptr[s]] == nxt:
                ptr[s] += 1
    return out_a[:k].copy(), out_b[:k].copy(), out_t[:k].copy()


@njit(**_NB)
def rocch_eer(x, y):
    """EER on the lower-left convex hull of the points ``(x_k, y_k)`` (error rates: x =
    APCER falling, y = BPCER rising along the curve), where the hull meets ``x = y``.

    The hull is built with Andrew's monotone chain over the points sorted by ``x`` (they
    arrive with ``x`` non-increasing); the EER is the ``x = y`` crossing of the hull segment
    whose ends straddle the diagonal.
    """
    k = x.size
    hx = np.empty(k)
    hy = np.empty(k)
    h = 0
    for idx in range(k - 1, -1, -1):  # increasing x
        px = x[idx]
        py = y[idx]
        if h > 0 and hx[h - 1] == px:
            if py >= hy[h - 1]:
                continue
            h -= 1
        while h >= 2:
            cross = (hx[h - 1] - hx[h - 2]) * (py - hy[h - 2]) - (hy[h - 1] - hy[h - 2]) * (
                px - hx[h - 2]
            )
            if cross <= 0.0:  # not a left turn: the middle point is above the chord
                h -= 1
            else:
                break
        hx[h] = px
        hy[h] = py
        h += 1
    for j in range(h):
        if hx[j] == hy[j]:
            return hx[j]
        if j + 1 < h:
            f0 = hx[j] - hy[j]
            f1 = hx[j + 1] - hy[j + 1]
            if f0 < 0.0 < f1:
                s = f0 / (f0 - f1)
                return hx[j] + s * (hx[j + 1] - hx[j])
    return np.nan
