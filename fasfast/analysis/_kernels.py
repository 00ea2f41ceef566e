"""numba kernels over sorted float64 score arrays (one signature each, ``cache=True``).

Everything here takes 1-D C-contiguous float64 arrays sorted ascending (the callers sort
with ``np.sort``, which is exact and, on AVX-512/AVX2 machines, faster than a numba radix
sort; see ``benchmarks/results/analysis.md``). The kernels release the GIL so the two
classes can be processed concurrently.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_NB = dict(cache=True, nogil=True, fastmath=False)

_MANT = np.uint64((1 << 52) - 1)
_HIDDEN = np.uint64(1 << 52)
_LOW26 = np.uint64((1 << 26) - 1)


@njit(**_NB)
def exact_sum_bins(p):
    """Exact sum of ``p`` as integer bins; returns ``(bins int64[2, 2047], n_nonfinite)``.

    A finite float64 is ``m * 2**(e - 1) * 2**-1074`` with integer mantissa ``m < 2**53`` and
    biased exponent ``e = max(E, 1)``. The mantissa is split in a 27-bit high and a 26-bit low
    part added into ``bins[0, e]`` and ``bins[1, e]`` (no overflow below 2**36 samples).
    ``sum = sum_e (bins[0, e] * 2**26 + bins[1, e]) * 2**(e - 1) * 2**-1074`` exactly.
    """
    bins = np.zeros((2, 2047), np.int64)
    bad = 0
    u = p.view(np.uint64)
    for i in range(u.size):
        k = u[i]
        e = np.int64((k >> np.uint64(52)) & np.uint64(0x7FF))
        if e == 0x7FF:
            bad += 1
            continue
        m = k & _MANT
        if e == 0:
            e = 1
        else:
            m |= _HIDDEN
        hi = np.int64(m >> np.uint64(26))
        lo = np.int64(m & _LOW26)
        if k >> np.uint64(63):
            bins[0, e] -= hi
            bins[1, e] -= lo
        else:
            bins[0, e] += hi
            bins[1, e] += lo
    return bins, bad


@njit(**_NB)
def _add_bits(bins, row, b):
    e = np.int64((b >> np.uint64(52)) & np.uint64(0x7FF))
    m = b & _MANT
    if e == 0:
        e = 1
    else:
        m |= _HIDDEN
    hi = np.int64(m >> np.uint64(26))
    lo = np.int64(m & _LOW26)
    if b >> np.uint64(63):
        bins[row, e] -= hi
        bins[row + 1, e] -= lo
    else:
        bins[row, e] += hi
        bins[row + 1, e] += lo


@njit(**_NB)
def exact_split_sums(p, m):
    """Exact ``sum p[:m]``, ``sum p[:m]**2``, ``sum p[m:]``, ``sum p[m:]**2`` as integer bins
    ``int64[8, 2047]`` (rows 2k, 2k+1 as in :func:`exact_sum_bins`). Squares are split
    exactly into two floats (Dekker's product), so the sums are exact for finite scores whose
    squares do not underflow (|p| > 1e-150)."""
    bins = np.zeros((8, 2047), np.int64)
    buf = np.empty(3)
    ub = buf.view(np.uint64)
    for i in range(p.size):
        x = p[i]
        c = 134217729.0 * x
        xh = c - (c - x)
        xl = x - xh
        sq = x * x
        buf[0] = x
        buf[1] = sq
        buf[2] = ((xh * xh - sq) + 2.0 * xh * xl) + xl * xl
        r = 0 if i < m else 4
        _add_bits(bins, r, ub[0])
        if buf[2] != 0.0:
            _add_bits(bins, r + 2, ub[2])
        _add_bits(bins, r + 2, ub[1])
    return bins


@njit(**_NB)
def class_pass(p, shift, block):
    """One pass over a sorted class: exact sum bins (as :func:`exact_sum_bins`) and
    Neumaier-compensated running sums of ``y = p - shift`` and ``y**2`` with snapshots
    ``snap_s[k] = sum(y[:k*block])``, ``snap_q[k] = sum(y[:k*block]**2)``.

    Returns ``(bins, n_nonfinite, snap_s, snap_q, sum_y, sum_y2)``.
    """
    n = p.size
    nb = n // block + 1
    snap_s = np.zeros(nb)
    snap_q = np.zeros(nb)
    bins = np.zeros((2, 2047), np.int64)
    bad = 0
    u = p.view(np.uint64)
    s = 0.0
    cs = 0.0
    q = 0.0
    cq = 0.0
    mask = block - 1
    cur_e = np.int64(-1)
    acc_hi = np.int64(0)
    acc_lo = np.int64(0)
    for i in range(n):
        if (i & mask) == 0:
            snap_s[i // block] = s + cs
            snap_q[i // block] = q + cq
        k = u[i]
        e = np.int64((k >> np.uint64(52)) & np.uint64(0x7FF))
        if e == 0x7FF:
            bad += 1
            continue
        m = k & _MANT
        if e == 0:
            e = 1
        else:
            m |= _HIDDEN
        hi = np.int64(m >> np.uint64(26))
        lo = np.int64(m & _LOW26)
        if k >> np.uint64(63):
            hi = -hi
            lo = -lo
        if e != cur_e:  # sorted input: the exponent changes rarely, keep the bin in registers
            if cur_e >= 0:
                bins[0, cur_e] += acc_hi
                bins[1, cur_e] += acc_lo
            cur_e = e
            acc_hi = np.int64(0)
            acc_lo = np.int64(0)
        acc_hi += hi
        acc_lo += lo
        y = p[i] - shift
        t = s + y
        if abs(s) >= abs(y):
            cs += (s - t) + y
        else:
            cs += (y - t) + s
        s = t
        y2 = y * y
        t = q + y2
        if q >= y2:
            cq += (q - t) + y2
        else:
            cq += (y2 - t) + q
        q = t
    if cur_e >= 0:
        bins[0, cur_e] += acc_hi
        bins[1, cur_e] += acc_lo
    return bins, bad, snap_s, snap_q, s + cs, q + cq


@njit(**_NB)
def prefix_sums(p, shift, snap_s, snap_q, block, m):
    """``(sum(y[:m]), sum(y[:m]**2))`` for ``y = p - shift`` from the snapshots."""
    k = m // block
    s = snap_s[k]
    q = snap_q[k]
    for i in range(k * block, m):
        y = p[i] - shift
        s += y
        q += y * y
    return s, q


@njit(**_NB)
def _wb_g(p, shift, snap_s, snap_q, block, sy, qy, m):
    n = p.size
    sl, ql = prefix_sums(p, shift, snap_s, snap_q, block, m)
    y = p[m] - shift
    sr = sy - sl - y
    qr = qy - ql - y * y
    left = m * y * y - 2.0 * y * sl + ql
    right = qr - 2.0 * y * sr + (n - 1 - m) * y * y
    scale = m * y * y + abs(2.0 * y * sl) + ql + qr + abs(2.0 * y * sr) + (n - 1 - m) * y * y
    return left - right, scale


@njit(**_NB)
def weighted_balance_search(p, shift, snap_s, snap_q, block, sy, qy):
    """First index ``m0`` whose float64 ``g(m) = sum_{n<m}(p_m-p_n)^2 - sum_{n>m}(p_n-p_m)^2``
    is >= 0 (``g`` is non-decreasing in ``m``), by bisection on the prefix snapshots.

    Returns ``(m0, g(m0 - 1), g(m0), error_bound)`` (``g(-1) = -inf``; ``m0 = n`` when every
    ``g < 0``); ``error_bound`` generously bounds the float64 error of those two ``g``.
    """
    n = p.size
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        g, _ = _wb_g(p, shift, snap_s, snap_q, block, sy, qy, mid)
        if g < 0:
            lo = mid + 1
        else:
            hi = mid
    m0 = lo
    gp = -np.inf
    gm = np.inf
    sc = 0.0
    if m0 > 0:
        gp, s1 = _wb_g(p, shift, snap_s, snap_q, block, sy, qy, m0 - 1)
        sc = max(sc, s1)
    if m0 < n:
        gm, s2 = _wb_g(p, shift, snap_s, snap_q, block, sy, qy, m0)
        sc = max(sc, s2)
    return m0, gp, gm, 16.0 * (n + block + 4) * 2.220446049250313e-16 * sc


@njit(**_NB)
def sweep(live, attack):
    """One merge pass over the sorted classes (each padded with one trailing ``+inf``); all
    decisions on exact integer counts.

    Thresholds ``t`` are grouped in the intervals ``(u_{k-1}, u_k]`` between consecutive
    distinct observed scores (``u_0 = -inf``, last interval ``(u_K, +inf)``); on each, with
    ``a = #{attack >= t}`` and ``b = #{live < t}``, ACER is ``(a/M + b/N)/2`` and the crossing
    measure ``a/M - b/N``. Returns ``(acer_lo, acer_hi, best_cost, eer_lo, eer_hi, auc2)``:
    the inf/sup of the thresholds with minimum ``a*N + b*M``, the ends of the union of the
    intervals with minimum ``|a*N - b*M|``, the minimum cost, and ``2 * #pairs(live > attack)
    + #pairs(live == attack)``.
    """
    n = live.size - 1  # both arrays end with a +inf sentinel
    m = attack.size - 1
    nn = np.int64(n)
    mm = np.int64(m)
    # the interval (-inf, u_1]: everything accepted, a = M, b = 0
    best = mm * nn
    acer_lo = -np.inf
    acer_hi = min(live[0], attack[0])
    bestd = mm * nn
    eer_lo = -np.inf
    eer_hi = acer_hi
    i = 0
    j = 0
    gi = 0  # indices at the start of the current tie group
    gj = 0
    strict = np.int64(0)  # sum over live of #{attack < live}
    ties = np.int64(0)
    for _ in range(n + m):
        xl = live[i]
        xa = attack[j]
        tl = np.int64(xl <= xa)  # live first within a tie: j counts only smaller attacks
        v = min(xl, xa)
        strict += j * tl
        i += tl
        j += 1 - tl
        nxt = min(live[i], attack[j])
        if nxt != v:  # end of a tie group: the next interval is (v, nxt]
            ties += np.int64(i - gi) * np.int64(j - gj)
            gi = i
            gj = j
            a = mm - j
            b = np.int64(i)
            cost = a * nn + b * mm
            if cost < best:
                best = cost
                acer_lo = v
                acer_hi = nxt
            elif cost == best:
                acer_hi = nxt
            d = abs(a * nn - b * mm)
            if d < bestd:
                bestd = d
                eer_lo = v
                eer_hi = nxt
            elif d == bestd:
                eer_hi = nxt
    return acer_lo, acer_hi, best, eer_lo, eer_hi, 2 * strict + ties


@njit(**_NB)
def roc_points(live, attack):
    """ROC over the distinct scores, highest first, with a leading ``(0, 0, +inf)`` point.

    Returns ``(n_accepted_attack int64[K+1], n_accepted_live int64[K+1], thresholds[K+1])``
    for the rule "live iff score >= threshold" (``sklearn.metrics.roc_curve`` with
    ``drop_intermediate=False``).
    """
    n = live.size
    m = attack.size
    out_t = np.empty(n + m + 1)
    out_a = np.empty(n + m + 1, np.int64)
    out_l = np.empty(n + m + 1, np.int64)
    out_t[0] = np.inf
    out_a[0] = 0
    out_l[0] = 0
    i = n - 1
    j = m - 1
    k = 1
    while i >= 0 or j >= 0:
        if i >= 0 and j >= 0:
            t = max(live[i], attack[j])
        elif i >= 0:
            t = live[i]
        else:
            t = attack[j]
        while i >= 0 and live[i] == t:
            i -= 1
        while j >= 0 and attack[j] == t:
            j -= 1
        out_t[k] = t
        out_a[k] = m - 1 - j
        out_l[k] = n - 1 - i
        k += 1
    return out_a[:k].copy(), out_l[:k].copy(), out_t[:k].copy()
