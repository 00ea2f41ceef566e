"""numba kernels over sorted float64 score arrays (one signature each, ``cache=True``).

Everything here takes 1-D C-contiguous float64 arrays sorted ascending (the callers sort
with ``np.sort``, which is exact and, on AVX-512/AVX2 machines, faster than a numba radix
sort; see ``benchmarks/results/analysis.md``). The kernels release the GIL so the two
classes can be processed concurrently.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

_NB = dict(cache=True, nogil=True, fastmath=False)

_MANT = np.uint64((1 << 52) - 1)
_HIDDEN = np.uint64(1 << 52)
_LOW26 = np.uint64((1 << 26) - 1)


@njit(**_NB)
def _bins_add(bins, row, k):
    """Add the float64 with bits ``k`` to ``bins[row]`` (high mantissa part) and
    ``bins[row + 1]`` (low part) at its exponent; returns False (adding nothing) for inf/NaN.
    Exact sums are kept this way: ``sum = sum_e (bins[row, e] * 2**26 + bins[row + 1, e])
    * 2**(e - 1) * 2**-1074`` (no overflow below 2**36 samples).
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
def _bins_add_mantissas(bins, row, top, acc_hi, acc_lo):
    """Add a block of float64s that share ``top`` (sign and a finite exponent, the top 12
    bits) to ``bins[row]``, ``bins[row + 1]`` (as :func:`_bins_add`), from the sums of their
    mantissas' high (``m >> 26``) and low (``m & (2**26 - 1)``) parts."""
    e = max(np.int64(top & np.uint64(0x7FF)), 1)
    if top >> np.uint64(11):
        bins[row, e] -= np.int64(acc_hi)
        bins[row + 1, e] -= np.int64(acc_lo)
    else:
        bins[row, e] += np.int64(acc_hi)
        bins[row + 1, e] += np.int64(acc_lo)


@njit(**_NB)
def _bins_add_int(bins, row, v, e):
    """Add the integer ``v`` (0 <= v < 2**62) times ``2**(e - 1075)`` to ``bins[row]``,
    ``bins[row + 1]`` at exponent slot ``e`` (1 <= e <= 2046)."""
    bins[row, e] += np.int64(v >> np.uint64(26))
    bins[row + 1, e] += np.int64(v & _LOW26)


@njit(**_NB)
def exact_range_sums(p, lo, hi, block):
    """Exact ``sum p[lo:hi]`` (rows 0, 1) and ``sum p[lo:hi]**2`` (rows 2, 3) of sorted ``p``
    as integer bins ``int64[4, 2047]`` (as :func:`_bins_add`).

    Blockwise: a block whose scores share sign and exponent ``e`` (first and last, so all
    of them) sums mantissas ``m`` as integers, and ``m**2`` split as ``mh**2 * 2**54 +
    2*mh*ml * 2**27 + ml**2`` (``m = mh * 2**27 + ml``) for ``538 <= e <= 1533``; other
    blocks go score by score, squares split exactly into two floats (Dekker's product),
    exact for finite scores whose squares do not underflow (|p| > 1e-150).
    """
    bins = np.zeros((4, 2047), np.int64)
    buf = np.empty(3)
    ub = buf.view(np.uint64)
    u = p.view(np.uint64)
    low27 = np.uint64((1 << 27) - 1)
    for start in range(lo, hi, block):
        stop = min(start + block, hi)
        top = u[start] >> np.uint64(52)
        e = np.int64(top & np.uint64(0x7FF))
        if top == (u[stop - 1] >> np.uint64(52)) and 538 <= e <= 1533:
            s_hi = np.uint64(0)
            s_lo = np.uint64(0)
            q2 = np.uint64(0)
            q1 = np.uint64(0)
            q0 = np.uint64(0)
            for i in range(start, stop):
                m = (u[i] & _MANT) | _HIDDEN
                s_hi += m >> np.uint64(26)
                s_lo += m & _LOW26
                mh = m >> np.uint64(27)
                ml = m & low27
                q2 += mh * mh
                q1 += mh * ml
                q0 += ml * ml
            _bins_add_mantissas(bins, 0, top, s_hi, s_lo)
            e2 = 2 * e - 1075
            _bins_add_int(bins, 2, q0, e2)
            _bins_add_int(bins, 2, q1, e2 + 28)
            _bins_add_int(bins, 2, q2, e2 + 54)
        else:
            for i in range(start, stop):
                x = p[i]
                c = 134217729.0 * x
                xh = c - (c - x)
                xl = x - xh
                sq = x * x
                buf[0] = x
                buf[1] = sq
                buf[2] = ((xh * xh - sq) + 2.0 * xh * xl) + xl * xl
                _bins_add(bins, 0, ub[0])
                if buf[2] != 0.0:
                    _bins_add(bins, 2, ub[2])
                _bins_add(bins, 2, ub[1])
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
    """One pass over a sorted class: exact sum bins (as :func:`_bins_add`) and
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
            _bins_add_mantissas(bins, 0, top, acc_hi, acc_lo)
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


_MANT32 = np.uint64((1 << 23) - 1)
_HIDDEN32 = np.uint64(1 << 23)


@njit(**_NB)
def class_pass32(p, shift, block):
    """:func:`class_pass` for float32 scores, read as float32 (never widened in memory).

    A finite float32 is ``m * 2**(e - 150)`` with integer mantissa ``m < 2**24`` and
    ``e = max(E, 1)``, i.e. ``m * 2**(e64 - 1) * 2**-1074`` with ``e64 = e + 925``: its
    mantissa is added to the low row of the float64 bins at ``e64``. Blocks whose scores
    share sign and exponent sum mantissas as integers; ``y = p - shift`` is summed in float64.
    """
    n = p.size
    nb = n // block + 1
    snap_s = np.zeros(nb)
    snap_q = np.zeros(nb)
    bins = np.zeros((2, 2047), np.int64)
    bad = 0
    u = p.view(np.uint32)
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
        top = np.uint64(u[start]) >> np.uint64(23)
        e = np.int64(top & np.uint64(0xFF))
        bs = 0.0
        bq = 0.0
        if top == (np.uint64(u[stop - 1]) >> np.uint64(23)) and e != 0xFF:
            hidden = _HIDDEN32 if e != 0 else np.uint64(0)
            acc = np.uint64(0)
            for i in range(start, stop):
                acc += (np.uint64(u[i]) & _MANT32) | hidden
                y0 = np.float64(p[i]) - shift
                bs += y0
                bq += y0 * y0
            slot = max(e, 1) + 925
            if top >> np.uint64(8):
                bins[1, slot] -= np.int64(acc)
            else:
                bins[1, slot] += np.int64(acc)
        else:
            for i in range(start, stop):
                k = np.uint64(u[i])
                ei = np.int64((k >> np.uint64(23)) & np.uint64(0xFF))
                if ei == 0xFF:
                    bad += 1
                    continue
                m = k & _MANT32
                if ei != 0:
                    m |= _HIDDEN32
                if k >> np.uint64(31):
                    bins[1, max(ei, 1) + 925] -= np.int64(m)
                else:
                    bins[1, max(ei, 1) + 925] += np.int64(m)
                y0 = np.float64(p[i]) - shift
                bs += y0
                bq += y0 * y0
        s, cs = _neumaier(s, cs, bs)
        q, cq = _neumaier(q, cq, bq)
    return bins, bad, snap_s, snap_q, s + cs, q + cq


@njit(**_NB)
def exact_range_sums32(p, lo, hi, block):
    """:func:`exact_range_sums` for float32 ``p``. A float32 is ``m * 2**(e - 150)``
    (``m < 2**24``) and its square ``m**2 * 2**(2e - 300)`` (``m**2 < 2**48``): a block whose
    scores share sign and exponent adds its integer sums of ``m`` and ``m**2`` at slots
    ``e + 925`` and ``2e + 775``; other blocks go score by score (exact float64 values and
    squares)."""
    bins = np.zeros((4, 2047), np.int64)
    buf = np.empty(2)
    ub = buf.view(np.uint64)
    u = p.view(np.uint32)
    for start in range(lo, hi, block):
        stop = min(start + block, hi)
        top = np.uint64(u[start]) >> np.uint64(23)
        e = np.int64(top & np.uint64(0xFF))
        if top == (np.uint64(u[stop - 1]) >> np.uint64(23)) and 0 < e < 0xFF:
            acc = np.uint64(0)
            acc2 = np.uint64(0)
            for i in range(start, stop):
                m = (np.uint64(u[i]) & _MANT32) | _HIDDEN32
                acc += m
                acc2 += m * m
            if top >> np.uint64(8):
                bins[1, e + 925] -= np.int64(acc)
            else:
                bins[1, e + 925] += np.int64(acc)
            _bins_add_int(bins, 2, acc2, 2 * e + 775)
        else:
            for i in range(start, stop):
                x = np.float64(p[i])
                buf[0] = x
                buf[1] = x * x
                _bins_add(bins, 0, ub[0])
                _bins_add(bins, 2, ub[1])
    return bins


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


RUN_MIN = 8  # a same-class run at least this long is consumed in bulk


@njit(**_NB)
def _first_gt(p, lo, hi, x):
    """First index in ``[lo, hi)`` with ``p[k] > x`` (``hi`` if none); ``p`` sorted."""
    while lo < hi:
        mid = (lo + hi) // 2
        if p[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(**_NB)
def _first_ge(p, lo, hi, x):
    """First index in ``[lo, hi)`` with ``p[k] >= x`` (``hi`` if none); ``p`` sorted."""
    while lo < hi:
        mid = (lo + hi) // 2
        if p[mid] >= x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(inline="always", **_NB)
def _run_crossing(p, s, e, cx):
    """Group ends of a bulk run ``p[s:e]`` of one class around the zero crossing of ``x``.

    The run's group ends are the counts ``c`` in ``(s, e]`` with ``p[c - 1] != p[c]`` (``e``
    always is one) and ``x > 0`` exactly for ``c < cx``. Returns ``(last c < cx, first
    c >= cx)``, ``-1`` where there is none.
    """
    last_pos = np.int64(-1)
    if cx > e:
        last_pos = np.int64(e)
    elif cx - 1 >= s:
        c = _first_ge(p, s, e, p[cx - 1])  # the start of the group holding score cx - 1
        if c > s:
            last_pos = c
    first_neg = np.int64(-1)
    if cx <= e:
        first_neg = _first_gt(p, s, e, p[max(cx, s + 1) - 1])
    return last_pos, first_neg


@njit(inline="always", **_NB)
def _run_records(p, s, e, x0, step, pos, neg):
    """The crossing records ``pos`` / ``neg`` = ``(x, lo, hi)`` (see :func:`sweep_segment`)
    after a bulk run ``p[s:e]`` of one class, whose measure at group end ``c`` is
    ``x0 - c * step`` (``x0 >= 0``, ``step > 0``): the run's last positive group end
    replaces ``pos``, its first non-positive one ``neg`` unless ``neg`` is already set."""
    cp, cn = _run_crossing(p, s, e, (x0 + step - 1) // step)  # x > 0  <=>  c < ceil(x0/step)
    if cp >= 0:
        pos = (x0 - cp * step, p[cp - 1], p[cp])
    if neg[0] > 0 and cn >= 0:
        neg = (x0 - cn * step, p[cn - 1], p[cn])
    return pos, neg


class SweepRecords(NamedTuple):
    """What :func:`sweep_segment` records over a segment of the merged order (scores in the
    classes' dtype as float64, counts as int64)."""

    acer_lo: float  # inf of the thresholds with the least ACER cost
    acer_hi: float  # sup of those thresholds
    best: int  # that cost, a*N + b*M
    pos_x: int  # x = a*N - b*M on the last interval with x > 0 (0: none)
    pos_lo: float  # that interval (lo, hi]
    pos_hi: float
    neg_x: int  # x on the first interval with x <= 0 (1: none)
    neg_lo: float  # that interval (lo, hi]
    neg_hi: float
    strict: int  # #pairs(live > attack) over the segment's live scores
    ties: int  # #pairs(live == attack) over the segment's live scores


class Sweep(NamedTuple):
    """The whole merge pass, finished (:func:`finish_sweep`)."""

    acer_lo: float  # inf / sup of the least-ACER thresholds
    acer_hi: float
    best_cost: int  # the least ACER cost a*N + b*M
    eer_lo: float  # the EER interval (lo, hi]: least |APCER - BPCER|
    eer_hi: float
    auc2: int  # 2 * #pairs(live > attack) + #pairs(live == attack)


@njit(**_NB)
def sweep_segment(live, attack, i, j, i_end, j_end, first, run_min):
    """The merge pass over the sorted classes (each padded with one trailing ``+inf``) from
    ``(i, j)`` to ``(i_end, j_end)``; both must be tie-group boundaries (every score before
    is smaller than every score after). All decisions on exact integer counts.

    Thresholds ``t`` are grouped in the intervals ``(u_{k-1}, u_k]`` between consecutive
    distinct observed scores (``u_0 = -inf``, last interval ``(u_K, +inf)``); on each, with
    ``a = #{attack >= t}`` and ``b = #{live < t}``, the ACER cost is ``a*N + b*M`` and the
    crossing measure ``x = a*N - b*M`` (non-increasing in ``t``). The first segment
    (``first``) also covers ``(-inf, u_1]``; a segment covers the interval that ends at the
    score after its last one.

    Scores are merged one by one (live first within a tie), except that a run of at least
    ``run_min`` scores of one class is taken in bulk, up to the start of its last tie
    group: within it the cost moves one way (up on live, down on attack scores) and ``x``
    falls, so a live run's least cost is at its first group end, an attack run's at its
    last group (merged one by one), and the zero crossing of ``x`` is found by bisection.

    Returns a :class:`SweepRecords`: the inf/sup of the thresholds with minimum cost and that
    cost; the last interval with ``x > 0`` (``pos_x = 0`` if none) and the first with
    ``x <= 0`` (``neg_x = 1`` if none); ``#pairs(live > attack)`` and ``#pairs(live == attack)``
    over the live scores of the segment. Combine with :func:`combine_sweeps`, finish with
    :func:`finish_sweep`.
    """
    n = live.size - 1
    m = attack.size - 1
    nn = np.int64(n)
    mm = np.int64(m)
    i = np.int64(i)
    j = np.int64(j)
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
    while i < i_end or j < j_end:
        xl = live[i]
        xa = attack[j]
        if xl <= xa and i + run_min < i_end and live[i + run_min] <= xa:
            # a live run: live[i:e] <= xa, bulk up to the start of its last tie group
            e = _first_gt(live, i + run_min, i_end, xa)
            e = _first_ge(live, i, e, live[e - 1])
            if e > i:
                strict += j * (e - i)  # j - gj = 0 in a live run: no ties
                # the cost rises through the run: its least is at its first group end
                c = _first_gt(live, i, e, xl)
                cost = (mm - j) * nn + c * mm
                if cost < best:
                    best = cost
                    acer_lo = live[c - 1]
                    acer_hi = live[c]
                elif cost == best:
                    acer_hi = live[c]
                # x = (mm - j)*nn - c*mm
                (pos_x, pos_lo, pos_hi), (neg_x, neg_lo, neg_hi) = _run_records(
                    live, i, e, (mm - j) * nn, mm, (pos_x, pos_lo, pos_hi), (neg_x, neg_lo, neg_hi)
                )
                i = e
                gi = e
                gj = j
                continue
        elif xa < xl and j + run_min < j_end and attack[j + run_min] < xl:
            # an attack run: attack[j:e] < xl, bulk up to the start of its last tie group
            e = _first_ge(attack, j + run_min, j_end, xl)
            e = _first_ge(attack, j, e, attack[e - 1])
            if e > j:
                c = _first_gt(attack, j, e, xa)  # the first group end may close a tie
                ties += (i - gi) * (c - gj)
                # the cost falls through the run: its least is at the run's last group,
                # which is left to the one-by-one merge
                # x = (mm - c)*nn - i*mm = (mm*nn - i*mm) - c*nn
                (pos_x, pos_lo, pos_hi), (neg_x, neg_lo, neg_hi) = _run_records(
                    attack, j, e, mm * nn - i * mm, nn, (pos_x, pos_lo, pos_hi),
                    (neg_x, neg_lo, neg_hi),
                )
                j = e
                gi = i
                gj = e
                continue
        tl = np.int64(xl <= xa)  # live first within a tie: j counts only smaller attacks
        v = min(xl, xa)
        strict += j * tl
        i += tl
        j += 1 - tl
        nxt = min(live[i], attack[j])
        if nxt != v:  # end of a tie group: the next interval is (v, nxt]
            ties += (i - gi) * (j - gj)
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
    return SweepRecords(acer_lo, acer_hi, best, pos_x, pos_lo, pos_hi, neg_x, neg_lo, neg_hi,
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


def combine_sweeps(left: SweepRecords, right: SweepRecords) -> SweepRecords:
    """One :func:`sweep_segment` result for two adjacent segments (``left`` before
    ``right``): the least cost of either (ties: the interval spans both), the last positive
    crossing record and the first non-positive one, the pair counts summed."""
    if right.best < left.best:
        acer = (right.acer_lo, right.acer_hi, right.best)
    elif right.best == left.best:
        acer = (left.acer_lo, right.acer_hi, left.best)
    else:
        acer = (left.acer_lo, left.acer_hi, left.best)
    pos = right if right.pos_x > 0 else left
    neg = left if left.neg_x <= 0 else right
    return SweepRecords(*acer, pos.pos_x, pos.pos_lo, pos.pos_hi, neg.neg_x, neg.neg_lo,
                        neg.neg_hi, int(left.strict) + int(right.strict),
                        int(left.ties) + int(right.ties))


def finish_sweep(res: SweepRecords) -> Sweep:
    """The :class:`Sweep` of a whole-range result: the EER intervals are those with minimum
    ``|x|``, the last positive or the first non-positive ``x`` or both;
    ``auc2 = 2 * #pairs(live > attack) + #pairs(live == attack)``.
    """
    if res.pos_x < -res.neg_x:
        eer = (res.pos_lo, res.pos_hi)
    elif res.pos_x == -res.neg_x:
        eer = (res.pos_lo, res.neg_hi)
    else:
        eer = (res.neg_lo, res.neg_hi)
    return Sweep(res.acer_lo, res.acer_hi, int(res.best), float(eer[0]), float(eer[1]),
                 2 * int(res.strict) + int(res.ties))


def sweep_records(live, attack, run_pair=None, run_min=RUN_MIN) -> SweepRecords:
    """The whole merge pass as one :func:`sweep_segment` result (crossing records kept).
    With ``run_pair`` (a ``(fn, args_a, args_b)`` runner, e.g. on two threads) the merged
    order is cut at its median and the halves run concurrently."""
    n = live.size - 1
    m = attack.size - 1
    if run_pair is not None:
        i, j = merge_split(live, attack)
        if i + j > 0:
            left, right = run_pair(sweep_segment, (live, attack, 0, 0, i, j, True, run_min),
                                   (live, attack, i, j, n, m, False, run_min))
            return combine_sweeps(left, right)
    return sweep_segment(live, attack, 0, 0, n, m, True, run_min)


def sweep(live, attack, run_pair=None, run_min=RUN_MIN) -> Sweep:
    """The whole merge pass (see :func:`sweep_segment`) as a :class:`Sweep`."""
    return finish_sweep(sweep_records(live, attack, run_pair, run_min))


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


@njit(**_NB)
def _count_chunk(scores, live, types, n_types, t, higher_is_live, lo, hi, n_resp, n_acc,
                 n_nan):
    typed = types.size > 0
    for i in range(lo, hi):
        s = np.float64(scores[i])
        slot = 0
        if not live[i]:
            slot = 1 + types[i] if typed else 1
        if s != s:
            n_nan[slot] += 1
            continue
        n_resp[slot] += 1
        if higher_is_live:
            if s >= t:
                n_acc[slot] += 1
        elif s <= t:
            n_acc[slot] += 1


@njit(**_NB)
def count_at_serial(scores, live, types, n_types, t, higher_is_live):
    """:func:`count_at` on one thread (below a few million scores the thread hand-off costs
    more than it saves)."""
    k = 1 + n_types
    n_resp = np.zeros(k, np.int64)
    n_acc = np.zeros(k, np.int64)
    n_nan = np.zeros(k, np.int64)
    _count_chunk(scores, live, types, n_types, t, higher_is_live, 0, scores.size, n_resp,
                 n_acc, n_nan)
    return n_resp, n_acc, n_nan


@njit(parallel=True, cache=True)
def count_at(scores, live, types, n_types, t, higher_is_live):
    """Counts at one threshold over unsorted scores, in one pass (chunks on all threads).

    ``live``: bool [N]; ``types``: int32 [N] species codes of the attack rows (length 0: one
    species). Returns ``(n_resp, n_acc, n_nan)`` int64 arrays of length ``1 + n_types``: slot
    0 is bona fide (``n_acc`` = accepted), slot ``1 + code`` a species. Accepted iff
    ``score >= t`` (``<= t`` when ``higher_is_live`` is False), compared in float64.
    """
    k = 1 + n_types
    n = scores.size
    chunks = max(1, min(16, n // 262144))
    parts = np.zeros((chunks, 3, k), np.int64)
    per = (n + chunks - 1) // chunks
    for ch in prange(chunks):
        _count_chunk(scores, live, types, n_types, t, higher_is_live, ch * per,
                     min(n, (ch + 1) * per), parts[ch, 0], parts[ch, 1], parts[ch, 2])
    tot = parts.sum(axis=0)
    return tot[0].copy(), tot[1].copy(), tot[2].copy()
