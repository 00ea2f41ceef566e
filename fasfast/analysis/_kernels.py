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
def _bins_add(bins, row, k):
    """Add the float64 with bits ``k`` to ``bins[row]`` (high mantissa part) and
    ``bins[row + 1]`` (low part) at its exponent; returns False (adding nothing) for inf/NaN.
    A finite float64 is ``m * 2**(e - 1) * 2**-1074`` with integer mantissa ``m < 2**53`` and
    biased exponent ``e = max(E, 1)``; ``m`` is split in a 27-bit high and a 26-bit low part.
    """
    e = np.int64((k >> np.uint64(52)) & np.uint64(0x7FF))
    if e == 0x7FF:
        return False
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
    bins[row, e] += hi
    bins[row + 1, e] += lo
    return True


@njit(**_NB)
def exact_sum_bins(p):
    """Exact sum of ``p`` as integer bins; returns ``(bins int64[2, 2047], n_nonfinite)``.

    ``sum = sum_e (bins[0, e] * 2**26 + bins[1, e]) * 2**(e - 1) * 2**-1074`` exactly (see
    :func:`_bins_add`; no overflow below 2**36 samples).
    """
    bins = np.zeros((2, 2047), np.int64)
    bad = 0
    u = p.view(np.uint64)
    for i in range(u.size):
        if not _bins_add(bins, 0, u[i]):
            bad += 1
    return bins, bad


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
        _bins_add(bins, r, ub[0])
        if buf[2] != 0.0:
            _bins_add(bins, r + 2, ub[2])
        _bins_add(bins, r + 2, ub[1])
    return bins


@njit(**_NB)
def _neumaier(s, c, x):
    """Add ``x`` to the compensated sum ``(s, c)``."""
    t = s + x
    if abs(s) >= abs(x):
        c += (s - t) + x
    else:
        c += (x - t) + s
    return t, c


@njit(**_NB)
def class_pass(p, shift, block):
    """One pass over a sorted class: exact sum bins (as :func:`exact_sum_bins`) and
    compensated running sums of ``y = p - shift`` and ``y**2`` with snapshots
    ``snap_s[k] = sum(y[:k*block])``, ``snap_q[k] = sum(y[:k*block]**2)``.

    Blockwise: in a block whose first and last scores share sign and exponent (so, sorted,
    all of its scores do) the mantissas are summed as integers in one vectorisable loop;
    within a block ``y`` and ``y**2`` are summed with four accumulators, and block sums are
    added to Neumaier-compensated totals. Returns
    ``(bins, n_nonfinite, snap_s, snap_q, sum_y, sum_y2)``.
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
    for b in range(nb):
        start = b * block
        snap_s[b] = s + cs
        snap_q[b] = q + cq
        stop = min(start + block, n)
        if stop <= start:
            break
        top = u[start] >> np.uint64(52)
        e = np.int64(top & np.uint64(0x7FF))
        if top == (u[stop - 1] >> np.uint64(52)) and e != 0x7FF:
            hidden = _HIDDEN if e != 0 else np.uint64(0)
            acc_hi = np.uint64(0)
            acc_lo = np.uint64(0)
            for i in range(start, stop):
                m = (u[i] & _MANT) | hidden
                acc_hi += m >> np.uint64(26)
                acc_lo += m & _LOW26
            e = max(e, 1)
            if top >> np.uint64(11):
                bins[0, e] -= np.int64(acc_hi)
                bins[1, e] -= np.int64(acc_lo)
            else:
                bins[0, e] += np.int64(acc_hi)
                bins[1, e] += np.int64(acc_lo)
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            q0 = 0.0
            q1 = 0.0
            q2 = 0.0
            q3 = 0.0
            i = start
            while i + 4 <= stop:
                y0 = p[i] - shift
                y1 = p[i + 1] - shift
                y2 = p[i + 2] - shift
                y3 = p[i + 3] - shift
                s0 += y0
                s1 += y1
                s2 += y2
                s3 += y3
                q0 += y0 * y0
                q1 += y1 * y1
                q2 += y2 * y2
                q3 += y3 * y3
                i += 4
            while i < stop:
                y0 = p[i] - shift
                s0 += y0
                q0 += y0 * y0
                i += 1
            bs = (s0 + s1) + (s2 + s3)
            bq = (q0 + q1) + (q2 + q3)
        else:  # sign or exponent changes inside the block, or inf/NaN: one by one
            bs = 0.0
            bq = 0.0
            for i in range(start, stop):
                if not _bins_add(bins, 0, u[i]):
                    bad += 1
                    continue
                y0 = p[i] - shift
                bs += y0
                bq += y0 * y0
        s, cs = _neumaier(s, cs, bs)
        q, cq = _neumaier(q, cq, bq)
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


_NO_COST = np.iinfo(np.int64).max


@njit(**_NB)
def sweep_segment(live, attack, i, j, steps, first):
    """``steps`` steps of the merge pass over the sorted classes (each padded with one
    trailing ``+inf``) from ``(i, j)``, which must start a tie group (every score before it
    is smaller than every score from it on); all decisions on exact integer counts.

    Thresholds ``t`` are grouped in the intervals ``(u_{k-1}, u_k]`` between consecutive
    distinct observed scores (``u_0 = -inf``, last interval ``(u_K, +inf)``); on each, with
    ``a = #{attack >= t}`` and ``b = #{live < t}``, the ACER cost is ``a*N + b*M`` and the
    crossing measure ``x = a*N - b*M`` (non-increasing in ``t``). The first segment
    (``first``) also covers ``(-inf, u_1]``; a segment covers the interval that ends at the
    score after its last one.

    Returns ``(acer_lo, acer_hi, best_cost, pos_x, pos_lo, pos_hi, neg_x, neg_lo, neg_hi,
    strict, ties)``: the inf/sup of the thresholds with minimum cost and that cost; the last
    interval with ``x > 0`` (``pos_x = 0`` if none) and the first with ``x <= 0``
    (``neg_x = 1`` if none); ``#pairs(live > attack)`` and ``#pairs(live == attack)`` over
    the live scores of the segment. Combine with :func:`combine_sweeps`, finish with
    :func:`finish_sweep`.
    """
    n = live.size - 1
    m = attack.size - 1
    nn = np.int64(n)
    mm = np.int64(m)
    if first:  # the interval (-inf, u_1]: everything accepted, a = M, b = 0
        best = mm * nn
        acer_lo = -np.inf
        acer_hi = min(live[0], attack[0])
        pos_x = mm * nn
        pos_lo = -np.inf
        pos_hi = acer_hi
    else:
        best = _NO_COST
        acer_lo = np.nan
        acer_hi = np.nan
        pos_x = np.int64(0)
        pos_lo = np.nan
        pos_hi = np.nan
    neg_x = np.int64(1)
    neg_lo = np.nan
    neg_hi = np.nan
    gi = i  # indices at the start of the current tie group
    gj = j
    strict = np.int64(0)  # sum over live of #{attack < live}
    ties = np.int64(0)
    for _ in range(steps):
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
            cost = a * nn + i * mm
            if cost < best:
                best = cost
                acer_lo = v
                acer_hi = nxt
            elif cost == best:
                acer_hi = nxt
            x = a * nn - i * mm
            if x > 0:  # x only falls: record until it crosses zero, then once
                pos_x = x
                pos_lo = v
                pos_hi = nxt
            elif neg_x > 0:
                neg_x = x
                neg_lo = v
                neg_hi = nxt
    return (acer_lo, acer_hi, best, pos_x, pos_lo, pos_hi, neg_x, neg_lo, neg_hi,
            strict, ties)


@njit(**_NB)
def merge_split(live, attack):
    """``(i, j)``: a tie-group boundary near the middle of the merged order of two padded
    sorted classes (``live[:i]`` and ``attack[:j]`` are the scores below ``v``, the merged
    median); ``(0, 0)`` when there is none."""
    n = live.size - 1
    m = attack.size - 1
    k = (n + m) // 2
    lo = max(0, k - m)
    hi = min(k, n)
    while lo < hi:  # i live and k - i attack scores are the k smallest
        i = (lo + hi) // 2
        if live[i] < attack[k - i - 1]:
            lo = i + 1
        else:
            hi = i
    v = min(live[lo], attack[k - lo])
    return np.searchsorted(live[:n], v), np.searchsorted(attack[:m], v)


def combine_sweeps(left, right):
    """One :func:`sweep_segment` result for two adjacent segments."""
    if right[2] < left[2]:
        acer = right[0:3]
    elif right[2] == left[2]:
        acer = (left[0], right[1], left[2])
    else:
        acer = left[0:3]
    pos = right[3:6] if right[3] > 0 else left[3:6]
    neg = left[6:9] if left[6] <= 0 else right[6:9]
    return (*acer, *pos, *neg, int(left[9]) + int(right[9]), int(left[10]) + int(right[10]))


def finish_sweep(res):
    """``(acer_lo, acer_hi, best_cost, eer_lo, eer_hi, auc2)`` from a whole-range result:
    the EER intervals are those with minimum ``|x|``, the last positive or the first
    non-positive ``x`` or both; ``auc2 = 2 * #pairs(live > attack) + #pairs(live == attack)``.
    """
    pos_x, pos_lo, pos_hi, neg_x, neg_lo, neg_hi = res[3:9]
    if pos_x < -neg_x:
        eer = (pos_lo, pos_hi)
    elif pos_x == -neg_x:
        eer = (pos_lo, neg_hi)
    else:
        eer = (neg_lo, neg_hi)
    return (res[0], res[1], int(res[2]), float(eer[0]), float(eer[1]),
            2 * int(res[9]) + int(res[10]))


def sweep(live, attack, run_pair=None):
    """The whole merge pass (see :func:`sweep_segment`); returns
    ``(acer_lo, acer_hi, best_cost, eer_lo, eer_hi, auc2)``. With ``run_pair`` (a
    ``(fn, args_a, args_b)`` runner, e.g. on two threads) the merged order is cut at its
    median and the halves run concurrently."""
    n = live.size - 1
    m = attack.size - 1
    if run_pair is not None:
        i, j = merge_split(live, attack)
        if i + j > 0:
            left, right = run_pair(sweep_segment, (live, attack, 0, 0, i + j, True),
                                   (live, attack, i, j, n + m - i - j, False))
            return finish_sweep(combine_sweeps(left, right))
    return finish_sweep(sweep_segment(live, attack, 0, 0, n + m, True))


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
